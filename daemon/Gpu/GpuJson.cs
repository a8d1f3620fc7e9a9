using System.Text.Json.Serialization;

namespace Colab.Daemon.Gpu;

/// <summary>
/// Source-generated JSON for <c>colab gpu --json</c> (reflection serialization is off).
/// camelCase like the protocol; unknown values are written as <c>null</c> so every field
/// is always present for scripts.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(GpuSnapshot))]
[JsonSerializable(typeof(string))]
public sealed partial class GpuJson : JsonSerializerContext;
