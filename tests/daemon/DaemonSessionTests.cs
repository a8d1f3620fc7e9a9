using System.IO.Pipelines;
using Colab.Daemon.Hosting;
using Colab.Daemon.Protocol;
using Colab.Daemon.Tests.Infrastructure;

namespace Colab.Daemon.Tests;

/// <summary>
/// <see cref="DaemonHost.RunDaemonAsync"/> in this process over in-memory streams: the whole
/// host (DaemonSession, Lifecycle, MethodTable) and the exit code it returns.
/// </summary>
public sealed class DaemonSessionTests
{
    private sealed class Session : IAsyncDisposable
    {
        private readonly Pipe _toServer = new();
        private readonly Pipe _toClient = new();
        private readonly FakePython _python = new();

        public Session()
        {
            Client = new TestClient(_toServer.Writer.AsStream(), _toClient.Reader.AsStream()).Start();
            string[] args = ["--LogLevel=Warning", $"--Python={_python.Complete()}", $"--NvmlLibrary={Path.Combine(_python.Directory, "none.so")}"];
            Running = Task.Run(async () =>
            {
                try
                {
                    return await DaemonHost.RunDaemonAsync(args, _toServer.Reader.AsStream(), _toClient.Writer.AsStream());
                }
                finally
                {
                    await _toClient.Writer.CompleteAsync();
                }
            });
        }

        public TestClient Client { get; }
        public Task<int> Running { get; }

        public async Task InitializeAsync()
        {
            await Client.RequestAsync("init", "initialize", "{}");
            await Client.NotifyAsync("initialized", "{}");
        }

        public Task CloseInputAsync() => _toServer.Writer.CompleteAsync().AsTask();

        public async ValueTask DisposeAsync()
        {
            await _toServer.Writer.CompleteAsync();
            await Running.Within("the daemon host to stop");
            await Client.Completion.Within("the daemon's output to end");
            _python.Dispose();
        }
    }

    [Fact]
    public async Task ExitAfterShutdown_ReturnsExitCodeZero()
    {
        await using var s = new Session();
        await s.InitializeAsync();
        await s.Client.RequestAsync("s", "shutdown");

        await s.Client.NotifyAsync("exit");

        Assert.Equal(0, await s.Running.Within("the exit code"));
    }

    [Fact]
    public async Task ExitWithoutShutdown_ReturnsExitCodeOne()
    {
        await using var s = new Session();
        await s.InitializeAsync();

        await s.Client.NotifyAsync("exit");

        Assert.Equal(1, await s.Running.Within("the exit code"));
    }

    [Fact]
    public async Task InputClosedWithoutShutdown_ReturnsExitCodeOne()
    {
        await using var s = new Session();
        await s.InitializeAsync();

        await s.CloseInputAsync();

        Assert.Equal(1, await s.Running.Within("the exit code"));
    }

    [Fact]
    public async Task InputClosedAfterShutdown_ReturnsExitCodeZero()
    {
        await using var s = new Session();
        await s.InitializeAsync();
        await s.Client.RequestAsync("s", "shutdown");

        await s.CloseInputAsync();

        Assert.Equal(0, await s.Running.Within("the exit code"));
    }

    [Fact]
    public async Task Exit_WithARequestStillRunning_StillEndsTheSession()
    {
        await using var s = new Session();
        await s.InitializeAsync();
        _ = s.Client.RequestAsync("long", "colab/diag/delay", """{"milliseconds":600000}""");
        await s.Client.RequestAsync("s", "shutdown");

        await s.Client.NotifyAsync("exit");

        Assert.Equal(0, await s.Running.Within("the exit code"));
    }

    [Fact]
    public async Task PipelinedSession_EveryMessageAnswered_AndExitCodeZero()
    {
        // initialize is answered before the host is built; what follows it, sent without waiting,
        // must wait for the services and then be dispatched in order (initialized must not be
        // dropped, shutdown must not be refused).
        await using var s = new Session();
        var bytes = Frames.Concat(
            Frames.Frame(Frames.Request("init", "initialize", "{}")),
            Frames.Frame(Frames.Notification("initialized", "{}")),
            Frames.Frame(Frames.Request("echo", "colab/diag/echo", """{"n":1}""")),
            Frames.Frame(Frames.Request("status", "colab/serverStatus")),
            Frames.Frame(Frames.Request("s", "shutdown")));

        await s.Client.SendAsync(bytes);

        Assert.True((await s.Client.ResponseAsync("init")).TryGetProperty("result", out _));
        Assert.Equal(1, (await s.Client.ResponseAsync("echo")).GetProperty("result").GetProperty("n").GetInt32());
        Assert.True((await s.Client.ResponseAsync("status")).TryGetProperty("result", out _));
        Assert.True((await s.Client.ResponseAsync("s")).TryGetProperty("result", out _));
        Assert.Equal("init", s.Client.Messages.First(TestClient.IsResponse).GetProperty("id").GetString());
        await s.Client.NotifyAsync("exit");
        Assert.Equal(0, await s.Running.Within("the exit code"));
    }

    [Fact]
    public async Task InitializeShutdownExit_AllPipelined_ExitCodeZero()
    {
        await using var s = new Session();

        await s.Client.SendAsync(Frames.Concat(
            Frames.Frame(Frames.Request("init", "initialize", "{}")),
            Frames.Frame(Frames.Request("s", "shutdown")),
            Frames.Frame(Frames.Notification("exit"))));

        Assert.Equal(0, await s.Running.Within("the exit code"));
    }

    [Fact]
    public async Task FirstMessageNotInitialize_IsRefusedAsBefore_ThenInitializeWorks()
    {
        await using var s = new Session();

        var early = await s.Client.RequestAsync("early", "colab/diag/echo", "{}");
        Assert.Equal(ErrorCodes.ServerNotInitialized, TestClient.ErrorCode(early));

        var init = await s.Client.RequestAsync("init", "initialize", "{}");
        Assert.True(init.TryGetProperty("result", out _), init.GetRawText());
        await s.Client.NotifyAsync("initialized", "{}");
        Assert.Equal(2, (await s.Client.RequestAsync("e", "colab/diag/echo", """{"n":2}""")).GetProperty("result").GetProperty("n").GetInt32());
    }

    [Fact]
    public async Task InitializeTwice_SecondIsRefused_EvenWhenSentBeforeTheServicesExist()
    {
        await using var s = new Session();
        await s.Client.SendAsync(Frames.Concat(
            Frames.Frame(Frames.Request(1, "initialize", "{}")),
            Frames.Frame(Frames.Request(2, "initialize", "{}"))));

        Assert.True((await s.Client.ResponseAsync(1)).TryGetProperty("result", out _));
        Assert.Equal(ErrorCodes.InvalidRequest, TestClient.ErrorCode(await s.Client.ResponseAsync(2)));
    }

    [Fact]
    public async Task FirstFrameBroken_GetsAParseError_AndTheSessionGoesOn()
    {
        await using var s = new Session();
        await s.Client.SendAsync(Frames.Concat(Frames.Frame("{not json"), Frames.Frame(Frames.Request("init", "initialize", "{}"))));

        Assert.Equal(ErrorCodes.ParseError, TestClient.ErrorCode(await s.Client.ResponseAsync(null)));
        Assert.True((await s.Client.ResponseAsync("init")).TryGetProperty("result", out _));
    }
}
