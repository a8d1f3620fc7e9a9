using System.Text.Json;
using System.Text.Json.Serialization;

namespace Colab.Daemon.Protocol;

/// <summary>
/// <c>colab/train/start</c>: either <c>command</c> (argv; never a shell string) or <c>example: true</c>
/// (the built-in digits CNN, <c>epochs</c> optional).
/// </summary>
/// <param name="RequiredGpu">GPU models of which one must be present (names as in <c>colab.gpu.required</c>); empty: no check.</param>
/// <param name="OnDone"><c>notify</c> (default) or <c>disconnect</c>: also disconnect <paramref name="RuntimeId"/> when the job ends, releasing its GPU.</param>
/// <param name="RuntimeId">A connected runtime: local (the job runs on the daemon's host) or remote (the job runs on the runtime, after a code sync).</param>
/// <param name="SyncGlobs">Remote jobs: the workspace files to sync (relative globs; default <c>**/*.py</c>).</param>
/// <param name="Mirror">Jobs on the daemon's host: a directory (e.g. a mounted Drive folder) every committed checkpoint is copied to, verified; resume also looks there.</param>
/// <param name="WorkDoneToken">LSP work-done progress: <c>$/progress</c> with this token follows the job (begin, a report per change, end when it is over).</param>
/// <param name="WebhookUrl">A secret from the editor's SecretStorage: POSTed to when the job succeeds or fails; never stored or logged.</param>
/// <param name="DriveFolder">Jobs on the daemon's host: a Google Drive folder (id or link; a path when Drive is a mounted folder) every committed checkpoint is uploaded to, verified, through the daemon's Drive sign-in; before the job starts, a newer checkpoint found there is restored, so a run continues on a new machine.</param>
public sealed record TrainStartParams(
    IReadOnlyList<string>? Command = null,
    bool Example = false,
    int? Epochs = null,
    string? WorkingDirectory = null,
    string? CheckpointDirectory = null,
    int MaxRestarts = 3,
    int Keep = 3,
    int? CheckpointEvery = null,
    double GraceSeconds = 30,
    IReadOnlyList<string>? RequiredGpu = null,
    string? OnDone = null,
    string? RuntimeId = null,
    string? WebhookUrl = null,
    IReadOnlyList<string>? SyncGlobs = null,
    string? Mirror = null,
    JsonElement? WorkDoneToken = null,
    string? DriveFolder = null)
{
    /// <summary>Never prints the webhook URL (a secret).</summary>
    public override string ToString()
        => $"TrainStartParams {{ Command = [{string.Join(' ', Command ?? [])}], Example = {Example}, RuntimeId = {RuntimeId}, OnDone = {OnDone}, RequiredGpu = [{string.Join(", ", RequiredGpu ?? [])}], WebhookUrl = {(WebhookUrl is null ? "none" : "(secret)")} }}";
}

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
    DateTimeOffset UpdatedAt,
    string? OnDone = null,
    string? RuntimeId = null,
    bool Webhook = false,
    IReadOnlyList<string>? RequiredGpu = null,
    string? Mirror = null,
    long? MirroredStep = null,
    string? MirrorError = null,
    string? DriveFolder = null,
    long? DriveMirroredStep = null,
    string? DriveMirrorError = null);

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
