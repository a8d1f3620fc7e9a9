using System.Text.Json;
using System.Text.Json.Serialization;
using Colab.Daemon.Gpu;

namespace Colab.Daemon.Protocol;

/// <summary><c>colab/gpu/runtimeSnapshot</c>: the runtime to read.</summary>
public sealed record GpuRuntimeParams(string RuntimeId);

/// <summary><c>colab/gpu/runtimeChanged</c>: a runtime's new reading; <c>snapshot</c> is null when the runtime was disconnected.</summary>
public sealed record GpuRuntimeChangedParams(string RuntimeId, GpuSnapshot? Snapshot);

/// <summary><c>colab/gpu/check</c>: which GPUs (a runtime's, else the daemon's host) against which required names.</summary>
public sealed record GpuCheckParams(string? RuntimeId = null, IReadOnlyList<string>? Required = null);

/// <summary><c>colab/gpu/history</c>: readings of the last <c>minutes</c> (1 … 15, default 5).</summary>
public sealed record GpuHistoryParams(int? Minutes = null);

public sealed record GpuHistoryResult(IReadOnlyList<GpuSourceHistory> Sources, int IntervalMs);

/// <summary><c>colab/gpu/benchmark</c>: the runtime to measure; <c>diskMegabytes</c> written and read (16 … 4096, default 256).</summary>
public sealed record GpuBenchmarkParams(string RuntimeId, int? DiskMegabytes = null);

/// <summary>
/// Source-generated JSON for the GPU area's newer messages (the area's own context, beside
/// <see cref="ProtocolJson"/>; same options).
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(GpuRuntimeParams))]
[JsonSerializable(typeof(GpuRuntimeChangedParams))]
[JsonSerializable(typeof(GpuCheckParams))]
[JsonSerializable(typeof(GpuCheckResult))]
[JsonSerializable(typeof(GpuHistoryParams))]
[JsonSerializable(typeof(GpuHistoryResult))]
[JsonSerializable(typeof(GpuBenchmarkParams))]
[JsonSerializable(typeof(RuntimeBenchmarkResult))]
[JsonSerializable(typeof(GpuSnapshot))]
[JsonSerializable(typeof(JsonElement))]
public sealed partial class GpuProtocolJson : JsonSerializerContext;
