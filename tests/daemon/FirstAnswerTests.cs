using System.Text;
using Colab.Daemon.Hosting;
using Colab.Daemon.JsonRpc;
using Colab.Daemon.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;

namespace Colab.Daemon.Tests;

/// <summary>
/// The daemon's first answer before any connection exists (issue 8, cold start): <see cref="FirstAnswer"/>
/// followed by the connection must send exactly the bytes the connection alone sends, for every input —
/// plain <c>initialize</c> requests (which it must answer itself, or it saves nothing) and everything else
/// (which it must leave, unread as far as the connection can tell).
/// </summary>
public sealed class FirstAnswerTests
{
    private const string Init = """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"processId":123,"clientInfo":{"name":"VS Code","version":"1.99"},"rootUri":null,"capabilities":{}}}""";

    /// <summary>Bodies it answers itself.</summary>
    public static TheoryData<string> Plain() => new()
    {
        Init,
        """{"jsonrpc":"2.0","id":0,"method":"initialize"}""",
        """{"jsonrpc":"2.0","id":-7,"method":"initialize","params":{}}""",
        """{"jsonrpc":"2.0","id":9223372036854775807,"method":"initialize","params":{}}""",
        """{"jsonrpc":"2.0","id":"abc","method":"initialize","params":{}}""",
        """{"params":{"capabilities":{"x":[1,{"y":2}]},"trace":"off"},"method":"initialize","id":"x","jsonrpc":"2.0"}""",
        """ { "jsonrpc" : "2.0" , "id" : 5 , "method" : "initialize" , "params" : { } } """ + "\r\n",
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"processId":null,"clientInfo":null,"workspaceFolders":null,"somethingElse":{"a":[]}}}""",
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"clientInfo":{"name":"x","extra":1},"ProcessId":"not the field"}}""",
        """{"jsonrpc":"2.0","id":-9223372036854775808,"method":"initialize","params":{"processId":-2147483648}}""",
        """{"jsonrpc":"2.0","id":-0,"method":"initialize","params":{"processId":2147483647,"locale":"en-gb"}}""",
        """{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"processId":4242,"clientInfo":{"name":"Visual Studio Code","version":"1.99.3"},"locale":"en","rootPath":"/home/me/project","rootUri":"file:///home/me/project","capabilities":{"workspace":{"applyEdit":true,"workspaceEdit":{"documentChanges":true,"resourceOperations":["create","rename","delete"],"normalizesLineEndings":true},"symbol":{"symbolKind":{"valueSet":[1,2,3,4,5,6,7,8,9,10]}},"x":{"n":-1.5e-3,"m":0.25,"z":0,"e":1E+2,"f":false,"u":null,"a":[[],{},[{}]]}},"window":{"workDoneProgress":true}},"trace":"off","workspaceFolders":[{"uri":"file:///home/me/project","name":"project"}]}}""",
    };

    /// <summary>Bodies it must leave to the connection (which answers some, refuses others).</summary>
    public static TheoryData<string> NotPlain() => new()
    {
        // valid, but not plain ASCII without escapes: answered by the connection, the usual way
        """{"jsonrpc":"2.0","id":"\u00e9\u2028<tag>&\"q\"","method":"initialize","params":{}}""",
        """{"\u006asonrpc":"2.0","id":1,"method":"\u0069nitialize","params":{}}""",
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"rootPath":"C:\\Users\\me"}}""",
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"rootPath":"/home/jürgen"}}""",
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"processId":1,"x":"\t"}}""",
        // not valid, or not initialize
        """{"jsonrpc":"2.0","id":-9223372036854775809,"method":"initialize","params":{}}""",
        """{"jsonrpc":"2.0","id":01,"method":"initialize","params":{}}""",
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"processId":2147483648}}""",
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"processId":-}}""",
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{"a":1.}}}""",
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{"a":.5}}}""",
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{"a":1e}}}""",
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{"a":tru}}}""",
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{"a":[1,]}}}""",
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{"a" 1}}}""",
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{1:1}}}""",
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"clientInfo":{"name":"a","name":"b"}}}""",
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{"s":"unterminated}}}""",
        """{"jsonrpc":"2.0","id":1,"method":"initialized","params":{}}""",
        """{"jsonrpc":"2.0","id":1,"method":"shutdown"}""",
        """{"jsonrpc":"2.0","method":"initialize","params":{}}""",
        """{"jsonrpc":"1.0","id":1,"method":"initialize","params":{}}""",
        """{"jsonrpc":2.0,"id":1,"method":"initialize","params":{}}""",
        """{"id":1,"method":"initialize","params":{}}""",
        """{"jsonrpc":"2.0","id":null,"method":"initialize","params":{}}""",
        """{"jsonrpc":"2.0","id":1.5,"method":"initialize","params":{}}""",
        """{"jsonrpc":"2.0","id":{},"method":"initialize","params":{}}""",
        """{"jsonrpc":"2.0","id":"\ud800","method":"initialize","params":{}}""",
        """{"jsonrpc":"2.0","id":1,"id":2,"method":"initialize","params":{}}""",
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{},"result":1}""",
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":[]}""",
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":null}""",
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":"x"}""",
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"processId":"x"}}""",
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"processId":1.5}}""",
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"processId":99999999999}}""",
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"clientInfo":{}}}""",
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"clientInfo":{"name":"\ud800"}}}""",
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"clientInfo":{"version":"1"}}}""",
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"locale":5}}""",
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"processId":1,"processId":2}}""",
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{},"capabilities":{}}}""",
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}} x""",
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{},}""",
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}/*c*/}""",
        """[{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}]""",
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{""",
        "null",
        "",
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":""" + new string('[', 40) + new string(']', 40) + "}}",
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{"big":""" + "\"" + new string('a', FirstAnswer.MaxBody) + "\"}}}",
    };

    [Theory]
    [MemberData(nameof(Plain))]
    public async Task PlainInitialize_IsAnsweredHere_WithTheConnectionsBytes(string body)
    {
        var input = Frames.Frame(body);
        var output = new MemoryStream();

        var outcome = FirstAnswer.Answer(new MemoryStream(input), output, new Lifecycle());

        Assert.True(outcome.Answered);
        Assert.True(outcome.ReadAhead.IsEmpty);
        Assert.Equal(Text(await ConnectionAloneAsync(input)), Text(output.ToArray()));
        Assert.Contains("\"result\":{\"capabilities\"", Text(output.ToArray()));
    }

    [Theory]
    [MemberData(nameof(NotPlain))]
    public async Task AnythingElse_IsLeftToTheConnection_Untouched(string body)
    {
        var input = Frames.Frame(Frames.Utf8(body));
        var output = new MemoryStream();
        var lifecycle = new Lifecycle();

        var outcome = FirstAnswer.Answer(new MemoryStream(input), output, lifecycle);

        Assert.False(outcome.Answered);
        Assert.Equal(0, output.Length);
        Assert.False(lifecycle.IsInitialized);
        AssertReadAheadIsWhatWasRead(input, outcome);
        Assert.Equal(Text(await ConnectionAloneAsync(input)), Text(await BothAsync(input)));
    }

    public static TheoryData<byte[]> OddFrames() => new()
    {
        Frames.WithHeaders("content-length: " + Init.Length, Init),
        Frames.WithHeaders("Content-Length:" + Init.Length, Init),
        Frames.WithHeaders("Content-Length:  " + Init.Length, Init),
        Frames.WithHeaders("Content-Length: " + Init.Length + "\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8", Init),
        Frames.WithHeaders("Content-Type: application/vscode-jsonrpc\r\nContent-Length: " + Init.Length, Init),
        Frames.WithHeaders("Content-Length: 0000000000" + Init.Length, Init),
        Frames.WithHeaders("Content-Length: " + (Init.Length - 1), Init),
        Frames.WithHeaders("Content-Length: 999999", Init), // ends before the body does
        Frames.WithHeaders("Content-Length: " + Init.Length + " ", Init),
        Frames.WithHeaders("Content-Length: -" + Init.Length, Init),
        Frames.Utf8("Content-Length: " + Init.Length + "\n\n" + Init),
        Frames.Utf8("Content-Length: 12"),
        Frames.Utf8("Content-Len"),
        Frames.Concat(Frames.Utf8("Content-Length: 5\r\n\r\n"), [0x7b, 0xff, 0xfe, 0x7d, 0x20]),
        Frames.Utf8(Init),
    };

    [Theory]
    [MemberData(nameof(OddFrames))]
    public async Task OddHeadersAndEndsOfInput_AreLeftToTheConnection_Untouched(byte[] input)
    {
        var output = new MemoryStream();

        var outcome = FirstAnswer.Answer(new MemoryStream(input), output, new Lifecycle());

        Assert.False(outcome.Answered);
        Assert.Equal(0, output.Length);
        AssertReadAheadIsWhatWasRead(input, outcome);
        Assert.Equal(Text(await ConnectionAloneAsync(input)), Text(await BothAsync(input)));
    }

    [Fact]
    public async Task MessagesBehindTheFirst_ReachTheConnection_InOrder()
    {
        var input = Frames.Concat(
            Frames.Frame(Init),
            Frames.Frame(Frames.Notification("initialized", "{}")),
            Frames.Frame(Frames.Request(2, "initialize", "{}")),
            Frames.Frame(Frames.Request("s", "shutdown")),
            Frames.Frame(Frames.Request(3, "colab/server/status")));
        var output = new MemoryStream();

        var outcome = FirstAnswer.Answer(new MemoryStream(input), output, new Lifecycle());

        Assert.True(outcome.Answered);
        Assert.Equal(input.Length - Frames.Frame(Init).Length, outcome.ReadAhead.Length);
        var both = Text(await BothAsync(input));
        Assert.Equal(Text(await ConnectionAloneAsync(input)), both);
        Assert.Contains("initialize was already sent", both);
        Assert.Contains("\"id\":\"s\",\"result\":null", both);
        Assert.Contains("shutting down", both);
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(-1L)]
    [InlineData(long.MaxValue)]
    [InlineData(long.MinValue)]
    [InlineData("abc")]
    [InlineData("a/b$c.d_e-f9")]
    [InlineData("")]
    public void PlainFrame_IsByteForByteWhatTheConnectionFrames(object id)
    {
        var requestId = id is string s ? RequestId.From(s) : RequestId.From((long)id);

        var plain = InitializeAnswer.PlainFrame(requestId);

        Assert.NotNull(plain);
        Assert.Equal(Text(JsonRpcConnection.ResultFrame(requestId, InitializeAnswer.Write)), Text(plain));
    }

    [Theory]
    [InlineData("a b")]
    [InlineData("<x>")]
    [InlineData("\"")]
    [InlineData("\u00e9")]
    [InlineData("a+b")]
    public void PlainFrame_LeavesIdsAWriterMightEscape_ToTheWriter(string id)
        => Assert.Null(InitializeAnswer.PlainFrame(RequestId.From(id)));

    [Fact]
    public void AFrameThatComesInPieces_IsStillAnswered()
    {
        var input = Frames.Frame(Init);
        var output = new MemoryStream();

        var outcome = FirstAnswer.Answer(new TrickleStream(input), output, new Lifecycle());

        Assert.True(outcome.Answered);
        Assert.StartsWith("Content-Length: ", Text(output.ToArray()));
    }

    [Fact]
    public void ABrokenOutput_DoesNotThrow_TheConnectionFindsOutOnItsOwn()
    {
        var outcome = FirstAnswer.Answer(new MemoryStream(Frames.Frame(Init)), new BrokenStream(), new Lifecycle());

        Assert.True(outcome.Answered);
    }

    [Fact]
    public async Task PrefixedStream_GivesThePrefixFirst_ThenTheRest()
    {
        using var s = new PrefixedStream(Frames.Utf8("abc"), new MemoryStream(Frames.Utf8("defg")));
        var buffer = new byte[2];
        var got = new List<byte>();
        int n;
        while ((n = await s.ReadAsync(buffer)) > 0)
        {
            got.AddRange(buffer[..n]);
        }
        Assert.Equal("abcdefg", Encoding.UTF8.GetString([.. got]));
        Assert.Equal(0, s.Read(buffer));
    }

    /// <summary>Nothing read is lost: the read-ahead is the input's start (all of it, where it fit one read).</summary>
    private static void AssertReadAheadIsWhatWasRead(byte[] input, FirstAnswer.Outcome outcome)
    {
        Assert.Equal(input[..outcome.ReadAhead.Length], outcome.ReadAhead.ToArray());
        if (input.Length <= 4096)
        {
            Assert.Equal(input.Length, outcome.ReadAhead.Length);
        }
    }

    /// <summary>What the connection with the lifecycle bound sends for the whole input, with no first answer of ours.</summary>
    private static Task<byte[]> ConnectionAloneAsync(byte[] input) => ConnectionAsync(new MemoryStream(input), new Lifecycle());

    /// <summary>What <see cref="FirstAnswer"/> and then the connection send, as the daemon runs them.</summary>
    private static async Task<byte[]> BothAsync(byte[] input)
    {
        var output = new MemoryStream();
        var lifecycle = new Lifecycle();
        var stream = new MemoryStream(input);
        var first = FirstAnswer.Answer(stream, output, lifecycle);
        var rest = await ConnectionAsync(new PrefixedStream(first.ReadAhead, stream), lifecycle);
        return [.. output.ToArray(), .. rest];
    }

    private static async Task<byte[]> ConnectionAsync(Stream input, Lifecycle lifecycle)
    {
        var output = new MemoryStream();
        var connection = new JsonRpcConnection(input, output, NullLogger.Instance);
        MethodTable.RegisterLifecycle(connection, lifecycle);
        await connection.RunAsync().Within("the connection to read all input"); // the lifecycle's handlers all answer on the read loop
        await connection.DisposeAsync();
        return output.ToArray();
    }

    private static string Text(byte[] bytes) => Encoding.UTF8.GetString(bytes);

    /// <summary>Gives one byte per read.</summary>
    private sealed class TrickleStream(byte[] data) : MemoryStream(data)
    {
        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, 1));
    }

    private sealed class BrokenStream : MemoryStream
    {
        public override void Write(byte[] buffer, int offset, int count) => throw new IOException("broken pipe");

        public override void Write(ReadOnlySpan<byte> buffer) => throw new IOException("broken pipe");
    }
}
