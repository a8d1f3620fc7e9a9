using System.Text.Json;
using System.Text.Json.Serialization;

namespace Colab.Daemon.Tests.Infrastructure;

public sealed record Inner(int Count, string Label);

/// <summary>Typed params for the test handlers: wrong types must be refused with the JSON path named.</summary>
public sealed record TypedParams(int Number, string Text, Inner? Inner = null);

public sealed record TypedResult(string Summary);

public sealed record AskParams(string Question);

public sealed record NoteParams(int Seq);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(TypedParams))]
[JsonSerializable(typeof(TypedResult))]
[JsonSerializable(typeof(AskParams))]
[JsonSerializable(typeof(NoteParams))]
[JsonSerializable(typeof(JsonElement))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(int))]
internal sealed partial class TestJson : JsonSerializerContext;
