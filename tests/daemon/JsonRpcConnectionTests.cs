using System.Text.Json;
using Colab.Daemon.JsonRpc;
using Colab.Daemon.Protocol;
using Colab.Daemon.Tests.Infrastructure;

namespace Colab.Daemon.Tests;

/// <summary>
/// <see cref="JsonRpcConnection"/> over in-memory pipes seen as Streams (the production code
/// path), with a test client on the other end that parses every frame it is sent.
/// </summary>
public sealed class JsonRpcConnectionTests
{
    private static readonly TestJson Json = TestJson.Default;

    [Fact]
    public async Task Request_FromTheClient_IsAnsweredWithItsResult()
    {
        await using var h = new ConnectionHarness().Start();

        var answer = await h.Client.RequestAsync(1, "test/echo", """{"a":[1,2.5,{"b":null}],"s":"ünïcødé ✓"}""");

        Assert.Equal("2.0", answer.GetProperty("jsonrpc").GetString());
        Assert.Equal(1, answer.GetProperty("id").GetInt32());
        Assert.True(JsonElement.DeepEquals(Parse("""{"a":[1,2.5,{"b":null}],"s":"ünïcødé ✓"}"""), answer.GetProperty("result")), answer.GetRawText());
        Assert.False(answer.TryGetProperty("error", out _));
    }

    [Theory]
    [InlineData("\"abc\"")]
    [InlineData("\"\"")]
    [InlineData("0")]
    [InlineData("-5")]
    [InlineData("9223372036854775807")]
    [InlineData("\"ünï \\\" quote\"")]
    public async Task Request_WithAnyStringOrIntegerId_IsAnsweredWithThatIdExactly(string idJson)
    {
        await using var h = new ConnectionHarness().Start();

        var answered = h.Client.WaitForAsync(m => TestClient.IsResponse(m) && m.GetProperty("id").GetRawText() == JsonSerializer.Serialize(JsonDocument.Parse(idJson).RootElement), "the answer");
        await h.Client.SendAsync($$"""{"jsonrpc":"2.0","id":{{idJson}},"method":"test/echo","params":[true]}""");

        var answer = await answered;
        Assert.Equal("[true]", answer.GetProperty("result").GetRawText());
    }

    [Fact]
    public async Task Request_WithoutParams_IsAnswered()
    {
        await using var h = new ConnectionHarness().Start();

        var answer = await h.Client.RequestAsync(1, "test/echo");

        Assert.Equal(JsonValueKind.Null, answer.GetProperty("result").ValueKind);
    }

    [Fact]
    public async Task Request_WithTypedParams_ReachesTheHandlerDeserialised()
    {
        await using var h = new ConnectionHarness().Start();

        var answer = await h.Client.RequestAsync(1, "test/typed", """{"number":3,"text":"x","inner":{"count":2,"label":"l"},"unknownField":[1]}""");

        Assert.Equal("3:x:2", answer.GetProperty("result").GetProperty("summary").GetString());
    }

    [Fact]
    public async Task Notifications_FromTheClient_AreHandledInArrivalOrder()
    {
        await using var h = new ConnectionHarness().Start();

        var frames = Enumerable.Range(0, 1000).Select(i => Frames.Frame(Frames.Notification("test/note", $$"""{"seq":{{i}}}"""))).ToArray();
        await h.Client.SendAsync(Frames.Concat(frames));
        // Notifications are handled on the read loop: once a later request is answered, all have run.
        await h.Client.RequestAsync("after", "test/echo");

        Assert.Equal(Enumerable.Range(0, 1000), h.Notes);
        Assert.Single(h.Client.Messages);
    }

    [Fact]
    public async Task Notification_FromTheServer_ReachesTheClient()
    {
        await using var h = new ConnectionHarness().Start();

        h.Connection.Notify("test/hello", new AskParams("how are you?"), Json.AskParams);

        var note = await h.Client.WaitForAsync(m => TestClient.IsNotification(m, "test/hello"), "test/hello");
        Assert.Equal("""{"question":"how are you?"}""", note.GetProperty("params").GetRawText());
        Assert.False(note.TryGetProperty("id", out _));
    }

    [Fact]
    public async Task ServerRequest_AnsweredByTheClient_ReturnsTheClientsResult()
    {
        await using var h = new ConnectionHarness().Start();
        h.Client.AnswerWith = m => Frames.Result(m.GetProperty("id").GetRawText(), $$"""{"echo":{{m.GetProperty("params").GetRawText()}},"answer":42}""");

        var result = await h.Connection.SendRequestAsync("test/ask", new AskParams("meaning?"), Json.AskParams, Json.JsonElement).Within("the client's answer");

        Assert.Equal(42, result.GetProperty("answer").GetInt32());
        Assert.Equal("meaning?", result.GetProperty("echo").GetProperty("question").GetString());
        var request = Assert.Single(h.Client.Messages);
        Assert.True(TestClient.IsServerRequest(request, "test/ask"));
        Assert.Equal(JsonValueKind.Number, request.GetProperty("id").ValueKind);
    }

    [Fact]
    public async Task ServerRequests_ManyAtOnce_EachGetsItsOwnAnswer()
    {
        await using var h = new ConnectionHarness().Start();
        h.Client.AnswerWith = m => Frames.Result(m.GetProperty("id").GetRawText(), Frames.Str(m.GetProperty("params").GetProperty("question").GetString()!));

        var asks = Enumerable.Range(0, 200)
            .Select(i => Task.Run(() => h.Connection.SendRequestAsync("test/ask", new AskParams($"q{i}"), Json.AskParams, Json.String)))
            .ToArray();
        var answers = await Task.WhenAll(asks).Within("200 answers");

        Assert.Equal(Enumerable.Range(0, 200).Select(i => $"q{i}"), answers);
    }

    [Theory]
    [InlineData(ErrorCodes.RequestFailed, """{"code":-32803,"message":"the user said no"}""", "the user said no")]
    [InlineData(ErrorCodes.UnknownErrorCode, """{"message":"no code at all"}""", "no code at all")]
    [InlineData(ErrorCodes.UnknownErrorCode, """{"code":"not a number","message":7}""", "the client answered with an error")]
    [InlineData(ErrorCodes.UnknownErrorCode, """{"code":1.5,"message":"\uD800"}""", "the client answered with an error")]
    public async Task ServerRequest_AnsweredWithAnError_ThrowsJsonRpcExceptionWithTheCode(int code, string errorJson, string message)
    {
        await using var h = new ConnectionHarness().Start();
        h.Client.AnswerWith = m => $$"""{"jsonrpc":"2.0","id":{{m.GetProperty("id").GetRawText()}},"error":{{errorJson}}}""";

        var ex = await Assert.ThrowsAsync<JsonRpcException>(
            () => h.Connection.SendRequestAsync("test/ask", new AskParams("?"), Json.AskParams, Json.JsonElement).Within("the error answer"));

        Assert.Equal(code, ex.Code);
        Assert.Equal(message, ex.Message);
        Assert.Equal("[1]", (await h.Client.RequestAsync("still", "test/echo", "[1]")).GetProperty("result").GetRawText());
    }

    [Fact]
    public async Task ServerRequest_Cancelled_SendsCancelRequestAndALateAnswerIsDropped()
    {
        await using var h = new ConnectionHarness().Start();
        h.Client.AnswerServerRequests = false;
        using var cts = new CancellationTokenSource();

        var asking = h.Connection.SendRequestAsync("test/ask", new AskParams("?"), Json.AskParams, Json.JsonElement, cts.Token);
        var request = await h.Client.WaitForAsync(m => TestClient.IsServerRequest(m, "test/ask"), "the server's request");
        var id = request.GetProperty("id").GetRawText();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => asking.Within("the cancelled request"));
        var cancel = await h.Client.WaitForAsync(m => TestClient.IsNotification(m, "$/cancelRequest"), "$/cancelRequest");
        Assert.Equal(id, cancel.GetProperty("params").GetProperty("id").GetRawText());

        // The client answers anyway: nobody is waiting, so it is dropped and logged.
        var mark = h.Client.Messages.Count;
        await h.Client.SendAsync(Frames.Result(id, "{}"));
        var still = await h.Client.RequestAsync("still", "test/echo", "[1]");
        Assert.Equal("[1]", still.GetProperty("result").GetRawText());
        Assert.Single(h.Client.MessagesSince(mark));
        Assert.True(h.Log.Contains($"response to no request of ours (id {id})"));
    }

    [Fact]
    public async Task ServerRequest_WithATokenAlreadyCancelled_IsCancelledAtOnce()
    {
        await using var h = new ConnectionHarness().Start();
        h.Client.AnswerServerRequests = false;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(
            () => h.Connection.SendRequestAsync("test/ask", new AskParams("?"), Json.AskParams, Json.JsonElement, new CancellationToken(canceled: true)).Within("the request"));
        await h.Client.WaitForAsync(m => TestClient.IsNotification(m, "$/cancelRequest"), "$/cancelRequest");
    }

    [Fact]
    public async Task ServerRequest_WhenTheClientGoesAway_FailsWithIOException()
    {
        await using var h = new ConnectionHarness().Start();
        h.Client.AnswerServerRequests = false;

        var asking = h.Connection.SendRequestAsync("test/ask", new AskParams("?"), Json.AskParams, Json.JsonElement);
        await h.Client.WaitForAsync(m => TestClient.IsServerRequest(m, "test/ask"), "the server's request");
        await h.CloseInputAsync();

        await Assert.ThrowsAsync<IOException>(() => asking.Within("the failed request"));
        await Assert.ThrowsAsync<IOException>(
            () => h.Connection.SendRequestAsync("test/ask", new AskParams("?"), Json.AskParams, Json.JsonElement).Within("a request after the end"));
        Assert.True(h.Connection.Closed.IsCancellationRequested);
    }

    [Fact]
    public async Task SlowRequest_DoesNotHoldUpAFastOne()
    {
        await using var h = new ConnectionHarness().Start();

        var slow = h.Client.RequestAsync("slow", "test/wait", """{"key":"slow"}""");
        await h.Started("slow");
        var fast = await h.Client.RequestAsync("fast", "test/echo", "[1]");

        Assert.Equal("[1]", fast.GetProperty("result").GetRawText());
        Assert.False(slow.IsCompleted, "the slow request was answered before it was let go");
        h.Release("slow");
        Assert.Equal("slow", (await slow).GetProperty("result").GetProperty("key").GetString());
        Assert.Equal(["\"fast\"", "\"slow\""], h.Client.Messages.Select(m => m.GetProperty("id").GetRawText()));
    }

    [Fact]
    public async Task ConcurrentRequestsAndNotifications_FramesNeverInterleave()
    {
        await using var h = new ConnectionHarness().Start();
        var payloads = Enumerable.Range(0, 200).Select(i => $"[{Frames.Str(new string((char)('a' + i % 26), 20_000 + i))},{i}]").ToArray();

        var pushing = Task.Run(() =>
        {
            for (var i = 0; i < 500; i++)
            {
                h.Connection.Notify("test/push", new NoteParams(i), Json.NoteParams);
            }
        });
        var answers = await Task.WhenAll(payloads.Select((p, i) => Task.Run(() => h.Client.RequestAsync(i, "test/echo", p)))).Within("200 answers");
        await pushing.Within("the pushes");
        await h.Client.WaitForAsync(m => TestClient.IsNotification(m, "test/push") && m.GetProperty("params").GetProperty("seq").GetInt32() == 499, "the last push");

        for (var i = 0; i < payloads.Length; i++)
        {
            Assert.Equal(payloads[i], answers[i].GetProperty("result").GetRawText());
        }
        // Every byte was parsed as whole frames by the strict client; pushes kept their order.
        var pushes = h.Client.Messages.Where(m => TestClient.IsNotification(m, "test/push")).Select(m => m.GetProperty("params").GetProperty("seq").GetInt32());
        Assert.Equal(Enumerable.Range(0, 500), pushes);
    }

    [Fact]
    public async Task CancelRequest_ReachesTheHandlersToken_AndTheAnswerIsRequestCancelled()
    {
        await using var h = new ConnectionHarness().Start();

        var waiting = h.Client.RequestAsync(5, "test/wait", """{"key":"c"}""");
        await h.Started("c");
        await h.Client.SendAsync(Frames.Cancel(5));

        var answer = await waiting;
        Assert.Equal(ErrorCodes.RequestCancelled, TestClient.ErrorCode(answer));
        Assert.Equal(-32800, TestClient.ErrorCode(answer));
        Assert.True(await h.SawCancellation("c"));
    }

    [Fact]
    public async Task CancelRequest_WithAStringId_CancelsThatRequestOnly()
    {
        await using var h = new ConnectionHarness().Start();

        var one = h.Client.RequestAsync("one", "test/wait", """{"key":"one"}""");
        var two = h.Client.RequestAsync("two", "test/wait", """{"key":"two"}""");
        await h.Started("one");
        await h.Started("two");
        await h.Client.SendAsync(Frames.Cancel("two"));

        Assert.Equal(ErrorCodes.RequestCancelled, TestClient.ErrorCode(await two));
        Assert.False(one.IsCompleted);
        h.Release("one");
        Assert.True((await one).TryGetProperty("result", out _));
    }

    [Fact]
    public async Task CancelRequest_FloodOf10000UnknownIds_IsIgnoredAndTheConnectionStillAnswers()
    {
        await using var h = new ConnectionHarness().Start();
        var waiting = h.Client.RequestAsync("w", "test/wait", """{"key":"w"}""");
        await h.Started("w");

        var flood = Frames.Concat(Enumerable.Range(0, 10_000).Select(i => Frames.Frame(Frames.Cancel(i % 2 == 0 ? i : $"x{i}"))).ToArray());
        await h.Client.SendAsync(flood);
        var answer = await h.Client.RequestAsync("after", "test/echo", "[1]");

        Assert.Equal("[1]", answer.GetProperty("result").GetRawText());
        Assert.Single(h.Client.Messages);
        Assert.False(waiting.IsCompleted, "a cancellation for another id cancelled this request");
        h.Release("w");
        await waiting;
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("""{"id":null}""")]
    [InlineData("""{"id":1.5}""")]
    [InlineData("""{"id":{"a":1}}""")]
    [InlineData("[1]")]
    public async Task CancelRequest_WithParamsThatNameNoRequest_IsIgnored(string paramsJson)
    {
        await using var h = new ConnectionHarness().Start();

        await h.Client.NotifyAsync("$/cancelRequest", paramsJson);
        await h.Client.RequestAsync("after", "test/echo", "[1]");

        Assert.Single(h.Client.Messages);
    }

    [Fact]
    public async Task DuplicateInFlightId_IsRefusedWithInvalidRequest_AndTheFirstRequestStillAnswers()
    {
        await using var h = new ConnectionHarness().Start();
        await h.Client.SendAsync(Frames.Request(7, "test/wait", """{"key":"first"}"""));
        await h.Started("first");

        var refusal = h.Client.WaitForAsync(m => TestClient.IsResponse(m) && m.TryGetProperty("error", out _), "the refusal");
        await h.Client.SendAsync(Frames.Request(7, "test/echo", "[2]"));

        var refused = await refusal;
        Assert.Equal(ErrorCodes.InvalidRequest, TestClient.ErrorCode(refused));
        Assert.Equal(7, refused.GetProperty("id").GetInt32());
        Assert.Contains("already in use", TestClient.ErrorMessage(refused));
        h.Release("first");
        var first = await h.Client.WaitForAsync(m => TestClient.IsResponse(m) && m.TryGetProperty("result", out _), "the first request's answer");
        Assert.Equal(7, first.GetProperty("id").GetInt32());
        Assert.Equal("first", first.GetProperty("result").GetProperty("key").GetString());
    }

    [Fact]
    public async Task Handler_ThatThrows_IsAnsweredWithInternalErrorWithoutSecrets_AndTheConnectionGoesOn()
    {
        await using var h = new ConnectionHarness().Start();

        var answer = await h.Client.RequestAsync(1, "test/throw");

        Assert.Equal(ErrorCodes.InternalError, TestClient.ErrorCode(answer));
        var message = TestClient.ErrorMessage(answer);
        Assert.Contains("boom", message);
        Assert.DoesNotContain("hunter2", message);
        Assert.DoesNotContain("s3cr3tvalue", message);
        Assert.DoesNotContain(h.Log.Entries, e => e.Message.Contains("hunter2") || e.Message.Contains("s3cr3tvalue"));
        Assert.Equal("[1]", (await h.Client.RequestAsync(2, "test/echo", "[1]")).GetProperty("result").GetRawText());
    }

    [Fact]
    public async Task Handler_ThatThrowsJsonRpcException_IsAnsweredWithItsCode()
    {
        await using var h = new ConnectionHarness().Start();

        var answer = await h.Client.RequestAsync(1, "test/fail");

        Assert.Equal(ErrorCodes.RequestFailed, TestClient.ErrorCode(answer));
        Assert.Equal("could not do it", TestClient.ErrorMessage(answer));
    }

    [Fact]
    public async Task Dispatch_WhenSomethingThrowsUnexpectedly_AnswersInternalErrorAndGoesOn()
    {
        await using var h = new ConnectionHarness();
        h.Connection.Gate = (method, _) => method == "test/boom" ? throw new InvalidOperationException("gate broke at token=s3cr3tvalue") : null;
        h.Start();

        await h.Client.SendAsync(Frames.Request(1, "test/boom"));
        var answer = await h.Client.RequestAsync(2, "test/echo", "[2]");

        var error = Assert.Single(h.Client.Messages.SkipLast(1));
        Assert.Equal(ErrorCodes.InternalError, TestClient.ErrorCode(error));
        Assert.Equal("[2]", answer.GetProperty("result").GetRawText());
        Assert.True(h.Log.Contains("gate broke"));
        Assert.False(h.Log.Contains("s3cr3tvalue"));
    }

    [Fact]
    public async Task InputEnding_CancelsHandlersInFlightAndFiresClosed()
    {
        await using var h = new ConnectionHarness().Start();
        _ = h.Client.RequestAsync(1, "test/wait", """{"key":"x"}""");
        await h.Started("x");
        Assert.False(h.Connection.Closed.IsCancellationRequested);

        await h.CloseInputAsync();

        Assert.True(await h.SawCancellation("x"));
        Assert.True(h.Connection.Closed.IsCancellationRequested);
    }

    [Fact]
    public async Task Request_WithAWorkDoneToken_HandlerProgressUsesItWithoutCreate()
    {
        await using var h = new ConnectionHarness(registerTestHandlers: false);
        h.Connection.OnRequest("test/progress", Json.JsonElement, Json.JsonElement, async (p, ctx) =>
        {
            var progress = await ctx.BeginProgressAsync("Working");
            progress.Report("half", 50);
            progress.End("done");
            progress.End("twice");
            progress.Report("late", 90);
            return p;
        });
        h.Start();

        await h.Client.RequestAsync(1, "test/progress", """{"workDoneToken":42}""");
        await h.Client.RequestAsync(2, "test/progress", """{"workDoneToken":"tok"}""");

        var progress = h.Client.Messages.Where(m => TestClient.IsNotification(m, "$/progress")).Select(m => m.GetProperty("params")).ToList();
        Assert.Equal(["42", "42", "42", "\"tok\"", "\"tok\"", "\"tok\""], progress.Select(p => p.GetProperty("token").GetRawText()));
        Assert.Equal(["begin", "report", "end", "begin", "report", "end"], progress.Select(p => p.GetProperty("value").GetProperty("kind").GetString()));
        Assert.DoesNotContain(h.Client.Messages, m => TestClient.IsServerRequest(m, "window/workDoneProgress/create"));
    }

    private static JsonElement Parse(string json) => JsonDocument.Parse(json).RootElement;
}
