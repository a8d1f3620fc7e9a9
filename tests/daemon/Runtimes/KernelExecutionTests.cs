using System.Text.Json;
using Colab.Daemon.Runtimes;
using Colab.Daemon.Tests.Infrastructure;

namespace Colab.Daemon.Tests.Runtimes;

/// <summary>Executing code on a real ipykernel behind a real jupyter-server, over the v1 subprotocol the server picks.</summary>
public class KernelExecutionTests(KernelFixture fixture) : IClassFixture<KernelFixture>
{
    /// <summary>For cells that fail on purpose: the kernel must not abort the next test's cells.</summary>
    private static readonly ExecuteOptions KeepGoing = new() { StopOnError = false };

    private KernelConnection Kernel => fixture.Kernel;

    [Fact]
    public void The_server_picked_the_v1_subprotocol()
    {
        Assert.Equal(KernelWireProtocol.V1, Kernel.Protocol);
        Assert.Equal(KernelConnectionState.Connected, Kernel.State);
    }

    [Fact]
    public async Task The_channels_socket_acknowledges_each_read_at_once_on_linux()
    {
        // jupyter-server leaves Nagle on: without TCP_QUICKACK each frame after the first waits for
        // Linux's delayed ACK (~40 ms a cell). The kernel's socket must be the quick-ack one.
        Assert.Equal(OperatingSystem.IsLinux(), QuickAckSockets.Enabled);
        var before = QuickAckSockets.Acknowledgements;
        var result = await Kernel.RunAsync("pass");
        Assert.Equal("ok", result.Reply.Status);
        if (OperatingSystem.IsLinux())
        {
            Assert.True(QuickAckSockets.Acknowledgements > before, "reads of the kernel's channels went through QuickAckStream");
        }
    }

    [Fact]
    public async Task Print_streams_stdout()
    {
        var result = await Kernel.RunAsync("print('hi')");
        Assert.Equal("ok", result.Reply.Status);
        Assert.Equal("hi\n", result.Stdout);
        Assert.All(result.Of<StreamOutput>(), s => Assert.Equal("stdout", s.Name));

        // The whole life of the request, in order on IOPub: busy, the input, the output, idle. The reply comes on
        // the shell channel, which is not ordered with IOPub: it can even arrive before busy (seen in CI).
        var states = result.Of<StatusOutput>().Select(s => s.ExecutionState).ToList();
        Assert.Equal(["busy", "idle"], states);
        Assert.Equal(result.Outputs.Count - 1, result.Outputs.ToList().FindLastIndex(o => o is StatusOutput or ExecuteReply));
        Assert.IsType<StatusOutput>(result.Outputs.First(o => o is not ExecuteReply));
        var input = Assert.Single(result.Of<ExecuteInputOutput>());
        Assert.Equal("print('hi')", input.Code);
        Assert.Equal(result.Reply.ExecutionCount, input.ExecutionCount);
    }

    [Fact]
    public async Task Stderr_is_its_own_stream()
    {
        var result = await Kernel.RunAsync("import sys; print('oops', file=sys.stderr, flush=True)");
        Assert.Equal("oops\n", result.Stderr);
        Assert.Equal("", result.Stdout);
    }

    [Fact]
    public async Task An_expression_gives_an_execute_result_with_its_execution_count()
    {
        var result = await Kernel.RunAsync("1+1");
        var value = Assert.Single(result.Of<ExecuteResultOutput>());
        Assert.Equal("2", value.Data.Text());
        Assert.NotNull(value.ExecutionCount);
        Assert.True(value.ExecutionCount > 0);
        Assert.Equal(result.Reply.ExecutionCount, value.ExecutionCount);
        Assert.Equal(JsonValueKind.Object, value.Metadata.ValueKind);
    }

    [Fact]
    public async Task An_exception_gives_an_error_with_its_traceback_and_an_error_reply()
    {
        var result = await Kernel.RunAsync("def f():\n    raise ValueError('bad value')\nf()", KeepGoing);
        var error = Assert.Single(result.Of<ErrorOutput>());
        Assert.Equal("ValueError", error.Ename);
        Assert.Equal("bad value", error.Evalue);
        Assert.Contains(error.Traceback, line => line.Contains("bad value", StringComparison.Ordinal));
        Assert.True(error.Traceback.Count >= 3, "the traceback has the frames");
        Assert.Equal("error", result.Reply.Status);
        Assert.Equal("ValueError", result.Reply.Ename);
        Assert.NotEmpty(result.Reply.Traceback!);
    }

    [Fact]
    public async Task Display_and_update_display_data_share_a_display_id()
    {
        var result = await Kernel.RunAsync(
            "from IPython.display import display\n" +
            "h = display('first', display_id='progress-1')\n" +
            "h.update('second')");
        var shown = Assert.Single(result.Of<DisplayDataOutput>());
        Assert.Equal("'first'", shown.Data.Text());
        Assert.Equal("progress-1", shown.DisplayId);
        var updated = Assert.Single(result.Of<UpdateDisplayDataOutput>());
        Assert.Equal("'second'", updated.Data.Text());
        Assert.Equal("progress-1", updated.DisplayId);
    }

    [Fact]
    public async Task Clear_output_with_wait_is_reported()
    {
        var result = await Kernel.RunAsync(
            "from IPython.display import clear_output\n" +
            "print('before', flush=True)\n" +
            "clear_output(wait=True)\n" +
            "print('after', flush=True)");
        // ipykernel may split one print into several stream messages on a loaded machine:
        // what matters is the text before the clear, the clear (with wait), and the text after.
        var outputs = result.Outputs.Where(o => o is StreamOutput or ClearOutput).ToList();
        var clear = outputs.FindIndex(o => o is ClearOutput);
        Assert.True(clear > 0, $"no clear_output after the first print: {string.Join(", ", outputs)}");
        Assert.Single(outputs, o => o is ClearOutput);
        Assert.Equal("before\n", string.Concat(outputs.Take(clear).Cast<StreamOutput>().Select(o => o.Text)));
        Assert.True(((ClearOutput)outputs[clear]).Wait);
        Assert.Equal("after\n", string.Concat(outputs.Skip(clear + 1).Cast<StreamOutput>().Select(o => o.Text)));
    }

    [Fact]
    public async Task Input_is_answered_by_the_callback()
    {
        var prompts = new List<InputRequest>();
        var result = await Kernel.RunAsync("name = input('name? ')\nprint('hello', name)", new ExecuteOptions
        {
            OnInput = (request, _) =>
            {
                prompts.Add(request);
                return Task.FromResult("Ada");
            },
        });
        var prompt = Assert.Single(prompts);
        Assert.Equal("name? ", prompt.Prompt);
        Assert.False(prompt.Password);
        Assert.Single(result.Of<InputRequest>());
        Assert.Equal("hello Ada\n", result.Stdout);
        Assert.Equal("ok", result.Reply.Status);
    }

    [Fact]
    public async Task Without_a_callback_input_fails_instead_of_hanging()
    {
        var result = await Kernel.RunAsync("input('name? ')", KeepGoing);
        Assert.Equal("error", result.Reply.Status);
        Assert.Equal("StdinNotImplementedError", Assert.Single(result.Of<ErrorOutput>()).Ename);
    }

    [Fact]
    public async Task A_failing_callback_answers_empty_so_the_cell_finishes()
    {
        var result = await Kernel.RunAsync("x = input('? ')\nprint(repr(x))", new ExecuteOptions
        {
            OnInput = (_, _) => throw new InvalidOperationException("the user closed the prompt"),
        });
        Assert.Equal("''\n", result.Stdout);
    }

    [Fact]
    public async Task Concurrently_queued_cells_get_their_own_outputs()
    {
        // Sent back to back: the kernel queues them; each output must reach the request that caused it.
        var cells = Enumerable.Range(0, 6)
            .Select(i => $"import time\nfor j in range(3):\n    print('cell{i}-line', j, flush=True)\n    time.sleep(0.01)\n{i} * 100")
            .ToList();
        var executions = new List<KernelExecution>();
        foreach (var code in cells)
        {
            executions.Add(await Kernel.ExecuteAsync(code));
        }
        Assert.All(executions.Skip(1), e => Assert.False(e.IsCompleted));
        var results = await Task.WhenAll(executions.Select(e => e.CollectAsync())).Within("six queued cells");
        for (var i = 0; i < cells.Count; i++)
        {
            Assert.Equal(string.Concat(Enumerable.Range(0, 3).Select(j => $"cell{i}-line {j}\n")), results[i].Stdout);
            Assert.Equal((i * 100).ToString(System.Globalization.CultureInfo.InvariantCulture), Assert.Single(results[i].Of<ExecuteResultOutput>()).Data.Text());
            Assert.Equal("ok", results[i].Reply.Status);
        }
        var counts = results.Select(r => r.Reply.ExecutionCount!.Value).ToList();
        Assert.Equal(counts.Order(), counts);
        Assert.Equal(counts.Count, counts.Distinct().Count());
    }

    [Fact]
    public async Task A_failing_cell_aborts_the_cells_queued_behind_it()
    {
        var failing = await Kernel.ExecuteAsync("import time\ntime.sleep(0.3)\nraise RuntimeError('stop here')");
        var queued = await Kernel.ExecuteAsync("print('must not run')");
        Assert.Equal("error", (await failing.CollectAsync().Within("the failing cell")).Reply.Status);
        var aborted = await queued.CollectAsync().Within("the queued cell");
        Assert.Equal("aborted", aborted.Reply.Status);
        Assert.Equal("", aborted.Stdout);

        // ipykernel keeps aborting until it has drained its queue; a request that races that is
        // aborted too (kernel behaviour, also in JupyterLab). After that the kernel runs what comes next.
        var next = await Kernel.RunAsync("print('next')");
        for (var i = 0; i < 5 && next.Reply.Status == "aborted"; i++)
        {
            next = await Kernel.RunAsync("print('next')");
        }
        Assert.Equal("ok", next.Reply.Status);
    }

    [Fact]
    public async Task Outputs_can_be_consumed_as_they_arrive()
    {
        var execution = await Kernel.ExecuteAsync("import time\nprint('a', flush=True)\ntime.sleep(0.3)\nprint('b', flush=True)");
        var seen = "";
        await foreach (var output in execution.ReadOutputsAsync())
        {
            if (output is StreamOutput s)
            {
                seen += s.Text;
                if (seen == "a\n")
                {
                    // 'a' arrives while the cell still sleeps (the kernel may send it in pieces).
                    Assert.False(execution.IsCompleted);
                }
            }
        }
        Assert.Equal("a\nb\n", seen);
        Assert.Equal("ok", (await execution.Completion).Status);
    }

    [Fact]
    public async Task Other_requests_get_their_replies()
    {
        var reply = await Kernel.RequestAsync(KernelChannels.Shell, "kernel_info_request", KernelMessage.Json.EmptyObject).WaitAsync(TestTimeouts.Default);
        Assert.Equal("kernel_info_reply", reply.MsgType);
        Assert.Equal("python", reply.Content.GetProperty("language_info").GetProperty("name").GetString());
        Assert.Equal("ok", reply.Content.GetProperty("status").GetString());
    }

    [Fact]
    public async Task The_legacy_protocol_works_too_when_v1_is_not_offered()
    {
        var kernels = await fixture.Client.ListKernelsAsync();
        await using var legacy = await KernelConnection.ConnectAsync(fixture.Client, kernels[0].Id, new KernelConnectionOptions { OfferV1 = false });
        Assert.Equal(KernelWireProtocol.Legacy, legacy.Protocol);
        var result = await legacy.RunAsync("print('legacy'); 6*7");
        Assert.Equal("legacy\n", result.Stdout);
        Assert.Equal("42", Assert.Single(result.Of<ExecuteResultOutput>()).Data.Text());
        var answered = await legacy.RunAsync("input('? ')", new ExecuteOptions { OnInput = (_, _) => Task.FromResult("typed") });
        Assert.Equal("'typed'", Assert.Single(answered.Of<ExecuteResultOutput>()).Data.Text());
    }

    [Fact]
    public async Task Kernel_state_and_activity_are_tracked()
    {
        var before = DateTimeOffset.UtcNow;
        await Kernel.RunAsync("pass");
        Assert.Equal("idle", Kernel.ExecutionState);
        Assert.True(Kernel.LastActivity >= before.AddSeconds(-1));
    }
}
