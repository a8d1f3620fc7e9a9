using Colab.Daemon.JsonRpc;
using Colab.Daemon.Protocol;

namespace Colab.Daemon.Hosting;

/// <summary>
/// The daemon's first answer, before any connection, thread or host exists (issue 8, cold start).
/// <see cref="Answer"/> reads the first frame on the calling thread; when it is a plain
/// <c>initialize</c> request — the strict header vscode-jsonrpc writes, a plain body this checks
/// completely (<see cref="TryReadInitialize"/>) — it answers it there, straight to the output, with the very bytes
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
            if (length == 0)
            {
                StartupTrace.Mark("first-read");
            }
            length += n;
        }

        StartupTrace.Mark("frame-read");
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
    /// <see cref="InitializeAnswer.LooksValid"/> accepts: <c>"jsonrpc":"2.0"</c>, an integer or string id,
    /// <c>"method":"initialize"</c>, params absent or an object; no other member, none twice. Read with
    /// <see cref="PlainJson"/>, which takes only ASCII JSON without escapes (what an editor sends unless a path
    /// or name has other characters): the first use of System.Text.Json's reader cost ~20 ms here, most of it
    /// loading and JIT-compiling its vectorized search. Anything else is left to the connection.
    /// </summary>
    internal static bool TryReadInitialize(ReadOnlySpan<byte> body, out RequestId id)
    {
        id = default;
        var json = new PlainJson(body);
        if (!json.Eat((byte)'{'))
        {
            return false;
        }
        bool version = false, hasId = false, method = false, parameters = false;
        do
        {
            if (!json.String(out var name) || !json.Eat((byte)':'))
            {
                return false;
            }
            bool ok;
            if (name.SequenceEqual("jsonrpc"u8))
            {
                ok = Once(ref version) && json.String(out var v) && v.SequenceEqual("2.0"u8);
            }
            else if (name.SequenceEqual("id"u8))
            {
                ok = Once(ref hasId) && ReadId(ref json, out id);
            }
            else if (name.SequenceEqual("method"u8))
            {
                ok = Once(ref method) && json.String(out var m) && m.SequenceEqual("initialize"u8);
            }
            else if (name.SequenceEqual("params"u8))
            {
                ok = Once(ref parameters) && ParamsLookValid(ref json);
            }
            else
            {
                ok = false;
            }
            if (!ok)
            {
                return false;
            }
        }
        while (json.Eat((byte)','));
        return json.Eat((byte)'}') && json.AtEnd && version && hasId && method;
    }

    private static bool ReadId(ref PlainJson json, out RequestId id)
    {
        id = default;
        if (json.Peek() == '"')
        {
            if (!json.String(out var text))
            {
                return false;
            }
            id = RequestId.From(System.Text.Encoding.ASCII.GetString(text));
            return true;
        }
        if (!json.Integer(out var n))
        {
            return false;
        }
        id = RequestId.From(n);
        return true;
    }

    /// <summary><see cref="InitializeAnswer.LooksValid"/> over the params object.</summary>
    private static bool ParamsLookValid(ref PlainJson json)
    {
        if (!json.Eat((byte)'{'))
        {
            return false;
        }
        if (json.Eat((byte)'}'))
        {
            return true;
        }
        bool processId = false, locale = false, rootUri = false, rootPath = false, clientInfo = false;
        bool capabilities = false, options = false, trace = false, folders = false;
        do
        {
            if (!json.String(out var name) || !json.Eat((byte)':'))
            {
                return false;
            }
            bool ok;
            if (name.SequenceEqual("processId"u8))
            {
                ok = Once(ref processId) && (json.Null() || (json.Integer(out var pid) && pid is >= int.MinValue and <= int.MaxValue));
            }
            else if (name.SequenceEqual("locale"u8))
            {
                ok = Once(ref locale) && (json.Null() || json.String(out _));
            }
            else if (name.SequenceEqual("rootUri"u8))
            {
                ok = Once(ref rootUri) && (json.Null() || json.String(out _));
            }
            else if (name.SequenceEqual("rootPath"u8))
            {
                ok = Once(ref rootPath) && (json.Null() || json.String(out _));
            }
            else if (name.SequenceEqual("clientInfo"u8))
            {
                ok = Once(ref clientInfo) && (json.Null() || ClientInfoLooksValid(ref json));
            }
            else
            {
                ok = (!name.SequenceEqual("capabilities"u8) || Once(ref capabilities))
                    && (!name.SequenceEqual("initializationOptions"u8) || Once(ref options))
                    && (!name.SequenceEqual("trace"u8) || Once(ref trace))
                    && (!name.SequenceEqual("workspaceFolders"u8) || Once(ref folders))
                    && json.SkipValue(2);
            }
            if (!ok)
            {
                return false;
            }
        }
        while (json.Eat((byte)','));
        return json.Eat((byte)'}');
    }

    private static bool ClientInfoLooksValid(ref PlainJson json)
    {
        if (!json.Eat((byte)'{'))
        {
            return false;
        }
        bool name = false, version = false;
        if (json.Eat((byte)'}'))
        {
            return false; // name is required
        }
        do
        {
            if (!json.String(out var key) || !json.Eat((byte)':'))
            {
                return false;
            }
            bool ok;
            if (key.SequenceEqual("name"u8))
            {
                ok = Once(ref name) && json.String(out _);
            }
            else if (key.SequenceEqual("version"u8))
            {
                ok = Once(ref version) && (json.Null() || json.String(out _));
            }
            else
            {
                ok = json.SkipValue(3);
            }
            if (!ok)
            {
                return false;
            }
        }
        while (json.Eat((byte)','));
        return json.Eat((byte)'}') && name;
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

    /// <summary>
    /// A strict reader of the plain part of JSON: ASCII strings without escapes or control characters,
    /// RFC 8259 numbers and literals, at most 32 levels. Whatever it accepts, System.Text.Json reads the
    /// same way; whatever else it meets makes it say no.
    /// </summary>
    internal ref struct PlainJson(ReadOnlySpan<byte> text)
    {
        private const int MaxDepth = 32;
        private readonly ReadOnlySpan<byte> _s = text;
        private int _i;

        public bool AtEnd
        {
            get
            {
                SkipWhitespace();
                return _i == _s.Length;
            }
        }

        public byte Peek()
        {
            SkipWhitespace();
            return _i < _s.Length ? _s[_i] : (byte)0;
        }

        public bool Eat(byte c)
        {
            if (Peek() == c && _i < _s.Length)
            {
                _i++;
                return true;
            }
            return false;
        }

        public bool Null() => Peek() == 'n' && Literal("null"u8);

        /// <summary>A string of printable ASCII without escapes; its bytes between the quotes.</summary>
        public bool String(out ReadOnlySpan<byte> value)
        {
            value = default;
            if (!Eat((byte)'"'))
            {
                return false;
            }
            var start = _i;
            while (_i < _s.Length)
            {
                var c = _s[_i];
                if (c == '"')
                {
                    value = _s[start.._i];
                    _i++;
                    return true;
                }
                if (c is < 0x20 or > 0x7E or (byte)'\\')
                {
                    return false;
                }
                _i++;
            }
            return false;
        }

        /// <summary>An integer number (no fraction, no exponent) that fits a <see cref="long"/>.</summary>
        public bool Integer(out long value)
        {
            value = 0;
            SkipWhitespace();
            var negative = _i < _s.Length && _s[_i] == '-';
            var i = negative ? _i + 1 : _i;
            var start = i;
            ulong magnitude = 0;
            while (i < _s.Length && _s[i] is >= (byte)'0' and <= (byte)'9')
            {
                if (i - start >= 19 && magnitude > (ulong.MaxValue - 9) / 10)
                {
                    return false;
                }
                magnitude = (magnitude * 10) + (ulong)(_s[i] - '0');
                i++;
            }
            var digits = i - start;
            if (digits == 0 || digits > 19 || (digits > 1 && _s[start] == '0'))
            {
                return false;
            }
            if (i < _s.Length && _s[i] is (byte)'.' or (byte)'e' or (byte)'E')
            {
                return false;
            }
            if (negative ? magnitude > 9223372036854775808UL : magnitude > long.MaxValue)
            {
                return false;
            }
            value = negative ? (long)(0UL - magnitude) : (long)magnitude;
            _i = i;
            return true;
        }

        /// <summary>Any value, checked and skipped; <paramref name="depth"/> is the depth it is at.</summary>
        public bool SkipValue(int depth)
        {
            if (depth > MaxDepth)
            {
                return false;
            }
            switch (Peek())
            {
                case (byte)'{':
                    _i++;
                    if (Eat((byte)'}'))
                    {
                        return true;
                    }
                    do
                    {
                        if (!String(out _) || !Eat((byte)':') || !SkipValue(depth + 1))
                        {
                            return false;
                        }
                    }
                    while (Eat((byte)','));
                    return Eat((byte)'}');
                case (byte)'[':
                    _i++;
                    if (Eat((byte)']'))
                    {
                        return true;
                    }
                    do
                    {
                        if (!SkipValue(depth + 1))
                        {
                            return false;
                        }
                    }
                    while (Eat((byte)','));
                    return Eat((byte)']');
                case (byte)'"':
                    return String(out _);
                case (byte)'t':
                    return Literal("true"u8);
                case (byte)'f':
                    return Literal("false"u8);
                case (byte)'n':
                    return Literal("null"u8);
                default:
                    return Number();
            }
        }

        /// <summary>-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?</summary>
        private bool Number()
        {
            var i = _i;
            if (i < _s.Length && _s[i] == '-')
            {
                i++;
            }
            var intStart = i;
            i = Digits(i);
            if (i == intStart || (i - intStart > 1 && _s[intStart] == '0'))
            {
                return false;
            }
            if (i < _s.Length && _s[i] == '.')
            {
                var fraction = ++i;
                i = Digits(i);
                if (i == fraction)
                {
                    return false;
                }
            }
            if (i < _s.Length && _s[i] is (byte)'e' or (byte)'E')
            {
                i++;
                if (i < _s.Length && _s[i] is (byte)'+' or (byte)'-')
                {
                    i++;
                }
                var exponent = i;
                i = Digits(i);
                if (i == exponent)
                {
                    return false;
                }
            }
            _i = i;
            return true;
        }

        private readonly int Digits(int i)
        {
            while (i < _s.Length && _s[i] is >= (byte)'0' and <= (byte)'9')
            {
                i++;
            }
            return i;
        }

        private bool Literal(ReadOnlySpan<byte> word)
        {
            if (!_s[_i..].StartsWith(word))
            {
                return false;
            }
            _i += word.Length;
            return true;
        }

        private void SkipWhitespace()
        {
            while (_i < _s.Length && _s[_i] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
            {
                _i++;
            }
        }
    }
}
