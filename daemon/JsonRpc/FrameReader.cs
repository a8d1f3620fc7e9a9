using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;
using System.Text;

namespace Colab.Daemon.JsonRpc;

/// <summary>What one read of the stream produced.</summary>
public enum FrameKind
{
    /// <summary>A complete body of Content-Length bytes.</summary>
    Message,
    /// <summary>A header block that could not be used; the reader has skipped past it.</summary>
    HeaderError,
    /// <summary>A well-formed header announcing a body larger than the cap; the body is being skipped.</summary>
    TooLarge,
    /// <summary>The stream ended.</summary>
    End,
}

public readonly record struct Frame(FrameKind Kind, byte[]? Body, string? Error);

/// <summary>
/// Reads LSP base-protocol frames (<c>Content-Length: N\r\n\r\n</c> + N bytes).
/// A broken header never stops the reader: it skips to the next
/// <c>Content-Length:</c> it can find and goes on, so one bad frame costs one message.
/// </summary>
public sealed class FrameReader
{
    public const int DefaultMaxContentLength = 64 * 1024 * 1024;
    public const int MaxHeaderBytes = 8 * 1024;

    private static ReadOnlySpan<byte> HeaderEnd => "\r\n\r\n"u8;
    private static ReadOnlySpan<byte> ContentLengthName => "Content-Length:"u8;

    private readonly PipeReader _reader;
    private readonly int _maxContentLength;
    private long _skipRemaining;

    public FrameReader(PipeReader reader, int maxContentLength = DefaultMaxContentLength)
    {
        _reader = reader;
        _maxContentLength = maxContentLength;
    }

    public async ValueTask<Frame> ReadAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var result = await _reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;

            if (_skipRemaining > 0)
            {
                var skip = Math.Min(_skipRemaining, buffer.Length);
                _skipRemaining -= skip;
                _reader.AdvanceTo(buffer.GetPosition(skip));
                if (result.IsCompleted && _skipRemaining > 0)
                {
                    return new Frame(FrameKind.End, null, null);
                }
                continue;
            }

            var frame = TryParse(ref buffer, out var consumed);
            if (frame is { } f)
            {
                _reader.AdvanceTo(consumed);
                return f;
            }

            if (result.IsCompleted)
            {
                _reader.AdvanceTo(buffer.End);
                return new Frame(FrameKind.End, null, null);
            }
            _reader.AdvanceTo(consumed, buffer.End);
        }
    }

    private Frame? TryParse(ref ReadOnlySequence<byte> buffer, out SequencePosition consumed)
    {
        var seq = new SequenceReader<byte>(buffer);
        // Blank lines before a header block (a client that ends each body with CRLF) are not an error.
        if (seq.AdvancePastAny((byte)'\r', (byte)'\n') > 0)
        {
            buffer = buffer.Slice(seq.Position);
            seq = new SequenceReader<byte>(buffer);
        }
        consumed = buffer.Start;
        if (!seq.TryReadTo(out ReadOnlySequence<byte> header, HeaderEnd, advancePastDelimiter: true))
        {
            if (buffer.Length > MaxHeaderBytes)
            {
                consumed = Resync(buffer);
                return new Frame(FrameKind.HeaderError, null, $"no end of header within {MaxHeaderBytes} bytes");
            }
            return null;
        }

        if (header.Length > MaxHeaderBytes)
        {
            consumed = Resync(buffer.Slice(seq.Position), skipFirst: false);
            return new Frame(FrameKind.HeaderError, null, $"header longer than {MaxHeaderBytes} bytes");
        }

        var error = ParseHeader(header.IsSingleSegment ? header.FirstSpan : header.ToArray(), out var length, out var refused);
        if (error is not null)
        {
            // A header we refuse (a charset, a bad or repeated Content-Length) is one frame's:
            // skip it and look for the next frame after it, so its body is never taken for a
            // message. Anything else may be garbage with a frame glued on: look inside it.
            consumed = refused ? Resync(buffer.Slice(seq.Position), skipFirst: false) : Resync(buffer);
            return new Frame(FrameKind.HeaderError, null, error);
        }

        var bodyStart = seq.Position;
        if (length > _maxContentLength)
        {
            // Skip the announced body as it streams in, without buffering it.
            var available = buffer.Length - seq.Consumed;
            var skipNow = Math.Min(available, length);
            _skipRemaining = length - skipNow;
            consumed = buffer.GetPosition(skipNow, bodyStart);
            return new Frame(FrameKind.TooLarge, null, $"Content-Length {length} exceeds the {_maxContentLength}-byte limit");
        }

        if (buffer.Length - seq.Consumed < length)
        {
            return null;
        }

        var body = buffer.Slice(bodyStart, length);
        consumed = body.End;
        return new Frame(FrameKind.Message, body.ToArray(), null);
    }

    /// <summary>
    /// Drops bytes up to the next <c>Content-Length:</c> (in any case, as header names are)
    /// after the start of the buffer, or, when there is none yet, all but a tail that could
    /// be the start of one.
    /// </summary>
    private static SequencePosition Resync(ReadOnlySequence<byte> buffer, bool skipFirst = true)
    {
        var seq = new SequenceReader<byte>(buffer);
        if (skipFirst)
        {
            seq.Advance(1);
        }
        Span<byte> head = stackalloc byte[ContentLengthName.Length];
        while (seq.TryAdvanceToAny("Cc"u8, advancePastDelimiter: false))
        {
            var n = (int)Math.Min(head.Length, seq.Remaining);
            seq.UnreadSequence.Slice(0, n).CopyTo(head);
            if (Ascii.EqualsIgnoreCase(head[..n], ContentLengthName[..n]))
            {
                // The name, or the start of it at the end of what has arrived.
                return seq.Position;
            }
            seq.Advance(1);
        }
        return buffer.End;
    }

    /// <summary>
    /// Parses the header block; returns an error text or null with the body length.
    /// <paramref name="refused"/> is true when the block is made of header lines but one of
    /// them is refused (it is a frame's header, not garbage).
    /// </summary>
    internal static string? ParseHeader(ReadOnlySpan<byte> header, out long length, out bool refused)
    {
        length = -1;
        refused = false;
        while (!header.IsEmpty)
        {
            var eol = header.IndexOf("\r\n"u8);
            var line = eol < 0 ? header : header[..eol];
            header = eol < 0 ? default : header[(eol + 2)..];

            var colon = line.IndexOf((byte)':');
            if (colon <= 0)
            {
                return "header line without a name";
            }
            var name = line[..colon];
            foreach (var b in name)
            {
                // RFC 7230 token characters only.
                if (b <= 32 || b >= 127 || "()<>@,;:\\\"/[]?={}"u8.Contains(b))
                {
                    return "header name has characters a header name cannot have";
                }
            }
            var value = line[(colon + 1)..].Trim(" \t"u8);

            if (Ascii.EqualsIgnoreCase(name, "Content-Length"u8))
            {
                if (length >= 0)
                {
                    refused = true;
                    return "Content-Length given twice";
                }
                if (value.IsEmpty || value.Length > 19 || value.IndexOfAnyExceptInRange((byte)'0', (byte)'9') >= 0
                    || !Utf8Parser.TryParse(value, out long parsed, out var used) || used != value.Length)
                {
                    refused = true;
                    return "Content-Length is not a non-negative integer";
                }
                length = parsed;
            }
            else if (Ascii.EqualsIgnoreCase(name, "Content-Type"u8))
            {
                var text = Encoding.ASCII.GetString(value).ToLowerInvariant();
                var charset = text.IndexOf("charset=", StringComparison.Ordinal);
                if (charset >= 0)
                {
                    var cs = text[(charset + 8)..].Trim().Trim('"');
                    if (cs != "utf-8" && cs != "utf8")
                    {
                        refused = true;
                        return $"unsupported charset '{cs}' (only utf-8 is accepted)";
                    }
                }
            }
        }
        return length < 0 ? "missing Content-Length" : null;
    }
}
