using System.Text;

namespace Colab.Daemon.Tests.Infrastructure;

/// <summary>
/// Random and mutated LSP frames from one seeded <see cref="Random"/>: valid requests with
/// bytes flipped, cut short, headers doubled or lying, random JSON, deep nesting, huge
/// strings, invalid UTF-8 and plain garbage. Never more than <see cref="MaxClaim"/> bytes
/// claimed by any Content-Length, so a known amount of padding always brings a reader
/// back in step. Nothing it makes can be read as <c>exit</c> or <c>shutdown</c>.
/// </summary>
internal sealed class FuzzFrames(int seed)
{
    public const int MaxClaim = 100_000;

    private readonly Random _rng = new(seed);

    private static readonly string[] s_methods =
    [
        "initialize", "initialized", "colab/serverStatus", "colab/diag/echo", "colab/diag/delay", "$/cancelRequest",
        "$/setTrace", "colab/noSuchThing", "window/workDoneProgress/create", "", "colab/", "$/progress",
    ];

    /// <summary>Writes <paramref name="count"/> frames (some of them garbage) to one buffer, made safe.</summary>
    public byte[] Stream(int count)
    {
        using var stream = new MemoryStream();
        for (var i = 0; i < count; i++)
        {
            stream.Write(Next());
        }
        var bytes = stream.ToArray();
        MakeSafe(bytes);
        return bytes;
    }

    /// <summary>
    /// Spoils, in place and without changing any length, every way the bytes could spell a
    /// method that ends the session: the words themselves and escapes of ASCII letters.
    /// </summary>
    public static void MakeSafe(byte[] bytes)
    {
        var span = bytes.AsSpan();
        foreach (var (word, at) in new[] { ("exit"u8.ToArray(), 1), ("shutdown"u8.ToArray(), 1) })
        {
            for (var i = span.IndexOf(word); i >= 0;)
            {
                span[i + at] = (byte)char.ToUpperInvariant((char)span[i + at]);
                var next = span[(i + 1)..].IndexOf(word);
                i = next < 0 ? -1 : i + 1 + next;
            }
        }
        // \u0040 to \u007F spell ASCII letters: make them \u01xx.
        for (var i = 0; i + 5 < span.Length; i++)
        {
            if (span[i] == '\\' && span[i + 1] == 'u' && span[i + 2] == '0' && span[i + 3] == '0' && span[i + 4] is (byte)'4' or (byte)'5' or (byte)'6' or (byte)'7')
            {
                span[i + 3] = (byte)'1';
            }
        }
    }

    public byte[] Next()
    {
        var body = _rng.Next(10) switch
        {
            < 6 => ValidMessage(),
            6 => Utf8(RandomJson(0)),
            7 => Utf8(MessageWith(RandomJson(0))),
            8 => Garbage(_rng.Next(0, 200)),
            _ => Utf8("[" + ValidMessageText() + "," + ValidMessageText() + "]"),
        };
        body = _rng.Next(8) switch
        {
            0 => Flip(body),
            1 => body.AsSpan(0, _rng.Next(body.Length + 1)).ToArray(),
            2 => InvalidUtf8(body),
            3 when _rng.Next(10) == 0 => Utf8(Deep()),
            4 when _rng.Next(20) == 0 => Utf8(MessageWith(Frames.Str(new string((char)_rng.Next('a', 'z'), _rng.Next(10_000, 60_000))))),
            _ => body,
        };
        return _rng.Next(12) switch
        {
            < 6 => Frames.Frame(body),
            6 => Frames.WithHeaders($"Content-Length: {Claim(body.Length)}", body),
            7 => Frames.WithHeaders($"Content-Length: {body.Length}\r\nContent-Length: {Claim(body.Length)}", body),
            8 => Frames.WithHeaders(RandomHeader(body.Length), body),
            9 => Garbage(_rng.Next(0, 64)),
            10 => Frames.Concat(Frames.Frame(body).AsSpan(0, _rng.Next(Frames.Frame(body).Length)).ToArray()),
            _ => Frames.WithHeaders($"content-length: {body.Length}\r\nContent-Type: application/vscode-jsonrpc; charset={Pick("utf-8", "utf8", "latin1", "UTF-8", "utf-16")}", body),
        };
    }

    private int Claim(int actual) => Math.Clamp(actual + _rng.Next(-actual - 1, 2000), 0, MaxClaim);

    private string RandomHeader(int length) => _rng.Next(9) switch
    {
        0 => $"Content-Length: -{length}",
        1 => $"Content-Length: {length}abc",
        2 => $"Content-Length:    {length}   ",
        3 => $"CONTENT-LENGTH: {length}",
        4 => $"Content Length: {length}",
        5 => $"X-Whatever: {new string('h', _rng.Next(0, 9000))}\r\nContent-Length: {length}",
        6 => $"Content-Type: text/plain",
        7 => $"Content-Length: {length}\r\n: nameless",
        _ => $"Content-Length: 0x{length:x}",
    };

    private byte[] ValidMessage() => Utf8(ValidMessageText());

    private string ValidMessageText()
    {
        var method = Pick(s_methods);
        var id = _rng.Next(4) switch
        {
            0 => "",
            1 => $"\"id\":{_rng.Next(-5, 100)},",
            2 => $"\"id\":\"f{_rng.Next(1000)}\",",
            _ => $"\"id\":{Pick("null", "1.5", "{}", "[]", "true", "1e3", "99999999999999999999")},",
        };
        var parameters = method switch
        {
            "colab/diag/delay" => $"{{\"milliseconds\":{Pick("0", "1", "5", "-1", "600001", "\"x\"", "600000")},\"reportProgress\":{Pick("true", "false", "1")}}}",
            "$/cancelRequest" => $"{{\"id\":{_rng.Next(0, 100)}}}",
            _ => RandomJson(0),
        };
        var version = _rng.Next(20) == 0 ? Pick("\"1.0\"", "2", "null") : "\"2.0\"";
        return _rng.Next(10) == 0
            ? $"{{\"jsonrpc\":\"2.0\",{id}\"result\":{RandomJson(0)}}}"
            : $"{{\"jsonrpc\":{version},{id}\"method\":{Frames.Str(method)},\"params\":{parameters}}}";
    }

    private string MessageWith(string parameters) => $"{{\"jsonrpc\":\"2.0\",\"id\":{_rng.Next(1000)},\"method\":\"colab/diag/echo\",\"params\":{parameters}}}";

    private string RandomJson(int depth)
    {
        var pick = depth > 4 ? _rng.Next(6) : _rng.Next(9);
        return pick switch
        {
            0 => "null",
            1 => Pick("true", "false"),
            2 => _rng.Next(3) == 0 ? (_rng.NextDouble() * 1e6 - 5e5).ToString("R", System.Globalization.CultureInfo.InvariantCulture) : _rng.Next(int.MinValue, int.MaxValue).ToString(System.Globalization.CultureInfo.InvariantCulture),
            3 or 4 => Frames.Str(RandomString(_rng.Next(0, 40))),
            5 => Pick("1e999", "-0", "0.0000001", "\"\\ud800\"", "\"\\u00e9\\ud83d\\ude00\"", "\"\\n\\t\\\\\""),
            6 => "[" + string.Join(",", Enumerable.Range(0, _rng.Next(0, 5)).Select(_ => RandomJson(depth + 1))) + "]",
            _ => "{" + string.Join(",", Enumerable.Range(0, _rng.Next(0, 5)).Select(_ => Frames.Str(RandomString(_rng.Next(0, 8))) + ":" + RandomJson(depth + 1))) + "}",
        };
    }

    private string RandomString(int length)
    {
        var text = new StringBuilder(length);
        for (var i = 0; i < length; i++)
        {
            text.Append(_rng.Next(10) switch
            {
                0 => (char)_rng.Next(0, 32),
                1 => (char)_rng.Next(0x80, 0x800),
                2 => (char)_rng.Next(0x4e00, 0x9fff),
                _ => (char)_rng.Next(32, 127),
            });
        }
        return text.ToString();
    }

    private string Deep()
    {
        var depth = _rng.Next(100, 5000);
        return _rng.Next(2) == 0
            ? MessageWith(new string('[', depth) + new string(']', depth))
            : MessageWith(string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth));
    }

    private byte[] Flip(byte[] body)
    {
        var copy = body.ToArray();
        for (var n = _rng.Next(1, 6); n > 0 && copy.Length > 0; n--)
        {
            copy[_rng.Next(copy.Length)] = (byte)_rng.Next(256);
        }
        return copy;
    }

    private byte[] InvalidUtf8(byte[] body)
    {
        var at = _rng.Next(body.Length + 1);
        byte[] bad = Pick<byte[]>([0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]);
        return Frames.Concat(body.AsSpan(0, at).ToArray(), bad, body.AsSpan(at).ToArray());
    }

    private byte[] Garbage(int length)
    {
        var bytes = new byte[length];
        _rng.NextBytes(bytes);
        if (length > 0 && _rng.Next(3) == 0)
        {
            // Garbage that looks like the start of a header.
            var fake = "Content-Length: \r\n\r\n"u8;
            fake[..Math.Min(fake.Length, length)].CopyTo(bytes);
        }
        return bytes;
    }

    private T Pick<T>(params T[] items) => items[_rng.Next(items.Length)];

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);
}
