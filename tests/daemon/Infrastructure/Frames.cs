using System.Text;
using System.Text.Json;

namespace Colab.Daemon.Tests.Infrastructure;

/// <summary>Builds LSP base-protocol frames and JSON-RPC messages as raw bytes.</summary>
internal static class Frames
{
    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>A well-formed frame around a body.</summary>
    public static byte[] Frame(byte[] body) => Concat(Utf8($"Content-Length: {body.Length}\r\n\r\n"), body);

    public static byte[] Frame(string json) => Frame(Utf8(json));

    /// <summary>A frame with a header block written by hand (the blank line is added).</summary>
    public static byte[] WithHeaders(string headers, byte[] body) => Concat(Utf8(headers + "\r\n\r\n"), body);

    public static byte[] WithHeaders(string headers, string body) => WithHeaders(headers, Utf8(body));

    public static string Id(object id) => id switch
    {
        string s => JsonSerializer.Serialize(s, TestJson.Default.String),
        long or int => Convert.ToString(id, System.Globalization.CultureInfo.InvariantCulture)!,
        _ => throw new ArgumentException("ids are strings or integers", nameof(id)),
    };

    public static string Request(object id, string method, string? paramsJson = null)
        => paramsJson is null
            ? $$"""{"jsonrpc":"2.0","id":{{Id(id)}},"method":{{Str(method)}}}"""
            : $$"""{"jsonrpc":"2.0","id":{{Id(id)}},"method":{{Str(method)}},"params":{{paramsJson}}}""";

    public static string Notification(string method, string? paramsJson = null)
        => paramsJson is null
            ? $$"""{"jsonrpc":"2.0","method":{{Str(method)}}}"""
            : $$"""{"jsonrpc":"2.0","method":{{Str(method)}},"params":{{paramsJson}}}""";

    public static string Result(string idJson, string resultJson) => $$"""{"jsonrpc":"2.0","id":{{idJson}},"result":{{resultJson}}}""";

    public static string Error(string idJson, int code, string message)
        => $$$"""{"jsonrpc":"2.0","id":{{{idJson}}},"error":{"code":{{{code}}},"message":{{{Str(message)}}}}}""";

    public static string Cancel(object id) => Notification("$/cancelRequest", $$"""{"id":{{Id(id)}}}""");

    public static string Str(string s) => JsonSerializer.Serialize(s, TestJson.Default.String);

    public static byte[] Concat(params byte[][] parts)
    {
        var result = new byte[parts.Sum(p => p.Length)];
        var at = 0;
        foreach (var p in parts)
        {
            p.CopyTo(result, at);
            at += p.Length;
        }
        return result;
    }
}
