using System.Text.Json;
using Colab.Daemon.Hosting;
using Colab.Daemon.Protocol;
using Colab.Daemon.Status;
using Colab.Daemon.Tests.Infrastructure;

namespace Colab.Daemon.Tests;

/// <summary>The LSP lifecycle and the product's methods through the daemon's real <see cref="MethodTable"/>.</summary>
public sealed class LifecycleTests
{
    [Theory]
    [InlineData("colab/serverStatus")]
    [InlineData("shutdown")]
    [InlineData("colab/diag/echo")]
    [InlineData("colab/diag/delay")]
    [InlineData("colab/noSuchThing")]
    public async Task Request_BeforeInitialize_IsRefusedWithServerNotInitialized(string method)
    {
        await using var h = new LifecycleHarness();

        var answer = await h.RequestAsync(method, "{}");

        Assert.Equal(ErrorCodes.ServerNotInitialized, TestClient.ErrorCode(answer));
        Assert.Equal(-32002, TestClient.ErrorCode(answer));
        Assert.Contains(method, TestClient.ErrorMessage(answer));
    }

    [Fact]
    public async Task Initialized_BeforeInitialize_IsDropped()
    {
        await using var h = new LifecycleHarness();

        await h.Client.NotifyAsync("initialized", "{}");
        await h.RequestAsync("colab/serverStatus");

        // No serverStatusChanged, no logMessage: only the refusal.
        Assert.Single(h.Client.Messages);
        Assert.Equal("starting", h.Status.Current().Health);
    }

    [Fact]
    public async Task Initialize_AnswersTheProductsCapabilitiesAndVersion()
    {
        await using var h = new LifecycleHarness();

        var result = await h.InitializeAsync();

        var colab = result.GetProperty("capabilities").GetProperty("experimental").GetProperty("colab");
        Assert.Equal("1", colab.GetProperty("protocolVersion").GetString());
        Assert.True(colab.GetProperty("serverStatusNotifications").GetBoolean());
        Assert.Equal(Methods.All.Select(m => m.Name), colab.GetProperty("methods").EnumerateArray().Select(m => m.GetString()));
        Assert.Equal("colab-daemon", result.GetProperty("serverInfo").GetProperty("name").GetString());
        Assert.Equal(ServerStatusService.Version, result.GetProperty("serverInfo").GetProperty("version").GetString());
        Assert.True(h.Lifecycle.IsInitialized);
    }

    [Fact]
    public async Task Initialize_Twice_IsRefusedWithInvalidRequest()
    {
        await using var h = new LifecycleHarness();
        await h.InitializeAsync();

        var again = await h.RequestAsync("initialize", "{}");

        Assert.Equal(ErrorCodes.InvalidRequest, TestClient.ErrorCode(again));
        Assert.Contains("already", TestClient.ErrorMessage(again));
        Assert.True((await h.RequestAsync("colab/serverStatus")).TryGetProperty("result", out _));
    }

    [Fact]
    public async Task Initialize_WithParamsOfTheWrongType_IsInvalidParamsAndInitializeCanBeSentAgain()
    {
        await using var h = new LifecycleHarness();

        var wrong = await h.RequestAsync("initialize", """{"processId":"not a number"}""");
        Assert.Equal(ErrorCodes.InvalidParams, TestClient.ErrorCode(wrong));
        Assert.Contains("$.processId", TestClient.ErrorMessage(wrong));

        await h.InitializeAsync();
    }

    [Theory]
    [InlineData("colab/serverStatus")]
    [InlineData("colab/diag/echo")]
    [InlineData("shutdown")]
    [InlineData("initialize")]
    public async Task Request_AfterShutdown_IsRefusedWithInvalidRequest(string method)
    {
        await using var h = new LifecycleHarness();
        await h.InitializeAsync();
        var shutdown = await h.RequestAsync("shutdown");
        Assert.Equal(JsonValueKind.Null, shutdown.GetProperty("result").ValueKind);

        var refused = await h.RequestAsync(method, "{}");

        Assert.Equal(ErrorCodes.InvalidRequest, TestClient.ErrorCode(refused));
        Assert.Equal(-32600, TestClient.ErrorCode(refused));
    }

    [Fact]
    public async Task Exit_AfterShutdown_ExitCodeIsZero()
    {
        await using var h = new LifecycleHarness();
        await h.InitializeAsync();
        await h.RequestAsync("shutdown");

        await h.Client.NotifyAsync("exit");

        Assert.Equal(0, await h.Lifecycle.ExitRequested.Within("exit"));
    }

    [Fact]
    public async Task Exit_WithoutShutdown_ExitCodeIsOne()
    {
        await using var h = new LifecycleHarness();
        await h.InitializeAsync();

        await h.Client.NotifyAsync("exit");

        Assert.Equal(1, await h.Lifecycle.ExitRequested.Within("exit"));
    }

    [Fact]
    public async Task Exit_BeforeInitialize_ExitCodeIsOne()
    {
        await using var h = new LifecycleHarness();

        await h.Client.NotifyAsync("exit");

        Assert.Equal(1, await h.Lifecycle.ExitRequested.Within("exit"));
    }

    [Fact]
    public async Task Initialized_PushesServerStatusChangedReady_ThenAgainWhenTheProbesComplete()
    {
        await using var h = new LifecycleHarness();
        await h.InitializeAsync();

        var first = await h.Client.WaitForAsync(m => TestClient.IsNotification(m, "colab/serverStatusChanged"), "the first colab/serverStatusChanged");
        Assert.Equal("ready", first.GetProperty("params").GetProperty("health").GetString());

        var probed = await h.Client.WaitForAsync(
            m => TestClient.IsNotification(m, "colab/serverStatusChanged") && !HasProbing(m.GetProperty("params")),
            "colab/serverStatusChanged with the probes' answers");
        var status = probed.GetProperty("params");
        Assert.Equal("ready", status.GetProperty("health").GetString());
        var python = Capability(status, "python");
        Assert.Equal("available", python.GetProperty("state").GetString());
        Assert.Contains(h.PythonPath, python.GetProperty("detail").GetString());
        Assert.Contains("3.12.1", python.GetProperty("detail").GetString());
        Assert.Equal("available", Capability(status, "localRuntime").GetProperty("state").GetString());
        Assert.Equal("unavailable", Capability(status, "torch").GetProperty("state").GetString());
        Assert.Contains("python3-torch", Capability(status, "torch").GetProperty("detail").GetString());

        // The first push came first, and the client was also told the daemon is ready.
        var pushes = h.Client.Messages.Where(m => TestClient.IsNotification(m, "colab/serverStatusChanged")).ToList();
        Assert.True(HasProbing(pushes[0].GetProperty("params")));
        Assert.Contains(h.Client.Messages, m => TestClient.IsNotification(m, "window/logMessage")
            && m.GetProperty("params").GetProperty("type").GetInt32() == 3
            && m.GetProperty("params").GetProperty("message").GetString()!.Contains("ready"));

        // A request now answers the same capabilities.
        var now = (await h.RequestAsync("colab/serverStatus")).GetProperty("result");
        Assert.Equal(status.GetProperty("capabilities").GetRawText(), now.GetProperty("capabilities").GetRawText());
        Assert.Equal(Environment.ProcessId, now.GetProperty("pid").GetInt32());
        Assert.Equal(ServerStatusService.Version, now.GetProperty("version").GetString());
        Assert.True(now.GetProperty("uptimeSeconds").GetDouble() >= 0);
    }

    [Fact]
    public async Task ServerStatus_BeforeInitialized_IsStartingWithCapabilitiesProbing()
    {
        await using var h = new LifecycleHarness();
        await h.RequestAsync("initialize", "{}");

        var status = (await h.RequestAsync("colab/serverStatus")).GetProperty("result");

        Assert.Equal("starting", status.GetProperty("health").GetString());
        Assert.Equal(["gpu", "python", "localRuntime", "torch"], status.GetProperty("capabilities").EnumerateArray().Select(c => c.GetProperty("name").GetString()));
        Assert.True(HasProbing(status));
    }

    [Fact]
    public async Task DiagDelay_WithReportProgress_CreatesAToken_ThenSendsBeginReportsAndEnd()
    {
        await using var h = new LifecycleHarness();
        await h.InitializeAsync();
        var mark = h.Client.Messages.Count;

        var answer = await h.RequestAsync("colab/diag/delay", """{"milliseconds":50,"reportProgress":true}""");

        Assert.True(answer.GetProperty("result").GetProperty("elapsedMilliseconds").GetInt64() >= 0, answer.GetRawText());
        var messages = h.Client.MessagesSince(mark).Where(m => !TestClient.IsNotification(m, "colab/serverStatusChanged") && !TestClient.IsNotification(m, "window/logMessage")).ToList();
        var create = messages[0];
        Assert.True(TestClient.IsServerRequest(create, "window/workDoneProgress/create"), create.GetRawText());
        var token = create.GetProperty("params").GetProperty("token");
        Assert.Equal(JsonValueKind.String, token.ValueKind);

        var progress = messages.Skip(1).TakeWhile(m => TestClient.IsNotification(m, "$/progress")).Select(m => m.GetProperty("params")).ToList();
        Assert.All(progress, p => Assert.Equal(token.GetRawText(), p.GetProperty("token").GetRawText()));
        var kinds = progress.Select(p => p.GetProperty("value").GetProperty("kind").GetString()).ToList();
        Assert.Equal(["begin", .. Enumerable.Repeat("report", 10), "end"], kinds);
        var begin = progress[0].GetProperty("value");
        Assert.Equal("Waiting", begin.GetProperty("title").GetString());
        Assert.True(begin.GetProperty("cancellable").GetBoolean());
        Assert.Equal(Enumerable.Range(1, 10).Select(i => i * 10), progress.Skip(1).Take(10).Select(p => p.GetProperty("value").GetProperty("percentage").GetInt32()));
        Assert.Equal("done", progress[^1].GetProperty("value").GetProperty("message").GetString());
        // The answer comes after the end of the progress.
        Assert.Equal(answer.GetRawText(), messages[progress.Count + 1].GetRawText());
    }

    [Theory]
    [InlineData("\"client-token-1\"")]
    [InlineData("7")]
    public async Task DiagDelay_WithTheClientsWorkDoneToken_UsesItWithoutCreate(string tokenJson)
    {
        await using var h = new LifecycleHarness();
        await h.InitializeAsync();

        await h.RequestAsync("colab/diag/delay", $$"""{"milliseconds":10,"reportProgress":true,"workDoneToken":{{tokenJson}}}""");

        Assert.DoesNotContain(h.Client.Messages, m => TestClient.IsServerRequest(m, "window/workDoneProgress/create"));
        var progress = h.Client.Messages.Where(m => TestClient.IsNotification(m, "$/progress")).Select(m => m.GetProperty("params")).ToList();
        Assert.Equal(12, progress.Count);
        Assert.All(progress, p => Assert.Equal(tokenJson, p.GetProperty("token").GetRawText()));
    }

    [Fact]
    public async Task DiagDelay_WhenTheClientRefusesToCreateAToken_StillAnswersWithoutProgress()
    {
        await using var h = new LifecycleHarness();
        h.Client.AnswerWith = m => Frames.Error(m.GetProperty("id").GetRawText(), ErrorCodes.MethodNotFound, "no progress here");
        await h.InitializeAsync();

        var answer = await h.RequestAsync("colab/diag/delay", """{"milliseconds":10,"reportProgress":true}""");

        Assert.True(answer.TryGetProperty("result", out _), answer.GetRawText());
        Assert.DoesNotContain(h.Client.Messages, m => TestClient.IsNotification(m, "$/progress"));
    }

    [Fact]
    public async Task DiagDelay_Cancelled_EndsItsProgressAndAnswersRequestCancelled()
    {
        await using var h = new LifecycleHarness();
        await h.InitializeAsync();

        var waiting = h.Client.RequestAsync("long", "colab/diag/delay", """{"milliseconds":600000,"reportProgress":true,"workDoneToken":"t"}""");
        await h.Client.WaitForAsync(m => TestClient.IsNotification(m, "$/progress"), "the progress begin");
        await h.Client.SendAsync(Frames.Cancel("long"));

        Assert.Equal(ErrorCodes.RequestCancelled, TestClient.ErrorCode(await waiting));
        var end = h.Client.Messages.Last(m => TestClient.IsNotification(m, "$/progress")).GetProperty("params").GetProperty("value");
        Assert.Equal("end", end.GetProperty("kind").GetString());
        Assert.Equal("cancelled", end.GetProperty("message").GetString());
    }

    [Theory]
    [InlineData("""{"milliseconds":600001}""")]
    [InlineData("""{"milliseconds":-1}""")]
    [InlineData("""{"milliseconds":"soon"}""")]
    [InlineData("{}")]
    public async Task DiagDelay_WithBadMilliseconds_IsInvalidParams(string paramsJson)
    {
        await using var h = new LifecycleHarness();
        await h.InitializeAsync();

        var answer = await h.RequestAsync("colab/diag/delay", paramsJson);

        Assert.Equal(ErrorCodes.InvalidParams, TestClient.ErrorCode(answer));
        var message = answer.GetProperty("error").GetProperty("message").GetString()!;
        Assert.DoesNotContain("System.", message);
        Assert.DoesNotContain("Colab.Daemon", message);
    }

    [Theory]
    [InlineData("""{"milliseconds":"soon"}""", "$.milliseconds is a string where a number is expected")]
    [InlineData("{}", "missing required properties including: 'milliseconds'")]
    [InlineData("""{"milliseconds":5,"reportProgress":"yes"}""", "$.reportProgress is a string where a boolean is expected")]
    public async Task DiagDelay_WithBadParams_SaysWhatIsWrongInJsonTerms(string paramsJson, string expected)
    {
        await using var h = new LifecycleHarness();
        await h.InitializeAsync();

        var answer = await h.RequestAsync("colab/diag/delay", paramsJson);

        Assert.Contains(expected, answer.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task DiagEcho_AnswersItsParamsUnchanged()
    {
        await using var h = new LifecycleHarness();
        await h.InitializeAsync();
        const string payload = """{"n":[1,-2.5e3,true,null],"s":"x\"y","o":{}}""";

        var answer = await h.RequestAsync("colab/diag/echo", payload);

        Assert.True(JsonElement.DeepEquals(JsonDocument.Parse(payload).RootElement, answer.GetProperty("result")));
    }

    [Fact]
    public async Task EveryClientToServerRequestInTheList_IsBound()
    {
        await using var h = new LifecycleHarness();
        await h.InitializeAsync();

        foreach (var method in Methods.All.Where(m => m is { Kind: MethodKind.Request, Direction: MethodDirection.ClientToServer }
            && m.Name is not (Methods.Initialize or Methods.Shutdown)))
        {
            var answer = await h.RequestAsync(method.Name, """{"milliseconds":0}""");
            Assert.False(answer.TryGetProperty("error", out _) && TestClient.ErrorCode(answer) == ErrorCodes.MethodNotFound, $"{method.Name} has no handler");
        }
    }

    private static bool HasProbing(JsonElement status)
        => status.GetProperty("capabilities").EnumerateArray().Any(c => c.GetProperty("state").GetString() == ServerStatusService.Probing);

    private static JsonElement Capability(JsonElement status, string name)
        => status.GetProperty("capabilities").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);
}
