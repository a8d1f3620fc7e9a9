using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Colab.Daemon.JsonRpc;

namespace Colab.Daemon.Runtimes;

/// <summary>Which framing a kernel channels WebSocket speaks.</summary>
public enum KernelWireProtocol
{
    /// <summary><c>v1.kernel.websocket.jupyter.org</c>: binary frames, the channel and each JSON part length-prefixed by offsets.</summary>
    V1,

    /// <summary>No subprotocol: JSON text frames with a <c>channel</c> key; binary frames only for messages with buffers.</summary>
    Legacy,
}

/// <summary>
/// The two framings of Jupyter's kernel channels WebSocket
/// (jupyter_server <c>docs/source/developers/websocket-protocols.rst</c>).
/// Decoders never throw on bad input: they return <c>false</c> and say what is wrong.
/// </summary>
public static class KernelWire
{
    public const string V1SubProtocol = "v1.kernel.websocket.jupyter.org";

    /// <summary>More offsets than this in one frame is not a message, it is garbage (a message has 6 plus one per buffer).</summary>
    public const int MaxParts = 4096;

    // Jupyter's JSON is UTF-8 end to end: no need to escape non-ASCII text or quotes.
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    // ---- v1 -------------------------------------------------------------------------

    /// <summary>
    /// u64 LE <c>offset_number</c>, then <c>offset_number</c> u64 LE offsets (from the frame's
    /// start), then <c>channel | header | parent_header | metadata | content | buffers…</c>;
    /// the first offset is where the channel starts, each next one where a part ends.
    /// </summary>
    public static byte[] EncodeV1(KernelMessage message)
    {
        var parts = new List<ReadOnlyMemory<byte>>(5 + message.Buffers.Count)
        {
            Encoding.UTF8.GetBytes(message.Channel),
            HeaderBytes(message.Header),
            HeaderBytes(message.ParentHeader),
            JsonBytes(message.Metadata),
            JsonBytes(message.Content),
        };
        parts.AddRange(message.Buffers);
        var offsetCount = parts.Count + 1;
        var headerLength = 8 * (1 + offsetCount);
        var total = headerLength + parts.Sum(p => (long)p.Length);
        var frame = new byte[checked((int)total)];
        BinaryPrimitives.WriteUInt64LittleEndian(frame, (ulong)offsetCount);
        long at = headerLength;
        BinaryPrimitives.WriteUInt64LittleEndian(frame.AsSpan(8), (ulong)at);
        for (var i = 0; i < parts.Count; i++)
        {
            parts[i].Span.CopyTo(frame.AsSpan((int)at));
            at += parts[i].Length;
            BinaryPrimitives.WriteUInt64LittleEndian(frame.AsSpan(8 * (i + 2)), (ulong)at);
        }
        return frame;
    }

    public static bool TryDecodeV1(ReadOnlySpan<byte> frame, out KernelMessage? message, out string? error)
        => TryDecodeV1(frame, default, out message, out error);

    /// <summary>
    /// Decodes a v1 frame. When <paramref name="owned"/> is the same bytes as <paramref name="frame"/>
    /// and the caller hands them over for good (never reuses the buffer), the content is parsed in
    /// place instead of copied: a 100 MB stream message is then held once, not twice.
    /// </summary>
    public static bool TryDecodeV1(ReadOnlySpan<byte> frame, ReadOnlyMemory<byte> owned, out KernelMessage? message, out string? error)
    {
        message = null;
        if (frame.Length < 8)
        {
            error = $"v1 frame of {frame.Length} bytes is shorter than its 8-byte offset count";
            return false;
        }
        var count = BinaryPrimitives.ReadUInt64LittleEndian(frame);
        // channel start, channel end, and the ends of header, parent_header, metadata, content.
        if (count < 6)
        {
            error = $"v1 frame declares {count} offsets; a message needs at least 6 (channel and four JSON parts)";
            return false;
        }
        if (count > MaxParts || (ulong)frame.Length < 8 * (count + 1))
        {
            error = $"v1 frame declares {count} offsets, which do not fit in its {frame.Length} bytes";
            return false;
        }
        var n = (int)count;
        var offsets = new int[n];
        var previous = 8L * (n + 1);
        for (var i = 0; i < n; i++)
        {
            var offset = BinaryPrimitives.ReadUInt64LittleEndian(frame[(8 * (i + 1))..]);
            if (offset > (ulong)frame.Length)
            {
                error = $"v1 frame offset {i} ({offset}) is past the end of the {frame.Length}-byte frame";
                return false;
            }
            if ((long)offset < previous)
            {
                error = i == 0
                    ? $"v1 frame offset 0 ({offset}) points into the offset table (which ends at {previous})"
                    : $"v1 frame offset {i} ({offset}) is before offset {i - 1} ({previous})";
                return false;
            }
            offsets[i] = (int)offset;
            previous = (long)offset;
        }
        string channel;
        try
        {
            channel = StrictUtf8.GetString(frame[offsets[0]..offsets[1]]);
        }
        catch (DecoderFallbackException)
        {
            error = "v1 frame's channel is not UTF-8";
            return false;
        }
        if (!TryParseJson(frame[offsets[1]..offsets[2]], "header", out var header, out error)
            || !TryParseJson(frame[offsets[2]..offsets[3]], "parent_header", out var parent, out error)
            || !TryParseJson(frame[offsets[3]..offsets[4]], "metadata", out var metadata, out error)
            || !(owned.Length == frame.Length && owned.Length > 0
                ? TryParseJsonInPlace(owned[offsets[4]..offsets[5]], "content", out var content, out error)
                : TryParseJson(frame[offsets[4]..offsets[5]], "content", out content, out error)))
        {
            return false;
        }
        var buffers = new ReadOnlyMemory<byte>[n - 6];
        for (var i = 0; i < buffers.Length; i++)
        {
            buffers[i] = frame[offsets[5 + i]..offsets[6 + i]].ToArray();
        }
        return TryBuild(channel, header, parent, metadata, content, buffers, out message, out error);
    }

    // ---- legacy -----------------------------------------------------------------------

    /// <summary>A legacy text frame: one JSON object with <c>channel</c>, <c>header</c>, <c>parent_header</c>, <c>metadata</c>, <c>content</c>.</summary>
    public static string EncodeLegacyText(KernelMessage message)
        => Encoding.UTF8.GetString(LegacyJson(message));

    /// <summary>
    /// A legacy binary frame (a message with buffers): big-endian u32 <c>nbufs</c>, then
    /// <c>nbufs</c> big-endian u32 offsets (from the frame's start), then the JSON message,
    /// then the buffers. The JSON is buffer 0.
    /// </summary>
    public static byte[] EncodeLegacyBinary(KernelMessage message)
    {
        var parts = new List<ReadOnlyMemory<byte>>(1 + message.Buffers.Count) { LegacyJson(message) };
        parts.AddRange(message.Buffers);
        var headerLength = 4 * (parts.Count + 1);
        var frame = new byte[checked(headerLength + (int)parts.Sum(p => (long)p.Length))];
        BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)parts.Count);
        var at = headerLength;
        for (var i = 0; i < parts.Count; i++)
        {
            BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(4 * (i + 1)), (uint)at);
            parts[i].Span.CopyTo(frame.AsSpan(at));
            at += parts[i].Length;
        }
        return frame;
    }

    public static bool TryDecodeLegacyText(ReadOnlySpan<byte> utf8, out KernelMessage? message, out string? error)
        => TryDecodeLegacyJson(utf8, [], out message, out error);

    /// <summary>
    /// Like <see cref="TryDecodeLegacyText(ReadOnlySpan{byte}, out KernelMessage?, out string?)"/>; when
    /// <paramref name="owned"/> holds the same bytes and is never reused, the message is parsed in place instead of copied.
    /// </summary>
    public static bool TryDecodeLegacyText(ReadOnlySpan<byte> utf8, ReadOnlyMemory<byte> owned, out KernelMessage? message, out string? error)
    {
        if (owned.Length != utf8.Length || owned.Length == 0)
        {
            return TryDecodeLegacyJson(utf8, [], out message, out error);
        }
        message = null;
        return TryParseJsonInPlace(owned, "message", out var root, out error) && TryBuildLegacy(root, [], out message, out error);
    }

    public static bool TryDecodeLegacyBinary(ReadOnlySpan<byte> frame, out KernelMessage? message, out string? error)
    {
        message = null;
        if (frame.Length < 8)
        {
            error = $"legacy binary frame of {frame.Length} bytes is too short for a buffer count and one offset";
            return false;
        }
        var count = BinaryPrimitives.ReadUInt32BigEndian(frame);
        if (count < 1)
        {
            error = "legacy binary frame declares no parts";
            return false;
        }
        if (count > MaxParts || (ulong)frame.Length < 4UL * (count + 1))
        {
            error = $"legacy binary frame declares {count} parts, which do not fit in its {frame.Length} bytes";
            return false;
        }
        var n = (int)count;
        var starts = new int[n + 1];
        var previous = 4L * (n + 1);
        for (var i = 0; i < n; i++)
        {
            var offset = BinaryPrimitives.ReadUInt32BigEndian(frame[(4 * (i + 1))..]);
            if (offset > (uint)frame.Length)
            {
                error = $"legacy binary frame offset {i} ({offset}) is past the end of the {frame.Length}-byte frame";
                return false;
            }
            if (offset < previous)
            {
                error = i == 0
                    ? $"legacy binary frame offset 0 ({offset}) points into the offset table (which ends at {previous})"
                    : $"legacy binary frame offset {i} ({offset}) is before offset {i - 1} ({previous})";
                return false;
            }
            starts[i] = (int)offset;
            previous = offset;
        }
        starts[n] = frame.Length;
        var buffers = new ReadOnlyMemory<byte>[n - 1];
        for (var i = 1; i < n; i++)
        {
            buffers[i - 1] = frame[starts[i]..starts[i + 1]].ToArray();
        }
        return TryDecodeLegacyJson(frame[starts[0]..starts[1]], buffers, out message, out error);
    }

    // ---- shared -----------------------------------------------------------------------

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static bool TryDecodeLegacyJson(ReadOnlySpan<byte> utf8, ReadOnlyMemory<byte>[] buffers, out KernelMessage? message, out string? error)
    {
        message = null;
        return TryParseJson(utf8, "message", out var root, out error) && TryBuildLegacy(root, buffers, out message, out error);
    }

    private static bool TryBuildLegacy(JsonElement root, ReadOnlyMemory<byte>[] buffers, out KernelMessage? message, out string? error)
    {
        message = null;
        if (root.ValueKind != JsonValueKind.Object)
        {
            error = $"legacy message is a JSON {root.ValueKind}, not an object";
            return false;
        }
        if (!root.TryGetProperty("channel", out var channel) || channel.ValueKind != JsonValueKind.String)
        {
            error = "legacy message has no channel";
            return false;
        }
        return TryBuild(channel.GetString()!,
            root.TryGetProperty("header", out var h) ? h : default,
            root.TryGetProperty("parent_header", out var p) ? p : default,
            root.TryGetProperty("metadata", out var m) ? m : default,
            root.TryGetProperty("content", out var c) ? c : default,
            buffers, out message, out error);
    }

    private static bool TryBuild(string channel, JsonElement header, JsonElement parent, JsonElement metadata, JsonElement content,
        ReadOnlyMemory<byte>[] buffers, out KernelMessage? message, out string? error)
    {
        message = null;
        if (channel.Length == 0)
        {
            error = "message has an empty channel";
            return false;
        }
        var h = header.ValueKind == JsonValueKind.Undefined ? null : KernelHeader.FromJson(header);
        if (h is null)
        {
            error = "message header is not an object with msg_id and msg_type";
            return false;
        }
        if (content.ValueKind is not (JsonValueKind.Object or JsonValueKind.Undefined or JsonValueKind.Null))
        {
            error = $"message content is a JSON {content.ValueKind}, not an object";
            return false;
        }
        message = new KernelMessage
        {
            Channel = channel,
            Header = h,
            ParentHeader = parent.ValueKind == JsonValueKind.Object ? KernelHeader.FromJson(parent) : null,
            Metadata = metadata.ValueKind == JsonValueKind.Object ? metadata : KernelMessage.Json.EmptyObject,
            Content = content.ValueKind == JsonValueKind.Object ? content : KernelMessage.Json.EmptyObject,
            Buffers = buffers,
        };
        error = null;
        return true;
    }

    /// <summary>Like <see cref="TryParseJson"/>, but the element refers to <paramref name="utf8"/> (which must never change) instead of a copy.</summary>
    private static bool TryParseJsonInPlace(ReadOnlyMemory<byte> utf8, string what, out JsonElement element, out string? error)
    {
        element = default;
        if (!System.Text.Unicode.Utf8.IsValid(utf8.Span))
        {
            error = $"{what} is not valid UTF-8";
            return false;
        }
        try
        {
            // Not disposed: the element outlives this call; its pooled index is left to the GC.
            element = LargeJson.Parse(utf8, new JsonDocumentOptions { MaxDepth = 256 }).RootElement;
            error = null;
            return true;
        }
        catch (JsonException e)
        {
            error = e.Message.Contains("after the end", StringComparison.OrdinalIgnoreCase) || e.Message.Contains("additional text", StringComparison.OrdinalIgnoreCase)
                ? $"{what} has data after its JSON value"
                : $"{what} is not valid JSON: {e.Message}";
            return false;
        }
    }

    /// <summary>
    /// Above this size a JSON value is parsed into a copy the GC owns, through <see cref="LargeJson"/>:
    /// <see cref="JsonElement.ParseValue"/> rents an index as large as the input from the shared <c>ArrayPool</c>
    /// and returns it there, where each thread pool thread kept one (a 128 MiB array stayed behind after every 100 MB print).
    /// </summary>
    internal const int PooledParseLimit = LargeJson.Threshold;

    private static bool TryParseJson(ReadOnlySpan<byte> utf8, string what, out JsonElement element, out string? error)
    {
        if (utf8.Length > PooledParseLimit)
        {
            return TryParseJsonInPlace(utf8.ToArray(), what, out element, out error);
        }
        if (!System.Text.Unicode.Utf8.IsValid(utf8))
        {
            element = default;
            error = $"{what} is not valid UTF-8";
            return false;
        }
        try
        {
            var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = 256 });
            element = JsonElement.ParseValue(ref reader);
            if (reader.Read())
            {
                error = $"{what} has data after its JSON value";
                return false;
            }
            error = null;
            return true;
        }
        catch (JsonException e)
        {
            element = default;
            error = $"{what} is not valid JSON: {e.Message}";
            return false;
        }
    }

    private static byte[] LegacyJson(KernelMessage message)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("channel", message.Channel);
            writer.WritePropertyName("header");
            message.Header.WriteTo(writer);
            writer.WritePropertyName("parent_header");
            WriteHeader(writer, message.ParentHeader);
            writer.WritePropertyName("metadata");
            WriteObject(writer, message.Metadata);
            writer.WritePropertyName("content");
            WriteObject(writer, message.Content);
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    private static byte[] HeaderBytes(KernelHeader? header)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            WriteHeader(writer, header);
        }
        return buffer.WrittenSpan.ToArray();
    }

    private static byte[] JsonBytes(JsonElement element)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            WriteObject(writer, element);
        }
        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteHeader(Utf8JsonWriter writer, KernelHeader? header)
    {
        if (header is null)
        {
            writer.WriteStartObject();
            writer.WriteEndObject();
        }
        else
        {
            header.WriteTo(writer);
        }
    }

    private static void WriteObject(Utf8JsonWriter writer, JsonElement element)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            element.WriteTo(writer);
        }
        else
        {
            writer.WriteStartObject();
            writer.WriteEndObject();
        }
    }
}
