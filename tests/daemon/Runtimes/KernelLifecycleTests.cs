using System.Diagnostics;
using Colab.Daemon.Runtimes;
using Colab.Daemon.Tests.Infrastructure;

namespace Colab.Daemon.Tests.Runtimes;

/// <summary>Interrupt, restart, reconnect: each test gets its own kernel on the class's server.</summary>
public class KernelLifecycleTests(JupyterServerFixture fixture) : IClassFixture<JupyterServerFixture>
{
    /// <summary>A cell that ends in an error must not make ipykernel abort the next one.</summary>
    internal static readonly ExecuteOptions KeepGoing = new() { StopOnError = false };

    [Fact]
    public async Task Interrupting_a_long_sleep_raises_KeyboardInterrupt_quickly()
    {
        await using var kernel = await NewKernelAsync();
        var execution = await kernel.ExecuteAsync("import time\nprint('sleeping', flush=True)\ntime.sleep(60)\nprint('woke up')", KeepGoing);
        await foreach (var output in execution.ReadOutputsAsync())
        {
            if (output is StreamOutput)
            {
                break;
            }
        }
        var clock = Stopwatch.StartNew();
        await kernel.InterruptAsync();
        var result = await execution.CollectAsync().Within("the interrupted cell");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        Assert.Equal("error", (await execution.Completion).Status);
        Assert.Equal("KeyboardInterrupt", (await execution.Completion).Ename);
        Assert.Contains(result.Outputs, o => o is ErrorOutput { Ename: "KeyboardInterrupt" });
        Assert.DoesNotContain("woke up", result.Stdout);

        // The kernel is still usable.
        Assert.Equal("3", Assert.Single((await kernel.RunAsync("1+2")).Of<ExecuteResultOutput>()).Data.Text());
    }

    [Fact]
    public async Task Restart_gives_a_fresh_kernel()
    {
        await using var kernel = await NewKernelAsync();
        await kernel.RunAsync("secret_variable = 42");
        Assert.Equal("42", Assert.Single((await kernel.RunAsync("secret_variable")).Of<ExecuteResultOutput>()).Data.Text());

        var restarted = await kernel.RestartAsync().WaitAsync(TestTimeouts.Default);
        Assert.Equal(kernel.KernelId, restarted.Id);

        var after = await kernel.RunAsync("secret_variable");
        Assert.Equal("NameError", Assert.Single(after.Of<ErrorOutput>()).Ename);
        Assert.Equal(1, after.Reply.ExecutionCount);
        Assert.Equal(1, Assert.Single(after.Of<ExecuteInputOutput>()).ExecutionCount);
    }

    [Fact]
    public async Task Restart_ends_a_running_cell_one_way_or_the_other()
    {
        await using var kernel = await NewKernelAsync();

        // Jupyter interrupts before it restarts: an interruptible cell ends with KeyboardInterrupt,
        // unless the kernel exits before its reply goes out; then with the restart error.
        var interruptible = await kernel.ExecuteAsync("import time\nprint('running', flush=True)\ntime.sleep(60)", KeepGoing);
        await FirstStreamAsync(interruptible);
        await kernel.RestartAsync().WaitAsync(TestTimeouts.Default);
        var failure = await Record.ExceptionAsync(() => interruptible.Completion.WaitAsync(TestTimeouts.Default));
        if (failure is null)
        {
            Assert.Equal("KeyboardInterrupt", (await interruptible.Completion).Ename);
        }
        else
        {
            Assert.Equal(JupyterErrorKind.Disconnected, Assert.IsType<JupyterException>(failure).Kind);
        }

        // A cell that ignores SIGINT never replies: it ends with a clear error instead of hanging.
        var stubborn = await kernel.ExecuteAsync("import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nprint('running', flush=True)\ntime.sleep(60)", KeepGoing);
        await FirstStreamAsync(stubborn);
        await kernel.RestartAsync().WaitAsync(TestTimeouts.Default);
        var e = await Assert.ThrowsAsync<JupyterException>(() => stubborn.Completion.WaitAsync(TestTimeouts.Default));
        Assert.Equal(JupyterErrorKind.Disconnected, e.Kind);
        Assert.Contains("restarted", e.Message);

        // Every output of the next cell arrives (the iopub subscription to the new kernel is up).
        var after = await kernel.RunAsync("print('fresh')\n'x'");
        Assert.Equal("fresh\n", after.Stdout);
        Assert.Single(after.Of<ExecuteInputOutput>());
        Assert.Equal(["busy", "idle"], after.Of<StatusOutput>().Select(s => s.ExecutionState));
    }

    [Fact]
    public async Task A_dropped_socket_reconnects_with_the_same_session_and_loses_no_output()
    {
        // The first retry waits long enough for the kernel to print while nobody is connected.
        await using var kernel = await NewKernelAsync(new KernelConnectionOptions
        {
            ReconnectDelays = [TimeSpan.FromSeconds(1.2), TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(1)],
        });
        var session = kernel.SessionId;
        var states = new List<KernelConnectionState>();
        kernel.StateChanged += s => { lock (states) { states.Add(s); } };
        // Lines 0.6 s apart: wide enough that, even on a loaded 2-core machine, no line is on the
        // wire at the moment the socket is dropped (a frame in flight then is lost by any client).
        const int Lines = 8;
        var execution = await kernel.ExecuteAsync($"import time\nfor i in range({Lines}):\n    print('line', i, flush=True)\n    time.sleep(0.6)\n'done'");
        var text = new List<string>();
        var dropped = false;
        await foreach (var output in execution.ReadOutputsAsync().WithCancellation(new CancellationTokenSource(TestTimeouts.Default).Token))
        {
            if (output is StreamOutput s)
            {
                text.Add(s.Text);
                if (!dropped && text.Count == 2)
                {
                    // Right after a line: the next one is 0.6 s away, so nothing is in flight on the socket.
                    kernel.DropSocket();
                    dropped = true;
                }
            }
        }
        var reply = await execution.Completion;
        Assert.Equal("ok", reply.Status);
        Assert.Equal(string.Concat(Enumerable.Range(0, Lines).Select(i => $"line {i}\n")), string.Concat(text));
        Assert.Equal(1, kernel.Reconnects);
        Assert.Equal(session, kernel.SessionId);
        lock (states)
        {
            Assert.Equal([KernelConnectionState.Reconnecting, KernelConnectionState.Connected], states);
        }
        Assert.Equal(KernelWireProtocol.V1, kernel.Protocol);

        // And it keeps working.
        Assert.Equal("after\n", (await kernel.RunAsync("print('after')")).Stdout);
    }

    [Fact]
    public async Task A_request_sent_while_the_socket_is_down_goes_out_after_the_reconnect()
    {
        await using var kernel = await NewKernelAsync(new KernelConnectionOptions { ReconnectDelays = [TimeSpan.FromSeconds(0.5)] });
        kernel.DropSocket();
        var result = await kernel.RunAsync("print('sent while down')");
        Assert.Equal("sent while down\n", result.Stdout);
        Assert.Equal(1, kernel.Reconnects);
    }

    [Fact]
    public async Task A_deleted_kernel_closes_the_connection_and_fails_what_was_running()
    {
        var model = await fixture.Client.StartKernelAsync();
        await using var kernel = await KernelConnection.ConnectAsync(fixture.Client, model.Id,
            new KernelConnectionOptions { ReconnectDelays = [TimeSpan.FromSeconds(0.2), TimeSpan.FromSeconds(0.2)] }, fixture.Log);
        var closed = new TaskCompletionSource();
        kernel.StateChanged += s =>
        {
            if (s == KernelConnectionState.Closed)
            {
                closed.TrySetResult();
            }
        };
        // SIGINT ignored: Jupyter's interrupt-before-shutdown does not end it, so no reply ever comes.
        var execution = await kernel.ExecuteAsync("import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nprint('running', flush=True)\ntime.sleep(60)");
        await FirstStreamAsync(execution);
        await fixture.Client.DeleteKernelAsync(model.Id);
        await closed.Task.Within("the connection to close");
        var e = await Assert.ThrowsAsync<JupyterException>(() => execution.Completion.WaitAsync(TestTimeouts.Default));
        Assert.Equal(JupyterErrorKind.Disconnected, e.Kind);
        Assert.Contains(model.Id, e.Message);
        Assert.Contains("shut down", e.Message);
        var again = await Assert.ThrowsAsync<JupyterException>(() => kernel.ExecuteAsync("1"));
        Assert.Equal(JupyterErrorKind.Disconnected, again.Kind);
    }

    [Fact]
    public async Task Channels_of_an_unknown_kernel_or_with_a_wrong_token_are_refused_in_words()
    {
        var missing = await Assert.ThrowsAsync<JupyterException>(() => KernelConnection.ConnectAsync(fixture.Client, Guid.NewGuid().ToString()));
        Assert.Equal(JupyterErrorKind.NotFound, missing.Kind);

        var model = await fixture.Client.StartKernelAsync();
        try
        {
            using var wrong = new JupyterClient(fixture.Server.Endpoint, "wrong-token-0123456789");
            var rejected = await Assert.ThrowsAsync<JupyterException>(() => KernelConnection.ConnectAsync(wrong, model.Id));
            Assert.Equal(JupyterErrorKind.TokenRejected, rejected.Kind);
            Assert.StartsWith("the token was rejected", rejected.Message);
        }
        finally
        {
            await fixture.Client.DeleteKernelAsync(model.Id);
        }
    }

    private static async Task FirstStreamAsync(KernelExecution execution)
    {
        await foreach (var output in execution.ReadOutputsAsync().WithCancellation(new CancellationTokenSource(TestTimeouts.Default).Token))
        {
            if (output is StreamOutput)
            {
                return;
            }
        }
    }

    private async Task<KernelConnection> NewKernelAsync(KernelConnectionOptions? options = null)
    {
        var model = await fixture.Client.StartKernelAsync();
        return await KernelConnection.ConnectAsync(fixture.Client, model.Id, options, fixture.Log);
    }
}

/// <summary>A server told to speak only the legacy protocol: a client offering v1 falls back.</summary>
public class LegacyServerFixture : JupyterServerFixture
{
    protected override IReadOnlyList<string> ExtraArguments => ["--ServerApp.kernel_ws_protocol="];
}

public class LegacyProtocolFallbackTests(LegacyServerFixture fixture) : IClassFixture<LegacyServerFixture>
{
    [Fact]
    public async Task A_server_that_does_not_pick_v1_gets_the_legacy_protocol_and_everything_works()
    {
        var model = await fixture.Client.StartKernelAsync();
        await using var kernel = await KernelConnection.ConnectAsync(fixture.Client, model.Id,
            new KernelConnectionOptions { ReconnectDelays = [TimeSpan.FromSeconds(1.0)] }, fixture.Log);
        Assert.Equal(KernelWireProtocol.Legacy, kernel.Protocol);

        var result = await kernel.RunAsync("print('hi')\n1+1");
        Assert.Equal("hi\n", result.Stdout);
        Assert.Equal("2", Assert.Single(result.Of<ExecuteResultOutput>()).Data.Text());

        // Errors come through the legacy framing too.
        var error = await kernel.RunAsync("raise KeyError('k')", KernelLifecycleTests.KeepGoing);
        Assert.Equal("KeyError", Assert.Single(error.Of<ErrorOutput>()).Ename);

        // Reconnect over legacy too.
        var execution = await kernel.ExecuteAsync("import time\nfor i in range(6):\n    print(i, flush=True)\n    time.sleep(0.25)");
        var lines = new List<string>();
        await foreach (var output in execution.ReadOutputsAsync())
        {
            if (output is StreamOutput s)
            {
                lines.Add(s.Text);
                if (lines.Count == 1)
                {
                    kernel.DropSocket();
                }
            }
        }
        Assert.Equal("0\n1\n2\n3\n4\n5\n", string.Concat(lines));
        Assert.Equal(KernelWireProtocol.Legacy, kernel.Protocol);
        await fixture.Client.DeleteKernelAsync(model.Id);
    }
}
