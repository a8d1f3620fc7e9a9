using System.Text.Json;
using System.Text.Json.Serialization;

namespace Colab.Daemon.Protocol;

/// <summary>
/// <c>colab/train/start</c>: either <c>command</c> (argv; never a shell string) or <c>example: true</c>
/// (the built-in digits CNN, <c>epochs</c> optional).
/// </summary>
public sealed record TrainStartParams(
    IReadOnlyList<string>? Command = null,
    bool Example = false,
    int? Epochs = null,
    string? WorkingDirectory = null,
    string? CheckpointDirectory = null,
    int MaxRestarts = 3,
    int Keep = 3,
    int? CheckpointEvery = null,
    double GraceSeconds = 30);

public sealed record TrainJobIdParams(string JobId);

/// <summary><c>colab/train/logs</c>: bytes of <c>worker.log</c> from <c>offset</c>, at most <c>maxBytes</c> (≤ 1 MiB).</summary>
public sealed record TrainLogsParams(string JobId, long Offset = 0, int MaxBytes = 65536);

/// <param name="Ended">The job is in a final state and everything up to <c>nextOffset</c> is all there is.</param>
public sealed record TrainLogsResult(string Text, long NextOffset, bool Ended);

/// <summary>The newest figures from the job's <c>metrics.jsonl</c> (each only when the worker logged it).</summary>
public sealed record TrainProgress(long? Step, long? TotalSteps, long? Epoch, double? Loss, double? Accuracy, double? SamplesPerSecond, double? EtaSeconds);

/// <summary>A job as the editor sees it: the supervisor's status plus progress.</summary>
public sealed record TrainJobInfo(
    string Id,
    string State,
    int Restarts,
    int MaxRestarts,
    int? WorkerPid,
    int? LastExitCode,
    string? LastError,
    IReadOnlyList<string> Command,
    string CheckpointDirectory,
    TrainProgress? Progress,
    DateTimeOffset StartedAt,
    DateTimeOffset UpdatedAt);

public sealed record TrainListResult(IReadOnlyList<TrainJobInfo> Jobs);

/// <summary><c>colab/train/metrics</c>: the metrics lines from a byte offset (the numeric fields of each; at most 4 MiB read per call).</summary>
public sealed record TrainMetricsParams(string JobId, long Offset = 0);

public sealed record TrainMetricsResult(IReadOnlyList<Dictionary<string, double>> Records, long NextOffset);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(TrainStartParams))]
[JsonSerializable(typeof(TrainJobIdParams))]
[JsonSerializable(typeof(TrainLogsParams))]
[JsonSerializable(typeof(TrainLogsResult))]
[JsonSerializable(typeof(TrainJobInfo))]
[JsonSerializable(typeof(TrainListResult))]
[JsonSerializable(typeof(EmptyParams))]
[JsonSerializable(typeof(TrainMetricsParams))]
[JsonSerializable(typeof(TrainMetricsResult))]
public sealed partial class TrainingProtocolJson : JsonSerializerContext;
