using System.Text.Json;
using Colab.Daemon.JsonRpc;
using Colab.Daemon.Protocol;
using Colab.Daemon.Status;

namespace Colab.Daemon.Hosting;

/// <summary>
/// <c>initialize</c> without serializer metadata (issue 8, cold start): the first answer is on the
/// editor's critical path, and building <see cref="ProtocolJson"/>'s options and type infos was the
/// largest step of our own before it. The answer is written with a <see cref="Utf8JsonWriter"/> from
/// the same data as <see cref="Result"/> (tests compare the two byte for byte, and
/// <see cref="Result"/> with what the method table serves); the params are checked here for the shapes
/// <see cref="ProtocolJson"/> accepts, and anything else is handed to it, so a bad one gets the very
/// error it always got.
/// </summary>
internal static class InitializeAnswer
{
    /// <summary>The answer as a typed value: what <see cref="Write"/> writes.</summary>
    public static InitializeResult Result()
    {
        var methods = new List<string>(Methods.All.Count);
        foreach (var m in Methods.All)
        {
            methods.Add(m.Name);
        }
        return new InitializeResult(
            new ServerCapabilities(new ExperimentalCapabilities(new ColabServerCapabilities(ProtocolVersion, methods, ServerStatusNotifications: true))),
            new ServerInfo(ServerName, ServerStatusService.Version));
    }

    public const string ProtocolVersion = "1";
    public const string ServerName = "colab-daemon";

    /// <summary>Writes <see cref="Result"/> as <see cref="ProtocolJson"/> would (camelCase, nothing null).</summary>
    public static void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteStartObject("capabilities"u8);
        w.WriteStartObject("experimental"u8);
        w.WriteStartObject("colab"u8);
        w.WriteString("protocolVersion"u8, ProtocolVersion);
        w.WriteStartArray("methods"u8);
        foreach (var m in Methods.All)
        {
            w.WriteStringValue(m.Name);
        }
        w.WriteEndArray();
        w.WriteBoolean("serverStatusNotifications"u8, true);
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteStartObject("serverInfo"u8);
        w.WriteString("name"u8, ServerName);
        w.WriteString("version"u8, ServerStatusService.Version);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>
    /// The whole answer frame for <paramref name="id"/>, as the connection frames what <see cref="Write"/> writes,
    /// put together without <see cref="Utf8JsonWriter"/> (issue 8, cold start: its first use sets up the
    /// default <c>JavaScriptEncoder</c>'s tables, and the JIT compiles their vector code) — possible while every
    /// string in it is made of characters no JSON writer escapes, which the tests hold against <see cref="Write"/>.
    /// Null when one is not (an unusual string id): the caller writes the answer the usual way.
    /// </summary>
    public static byte[]? PlainFrame(RequestId id)
    {
        var body = new List<byte>(2048);
        Append(body, "{\"jsonrpc\":\"2.0\",\"id\":");
        if (id.Text is { } text)
        {
            if (!Plain(text))
            {
                return null;
            }
            Append(body, "\"");
            Append(body, text);
            Append(body, "\"");
        }
        else
        {
            Append(body, (id.Number ?? 0).ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        Append(body, ",\"result\":{\"capabilities\":{\"experimental\":{\"colab\":{\"protocolVersion\":\"");
        if (!Plain(ProtocolVersion) || !Plain(ServerName) || !Plain(ServerStatusService.Version))
        {
            return null;
        }
        Append(body, ProtocolVersion);
        Append(body, "\",\"methods\":[");
        for (var i = 0; i < Methods.All.Count; i++)
        {
            var name = Methods.All[i].Name;
            if (!Plain(name))
            {
                return null;
            }
            Append(body, i == 0 ? "\"" : ",\"");
            Append(body, name);
            Append(body, "\"");
        }
        Append(body, "],\"serverStatusNotifications\":true}}},\"serverInfo\":{\"name\":\"");
        Append(body, ServerName);
        Append(body, "\",\"version\":\"");
        Append(body, ServerStatusService.Version);
        Append(body, "\"}}}");
        return FrameWriter.Frame(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(body));
    }

    /// <summary>Letters, digits and <c>/$._-</c>: characters every JSON writer writes as they are.</summary>
    private static bool Plain(string text)
    {
        foreach (var c in text)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '/' or '$' or '.' or '_' or '-'))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Appends ASCII text (checked by <see cref="Plain"/>, or a literal of this class) as bytes.</summary>
    private static void Append(List<byte> body, string ascii)
    {
        foreach (var c in ascii)
        {
            body.Add((byte)c);
        }
    }

    /// <summary>
    /// Checks <c>initialize</c>'s params. The common shapes (<see cref="InitializeParams"/>'s fields absent,
    /// null or of their type; no duplicate; shallow) are accepted here; anything else goes through
    /// <see cref="ProtocolJson"/>, which throws what a typed handler's params always threw.
    /// </summary>
    public static bool Check(JsonElement parameters)
    {
        if (!LooksValid(parameters))
        {
            _ = parameters.Deserialize(ProtocolJson.Default.InitializeParams) ?? throw new JsonException("params must not be null");
            return false;
        }
        return true;
    }

    /// <summary>True only for params <see cref="ProtocolJson"/> is sure to accept (false sends them to it).</summary>
    internal static bool LooksValid(JsonElement p)
    {
        // System.Text.Json refuses nesting deeper than 64 in the JsonElement fields; leave deep ones to it.
        if (p.ValueKind != JsonValueKind.Object || Depth(p) > 32)
        {
            return false;
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in p.EnumerateObject())
        {
            var v = property.Value;
            switch (property.Name)
            {
                case "processId":
                    if (!seen.Add(property.Name) || !(v.ValueKind == JsonValueKind.Null || (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out _))))
                    {
                        return false;
                    }
                    break;
                case "locale" or "rootUri" or "rootPath":
                    if (!seen.Add(property.Name) || !NullOrString(v))
                    {
                        return false;
                    }
                    break;
                case "clientInfo":
                    if (!seen.Add(property.Name) || !(v.ValueKind == JsonValueKind.Null || ClientInfoLooksValid(v)))
                    {
                        return false;
                    }
                    break;
                case "capabilities" or "initializationOptions" or "trace" or "workspaceFolders":
                    if (!seen.Add(property.Name))
                    {
                        return false;
                    }
                    break;
                default:
                    break; // not a field: skipped, as System.Text.Json skips it
            }
        }
        return true;
    }

    private static bool ClientInfoLooksValid(JsonElement v)
    {
        if (v.ValueKind != JsonValueKind.Object)
        {
            return false;
        }
        bool name = false, version = false;
        foreach (var property in v.EnumerateObject())
        {
            switch (property.Name)
            {
                case "name":
                    if (name || property.Value.ValueKind != JsonValueKind.String || !JsonRpcConnection.TryGetString(property.Value, out _))
                    {
                        return false;
                    }
                    name = true;
                    break;
                case "version":
                    if (version || !NullOrString(property.Value))
                    {
                        return false;
                    }
                    version = true;
                    break;
                default:
                    break;
            }
        }
        return name;
    }

    private static bool NullOrString(JsonElement v)
        => v.ValueKind == JsonValueKind.Null || JsonRpcConnection.TryGetString(v, out _);

    private static int Depth(JsonElement e)
    {
        var deepest = 0;
        if (e.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in e.EnumerateObject())
            {
                deepest = Math.Max(deepest, Depth(property.Value));
                if (deepest > 32)
                {
                    break;
                }
            }
            return deepest + 1;
        }
        if (e.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in e.EnumerateArray())
            {
                deepest = Math.Max(deepest, Depth(item));
                if (deepest > 32)
                {
                    break;
                }
            }
            return deepest + 1;
        }
        return 0;
    }
}
