using Colab.Daemon.Hosting;
using Colab.Daemon.Tests.Infrastructure;
using Microsoft.Extensions.Logging;

namespace Colab.Daemon.Tests;

/// <summary>
/// The pieces that let the daemon answer <c>initialize</c> before its host is built (issue 8):
/// <see cref="Colab.Daemon.JsonRpc.JsonRpcConnection.HoldAfterFirst"/> and <see cref="DeferredLogger"/>.
/// </summary>
public sealed class EarlyStartTests
{
    [Fact]
    public async Task HoldAfterFirst_FirstMessageAnswered_LaterOnesWaitForTheRelease_InOrder()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var h = new ConnectionHarness();
        h.Connection.HoldAfterFirst = release.Task;
        h.Start();

        var first = h.Client.RequestAsync(1, "test/echo", """{"n":1}""");
        var second = h.Client.RequestAsync(2, "test/echo", """{"n":2}""");
        var third = h.Client.RequestAsync(3, "test/echo", """{"n":3}""");

        Assert.Equal(1, (await first).GetProperty("result").GetProperty("n").GetInt32());
        await Task.Delay(200);
        Assert.False(second.IsCompleted, "a message after the first was dispatched before the release");
        Assert.False(third.IsCompleted, "a message after the first was dispatched before the release");

        release.SetResult();
        Assert.Equal(2, (await second).GetProperty("result").GetProperty("n").GetInt32());
        Assert.Equal(3, (await third).GetProperty("result").GetProperty("n").GetInt32());
    }

    [Fact]
    public async Task HoldAfterFirst_InputClosedWhileHeld_ReadLoopEndsAfterTheRelease()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var h = new ConnectionHarness();
        h.Connection.HoldAfterFirst = release.Task;
        h.Start();
        Assert.True((await h.Client.RequestAsync(1, "test/echo", "{}")).TryGetProperty("result", out _));

        await h.Client.SendAsync(Frames.Frame(Frames.Request(2, "test/echo", """{"n":2}""")));
        var closing = h.CloseInputAsync(); // ends the input now; completes once the read loop has ended
        release.SetResult();

        await closing;
        Assert.Equal(2, (await h.Client.ResponseAsync(2)).GetProperty("result").GetProperty("n").GetInt32());
    }

    [Fact]
    public async Task HoldFirst_EvenTheFirstMessageWaitsForTheRelease()
    {
        // The daemon answered initialize itself (FirstAnswer): nothing the connection reads may run before the host.
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var h = new ConnectionHarness();
        h.Connection.HoldAfterFirst = release.Task;
        h.Connection.HoldFirst = true;
        h.Start();

        var first = h.Client.RequestAsync(1, "test/echo", """{"n":1}""");
        var second = h.Client.RequestAsync(2, "test/echo", """{"n":2}""");
        await Task.Delay(200);
        Assert.False(first.IsCompleted, "the first message was dispatched before the release");

        release.SetResult();
        Assert.Equal(1, (await first).GetProperty("result").GetProperty("n").GetInt32());
        Assert.Equal(2, (await second).GetProperty("result").GetProperty("n").GetInt32());
    }

    [Fact]
    public void DeferredLogger_KeepsEventsUntilAttached_ThenForwards()
    {
        var deferred = new DeferredLogger();
        deferred.LogWarning("before {Value}", 1);
        var target = new ListLogger();

        deferred.Attach(target);
        deferred.LogError("after {Value}", 2);

        Assert.Equal([(LogLevel.Warning, "before 1"), (LogLevel.Error, "after 2")], target.Entries);
    }

    [Fact]
    public void GpuWatcherUntil_APassedDueTime_IsZeroNotNegative()
    {
        // A negative wait would make WaitOne throw and end the polling thread.
        Assert.Equal(TimeSpan.Zero, Colab.Daemon.Gpu.GpuWatcher.Until(System.Diagnostics.Stopwatch.GetTimestamp() - System.Diagnostics.Stopwatch.Frequency));
        Assert.InRange(Colab.Daemon.Gpu.GpuWatcher.Until(System.Diagnostics.Stopwatch.GetTimestamp() + System.Diagnostics.Stopwatch.Frequency), TimeSpan.FromMilliseconds(1), TimeSpan.FromSeconds(1));
    }
}
