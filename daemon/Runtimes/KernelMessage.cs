using System.Text.Json;

namespace Colab.Daemon.Runtimes;

/// <summary>The kernel channels a message travels on.</summary>
public static class KernelChannels
{
    public const string Shell = "shell";
    public const string IoPub = "iopub";
    public const string Stdin = "stdin";
    public const string Control = "control";
}

/// <summary>A Jupyter message header (messaging spec 5.x).</summary>
public sealed record KernelHeader(
    string MsgId,
    string MsgType,
    string Session,
    string Username,
    string Date,
    string Version)
{
    public const string ProtocolVersion = "5.3";

    public static KernelHeader Create(string msgType, string session, string username)
        => new(Guid.NewGuid().ToString("N"), msgType, session, username,
            DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", System.Globalization.CultureInfo.InvariantCulture),
            ProtocolVersion);

    /// <summary>Reads a header object; <c>null</c> for <c>{}</c> (a parent header of a message with no parent) or anything without msg_id and msg_type.</summary>
    public static KernelHeader? FromJson(JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Object
            || !element.TryGetProperty("msg_id", out var id) || id.ValueKind != JsonValueKind.String
            || !element.TryGetProperty("msg_type", out var type) || type.ValueKind != JsonValueKind.String)
        {
            return null;
        }
        return new KernelHeader(id.GetString()!, type.GetString()!, Text(element, "session"), Text(element, "username"),
            Text(element, "date"), Text(element, "version"));
    }

    internal void WriteTo(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString("msg_id", MsgId);
        writer.WriteString("msg_type", MsgType);
        writer.WriteString("session", Session);
        writer.WriteString("username", Username);
        writer.WriteString("date", Date);
        writer.WriteString("version", Version);
        writer.WriteEndObject();
    }

    private static string Text(JsonElement element, string name)
        => element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString()! : "";
}

/// <summary>
/// One message on a kernel's channels, independent of the WebSocket framing
/// (<see cref="KernelWire"/>). <see cref="Metadata"/> and <see cref="Content"/> are
/// detached JSON values (always objects, <c>{}</c> when the message had none).
/// </summary>
public sealed class KernelMessage
{
    public required string Channel { get; init; }

    public required KernelHeader Header { get; init; }

    /// <summary>The header of the request this message answers or was caused by; <c>null</c> when none.</summary>
    public KernelHeader? ParentHeader { get; init; }

    public JsonElement Metadata { get; init; } = Json.EmptyObject;

    public JsonElement Content { get; init; } = Json.EmptyObject;

    public IReadOnlyList<ReadOnlyMemory<byte>> Buffers { get; init; } = [];

    public string MsgType => Header.MsgType;

    public string? ParentMsgId => ParentHeader?.MsgId;

    public override string ToString() => $"{Channel}/{MsgType} {Header.MsgId} (parent {ParentMsgId ?? "none"})";

    /// <summary>Small helpers for reading content without exceptions.</summary>
    internal static class Json
    {
        public static readonly JsonElement EmptyObject = Parse("{}");

        public static JsonElement Parse(string json)
        {
            using var doc = JsonDocument.Parse(json);
            return doc.RootElement.Clone();
        }

        public static string? String(JsonElement obj, string name)
            => obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

        public static int? Int(JsonElement obj, string name)
            => obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : null;

        public static bool Bool(JsonElement obj, string name)
            => obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;

        public static JsonElement Object(JsonElement obj, string name)
            => obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Object ? v : EmptyObject;

        public static IReadOnlyList<string> Strings(JsonElement obj, string name)
        {
            if (obj.ValueKind != JsonValueKind.Object || !obj.TryGetProperty(name, out var v) || v.ValueKind != JsonValueKind.Array)
            {
                return [];
            }
            var list = new List<string>(v.GetArrayLength());
            foreach (var item in v.EnumerateArray())
            {
                list.Add(item.ValueKind == JsonValueKind.String ? item.GetString()! : item.ToString());
            }
            return list;
        }

        /// <summary>A mime bundle: <c>{"text/plain": "2", "image/png": "…"}</c>.</summary>
        public static IReadOnlyDictionary<string, JsonElement> Bundle(JsonElement obj, string name)
        {
            var bundle = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
            var data = Object(obj, name);
            foreach (var p in data.EnumerateObject())
            {
                bundle[p.Name] = p.Value;
            }
            return bundle;
        }
    }
}
