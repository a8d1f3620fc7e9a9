using System.IO.Pipelines;
using System.Text;
using Colab.Daemon.JsonRpc;
using Colab.Daemon.Tests.Infrastructure;

namespace Colab.Daemon.Tests;

/// <summary>The LSP base-protocol reader on its own, over a <see cref="Pipe"/>.</summary>
public sealed class FrameReaderTests
{
    private const string Body = """{"jsonrpc":"2.0","id":1,"method":"colab/serverStatus"}""";

    private static (Pipe Pipe, FrameReader Reader) Create(PipeOptions? options = null)
    {
        var pipe = new Pipe(options ?? PipeOptions.Default);
        return (pipe, new FrameReader(pipe.Reader));
    }

    private static async Task WriteAsync(Pipe pipe, byte[] bytes, bool complete = false)
    {
        await pipe.Writer.WriteAsync(bytes);
        if (complete)
        {
            await pipe.Writer.CompleteAsync();
        }
    }

    private static async Task<Frame> ReadAsync(FrameReader reader) => await reader.ReadAsync().AsTask().Within("a frame");

    private static void AssertMessage(Frame frame, string expectedBody)
    {
        Assert.True(frame.Kind == FrameKind.Message, $"expected a message, got {frame.Kind}: {frame.Error}");
        Assert.Equal(expectedBody, Encoding.UTF8.GetString(frame.Body!));
    }

    private static void AssertHeaderError(Frame frame, string expectedErrorPart)
    {
        Assert.True(frame.Kind == FrameKind.HeaderError, $"expected a header error, got {frame.Kind}");
        Assert.Contains(expectedErrorPart, frame.Error);
    }

    [Fact]
    public async Task Read_FrameArrivingOneByteAtATime_ReturnsTheWholeBodyOnce()
    {
        var (pipe, reader) = Create();
        var bytes = Frames.Frame(Body);
        var reading = reader.ReadAsync().AsTask();
        foreach (var b in bytes)
        {
            Assert.False(reading.IsCompleted, "the reader returned before the frame was complete");
            await pipe.Writer.WriteAsync(new[] { b });
        }
        AssertMessage(await reading.Within("the frame"), Body);

        await pipe.Writer.CompleteAsync();
        Assert.Equal(FrameKind.End, (await ReadAsync(reader)).Kind);
    }

    [Fact]
    public async Task Read_TwoFramesInOneWrite_ReturnsBothInOrder()
    {
        var (pipe, reader) = Create();
        await WriteAsync(pipe, Frames.Concat(Frames.Frame("[1]"), Frames.Frame("""{"second":true}""")), complete: true);

        AssertMessage(await ReadAsync(reader), "[1]");
        AssertMessage(await ReadAsync(reader), """{"second":true}""");
        Assert.Equal(FrameKind.End, (await ReadAsync(reader)).Kind);
    }

    [Fact]
    public async Task Read_EndOfStreamInsideABody_ReportsEnd()
    {
        var (pipe, reader) = Create();
        await WriteAsync(pipe, Frames.Utf8("Content-Length: 10\r\n\r\n{\"a\""), complete: true);

        Assert.Equal(FrameKind.End, (await ReadAsync(reader)).Kind);
    }

    [Theory]
    [InlineData("Content-Type: application/vscode-jsonrpc; charset=utf-8")]
    [InlineData("Content-Type: application/vscode-jsonrpc; charset=utf8")]
    [InlineData("Content-Type: application/vscode-jsonrpc; charset=\"UTF-8\"")]
    [InlineData("Content-Type: application/json")]
    [InlineData("X-Anything: is ignored")]
    public async Task Read_ContentTypeInUtf8OrOtherHeaders_AreAccepted(string extraHeader)
    {
        var (pipe, reader) = Create();
        await WriteAsync(pipe, Frames.WithHeaders($"Content-Length: {Body.Length}\r\n{extraHeader}", Body));

        AssertMessage(await ReadAsync(reader), Body);
    }

    [Theory]
    [InlineData("latin1")]
    [InlineData("utf-16")]
    [InlineData("iso-8859-1")]
    public async Task Read_ContentTypeWithAnotherCharset_IsRefusedAndTheNextFrameIsRead(string charset)
    {
        var (pipe, reader) = Create();
        await WriteAsync(pipe, Frames.Concat(
            Frames.WithHeaders($"Content-Type: application/vscode-jsonrpc; charset={charset}\r\nContent-Length: {Body.Length}", Body),
            Frames.Frame("[2]")));

        AssertHeaderError(await ReadAsync(reader), $"unsupported charset '{charset}'");
        AssertMessage(await ReadAsync(reader), "[2]");
    }

    [Theory]
    [InlineData("content-length")]
    [InlineData("CONTENT-LENGTH")]
    [InlineData("Content-length")]
    public async Task Read_HeaderNameInAnyCase_IsAccepted(string name)
    {
        var (pipe, reader) = Create();
        await WriteAsync(pipe, Frames.Concat(
            Frames.WithHeaders($"{name}: {Body.Length}\r\ncontent-TYPE: application/vscode-jsonrpc; CHARSET=UTF-8", Body),
            Frames.WithHeaders($"{name}: 3", "[3]")));

        AssertMessage(await ReadAsync(reader), Body);
        AssertMessage(await ReadAsync(reader), "[3]");
    }

    [Fact]
    public async Task Read_MissingContentLength_IsAHeaderErrorAndTheNextFrameIsRead()
    {
        var (pipe, reader) = Create();
        await WriteAsync(pipe, Frames.Concat(
            Frames.WithHeaders("Content-Type: application/vscode-jsonrpc; charset=utf-8", Body),
            Frames.Frame("[2]")));

        AssertHeaderError(await ReadAsync(reader), "missing Content-Length");
        AssertMessage(await ReadAsync(reader), "[2]");
    }

    [Theory]
    [InlineData("Content-Length: -5", "not a non-negative integer")]
    [InlineData("Content-Length: abc", "not a non-negative integer")]
    [InlineData("Content-Length: 12abc", "not a non-negative integer")]
    [InlineData("Content-Length: +12", "not a non-negative integer")]
    [InlineData("Content-Length: 1 2", "not a non-negative integer")]
    [InlineData("Content-Length: 0x10", "not a non-negative integer")]
    [InlineData("Content-Length: 1.5", "not a non-negative integer")]
    [InlineData("Content-Length:", "not a non-negative integer")]
    [InlineData("Content-Length: 99999999999999999999", "not a non-negative integer")]
    [InlineData("Content-Length: 2\r\nContent-Length: 2", "Content-Length given twice")]
    [InlineData("Content-Length: 2\r\ncontent-length: 3", "Content-Length given twice")]
    [InlineData("Content-Length 2", "header line without a name")]
    [InlineData(": 2", "header line without a name")]
    [InlineData("Content Length: 2", "header name has characters")]
    [InlineData("Content-Length: 2\r\n\tfolded: value", "header name has characters")]
    public async Task Read_BrokenContentLength_IsAHeaderErrorAndTheNextFrameIsRead(string header, string error)
    {
        var (pipe, reader) = Create();
        await WriteAsync(pipe, Frames.Concat(Frames.WithHeaders(header, "{}"), Frames.Frame("[2]")));

        AssertHeaderError(await ReadAsync(reader), error);
        AssertMessage(await ReadAsync(reader), "[2]");
    }

    [Theory]
    [InlineData("Content-Length:2")]
    [InlineData("Content-Length:    2   ")]
    [InlineData("Content-Length:\t2\t")]
    [InlineData("Content-Length: \t 2 \t ")]
    [InlineData("Content-Length: 0002")]
    public async Task Read_ContentLengthWithSurroundingSpaces_IsAccepted(string header)
    {
        var (pipe, reader) = Create();
        await WriteAsync(pipe, Frames.WithHeaders(header, "{}"));

        AssertMessage(await ReadAsync(reader), "{}");
    }

    [Fact]
    public async Task Read_ContentLengthZero_ReturnsAnEmptyBody()
    {
        var (pipe, reader) = Create();
        await WriteAsync(pipe, Frames.Concat(Frames.WithHeaders("Content-Length: 0", ""), Frames.Frame("[2]")));

        AssertMessage(await ReadAsync(reader), "");
        AssertMessage(await ReadAsync(reader), "[2]");
    }

    [Fact]
    public async Task Read_HeaderBlockOver8KiBWithoutTerminator_IsAHeaderErrorAndTheNextFrameIsRead()
    {
        var (pipe, reader) = Create();
        var junkHeader = Frames.Utf8("X-Junk: " + new string('a', FrameReader.MaxHeaderBytes + 100));
        await WriteAsync(pipe, junkHeader);

        AssertHeaderError(await ReadAsync(reader), $"no end of header within {FrameReader.MaxHeaderBytes} bytes");

        await WriteAsync(pipe, Frames.Concat(Frames.Utf8("\r\n\r\n"), Frames.Frame("[2]")), complete: true);
        // Only the frame: the rest of the junk header went with the first error.
        var next = await ReadAsync(reader);
        AssertMessage(next, "[2]");
        Assert.Equal(FrameKind.End, (await ReadAsync(reader)).Kind);
    }

    [Fact]
    public async Task Read_HeaderBlockOver8KiBWithTerminator_IsAHeaderErrorAndTheNextFrameIsRead()
    {
        var (pipe, reader) = Create();
        var header = $"Content-Length: 2\r\nX-Junk: {new string('a', FrameReader.MaxHeaderBytes)}";
        await WriteAsync(pipe, Frames.Concat(Frames.WithHeaders(header, "{}"), Frames.Frame("[2]")), complete: true);

        var first = await ReadAsync(reader);
        Assert.Equal(FrameKind.HeaderError, first.Kind);
        AssertMessage(await ReadAsync(reader), "[2]");
        Assert.Equal(FrameKind.End, (await ReadAsync(reader)).Kind);
    }

    [Fact]
    public async Task Read_ContentLengthAboveTheCap_IsTooLargeAndTheBodyIsSkippedWithoutBuffering()
    {
        // A pipe that stops the writer once 1 MiB is unread: the 64 MiB body can only get
        // through if the reader drops it as it arrives.
        var (pipe, reader) = Create(new PipeOptions(pauseWriterThreshold: 1 << 20, resumeWriterThreshold: 1 << 19));
        var length = FrameReader.DefaultMaxContentLength + 1;

        var writing = Task.Run(async () =>
        {
            await pipe.Writer.WriteAsync(Frames.Utf8($"Content-Length: {length}\r\n\r\n"));
            var chunk = new byte[256 * 1024];
            chunk.AsSpan().Fill((byte)'x');
            for (long left = length; left > 0; left -= chunk.Length)
            {
                await pipe.Writer.WriteAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, left)));
            }
            await pipe.Writer.WriteAsync(Frames.Frame("[2]"));
            await pipe.Writer.CompleteAsync();
        });

        var tooLarge = await ReadAsync(reader);
        Assert.Equal(FrameKind.TooLarge, tooLarge.Kind);
        Assert.Contains($"Content-Length {length} exceeds the {FrameReader.DefaultMaxContentLength}-byte limit", tooLarge.Error);
        Assert.Null(tooLarge.Body);

        AssertMessage(await ReadAsync(reader), "[2]");
        Assert.Equal(FrameKind.End, (await ReadAsync(reader)).Kind);
        await writing.Within("the writer");
    }

    [Fact]
    public async Task Read_ContentLengthAtTheCap_IsAMessage()
    {
        var pipe = new Pipe();
        var reader = new FrameReader(pipe.Reader, maxContentLength: 16);
        await WriteAsync(pipe, Frames.Concat(Frames.Frame("[\"0123456789ab\"]"), Frames.Frame("[\"0123456789abc\"]"), Frames.Frame("[3]")));

        AssertMessage(await ReadAsync(reader), "[\"0123456789ab\"]");
        Assert.Equal(FrameKind.TooLarge, (await ReadAsync(reader)).Kind);
        AssertMessage(await ReadAsync(reader), "[3]");
    }

    [Fact]
    public async Task Read_TooLargeAndStreamEndsInsideTheSkippedBody_ReportsEnd()
    {
        var pipe = new Pipe();
        var reader = new FrameReader(pipe.Reader, maxContentLength: 16);
        await WriteAsync(pipe, Frames.Utf8("Content-Length: 100\r\n\r\nonly a little"), complete: true);

        Assert.Equal(FrameKind.TooLarge, (await ReadAsync(reader)).Kind);
        Assert.Equal(FrameKind.End, (await ReadAsync(reader)).Kind);
    }

    [Fact]
    public async Task Read_LyingShortLength_CostsOnlyThatMessage()
    {
        var (pipe, reader) = Create();
        var body = Frames.Utf8(Body);
        await WriteAsync(pipe, Frames.Concat(
            Frames.Utf8("Content-Length: 10\r\n\r\n"), body,
            Frames.Frame("[2]"),
            Frames.Frame("[3]")), complete: true);

        // The first 10 bytes come out as a (broken) body; the rest of that body is not a header.
        AssertMessage(await ReadAsync(reader), Body[..10]);
        Assert.Equal(FrameKind.HeaderError, (await ReadAsync(reader)).Kind);
        AssertMessage(await ReadAsync(reader), "[2]");
        AssertMessage(await ReadAsync(reader), "[3]");
        Assert.Equal(FrameKind.End, (await ReadAsync(reader)).Kind);
    }

    [Fact]
    public async Task Read_LyingLongLength_CostsOnlyTheMessagesItSwallows()
    {
        var (pipe, reader) = Create();
        var swallowed = Frames.Frame("[2]");
        // Claims its own body, all of the next frame and the first 5 bytes of the one after.
        var claim = Body.Length + swallowed.Length + 5;
        await WriteAsync(pipe, Frames.Concat(
            Frames.Utf8($"Content-Length: {claim}\r\n\r\n{Body}"),
            swallowed,
            Frames.Frame("[3]"),
            Frames.Frame("[4]")), complete: true);

        var first = await ReadAsync(reader);
        Assert.Equal(FrameKind.Message, first.Kind);
        Assert.Equal(claim, first.Body!.Length);
        // What is left of the third frame ("nt-Length: 3…") is no header: one error, then in step again.
        Assert.Equal(FrameKind.HeaderError, (await ReadAsync(reader)).Kind);
        AssertMessage(await ReadAsync(reader), "[4]");
        Assert.Equal(FrameKind.End, (await ReadAsync(reader)).Kind);
    }

    [Theory]
    [InlineData("garbage\r\n\r\n")]
    [InlineData("\r\ngarbage\r\n\r\n")]
    [InlineData("}}}{{{ not a frame at all")]
    [InlineData("Content-Type: text/plain\r\n\r\n")]
    [InlineData("Content-Lengthy: 5\r\n\r\n")]
    [InlineData("ccccCCCCContent-Lengt")]
    public async Task Read_GarbageBeforeAFrame_CostsOneErrorAndTheFrameIsRead(string garbage)
    {
        var (pipe, reader) = Create();
        await WriteAsync(pipe, Frames.Concat(Frames.Utf8(garbage), Frames.Frame("[1]"), Frames.Frame("[2]")), complete: true);

        Assert.Equal(FrameKind.HeaderError, (await ReadAsync(reader)).Kind);
        AssertMessage(await ReadAsync(reader), "[1]");
        AssertMessage(await ReadAsync(reader), "[2]");
        Assert.Equal(FrameKind.End, (await ReadAsync(reader)).Kind);
    }

    [Theory]
    [InlineData("\r\n")]
    [InlineData("\r\n\r\n")]
    [InlineData("\n\n\r")]
    public async Task Read_BlankLinesBetweenFrames_AreNotAnError(string blank)
    {
        var (pipe, reader) = Create();
        await WriteAsync(pipe, Frames.Concat(Frames.Utf8(blank), Frames.Frame("[1]"), Frames.Utf8(blank), Frames.Frame("[2]"), Frames.Utf8(blank)), complete: true);

        AssertMessage(await ReadAsync(reader), "[1]");
        AssertMessage(await ReadAsync(reader), "[2]");
        Assert.Equal(FrameKind.End, (await ReadAsync(reader)).Kind);
    }

    [Fact]
    public async Task Read_GarbageThenAFrameWithALowerCaseHeader_ResynchronisesOnIt()
    {
        var (pipe, reader) = Create();
        await WriteAsync(pipe, Frames.Concat(
            Frames.Utf8("garbage\r\n\r\n"),
            Frames.WithHeaders("content-length: 3", "[1]"),
            Frames.WithHeaders("content-length: 3", "[2]")), complete: true);

        Assert.Equal(FrameKind.HeaderError, (await ReadAsync(reader)).Kind);
        AssertMessage(await ReadAsync(reader), "[1]");
        AssertMessage(await ReadAsync(reader), "[2]");
        Assert.Equal(FrameKind.End, (await ReadAsync(reader)).Kind);
    }

    [Fact]
    public async Task Read_GarbageArrivingInPieces_CostsOneErrorPerGarbageRun()
    {
        var (pipe, reader) = Create();
        var reading = Task.Run(async () =>
        {
            var frames = new List<Frame>();
            while (true)
            {
                var f = await reader.ReadAsync();
                if (f.Kind == FrameKind.End)
                {
                    return frames;
                }
                frames.Add(f);
            }
        });
        foreach (var piece in new[] { "noise ", "and more noise\r", "\n\r\nCon", "tent-Len", "gth: 3\r\n", "\r\n[1]" })
        {
            await WriteAsync(pipe, Frames.Utf8(piece));
        }
        await pipe.Writer.CompleteAsync();

        var frames = await reading.Within("the reader to finish");
        Assert.Equal([FrameKind.HeaderError, FrameKind.Message], frames.Select(f => f.Kind));
        AssertMessage(frames[1], "[1]");
    }

    [Fact]
    public async Task Read_ManySmallFramesInOneWrite_AreAllRead()
    {
        var (pipe, reader) = Create();
        var all = Frames.Concat(Enumerable.Range(0, 10_000).Select(i => Frames.Frame($"[{i}]")).ToArray());
        var writing = WriteAsync(pipe, all, complete: true);

        for (var i = 0; i < 10_000; i++)
        {
            AssertMessage(await ReadAsync(reader), $"[{i}]");
        }
        Assert.Equal(FrameKind.End, (await ReadAsync(reader)).Kind);
        await writing.Within("the writer");
    }
}
