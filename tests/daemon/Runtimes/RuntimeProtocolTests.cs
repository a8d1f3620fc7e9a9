using System.Diagnostics;
using System.Text.Json;
using Colab.Daemon.Protocol;
using Colab.Daemon.Tests.Infrastructure;

namespace Colab.Daemon.Tests.Runtimes;

/// <summary>The real daemon over stdio with Debian's interpreter, one local runtime and one kernel, shared by a class's tests.</summary>
public sealed class RuntimeDaemonFixture : IAsyncLifetime
{
    private readonly TempWorkspace _workspace = new();
    private DaemonProcess? _daemon;

    internal DaemonProcess D => _daemon ?? throw new InvalidOperationException("the daemon did not start");

    public JsonElement Runtime { get; private set; }

    public string RuntimeId => Runtime.GetProperty("id").GetString()!;

    public string KernelId { get; private set; } = "";

    public async Task InitializeAsync()
    {
        var python = await DebianPython.RequireAsync();
        _daemon = StartDaemon(python, _workspace.Path);
        await _daemon.InitializeAsync();
        Runtime = RuntimeProtocolTests.Result(await _daemon.RequestAsync(Methods.RuntimeConnect, $$"""{"kind":"local","root":{{Frames.Str(_workspace.Path)}}}"""));
        var kernel = RuntimeProtocolTests.Result(await _daemon.RequestAsync(Methods.KernelStart, $$"""{"runtimeId":"{{RuntimeId}}"}"""));
        KernelId = kernel.GetProperty("id").GetString()!;
    }

    internal static DaemonProcess StartDaemon(string python, string workspace)
    {
        var d = DaemonProcess.Start(environment: new Dictionary<string, string> { ["COLAB_PYTHON"] = python, ["COLAB_WORKSPACE"] = workspace });
        // Answer colab/kernel/input with "Ada"; other server requests with null.
        d.Client.AnswerWith = m => TestClient.IsServerRequest(m, Methods.KernelInput)
            ? Frames.Result(m.GetProperty("id").GetRawText(), """{"value":"Ada"}""")
            : Frames.Result(m.GetProperty("id").GetRawText(), "null");
        return d;
    }

    public async Task DisposeAsync()
    {
        if (_daemon is not null)
        {
            await _daemon.DisposeAsync();
        }
        _workspace.Dispose();
    }
}

public sealed class RuntimeProtocolTests(RuntimeDaemonFixture f) : IClassFixture<RuntimeDaemonFixture>
{
    private DaemonProcess D => f.D;

    internal static JsonElement Result(JsonElement answer)
        => answer.TryGetProperty("result", out var r) ? r : throw new Xunit.Sdk.XunitException($"expected a result, got {answer.GetRawText()}");

    private string KernelParams(string more = "") => $$"""{"runtimeId":"{{f.RuntimeId}}","kernelId":"{{f.KernelId}}"{{more}}}""";

    /// <summary>Runs code; returns the answer and the output notifications of that execution received before it.</summary>
    private async Task<(JsonElement Answer, List<JsonElement> Outputs)> ExecuteAsync(string code)
    {
        var executionId = Guid.NewGuid().ToString();
        var mark = D.Client.Messages.Count;
        var answer = await D.RequestAsync(Methods.KernelExecute, KernelParams($$""","code":{{Frames.Str(code)}},"executionId":"{{executionId}}" """));
        var outputs = new List<JsonElement>();
        foreach (var m in D.Client.MessagesSince(mark))
        {
            if (TestClient.IsResponse(m) && m.GetRawText() == answer.GetRawText())
            {
                break; // outputs must come before the answer
            }
            if (TestClient.IsNotification(m, Methods.KernelOutput) && m.GetProperty("params").GetProperty("executionId").GetString() == executionId)
            {
                outputs.Add(m.GetProperty("params").GetProperty("output"));
            }
        }
        return (answer, outputs);
    }

    private static string StreamText(IEnumerable<JsonElement> outputs)
        => string.Concat(outputs.Where(o => o.GetProperty("type").GetString() == "stream").Select(o => o.GetProperty("text").GetString()));

    [Fact]
    public async Task Connect_Local_AnswersRuntimeInfo_AndPushesRuntimeChanged()
    {
        Assert.Equal("local", f.Runtime.GetProperty("kind").GetString());
        Assert.Equal("connected", f.Runtime.GetProperty("state").GetString());
        Assert.StartsWith("http://127.0.0.1:", f.Runtime.GetProperty("url").GetString());
        Assert.True(f.Runtime.GetProperty("processId").GetInt32() > 0);

        var changed = await D.Client.WaitForAsync(m => TestClient.IsNotification(m, Methods.RuntimeChanged)
            && m.GetProperty("params").GetProperty("runtimes").EnumerateArray().Any(r => r.GetProperty("id").GetString() == f.RuntimeId), "colab/runtime/changed");
        Assert.Equal("local", changed.GetProperty("params").GetProperty("runtimes")[0].GetProperty("kind").GetString());

        var list = Result(await D.RequestAsync(Methods.RuntimeList, "{}")).GetProperty("runtimes");
        Assert.Contains(list.EnumerateArray(), r => r.GetProperty("id").GetString() == f.RuntimeId);

        var kernels = Result(await D.RequestAsync(Methods.KernelList, $$"""{"runtimeId":"{{f.RuntimeId}}"}""")).GetProperty("kernels");
        var kernel = Assert.Single(kernels.EnumerateArray());
        Assert.Equal(f.KernelId, kernel.GetProperty("id").GetString());
        Assert.True(kernel.GetProperty("startedHere").GetBoolean());
    }

    [Fact]
    public async Task Execute_Print_StreamsTheOutputBeforeAnsweringOk()
    {
        var (answer, outputs) = await ExecuteAsync("print('hi')");

        var result = Result(answer);
        Assert.Equal("ok", result.GetProperty("status").GetString());
        Assert.True(result.GetProperty("executionCount").GetInt32() > 0);
        var stream = Assert.Single(outputs, o => o.GetProperty("type").GetString() == "stream");
        Assert.Equal("stdout", stream.GetProperty("name").GetString());
        Assert.Equal("hi\n", stream.GetProperty("text").GetString());
    }

    [Fact]
    public async Task Execute_AnExpression_SendsExecuteResultWithItsMimeBundle()
    {
        var (answer, outputs) = await ExecuteAsync("1 + 1");

        Assert.Equal("ok", Result(answer).GetProperty("status").GetString());
        var value = Assert.Single(outputs, o => o.GetProperty("type").GetString() == "execute_result");
        Assert.Equal("2", value.GetProperty("data").GetProperty("text/plain").GetString());
    }

    [Fact]
    public async Task Execute_DivisionByZero_SendsTheErrorAndAnswersError()
    {
        var (answer, outputs) = await ExecuteAsync("1/0");

        Assert.Equal("error", Result(answer).GetProperty("status").GetString());
        var error = Assert.Single(outputs, o => o.GetProperty("type").GetString() == "error");
        Assert.Equal("ZeroDivisionError", error.GetProperty("ename").GetString());
        Assert.NotEmpty(error.GetProperty("traceback").EnumerateArray());
    }

    [Fact]
    public async Task Execute_Input_AsksTheClient_AndTheKernelGetsTheAnswer()
    {
        var mark = D.Client.Messages.Count;
        var (answer, outputs) = await ExecuteAsync("name = input('name? ')\nprint('hello', name)");

        Assert.Equal("ok", Result(answer).GetProperty("status").GetString());
        var ask = Assert.Single(D.Client.MessagesSince(mark), m => TestClient.IsServerRequest(m, Methods.KernelInput));
        Assert.Equal("name? ", ask.GetProperty("params").GetProperty("prompt").GetString());
        Assert.False(ask.GetProperty("params").GetProperty("password").GetBoolean());
        Assert.Contains("hello Ada", StreamText(outputs));
    }

    [Fact]
    public async Task Execute_InputRefusedByTheClient_GivesTheKernelAnEmptyLine()
    {
        var previous = D.Client.AnswerWith;
        D.Client.AnswerWith = m => Frames.Error(m.GetProperty("id").GetRawText(), ErrorCodes.RequestCancelled, "no");
        try
        {
            var (answer, outputs) = await ExecuteAsync("print(repr(input('name? ')))");

            Assert.Equal("ok", Result(answer).GetProperty("status").GetString());
            Assert.Equal("''\n", StreamText(outputs));
        }
        finally
        {
            D.Client.AnswerWith = previous;
        }
    }

    [Fact]
    public async Task Execute_WithoutStdin_InputRaises_AndTheClientIsNotAsked()
    {
        var mark = D.Client.Messages.Count;
        var answer = await D.RequestAsync(Methods.KernelExecute, KernelParams(""","code":"input()","executionId":"nostdin","allowStdin":false"""));

        Assert.Equal("error", Result(answer).GetProperty("status").GetString());
        Assert.DoesNotContain(D.Client.MessagesSince(mark), m => TestClient.IsServerRequest(m, Methods.KernelInput));
    }

    [Fact]
    public async Task Execute_Cancelled_InterruptsTheKernel_AndItIsUsableAfter()
    {
        var id = D.NextId();
        var answer = D.Client.ResponseAsync(id);
        var mark = D.Client.Messages.Count;
        await D.Client.SendAsync(Frames.Request(id, Methods.KernelExecute, KernelParams(""","code":"import time; time.sleep(30)","executionId":"sleepy" """)));
        // Cancel once the kernel is running the cell.
        await D.Client.WaitForAsync(m => TestClient.IsNotification(m, Methods.KernelOutput)
            && m.GetProperty("params").GetProperty("executionId").GetString() == "sleepy", "the sleep's execute_input", mark);
        var watch = Stopwatch.StartNew();
        await D.Client.NotifyAsync("$/cancelRequest", $$"""{"id":"{{id}}"}""");

        Assert.Equal(ErrorCodes.RequestCancelled, TestClient.ErrorCode(await answer));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"cancelling took {watch.Elapsed}");

        var (after, outputs) = await ExecuteAsync("print('awake')");
        Assert.Equal("ok", Result(after).GetProperty("status").GetString());
        Assert.Equal("awake\n", StreamText(outputs));
    }

    [Fact]
    public async Task Restart_AnswersTheKernel_AndItRunsCodeAfter()
    {
        await ExecuteAsync("x = 41");

        var kernel = Result(await D.RequestAsync(Methods.KernelRestart, KernelParams()));
        Assert.Equal(f.KernelId, kernel.GetProperty("id").GetString());

        var (answer, outputs) = await ExecuteAsync("print('x' in globals())");
        Assert.Equal("ok", Result(answer).GetProperty("status").GetString());
        Assert.Equal("False\n", StreamText(outputs));
    }

    [Fact]
    public async Task Interrupt_AnIdleKernel_AnswersNull()
    {
        var answer = Result(await D.RequestAsync(Methods.KernelInterrupt, KernelParams()));

        Assert.Equal(JsonValueKind.Null, answer.ValueKind);
    }

    [Fact]
    public async Task UnknownRuntimeId_IsInvalidParams()
    {
        var answer = await D.RequestAsync(Methods.KernelStart, """{"runtimeId":"local-nope"}""");

        Assert.Equal(ErrorCodes.InvalidParams, TestClient.ErrorCode(answer));
        Assert.Contains("local-nope", TestClient.ErrorMessage(answer));
    }

    [Fact]
    public async Task UnknownKernelId_IsInvalidParams()
    {
        var answer = await D.RequestAsync(Methods.KernelExecute,
            $$"""{"runtimeId":"{{f.RuntimeId}}","kernelId":"00000000-0000-0000-0000-000000000000","code":"1","executionId":"e"}""");

        Assert.Equal(ErrorCodes.InvalidParams, TestClient.ErrorCode(answer));
    }

    [Fact]
    public async Task MissingParams_AreInvalidParams()
    {
        var answer = await D.RequestAsync(Methods.KernelExecute, $$"""{"runtimeId":"{{f.RuntimeId}}"}""");

        Assert.Equal(ErrorCodes.InvalidParams, TestClient.ErrorCode(answer));
    }

    [Fact]
    public async Task ConnectRemote_WithAWrongToken_IsRequestFailed_WithoutTheToken()
    {
        const string token = "wrong-token-5f0c1d2e9a8b7c6d";
        var url = f.Runtime.GetProperty("url").GetString()!;
        var mark = D.Client.Messages.Count;

        var answer = await D.RequestAsync(Methods.RuntimeConnect, $$"""{"kind":"remote","url":{{Frames.Str(url)}},"token":"{{token}}"}""");

        Assert.Equal(ErrorCodes.RequestFailed, TestClient.ErrorCode(answer));
        Assert.DoesNotContain(token, answer.GetRawText());
        Assert.DoesNotContain(D.Client.MessagesSince(mark), m => m.GetRawText().Contains(token, StringComparison.Ordinal));
        Assert.DoesNotContain(token, D.Stderr);
    }
}

/// <summary>Disconnecting, on a daemon of its own (the list must end up empty).</summary>
public sealed class RuntimeDisconnectProtocolTests
{
    [Fact]
    public async Task Disconnect_Local_EmptiesTheList_AndStopsTheServer()
    {
        var python = await DebianPython.RequireAsync();
        using var workspace = new TempWorkspace();
        await using var d = RuntimeDaemonFixture.StartDaemon(python, workspace.Path);
        await d.InitializeAsync();
        var runtime = RuntimeProtocolTests.Result(await d.RequestAsync(Methods.RuntimeConnect, """{"kind":"local"}"""));
        var id = runtime.GetProperty("id").GetString()!;
        var pid = runtime.GetProperty("processId").GetInt32();
        Assert.Equal(workspace.Path, runtime.GetProperty("rootDirectory").GetString());
        RuntimeProtocolTests.Result(await d.RequestAsync(Methods.KernelStart, $$"""{"runtimeId":"{{id}}"}"""));
        var mark = d.Client.Messages.Count;

        var answer = RuntimeProtocolTests.Result(await d.RequestAsync(Methods.RuntimeDisconnect, $$"""{"runtimeId":"{{id}}"}"""));

        Assert.Equal(JsonValueKind.Null, answer.ValueKind);
        Assert.Empty(RuntimeProtocolTests.Result(await d.RequestAsync(Methods.RuntimeList, "{}")).GetProperty("runtimes").EnumerateArray());
        await d.Client.WaitForAsync(m => TestClient.IsNotification(m, Methods.RuntimeChanged)
            && m.GetProperty("params").GetProperty("runtimes").GetArrayLength() == 0, "colab/runtime/changed with no runtimes", mark);
        Assert.False(IsAlive(pid), $"the local server (pid {pid}) is still running");
        var again = await d.RequestAsync(Methods.RuntimeDisconnect, $$"""{"runtimeId":"{{id}}"}""");
        Assert.Equal(ErrorCodes.InvalidParams, TestClient.ErrorCode(again));

        Assert.Equal(0, await d.ShutdownAndExitAsync());
    }

    private static bool IsAlive(int pid)
    {
        var stat = $"/proc/{pid}/stat";
        if (!File.Exists(stat))
        {
            return false;
        }
        try
        {
            // A zombie (state Z) has exited and only waits to be reaped.
            var text = File.ReadAllText(stat);
            return text[(text.LastIndexOf(')') + 2)..].FirstOrDefault() != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }
}

/// <summary><c>colab runtime run</c>, run as the built executable on a fresh local runtime.</summary>
public sealed class RuntimeCliTests
{
    private static async Task<(int Code, string Stdout, string Stderr)> RunAsync(params string[] args)
        => await RepoLayout.RunColabAsync(new Dictionary<string, string> { ["COLAB_PYTHON"] = await DebianPython.RequireAsync() }, args);

    [Fact]
    public async Task RunLocal_PrintsTheOutputs_AndExitsZero()
    {
        using var workspace = new TempWorkspace();

        var (code, stdout, stderr) = await RunAsync("runtime", "run", "--local", "--root", workspace.Path, "print(1); 2 + 3");

        Assert.True(code == 0, $"exit {code}; stderr: {stderr}");
        Assert.Equal("1\n5\n", stdout);
    }

    [Fact]
    public async Task RunLocalJson_AnError_PrintsItAsKernelOutput_AndExitsOne()
    {
        using var workspace = new TempWorkspace();

        var (code, stdout, stderr) = await RunAsync("runtime", "run", "--local", "--json", "--root", workspace.Path, "1/0");

        Assert.True(code == 1, $"exit {code}; stderr: {stderr}");
        using var json = JsonDocument.Parse(stdout.Trim());
        Assert.Equal("error", json.RootElement.GetProperty("type").GetString());
        Assert.Equal("ZeroDivisionError", json.RootElement.GetProperty("ename").GetString());
    }
}
