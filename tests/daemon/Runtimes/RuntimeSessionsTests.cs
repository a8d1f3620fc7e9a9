using System.Text.Json;
using Colab.Daemon.Protocol;
using Colab.Daemon.Runtimes;
using Colab.Daemon.Tests.Infrastructure;

namespace Colab.Daemon.Tests.Runtimes;

/// <summary>The Sessions view's data, killing idle kernels, keep-alive and idle shutdown, against a real local runtime.</summary>
public sealed class RuntimeSessionsTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly TempWorkspace _workspace = new();
    private RuntimeManager _manager = null!;
    private RuntimeInfo _local = null!;

    public async Task InitializeAsync()
    {
        await DebianPython.RequireAsync();
        _manager = new RuntimeManager(DebianPython.Locator(), DebianPython.Configuration())
        {
            LocalOptionsOverride = o => o with { StopTimeout = TimeSpan.FromSeconds(5) },
        };
        _local = await _manager.ConnectLocalAsync(_workspace.Path);
    }

    public async Task DisposeAsync()
    {
        await _manager.DisposeAsync();
        _workspace.Dispose();
    }

    private static async Task Eventually(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new Xunit.Sdk.XunitException($"timed out waiting for {what}");
            }
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task Sessions_list_each_kernel_with_its_notebook_its_state_and_idle_time()
    {
        var client = _manager.Client(_local.Id);
        var kernel = await _manager.StartKernelAsync(_local.Id);
        var session = await client.CreateSessionAsync("analysis.ipynb", kernelId: kernel.Id);
        var connection = await _manager.OpenKernelAsync(_local.Id, kernel.Id);
        await connection.RunAsync("x = 1");

        var row = Assert.Single(await _manager.ListSessionsAsync());
        Assert.Equal(_local.Id, row.Runtime.Id);
        Assert.Null(row.Error);
        Assert.False(row.Busy);
        var k = Assert.Single(row.Kernels);
        Assert.Equal(kernel.Id, k.Kernel.Id);
        Assert.Equal("idle", k.Kernel.ExecutionState);
        Assert.NotNull(k.IdleSeconds);
        Assert.InRange(k.IdleSeconds!.Value, 0, 60);
        var s = Assert.Single(k.Sessions);
        Assert.Equal(session.Id, s.Id);
        Assert.Equal("analysis.ipynb", s.Path);

        // A long cell: the kernel reads busy with 0 s idle, and a held runtime reads busy.
        var running = await connection.ExecuteAsync("import time; time.sleep(30)");
        using (_manager.HoldBusy(_local.Id))
        {
            await Eventually(async () => (await _manager.ListSessionsAsync(_local.Id))[0].Kernels[0].Kernel.ExecutionState == "busy", "the kernel to read busy");
            var busy = (await _manager.ListSessionsAsync(_local.Id))[0];
            Assert.True(busy.Busy);
            Assert.Equal(0, busy.IdleSeconds);
            Assert.Equal(0, busy.Kernels[0].IdleSeconds);
        }
        await connection.InterruptAsync();
        await running.Completion.WaitAsync(Patience);
        Assert.False((await _manager.ListSessionsAsync(_local.Id))[0].Busy);
    }

    [Fact]
    public async Task Kill_idle_shuts_down_only_idle_kernels_idle_long_enough()
    {
        var idle = await _manager.StartKernelAsync(_local.Id);
        var busy = await _manager.StartKernelAsync(_local.Id);
        var idleConnection = await _manager.OpenKernelAsync(_local.Id, idle.Id);
        await idleConnection.RunAsync("1");
        var busyConnection = await _manager.OpenKernelAsync(_local.Id, busy.Id);
        var running = await busyConnection.ExecuteAsync("import time; time.sleep(30)");
        await Eventually(async () => (await _manager.ListKernelsAsync(_local.Id)).Single(k => k.Id == busy.Id).ExecutionState == "busy", "the busy kernel to read busy");

        Assert.Empty(await _manager.KillIdleKernelsAsync(_local.Id, TimeSpan.FromHours(1)));
        Assert.Equal(2, (await _manager.ListKernelsAsync(_local.Id)).Count);

        await Task.Delay(1200);
        var killed = await _manager.KillIdleKernelsAsync(_local.Id, TimeSpan.FromSeconds(1));
        Assert.Equal(idle.Id, Assert.Single(killed));
        Assert.Equal(busy.Id, Assert.Single(await _manager.ListKernelsAsync(_local.Id)).Id);
        await busyConnection.InterruptAsync();
        await running.Completion.WaitAsync(Patience);
    }

    [Fact]
    public async Task A_kernel_the_daemon_runs_for_itself_is_hidden_from_lists_and_never_killed_as_idle()
    {
        var mine = await _manager.StartKernelAsync(_local.Id);
        var probe = await _manager.Client(_local.Id).StartKernelAsync();
        _manager.HideKernel(_local.Id, probe.Id);
        _manager.HideKernel("no-such-runtime", probe.Id); // ignored

        Assert.Equal(mine.Id, Assert.Single(await _manager.ListKernelsAsync(_local.Id)).Id);
        var runtime = Assert.Single(await _manager.ListSessionsAsync(_local.Id));
        Assert.Equal(mine.Id, Assert.Single(runtime.Kernels).Kernel.Id);

        await Task.Delay(1200);
        var killed = await _manager.KillIdleKernelsAsync(_local.Id, TimeSpan.FromSeconds(1));
        Assert.DoesNotContain(probe.Id, killed);
        Assert.Contains(await _manager.Client(_local.Id).ListKernelsAsync(), k => k.Id == probe.Id);
    }

    [Fact]
    public async Task An_idle_runtime_is_warned_about_then_disconnected_and_its_server_stops()
    {
        var warnings = new List<double>();
        var disconnected = new TaskCompletionSource<double>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var monitor = new RuntimeIdleMonitor(_manager, new IdlePolicy(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(2)),
            TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(60));
        monitor.IdleWarning += (id, left) => { lock (warnings) { warnings.Add(left); } };
        monitor.IdleDisconnected += (id, idle) => disconnected.TrySetResult(idle);

        var idleSeconds = await disconnected.Task.WaitAsync(Patience);
        Assert.InRange(idleSeconds, 3, 60);
        lock (warnings)
        {
            // Exactly one warning for the one idle stretch, with the seconds left rounded up.
            Assert.InRange(Assert.Single(warnings), 1, 2);
        }
        Assert.Empty(_manager.List());
        Assert.False(LocalJupyterServerTests.PortOpen(new Uri(_local.Url).Port));
    }

    [Fact]
    public async Task A_held_runtime_is_kept_alive_and_poked_and_keep_restarts_the_idle_time()
    {
        var warned = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var before = (await _manager.Client(_local.Id).GetStatusAsync()).LastActivity;
        // Held before the monitor exists: the runtime has been idle since the fixture connected it, so a monitor
        // that ticked before the hold (the status request above can take longer than a tick on a loaded
        // machine) warned at once — which this test is not about.
        var hold = _manager.HoldBusy(_local.Id);
        using var monitor = new RuntimeIdleMonitor(_manager, new IdlePolicy(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(1.5)),
            TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(300));
        monitor.IdleWarning += (_, _) => warned.TrySetResult();
        await Task.Delay(4000); // twice the timeout
        Assert.Single(_manager.List());
        Assert.False(warned.Task.IsCompleted);
        Assert.True(monitor.Pokes >= 2, $"only {monitor.Pokes} keep-alive requests");
        var after = (await _manager.Client(_local.Id).GetStatusAsync()).LastActivity;
        Assert.True(after > before, "the server saw no activity from the keep-alive");

        // Released: a warning comes; "Keep" (Touch) restarts the idle time, so the runtime survives past the original deadline.
        hold.Dispose();
        await warned.Task.WaitAsync(Patience);
        for (var i = 0; i < 10; i++)
        {
            _manager.Touch(_local.Id);
            await Task.Delay(300);
        }
        Assert.Single(_manager.List());
    }

    [Fact]
    public async Task Zero_timeout_never_disconnects_and_negative_policies_are_refused()
    {
        using var monitor = new RuntimeIdleMonitor(_manager, new IdlePolicy(TimeSpan.Zero, TimeSpan.FromSeconds(1)),
            TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(60));
        await Task.Delay(1000);
        await monitor.TickAsync();
        Assert.Single(_manager.List());
        Assert.Throws<ArgumentOutOfRangeException>(() => monitor.Policy = new IdlePolicy(TimeSpan.FromMinutes(-1), TimeSpan.Zero));
    }

    [Fact]
    public async Task A_kernel_the_server_still_runs_is_re_attached_by_id_with_its_variables_and_owned_again()
    {
        // Another client's (or a crashed daemon's) kernel, with state in it.
        var client = _manager.Client(_local.Id);
        var orphan = await client.StartKernelAsync();
        var remote = await _manager.ConnectRemoteAsync(_local.Url, client.Token);
        var first = await _manager.OpenKernelAsync(remote.Id, orphan.Id);
        await first.RunAsync("answer = 42");
        Assert.False((await _manager.ListKernelsAsync(remote.Id)).Single().StartedHere);

        var attached = await _manager.AttachKernelAsync(remote.Id, orphan.Id);
        Assert.Equal(orphan.Id, attached.Id);
        Assert.True(attached.StartedHere);
        Assert.Equal("42\n", (await (await _manager.OpenKernelAsync(remote.Id, orphan.Id)).RunAsync("print(answer)")).Stdout);

        var gone = await Assert.ThrowsAsync<JupyterException>(() => _manager.AttachKernelAsync(remote.Id, Guid.NewGuid().ToString()));
        Assert.Equal(JupyterErrorKind.NotFound, gone.Kind);
        foreach (var bad in new[] { "", " ", "../sessions" })
        {
            Assert.Equal(JupyterErrorKind.NotFound, (await Assert.ThrowsAsync<JupyterException>(() => _manager.AttachKernelAsync(remote.Id, bad))).Kind);
        }

        // Owned again: disconnecting the remote runtime shuts it down.
        await _manager.DisconnectAsync(remote.Id);
        Assert.DoesNotContain(await client.ListKernelsAsync(), k => k.Id == orphan.Id);
    }

    [Fact]
    public async Task A_kernel_that_dies_mid_cell_fails_the_cell_saying_so_and_runs_code_again_without_its_variables()
    {
        var kernel = await _manager.StartKernelAsync(_local.Id);
        var connection = await _manager.OpenKernelAsync(_local.Id, kernel.Id);
        await connection.RunAsync("x = 1");
        var e = await Assert.ThrowsAnyAsync<Exception>(async () => await connection.RunAsync("import os; os._exit(1)"));
        Assert.Contains("died", e.Message);

        // The server restarted it under the same id: still listed (the server says "starting" until
        // the restarted kernel is next spoken to, which is what the Sessions view shows), and it runs code again.
        var listed = (await _manager.ListSessionsAsync(_local.Id))[0].Kernels.Single(k => k.Kernel.Id == kernel.Id);
        Assert.Contains(listed.Kernel.ExecutionState, new[] { "starting", "restarting", "idle" });
        var again = await _manager.OpenKernelAsync(_local.Id, kernel.Id);
        Assert.Equal("False\n", (await again.RunAsync("print('x' in dir())")).Stdout);
    }

    [Fact]
    public async Task A_runtime_whose_server_died_is_listed_with_the_reason()
    {
        var remote = await _manager.ConnectRemoteAsync(_local.Url, _manager.Client(_local.Id).Token);
        await _manager.DisconnectAsync(_local.Id); // stops the server the "remote" runtime points at
        var row = Assert.Single(await _manager.ListSessionsAsync());
        Assert.Equal(remote.Id, row.Runtime.Id);
        Assert.Empty(row.Kernels);
        Assert.Contains("no Jupyter server", row.Error);
        Assert.DoesNotContain(_manager.Client(remote.Id).Token!, row.Error);
    }
}

/// <summary>The same over JSON-RPC: the real daemon process, with a 3-second idle timeout.</summary>
public sealed class RuntimeSessionsProtocolTests
{
    [Fact]
    public async Task Over_the_protocol_sessions_list_kernels_and_an_idle_runtime_is_warned_then_disconnected()
    {
        var python = await DebianPython.RequireAsync();
        using var workspace = new TempWorkspace();
        var d = DaemonProcess.Start(environment: new Dictionary<string, string>
        {
            ["COLAB_PYTHON"] = python,
            ["COLAB_WORKSPACE"] = workspace.Path,
            ["COLAB_IdleCheckSeconds"] = "0.2",
        });
        await using var _ = d;
        await d.InitializeAsync();

        // Bad params are refused with a clear message.
        foreach (var bad in new[] { """{"minutes":-1}""", """{"minutes":1e9}""", """{"minutes":1,"warningSeconds":-5}""", """{"minutes":"ten"}""" })
        {
            var refused = await d.RequestAsync(Methods.RuntimeSetIdleTimeout, bad);
            Assert.Equal(ErrorCodes.InvalidParams, TestClient.ErrorCode(refused));
        }
        var killBad = await d.RequestAsync(Methods.KernelKillIdle, """{"runtimeId":"nope","idleSeconds":0}""");
        Assert.Equal(ErrorCodes.InvalidParams, TestClient.ErrorCode(killBad));
        Assert.Contains("no runtime nope", TestClient.ErrorMessage(killBad));
        var keepBad = await d.RequestAsync(Methods.RuntimeKeepAlive, """{"runtimeId":"nope"}""");
        Assert.Equal(ErrorCodes.InvalidParams, TestClient.ErrorCode(keepBad));

        var runtime = RuntimeProtocolTests.Result(await d.RequestAsync(Methods.RuntimeConnect, $$"""{"kind":"local","root":{{Frames.Str(workspace.Path)}}}"""));
        var runtimeId = runtime.GetProperty("id").GetString()!;
        // A notebook label that is absolute, climbs out, is empty, too long or has control characters is refused.
        foreach (var bad in new[] { "\"\"", "\"/etc/passwd\"", "\"a/../../b.ipynb\"", "\"..\\\\x.ipynb\"", "\"a\\u0000b.ipynb\"", "\"a\\nb\"", Frames.Str(new string('n', 1025)) })
        {
            var refused = await d.RequestAsync(Methods.KernelStart, $$"""{"runtimeId":"{{runtimeId}}","notebook":{{bad}}}""");
            Assert.Equal(ErrorCodes.InvalidParams, TestClient.ErrorCode(refused));
            Assert.Contains("relative path", TestClient.ErrorMessage(refused));
        }
        var kernel = RuntimeProtocolTests.Result(await d.RequestAsync(Methods.KernelStart, $$"""{"runtimeId":"{{runtimeId}}","notebook":"train/mnist.ipynb"}"""));
        var sessions = RuntimeProtocolTests.Result(await d.RequestAsync(Methods.RuntimeSessions, "{}"));
        var row = Assert.Single(sessions.GetProperty("runtimes").EnumerateArray());
        Assert.Equal(runtimeId, row.GetProperty("runtime").GetProperty("id").GetString());
        var listed = Assert.Single(row.GetProperty("kernels").EnumerateArray());
        Assert.Equal(kernel.GetProperty("id").GetString(), listed.GetProperty("kernel").GetProperty("id").GetString());
        // The kernel has a Jupyter session named after its notebook (the Runtimes view shows it).
        var session = Assert.Single(listed.GetProperty("sessions").EnumerateArray());
        Assert.Equal("train/mnist.ipynb", session.GetProperty("path").GetString());
        Assert.Equal("mnist.ipynb", session.GetProperty("name").GetString());

        var mark = d.Client.Messages.Count;
        var set = RuntimeProtocolTests.Result(await d.RequestAsync(Methods.RuntimeSetIdleTimeout, """{"minutes":0.05,"warningSeconds":2}"""));
        Assert.Equal(2, set.GetProperty("warningSeconds").GetDouble());
        var warning = await d.Client.WaitForAsync(m => TestClient.IsNotification(m, Methods.RuntimeIdleWarning), "an idle warning", mark);
        Assert.Equal(runtimeId, warning.GetProperty("params").GetProperty("runtimeId").GetString());
        Assert.InRange(warning.GetProperty("params").GetProperty("secondsLeft").GetDouble(), 1, 2);
        var gone = await d.Client.WaitForAsync(m => TestClient.IsNotification(m, Methods.RuntimeIdleDisconnected), "the idle disconnect", mark);
        Assert.Equal(runtimeId, gone.GetProperty("params").GetProperty("runtimeId").GetString());
        var list = RuntimeProtocolTests.Result(await d.RequestAsync(Methods.RuntimeList));
        Assert.Equal(0, list.GetProperty("runtimes").GetArrayLength());
    }
}
