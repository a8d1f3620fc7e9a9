using System.Text.Json;
using Colab.Daemon.Protocol;
using Colab.Daemon.Tests.Gpu;
using Colab.Daemon.Tests.Infrastructure;
using static Colab.Daemon.Tests.Training.TrainingTestSupport;

namespace Colab.Daemon.Tests.Training;

/// <summary>What happens when a job ends — the webhook and <c>onDone: disconnect</c> — through the real daemon, real supervisors and a real HTTP listener.</summary>
public sealed class TrainingOnDoneTests
{
    private const string Metrics = "printf '{\"step\": 40, \"total_steps\": 40, \"loss\": 0.125, \"accuracy\": 0.96}\\n' >> \"$COLAB_METRICS_FILE\"";

    private static async Task<string> StartAsync(DaemonProcess daemon, TrainStartParams p)
    {
        var answer = await daemon.RequestAsync(Methods.TrainStart, JsonSerializer.Serialize(p, TrainingProtocolJson.Default.TrainStartParams));
        Assert.True(answer.TryGetProperty("result", out var info), answer.GetRawText());
        return info.GetProperty("id").GetString()!;
    }

    private static async Task<JsonElement> WaitFinalAsync(DaemonProcess daemon, string id)
    {
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (true)
        {
            var s = (await daemon.RequestAsync(Methods.TrainStatus, $$"""{"jobId":"{{id}}"}""")).GetProperty("result");
            if (s.GetProperty("state").GetString() is "succeeded" or "failed" or "stopped" or "lost")
            {
                return s;
            }
            Assert.True(DateTime.UtcNow < deadline, $"job {id} did not end: {s.GetRawText()}");
            await Task.Delay(200);
        }
    }

    /// <summary>Every file under the job directory, for "the secret is nowhere on disk".</summary>
    private static string AllFiles(string dir)
        => string.Join("\n", Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Select(f => f + ":" + File.ReadAllText(f)));

    [Fact]
    public async Task Webhook_JobSucceeds_PostsStateAndFinalMetrics_AndTheUrlIsNeverWritten()
    {
        using var server = new WebhookListener();
        var secret = "tok-" + Guid.NewGuid().ToString("N");
        var url = $"{server.Url}hook/{{jobId}}?key={secret}";
        var root = TempDirectory("hook-ok");
        await using var daemon = DaemonProcess.Start(environment: new Dictionary<string, string> { ["COLAB_TRAINING_JOBS"] = root });
        await daemon.InitializeAsync();

        var id = await StartAsync(daemon, new TrainStartParams(["/bin/sh", "-c", $"{Metrics}; echo trained"], MaxRestarts: 0, WebhookUrl: url));

        var hit = await server.WaitAsync();
        Assert.Equal("POST", hit.Method);
        Assert.Equal($"/hook/{id}?key={secret}", hit.RawUrl);
        using var body = JsonDocument.Parse(hit.Body);
        Assert.Equal(id, body.RootElement.GetProperty("jobId").GetString());
        Assert.Equal("succeeded", body.RootElement.GetProperty("state").GetString());
        Assert.Equal(0.125, body.RootElement.GetProperty("metrics").GetProperty("loss").GetDouble());
        Assert.Equal(0.96, body.RootElement.GetProperty("metrics").GetProperty("accuracy").GetDouble());
        Assert.Equal(40, body.RootElement.GetProperty("metrics").GetProperty("step").GetInt64());

        var info = await WaitFinalAsync(daemon, id);
        Assert.Equal("succeeded", info.GetProperty("state").GetString());
        Assert.True(info.GetProperty("webhook").GetBoolean());
        await PollAsync(() => File.ReadAllText(Path.Combine(root, id, "worker.log")) is var log && log.Contains("webhook delivered (HTTP 200)", StringComparison.Ordinal) ? log : null, "the webhook line in the log");
        var disk = AllFiles(Path.Combine(root, id));
        Assert.DoesNotContain(secret, disk, StringComparison.Ordinal);
        Assert.DoesNotContain(server.Url, disk, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, daemon.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain(daemon.Client.Messages, m => m.GetRawText().Contains(secret, StringComparison.Ordinal) && !m.TryGetProperty("method", out _));
    }

    [Fact]
    public async Task Webhook_JobFails_PostsFailed_AndA500IsLoggedNotFatal()
    {
        using var server = new WebhookListener(status: 500);
        var secret = "tok-" + Guid.NewGuid().ToString("N");
        var root = TempDirectory("hook-500");
        await using var daemon = DaemonProcess.Start(environment: new Dictionary<string, string> { ["COLAB_TRAINING_JOBS"] = root });
        await daemon.InitializeAsync();

        var id = await StartAsync(daemon, new TrainStartParams(["/bin/sh", "-c", "echo boom >&2; exit 3"], MaxRestarts: 0, WebhookUrl: $"{server.Url}?k={secret}"));

        var hit = await server.WaitAsync();
        using var body = JsonDocument.Parse(hit.Body);
        Assert.Equal("failed", body.RootElement.GetProperty("state").GetString());
        Assert.Contains("exit code 3", body.RootElement.GetProperty("lastError").GetString());
        var info = await WaitFinalAsync(daemon, id);
        Assert.Equal("failed", info.GetProperty("state").GetString());
        var log = await PollAsync(() => File.ReadAllText(Path.Combine(root, id, "worker.log")) is var l && l.Contains("webhook not delivered", StringComparison.Ordinal) ? l : null, "the webhook line in the log");
        Assert.Contains("webhook not delivered: the server answered HTTP 500", log, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, AllFiles(Path.Combine(root, id)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Webhook_NobodyListening_JobStillSucceeds()
    {
        var root = TempDirectory("hook-down");
        await using var daemon = DaemonProcess.Start(environment: new Dictionary<string, string> { ["COLAB_TRAINING_JOBS"] = root });
        await daemon.InitializeAsync();

        var id = await StartAsync(daemon, new TrainStartParams(["/bin/true"], MaxRestarts: 0, WebhookUrl: $"http://127.0.0.1:{WebhookListener.FreePort()}/hook"));

        Assert.Equal("succeeded", (await WaitFinalAsync(daemon, id)).GetProperty("state").GetString());
        await PollAsync(() => File.ReadAllText(Path.Combine(root, id, "worker.log")) is var l && l.Contains("webhook not delivered: could not connect", StringComparison.Ordinal) ? l : null, "the webhook line in the log");
    }

    [Fact]
    public async Task OnDoneDisconnect_DisconnectsTheLocalRuntime_WhenTheJobEnds()
    {
        var root = TempDirectory("ondone");
        var workspace = TempDirectory("ondone-ws");
        await using var daemon = DaemonProcess.Start(environment: new Dictionary<string, string>
        {
            ["COLAB_TRAINING_JOBS"] = root, ["COLAB_PYTHON"] = PythonPath, ["COLAB_WORKSPACE"] = workspace,
        });
        await daemon.InitializeAsync();
        var connected = await daemon.RequestAsync(Methods.RuntimeConnect, $$"""{"kind":"local","root":{{JsonSerializer.Serialize(workspace)}}}""");
        Assert.True(connected.TryGetProperty("result", out var runtime), connected.GetRawText());
        var runtimeId = runtime.GetProperty("id").GetString()!;

        var id = await StartAsync(daemon, new TrainStartParams(["/bin/sh", "-c", "sleep 3"], MaxRestarts: 0, OnDone: "disconnect", RuntimeId: runtimeId));
        var info = await WaitFinalAsync(daemon, id);
        Assert.Equal("disconnect", info.GetProperty("onDone").GetString());
        Assert.Equal(runtimeId, info.GetProperty("runtimeId").GetString());

        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var list = (await daemon.RequestAsync(Methods.RuntimeList, "{}")).GetProperty("result").GetProperty("runtimes");
            if (!list.EnumerateArray().Any(r => r.GetProperty("id").GetString() == runtimeId))
            {
                break;
            }
            Assert.True(DateTime.UtcNow < deadline, "the runtime was not disconnected: " + list.GetRawText());
            await Task.Delay(200);
        }
        await PollAsync(() => File.ReadAllText(Path.Combine(root, id, "worker.log")) is var log && log.Contains($"[daemon] onDone: disconnected runtime {runtimeId}", StringComparison.Ordinal) ? log : null,
            "the onDone line in the log");
    }

    [Theory]
    [InlineData("""{"command":["/bin/true"],"webhookUrl":"file:///etc/passwd"}""", "http:// or https://", "/etc/passwd")]
    [InlineData("""{"command":["/bin/true"],"webhookUrl":"https://example.com/a b"}""", "without spaces", "example.com")]
    [InlineData("""{"command":["/bin/true"],"webhookUrl":"javascript:alert(1)"}""", "http:// or https://", "alert")]
    [InlineData("""{"command":["/bin/true"],"webhookUrl":""}""", "the webhook URL", "")]
    [InlineData("""{"command":["/bin/true"],"onDone":"explode"}""", "onDone is", "")]
    [InlineData("""{"command":["/bin/true"],"onDone":"disconnect"}""", "needs the runtimeId", "")]
    [InlineData("""{"command":["/bin/true"],"runtimeId":"no-such-runtime"}""", "no runtime no-such-runtime", "")]
    [InlineData("""{"command":["/bin/true"],"runtimeId":"bad\u0001id"}""", "not a runtime id", "")]
    [InlineData("""{"command":["/bin/true"],"requiredGpu":["A100\u0007"]}""", "printable characters", "")]
    [InlineData("""{"command":["/bin/true"],"requiredGpu":[""]}""", "printable characters", "")]
    [InlineData("""{"command":["/bin/true"],"requiredGpu":"A100"}""", "", "")]
    public async Task HostileOnDoneParams_AreInvalidParams_AndNoJobIsCreated(string paramsJson, string message, string notEchoed)
    {
        var root = TempDirectory("ondone-bad");
        await using var daemon = DaemonProcess.Start(environment: new Dictionary<string, string> { ["COLAB_TRAINING_JOBS"] = root });
        await daemon.InitializeAsync();

        var answer = await daemon.RequestAsync(Methods.TrainStart, paramsJson);

        Assert.Equal(ErrorCodes.InvalidParams, TestClient.ErrorCode(answer));
        Assert.Contains(message, TestClient.ErrorMessage(answer), StringComparison.Ordinal);
        if (notEchoed.Length > 0)
        {
            Assert.DoesNotContain(notEchoed, TestClient.ErrorMessage(answer), StringComparison.Ordinal);
        }
        Assert.Empty(Directory.Exists(root) ? Directory.EnumerateDirectories(root) : []);
    }

    [Fact]
    public async Task TooManyRequiredGpus_AreInvalidParams()
    {
        await using var daemon = DaemonProcess.Start(environment: new Dictionary<string, string> { ["COLAB_TRAINING_JOBS"] = TempDirectory("gpu-many") });
        await daemon.InitializeAsync();
        var names = string.Join(",", Enumerable.Range(0, 33).Select(i => $"\"G{i}\""));

        var answer = await daemon.RequestAsync(Methods.TrainStart, $$"""{"command":["/bin/true"],"requiredGpu":[{{names}}]}""");

        Assert.Equal(ErrorCodes.InvalidParams, TestClient.ErrorCode(answer));
        Assert.Contains("at most 32", TestClient.ErrorMessage(answer), StringComparison.Ordinal);
    }
}

/// <summary>The required-GPU check at <c>colab/train/start</c>, against the fake NVML loaded by the real daemon.</summary>
[Collection(FakeNvmlCollection.Name)]
public sealed class TrainingGpuCheckTests(FakeNvmlFixture fake)
{
    private Dictionary<string, string> Env(string root, int count = 1) => new()
    {
        ["COLAB_TRAINING_JOBS"] = root,
        ["COLAB_NVMLLIBRARY"] = fake.Library(),
        ["FAKE_NVML_DEVICE_COUNT"] = count.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["FAKE_NVML_GPU0_NAME"] = "NVIDIA A100-SXM4-40GB",
    };

    [Fact]
    public async Task RequiredGpu_Present_TheJobStarts()
    {
        var root = TempDirectory("gpu-ok");
        await using var daemon = DaemonProcess.Start(environment: Env(root));
        await daemon.InitializeAsync();

        var answer = await daemon.RequestAsync(Methods.TrainStart, """{"command":["/bin/true"],"maxRestarts":0,"requiredGpu":["H100","A100"]}""");

        Assert.True(answer.TryGetProperty("result", out var info), answer.GetRawText());
        Assert.Equal(["H100", "A100"], info.GetProperty("requiredGpu").EnumerateArray().Select(e => e.GetString()));
        Assert.Single(Directory.EnumerateDirectories(root));
    }

    [Fact]
    public async Task RequiredGpu_Different_IsRefusedWithAClearMessage_AndNothingStarts()
    {
        var root = TempDirectory("gpu-wrong");
        await using var daemon = DaemonProcess.Start(environment: Env(root));
        await daemon.InitializeAsync();

        var answer = await daemon.RequestAsync(Methods.TrainStart, """{"command":["/bin/true"],"requiredGpu":["H100"]}""");

        Assert.Equal(ErrorCodes.TrainGpuMismatch, TestClient.ErrorCode(answer));
        var message = TestClient.ErrorMessage(answer);
        Assert.Contains("This host has NVIDIA A100-SXM4-40GB, but H100 is required.", message, StringComparison.Ordinal);
        Assert.Contains("The job was not started", message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(root) && Directory.EnumerateDirectories(root).Any());
    }

    [Fact]
    public async Task RequiredGpu_NoGpuAtAll_IsRefused()
    {
        var root = TempDirectory("gpu-none");
        await using var daemon = DaemonProcess.Start(environment: Env(root, count: 0));
        await daemon.InitializeAsync();

        var answer = await daemon.RequestAsync(Methods.TrainStart, """{"example":true,"requiredGpu":["L4"]}""");

        Assert.Equal(ErrorCodes.TrainGpuMismatch, TestClient.ErrorCode(answer));
        Assert.Contains("has no GPU", TestClient.ErrorMessage(answer), StringComparison.Ordinal);
        Assert.Contains("L4 is required", TestClient.ErrorMessage(answer), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cli_RequireGpu_Mismatch_ExitsOneAndStartsNothing_Match_Starts()
    {
        var root = TempDirectory("gpu-cli");
        var env = Env(root);
        env["COLAB_PYTHON"] = PythonPath;

        var refused = await RepoLayout.RunColabAsync(env, "train", "start", "--require-gpu", "H100", "--", "/bin/true");
        Assert.Equal(1, refused.Code);
        Assert.Contains("This host has NVIDIA A100-SXM4-40GB, but H100 is required.", refused.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(root) && Directory.EnumerateDirectories(root).Any());

        var started = await RepoLayout.RunColabAsync(env, "train", "start", "--require-gpu", "A100", "--max-restarts", "0", "--", "/bin/true");
        Assert.True(started.Code == 0, started.Stderr);
        Assert.Single(Directory.EnumerateDirectories(root));
    }

    [Fact]
    public async Task RequiredGpu_WholeModelNumbersOnly_L4IsNotL40S()
    {
        var root = TempDirectory("gpu-l40s");
        var env = Env(root);
        env["FAKE_NVML_GPU0_NAME"] = "NVIDIA L40S";
        await using var daemon = DaemonProcess.Start(environment: env);
        await daemon.InitializeAsync();

        var answer = await daemon.RequestAsync(Methods.TrainStart, """{"command":["/bin/true"],"requiredGpu":["L4"]}""");

        Assert.Equal(ErrorCodes.TrainGpuMismatch, TestClient.ErrorCode(answer));
    }
}
