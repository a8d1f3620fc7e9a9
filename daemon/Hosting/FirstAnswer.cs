using System.Text.Json;
using System.Text.Unicode;
using Colab.Daemon.JsonRpc;
using Colab.Daemon.Protocol;

namespace Colab.Daemon.Hosting;

/// <summary>
/// The daemon's first answer, before any connection, thread or host exists (issue 8, cold start).
/// <see cref="Answer"/> reads the first frame on the calling thread; when it is a plain
/// <c>initialize</c> request — the strict header vscode-jsonrpc writes, a body this checks completely
/// with a <see cref="Utf8JsonReader"/> — it answers it there, straight to the output, with the very bytes
/// the connection's <c>initialize</c> handler sends (<see cref="InitializeAnswer"/>). Anything else, or
/// anything it is not sure of, is left alone: every byte read so far is handed back to be read again by
/// the connection, which then answers exactly as it always did.
/// </summary>
internal static class FirstAnswer
{
    /// <summary>Bodies larger than this go to the connection (an <c>initialize</c> is ~0.3–2 KiB).</summary>
    public const int MaxBody = 64 * 1024;

    private static ReadOnlySpan<byte> HeaderStart => "Content-Length: "u8;

    /// <summary>What <see cref="Answer"/> did.</summary>
    /// <param name="Answered">Whether <c>initialize</c> was answered (the lifecycle is initialized).</param>
    /// <param name="ReadAhead">Every byte read and not consumed by the answered frame: read these before the rest of the input.</param>
    public readonly record struct Outcome(bool Answered, ReadOnlyMemory<byte> ReadAhead);

    /// <summary>
    /// Reads from <paramref name="input"/> (blocking) until the first frame is complete or cannot be the
    /// plain <c>initialize</c>; answers it on <paramref name="output"/> when it is one.
    /// </summary>
    public static Outcome Answer(Stream input, Stream output, Lifecycle lifecycle)
    {
        var buffer = new byte[4096];
        var length = 0;
        var frameLength = -1;
        var bodyStart = 0;
        while (true)
        {
            if (frameLength < 0)
            {
                var header = ParseHeader(buffer.AsSpan(0, length), out var bodyLength, out bodyStart);
                if (header == HeaderState.NotPlain)
                {
                    return new Outcome(false, buffer.AsMemory(0, length));
                }
                if (header == HeaderState.Complete)
                {
                    if (bodyLength > MaxBody)
                    {
                        return new Outcome(false, buffer.AsMemory(0, length));
                    }
                    frameLength = bodyStart + bodyLength;
                    if (frameLength > buffer.Length)
                    {
                        Array.Resize(ref buffer, frameLength);
                    }
                }
            }
            if (frameLength >= 0 && length >= frameLength)
            {
                break;
            }
            if (length == buffer.Length)
            {
                Array.Resize(ref buffer, buffer.Length * 2);
            }
            int n;
            try
            {
                n = input.Read(buffer, length, buffer.Length - length);
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException)
            {
                // The connection meets the same failure on its first read, and reports it as it always did.
                return new Outcome(false, buffer.AsMemory(0, length));
            }
            if (n <= 0)
            {
                return new Outcome(false, buffer.AsMemory(0, length));
            }
            length += n;
        }

        var body = buffer.AsSpan(bodyStart, frameLength - bodyStart);
        if (!TryReadInitialize(body, out var id) || !lifecycle.BeginInitialize())
        {
            return new Outcome(false, buffer.AsMemory(0, length));
        }
        lifecycle.CompleteInitialize();
        StartupTrace.Mark("initialize");
        var frame = InitializeAnswer.PlainFrame(id) ?? JsonRpcConnection.ResultFrame(id, InitializeAnswer.Write);
        StartupTrace.Mark("answer-built");
        try
        {
            output.Write(frame);
            output.Flush();
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            // The client is gone; the connection finds that out on its own, as before.
        }
        StartupTrace.Mark("answered");
        return new Outcome(true, buffer.AsMemory(frameLength, length - frameLength));
    }

    internal enum HeaderState
    {
        /// <summary>Could still become the plain header: read more.</summary>
        Partial,
        Complete,
        /// <summary>Not <c>Content-Length: N\r\n\r\n</c>: the connection's reader takes it.</summary>
        NotPlain,
    }

    /// <summary>Only the header vscode-jsonrpc writes: <c>Content-Length: N\r\n\r\n</c>, N at most 9 digits.</summary>
    internal static HeaderState ParseHeader(ReadOnlySpan<byte> data, out int bodyLength, out int bodyStart)
    {
        bodyLength = 0;
        bodyStart = 0;
        var start = HeaderStart;
        if (data.Length < start.Length)
        {
            return start.StartsWith(data) ? HeaderState.Partial : HeaderState.NotPlain;
        }
        if (!data.StartsWith(start))
        {
            return HeaderState.NotPlain;
        }
        var i = start.Length;
        var digits = 0;
        long value = 0;
        while (i < data.Length && data[i] is >= (byte)'0' and <= (byte)'9')
        {
            value = (value * 10) + (data[i] - '0');
            i++;
            if (++digits > 9)
            {
                return HeaderState.NotPlain;
            }
        }
        if (i == data.Length)
        {
            return HeaderState.Partial;
        }
        if (digits == 0)
        {
            return HeaderState.NotPlain;
        }
        var end = "\r\n\r\n"u8;
        var tail = data[i..];
        if (tail.Length < end.Length)
        {
            return end.StartsWith(tail) ? HeaderState.Partial : HeaderState.NotPlain;
        }
        if (!tail.StartsWith(end))
        {
            return HeaderState.NotPlain;
        }
        bodyLength = (int)value;
        bodyStart = i + end.Length;
        return HeaderState.Complete;
    }

    /// <summary>
    /// True only for a request the connection would dispatch to the <c>initialize</c> handler with params
    /// <see cref="InitializeAnswer.LooksValid"/> accepts: valid UTF-8 JSON, <c>"jsonrpc":"2.0"</c>, an integer
    /// or string id, <c>"method":"initialize"</c>, params absent or an object; no other member, none twice.
    /// </summary>
    internal static bool TryReadInitialize(ReadOnlySpan<byte> body, out RequestId id)
    {
        id = default;
        if (!Utf8.IsValid(body))
        {
            return false;
        }
        try
        {
            // Deeper params go to the connection: InitializeAnswer.LooksValid leaves them to ProtocolJson.
            var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 32 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }
            bool version = false, hasId = false, method = false, parameters = false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("jsonrpc"u8))
                {
                    if (version || !reader.Read() || reader.TokenType != JsonTokenType.String || !reader.ValueTextEquals("2.0"u8))
                    {
                        return false;
                    }
                    version = true;
                }
                else if (reader.ValueTextEquals("id"u8))
                {
                    if (hasId || !reader.Read() || !TryReadId(ref reader, out id))
                    {
                        return false;
                    }
                    hasId = true;
                }
                else if (reader.ValueTextEquals("method"u8))
                {
                    if (method || !reader.Read() || reader.TokenType != JsonTokenType.String || !reader.ValueTextEquals(Methods.Initialize))
                    {
                        return false;
                    }
                    method = true;
                }
                else if (reader.ValueTextEquals("params"u8))
                {
                    if (parameters || !reader.Read() || !ParamsLookValid(ref reader))
                    {
                        return false;
                    }
                    parameters = true;
                }
                else
                {
                    return false;
                }
            }
            return reader.TokenType == JsonTokenType.EndObject && !reader.Read() && version && hasId && method;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return false;
        }
    }

    private static bool TryReadId(ref Utf8JsonReader reader, out RequestId id)
    {
        id = default;
        if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var n))
        {
            id = RequestId.From(n);
            return true;
        }
        if (reader.TokenType == JsonTokenType.String && TryGetString(ref reader, out var text))
        {
            id = RequestId.From(text);
            return true;
        }
        return false;
    }

    /// <summary><see cref="InitializeAnswer.LooksValid"/> over a reader on the params' first token; leaves it on their last.</summary>
    private static bool ParamsLookValid(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            return false;
        }
        bool processId = false, locale = false, rootUri = false, rootPath = false, clientInfo = false;
        bool capabilities = false, options = false, trace = false, folders = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            bool ok;
            if (reader.ValueTextEquals("processId"u8))
            {
                ok = Once(ref processId) && reader.Read()
                    && (reader.TokenType == JsonTokenType.Null || (reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out _)));
            }
            else if (reader.ValueTextEquals("locale"u8))
            {
                ok = Once(ref locale) && reader.Read() && NullOrString(ref reader);
            }
            else if (reader.ValueTextEquals("rootUri"u8))
            {
                ok = Once(ref rootUri) && reader.Read() && NullOrString(ref reader);
            }
            else if (reader.ValueTextEquals("rootPath"u8))
            {
                ok = Once(ref rootPath) && reader.Read() && NullOrString(ref reader);
            }
            else if (reader.ValueTextEquals("clientInfo"u8))
            {
                ok = Once(ref clientInfo) && reader.Read() && (reader.TokenType == JsonTokenType.Null || ClientInfoLooksValid(ref reader));
            }
            else
            {
                ok = (!reader.ValueTextEquals("capabilities"u8) || Once(ref capabilities))
                    && (!reader.ValueTextEquals("initializationOptions"u8) || Once(ref options))
                    && (!reader.ValueTextEquals("trace"u8) || Once(ref trace))
                    && (!reader.ValueTextEquals("workspaceFolders"u8) || Once(ref folders))
                    && reader.Read() && reader.TrySkip();
            }
            if (!ok)
            {
                return false;
            }
        }
        return reader.TokenType == JsonTokenType.EndObject;
    }

    private static bool ClientInfoLooksValid(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            return false;
        }
        bool name = false, version = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            bool ok;
            if (reader.ValueTextEquals("name"u8))
            {
                ok = Once(ref name) && reader.Read() && reader.TokenType == JsonTokenType.String && TryGetString(ref reader, out _);
            }
            else if (reader.ValueTextEquals("version"u8))
            {
                ok = Once(ref version) && reader.Read() && NullOrString(ref reader);
            }
            else
            {
                ok = reader.Read() && reader.TrySkip();
            }
            if (!ok)
            {
                return false;
            }
        }
        return reader.TokenType == JsonTokenType.EndObject && name;
    }

    private static bool Once(ref bool seen)
    {
        if (seen)
        {
            return false;
        }
        seen = true;
        return true;
    }

    private static bool NullOrString(ref Utf8JsonReader reader)
        => reader.TokenType == JsonTokenType.Null || (reader.TokenType == JsonTokenType.String && TryGetString(ref reader, out _));

    /// <summary>A string token as text; false for escapes that are not valid Unicode (a lone surrogate), as <see cref="JsonRpcConnection.TryGetString"/>.</summary>
    private static bool TryGetString(ref Utf8JsonReader reader, out string text)
    {
        text = "";
        try
        {
            text = reader.GetString()!;
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
