using System.Text.Json;

namespace Colab.Daemon.JsonRpc;

/// <summary>A JSON-RPC id: a number or a string, written back exactly as it came.</summary>
public readonly record struct RequestId
{
    private RequestId(long? number, string? text)
    {
        Number = number;
        Text = text;
    }

    public long? Number { get; }
    public string? Text { get; }

    public static RequestId From(long number) => new(number, null);
    public static RequestId From(string text) => new(null, text);

    /// <summary>Reads an id; false for null, fractions, objects and anything else JSON-RPC does not allow.</summary>
    public static bool TryRead(JsonElement element, out RequestId id)
    {
        id = default;
        switch (element.ValueKind)
        {
            case JsonValueKind.Number when element.TryGetInt64(out var n):
                id = From(n);
                return true;
            case JsonValueKind.String when JsonRpcConnection.TryGetString(element, out var text):
                id = From(text);
                return true;
            default:
                return false;
        }
    }

    public void WriteTo(Utf8JsonWriter writer)
    {
        if (Text is not null)
        {
            writer.WriteStringValue(Text);
        }
        else
        {
            writer.WriteNumberValue(Number ?? 0);
        }
    }

    public override string ToString() => Text is not null ? $"\"{Text}\"" : Number?.ToString() ?? "null";
}
