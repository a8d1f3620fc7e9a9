// The floor for a .NET JSON-RPC server on stdio: see TrivialEcho.csproj.
using System.Buffers.Text;
using System.Text.Json;

var input = Console.OpenStandardInput();
var output = Console.OpenStandardOutput();
var buffer = new byte[64 * 1024];
int start = 0, end = 0;
var shutDown = false;
var initResult = """{"capabilities":{},"serverInfo":{"name":"trivial-echo","version":"0"}}"""u8.ToArray();
var outBuf = new byte[64 * 1024];

while (true)
{
    // Header block: find \r\n\r\n.
    int headerEnd;
    while ((headerEnd = buffer.AsSpan(start, end - start).IndexOf("\r\n\r\n"u8)) < 0)
    {
        if (!Fill()) return shutDown ? 0 : 1;
    }
    var header = buffer.AsSpan(start, headerEnd);
    var at = header.IndexOf("Content-Length:"u8);
    var digits = header[(at + 15)..].TrimStart((byte)' ');
    var eol = digits.IndexOf((byte)'\r');
    Utf8Parser.TryParse(eol < 0 ? digits : digits[..eol], out int length, out _);
    start += headerEnd + 4;
    while (end - start < length)
    {
        if (!Fill()) return shutDown ? 0 : 1;
    }
    var body = buffer.AsSpan(start, length);
    start += length;

    ReadOnlySpan<byte> id = default, method = default, parameters = default;
    var reader = new Utf8JsonReader(body);
    reader.Read();
    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
    {
        var isId = reader.ValueTextEquals("id"u8);
        var isMethod = reader.ValueTextEquals("method"u8);
        var isParams = reader.ValueTextEquals("params"u8);
        reader.Read();
        var from = (int)reader.TokenStartIndex;
        reader.Skip();
        var to = (int)reader.BytesConsumed;
        if (isId) id = body[from..to];
        else if (isMethod) method = body[(from + 1)..(to - 1)];
        else if (isParams) parameters = body[from..to];
    }
    if (id.IsEmpty)
    {
        if (method.SequenceEqual("exit"u8)) return shutDown ? 0 : 1;
        continue;
    }
    ReadOnlySpan<byte> result = method.SequenceEqual("initialize"u8) ? initResult
        : method.SequenceEqual("shutdown"u8) ? "null"u8
        : parameters.IsEmpty ? "null"u8 : parameters;
    if (method.SequenceEqual("shutdown"u8)) shutDown = true;
    Respond(id, result);
}

bool Fill()
{
    if (start > 0)
    {
        buffer.AsSpan(start, end - start).CopyTo(buffer);
        end -= start;
        start = 0;
    }
    if (end == buffer.Length) Array.Resize(ref buffer, buffer.Length * 2);
    var n = input.Read(buffer, end, buffer.Length - end);
    end += n;
    return n > 0;
}

void Respond(ReadOnlySpan<byte> id, ReadOnlySpan<byte> result)
{
    var bodyLength = 22 + id.Length + 10 + result.Length + 1;
    var needed = bodyLength + 40;
    if (outBuf.Length < needed) outBuf = new byte[needed];
    var span = outBuf.AsSpan();
    "Content-Length: "u8.CopyTo(span);
    Utf8Formatter.TryFormat(bodyLength, span[16..], out var n);
    var p = 16 + n;
    "\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":"u8.CopyTo(span[p..]);
    p += 26;
    id.CopyTo(span[p..]); p += id.Length;
    ",\"result\":"u8.CopyTo(span[p..]); p += 10;
    result.CopyTo(span[p..]); p += result.Length;
    span[p++] = (byte)'}';
    output.Write(outBuf, 0, p);
}
