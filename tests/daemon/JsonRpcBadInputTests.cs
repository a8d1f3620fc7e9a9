using System.Text.Json;
using Colab.Daemon.JsonRpc;
using Colab.Daemon.Protocol;
using Colab.Daemon.Tests.Infrastructure;
using static Colab.Daemon.Tests.Infrastructure.Frames;

namespace Colab.Daemon.Tests;

/// <summary>
/// Every kind of bad input a peer can send, each answered with its exact error code (or
/// dropped without a reply), and each followed by a well-formed request the connection
/// must still answer. The answers come back in a known order because the connection
/// answers bad messages from its read loop, before it reads the next one.
/// </summary>
public sealed class JsonRpcBadInputTests
{
    /// <summary>An expected answer: its error code and its id as JSON.</summary>
    public sealed record Answer(int Code, string IdJson);

    private static Answer ParseErr => new(ErrorCodes.ParseError, "null");
    private static Answer Invalid(string id = "null") => new(ErrorCodes.InvalidRequest, id);

    private const string Good = """{"jsonrpc":"2.0","id":1,"method":"test/echo","params":[1]}""";

    private static byte[] Body(params object[] parts)
        => Concat(parts.Select(p => p switch { string s => Utf8(s), byte[] b => b, _ => throw new ArgumentException(null, nameof(parts)) }).ToArray());

    private static readonly Dictionary<string, (Func<byte[]> Input, Answer[] Expected)> s_cases = new()
    {
        // --- headers -------------------------------------------------------------------
        ["missing Content-Length"] = (() => WithHeaders("Content-Type: application/vscode-jsonrpc; charset=utf-8", Good), [ParseErr]),
        ["header line without a colon"] = (() => WithHeaders("Content-Length 58", Good), [ParseErr]),
        ["header name with a space"] = (() => WithHeaders("Content Length: 58", Good), [ParseErr]),
        ["Content-Length negative"] = (() => WithHeaders("Content-Length: -58", Good), [ParseErr]),
        ["Content-Length not a number"] = (() => WithHeaders("Content-Length: fifty", Good), [ParseErr]),
        ["Content-Length 12abc"] = (() => WithHeaders("Content-Length: 12abc", Good), [ParseErr]),
        ["Content-Length twice"] = (() => WithHeaders("Content-Length: 58\r\nContent-Length: 58", Good), [ParseErr]),
        ["charset latin1"] = (() => WithHeaders("Content-Length: 58\r\nContent-Type: application/vscode-jsonrpc; charset=latin1", Good), [ParseErr]),
        ["header block over 8 KiB"] = (() => WithHeaders("X-Junk: " + new string('j', FrameReader.MaxHeaderBytes + 1), Good), [ParseErr]),
        ["garbage between frames"] = (() => Utf8("this is not a frame\r\n\r\n"), [ParseErr]),
        ["Content-Length lies short"] = (() => Body("Content-Length: 20\r\n\r\n", Good, Frame(Request("after", "test/nothing"))),
            // The first 20 bytes are no JSON; the rest of the body glued to the next header is no header.
            [ParseErr, ParseErr, new(ErrorCodes.MethodNotFound, "\"after\"")]),
        ["Content-Length lies long"] = (() =>
        {
            var swallowed = Frame(Request("swallowed", "test/nothing"));
            // Claims its body, all of the next frame and 5 bytes of the one after: those two are lost.
            return Body($"Content-Length: {Good.Length + swallowed.Length + 5}\r\n\r\n", Good, swallowed,
                Frame(Request("lost", "test/nothing")), Frame(Request("after", "test/nothing")));
        }, [ParseErr, ParseErr, new(ErrorCodes.MethodNotFound, "\"after\"")]),
        ["Content-Length above 64 MiB"] = (() =>
        {
            var length = FrameReader.DefaultMaxContentLength + 1;
            var frame = new byte[30 + length];
            var header = Utf8($"Content-Length: {length}\r\n\r\n");
            header.CopyTo(frame, 0);
            frame.AsSpan(header.Length, length).Fill((byte)' ');
            return frame.AsSpan(0, header.Length + length).ToArray();
        }, [new(ErrorCodes.MessageTooLarge, "null")]),
        ["Content-Length zero"] = (() => WithHeaders("Content-Length: 0", ""), [ParseErr]),

        // --- bodies --------------------------------------------------------------------
        ["invalid UTF-8 in a string"] = (() => Frame(Body("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test/echo\",\"params\":[\"", new byte[] { 0xff, 0xfe }, "\"]}")), [ParseErr]),
        ["invalid UTF-8 in the method"] = (() => Frame(Body("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"", new byte[] { 0xc3, 0x28 }, "\"}")), [ParseErr]),
        ["overlong UTF-8"] = (() => Frame(Body("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test/echo\",\"params\":[\"", new byte[] { 0xc0, 0xaf }, "\"]}")), [ParseErr]),
        ["UTF-8-encoded surrogate"] = (() => Frame(Body("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test/echo\",\"params\":[\"", new byte[] { 0xed, 0xa0, 0x80 }, "\"]}")), [ParseErr]),
        ["invalid UTF-8 outside strings"] = (() => Frame(Body("{\"jsonrpc\":\"2.0\",", new byte[] { 0xff }, "\"id\":1}")), [ParseErr]),
        ["lone surrogate escape in the method"] = (() => Frame("""{"jsonrpc":"2.0","id":1,"method":"\uD800"}"""), [Invalid("1")]),
        ["lone surrogate escape in the id"] = (() => Frame("""{"jsonrpc":"2.0","id":"\uDC00","method":"test/echo"}"""), [Invalid()]),
        ["invalid JSON"] = (() => Frame("""{"jsonrpc":"2.0","id":1,"method":"""), [ParseErr]),
        ["single quotes"] = (() => Frame("{'jsonrpc':'2.0','id':1,'method':'test/echo'}"), [ParseErr]),
        ["trailing comma"] = (() => Frame("""{"jsonrpc":"2.0","id":1,"method":"test/echo",}"""), [ParseErr]),
        ["comment"] = (() => Frame("""{"jsonrpc":"2.0","id":1,"method":"test/echo"} // hi"""), [ParseErr]),
        ["two JSON values in one body"] = (() => Frame(Good + Good), [ParseErr]),
        ["NaN"] = (() => Frame("""{"jsonrpc":"2.0","id":NaN,"method":"test/echo"}"""), [ParseErr]),
        ["nesting deeper than 128"] = (() => Frame($$"""{"jsonrpc":"2.0","id":1,"method":"test/echo","params":{{new string('[', 200)}}{{new string(']', 200)}}}"""), [ParseErr]),

        // --- JSON-RPC shape ------------------------------------------------------------
        ["a batch"] = (() => Frame($"[{Good},{Good}]"), [Invalid()]),
        ["an empty batch"] = (() => Frame("[]"), [Invalid()]),
        ["a number"] = (() => Frame("42"), [Invalid()]),
        ["a string"] = (() => Frame("\"hello\""), [Invalid()]),
        ["null"] = (() => Frame("null"), [Invalid()]),
        ["an empty object"] = (() => Frame("{}"), [Invalid()]),
        ["jsonrpc 1.0"] = (() => Frame("""{"jsonrpc":"1.0","id":7,"method":"test/echo"}"""), [Invalid("7")]),
        ["jsonrpc as a number"] = (() => Frame("""{"jsonrpc":2.0,"id":7,"method":"test/echo"}"""), [Invalid("7")]),
        ["jsonrpc with a space"] = (() => Frame("""{"jsonrpc":"2.0 ","id":7,"method":"test/echo"}"""), [Invalid("7")]),
        ["missing jsonrpc"] = (() => Frame("""{"id":7,"method":"test/echo"}"""), [Invalid("7")]),
        ["missing jsonrpc in a notification"] = (() => Frame("""{"method":"test/note","params":{"seq":1}}"""), [Invalid()]),
        ["method not a string"] = (() => Frame("""{"jsonrpc":"2.0","id":7,"method":42}"""), [Invalid("7")]),
        ["neither method nor result"] = (() => Frame("""{"jsonrpc":"2.0","id":7}"""), [Invalid("7")]),
        ["unknown method"] = (() => Frame(Request(7, "colab/noSuchThing")), [new(ErrorCodes.MethodNotFound, "7")]),
        ["method in the wrong case"] = (() => Frame(Request(7, "TEST/ECHO")), [new(ErrorCodes.MethodNotFound, "7")]),
        ["params a string"] = (() => Frame(Request(7, "test/echo", "\"text\"")), [Invalid("7")]),
        ["params a number"] = (() => Frame(Request(7, "test/echo", "5")), [Invalid("7")]),
        ["params null"] = (() => Frame(Request(7, "test/typed", "null")), [Invalid("7")]),
        ["params of the wrong type"] = (() => Frame(Request(7, "test/typed", """{"number":"three","text":"x"}""")), [new(ErrorCodes.InvalidParams, "7")]),
        ["nested param of the wrong type"] = (() => Frame(Request(7, "test/typed", """{"number":3,"text":"x","inner":{"count":"many","label":"l"}}""")), [new(ErrorCodes.InvalidParams, "7")]),
        ["required param missing"] = (() => Frame(Request(7, "test/typed", """{"text":"x"}""")), [new(ErrorCodes.InvalidParams, "7")]),
        ["params an array for an object"] = (() => Frame(Request(7, "test/typed", "[3,\"x\"]")), [new(ErrorCodes.InvalidParams, "7")]),
        ["id a fraction"] = (() => Frame("""{"jsonrpc":"2.0","id":1.5,"method":"test/echo"}"""), [Invalid()]),
        ["id with an exponent"] = (() => Frame("""{"jsonrpc":"2.0","id":1e3,"method":"test/echo"}"""), [Invalid()]),
        ["id beyond 64 bits"] = (() => Frame("""{"jsonrpc":"2.0","id":18446744073709551616,"method":"test/echo"}"""), [Invalid()]),
        ["id an object"] = (() => Frame("""{"jsonrpc":"2.0","id":{"n":1},"method":"test/echo"}"""), [Invalid()]),
        ["id an array"] = (() => Frame("""{"jsonrpc":"2.0","id":[1],"method":"test/echo"}"""), [Invalid()]),
        ["id null"] = (() => Frame("""{"jsonrpc":"2.0","id":null,"method":"test/echo"}"""), [Invalid()]),
        ["id true"] = (() => Frame("""{"jsonrpc":"2.0","id":true,"method":"test/echo"}"""), [Invalid()]),

        // --- dropped without a reply -------------------------------------------------------
        ["a response to nothing"] = (() => Frame(Result("99", "{}")), []),
        ["an error response to nothing"] = (() => Frame(Error("\"x\"", -32000, "client error")), []),
        ["a response with a null id"] = (() => Frame(Error("null", ErrorCodes.ParseError, "you sent junk")), []),
        ["a response with a lone surrogate id"] = (() => Frame("""{"jsonrpc":"2.0","id":"\uD800","result":1}"""), []),
        ["an unknown notification"] = (() => Frame(Notification("colab/noSuchThing", "{}")), []),
        ["an unknown $/ notification"] = (() => Frame(Notification("$/setTrace", """{"value":"off"}""")), []),
        ["a notification with string params"] = (() => Frame(Notification("test/note", "\"text\"")), []),
        ["a notification with params of the wrong type"] = (() => Frame(Notification("test/note", """{"seq":"one"}""")), []),
        ["$/cancelRequest for nothing"] = (() => Frame(Cancel(12345)), []),
        ["$/cancelRequest with a lone surrogate id"] = (() => Frame(Notification("$/cancelRequest", """{"id":"\uD800"}""")), []),
        ["blank lines"] = (() => Utf8("\r\n\r\n\r\n"), []),
    };

    public static TheoryData<string> Cases => new(s_cases.Keys);

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task BadInput_IsAnsweredWithItsErrorCode_AndTheConnectionStillAnswers(string @case)
    {
        var (input, expected) = s_cases[@case];
        await using var h = new ConnectionHarness().Start();

        await h.Client.SendAsync(input());
        var probe = await h.Client.RequestAsync("probe", "test/echo", """["still here"]""");

        Assert.Equal("""["still here"]""", probe.GetProperty("result").GetRawText());
        var got = h.Client.Messages.SkipLast(1).ToList();
        Assert.True(got.Count == expected.Length,
            $"expected {expected.Length} answer(s) before the probe's, got {got.Count}: {string.Join(" | ", got.Select(m => m.GetRawText()))}");
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.True(got[i].TryGetProperty("error", out _), $"answer {i} is not an error: {got[i].GetRawText()}");
            Assert.Equal(expected[i].Code, TestClient.ErrorCode(got[i]));
            Assert.Equal(expected[i].IdJson, got[i].GetProperty("id").GetRawText());
            Assert.False(string.IsNullOrWhiteSpace(TestClient.ErrorMessage(got[i])));
        }
    }

    [Fact]
    public async Task BadInput_AllCasesOneAfterAnotherOnOneConnection_EachCostsOnlyItself()
    {
        await using var h = new ConnectionHarness().Start();

        foreach (var (name, (input, expected)) in s_cases)
        {
            var mark = h.Client.Messages.Count;
            await h.Client.SendAsync(input());
            var probe = await h.Client.RequestAsync($"probe {name}", "test/echo", "[1]");
            Assert.True(probe.TryGetProperty("result", out _), $"after {name}: {probe.GetRawText()}");
            var got = h.Client.MessagesSince(mark).SkipLast(1).Select(TestClient.ErrorCode);
            Assert.True(got.SequenceEqual(expected.Select(e => e.Code)), $"after {name}: got [{string.Join(", ", got)}]");
        }
    }

    [Theory]
    [InlineData("""{"number":"three","text":"x"}""", "$.number")]
    [InlineData("""{"number":3,"text":"x","inner":{"count":"many","label":"l"}}""", "$.inner.count")]
    [InlineData("""{"number":3,"text":false}""", "$.text")]
    public async Task WrongParamTypes_AreInvalidParams_AndTheMessageNamesThePath(string paramsJson, string path)
    {
        await using var h = new ConnectionHarness().Start();

        var answer = await h.Client.RequestAsync(1, "test/typed", paramsJson);

        Assert.Equal(-32602, TestClient.ErrorCode(answer));
        Assert.Contains(path, TestClient.ErrorMessage(answer));
        Assert.Contains("test/typed", TestClient.ErrorMessage(answer));
    }

    [Fact]
    public async Task UnknownMethod_IsMethodNotFound_AndTheMessageNamesIt()
    {
        await using var h = new ConnectionHarness().Start();

        var answer = await h.Client.RequestAsync(1, "colab/noSuchThing");

        Assert.Equal(-32601, TestClient.ErrorCode(answer));
        Assert.Contains("colab/noSuchThing", TestClient.ErrorMessage(answer));
    }

    [Fact]
    public async Task ResponseToNothing_IsLoggedAndDropped()
    {
        await using var h = new ConnectionHarness().Start();

        await h.Client.SendAsync(Result("424242", "{}"));
        await h.Client.RequestAsync("probe", "test/echo");

        Assert.Single(h.Client.Messages);
        Assert.True(h.Log.Contains("response to no request of ours (id 424242)"));
    }

    [Fact]
    public async Task WorkDoneTokenThatIsNotValidUnicode_IsIgnoredAndTheRequestAnswered()
    {
        await using var h = new ConnectionHarness().Start();

        var answer = await h.Client.RequestAsync(1, "test/typed", """{"number":1,"text":"x","workDoneToken":"\uD800"}""");

        Assert.Equal("1:x:", answer.GetProperty("result").GetProperty("summary").GetString());
        Assert.Equal("[1]", (await h.Client.RequestAsync(2, "test/echo", "[1]")).GetProperty("result").GetRawText());
    }
}
