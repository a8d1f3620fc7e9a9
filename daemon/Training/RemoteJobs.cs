using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Colab.Daemon.Protocol;
using Colab.Daemon.Runtimes;
using Colab.Daemon.Runtimes.Files;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Colab.Daemon.Training;

/// <summary>Where a job on a remote runtime lives (paths relative to the Jupyter server's root).</summary>
/// <param name="RuntimeUrl">The runtime's base URL (never a token): a later daemon re-attaches when a runtime with this URL is connected.</param>
/// <param name="CheckpointFolder">The checkpoint folder's name inside <paramref name="JobFolder"/>; null for jobs of earlier versions ("checkpoints", which the contents API cannot list: its URL is the API's own checkpoints route).</param>
public sealed record RemoteJobSpec(string RuntimeUrl, string JobFolder, string CodeFolder, IReadOnlyList<string> SyncGlobs, string? CheckpointFolder = null)
{
    /// <summary>The folder name new jobs use.</summary>
    public const string DefaultCheckpointFolder = "ckpt";

    /// <summary>The checkpoint folder on the runtime, relative to the server's root.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string CheckpointPath => $"{JobFolder}/{CheckpointFolder ?? "checkpoints"}";
}

/// <summary>
/// Training jobs on a connected remote Jupyter runtime. The workspace files the job needs are synced
/// first (<see cref="CodeSync"/>); then <c>colab_job_runner.py</c> is started from a hidden kernel in a
/// new session, so it outlives the kernel, the editor and this daemon. It writes <c>runner.pid</c>,
/// <c>heartbeat</c>, <c>worker.log</c>, <c>metrics.jsonl</c> and <c>exit</c> in the job folder on the
/// runtime; this class polls them through the contents API, mirrors the log and metrics into the
/// local job directory (so status, logs, metrics and the editor work as for local jobs), restarts the
/// worker with resume after an abnormal exit (or a runner that stopped beating: the runtime restarted)
/// up to the limit with backoff, and stops it with SIGTERM → grace → SIGKILL on the runtime. A new
/// daemon re-attaches when the runtime is connected again.
/// </summary>
public sealed class RemoteJobs : IDisposable
{
    public const string RemoteRoot = "colab-training";
    public const string RunnerName = "colab_job_runner.py";
    public static readonly TimeSpan HeartbeatTimeout = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Logs and metrics up to this size are mirrored on every poll that sees them grow; bigger ones at most every 10 s.</summary>
    public const long MirrorEveryTimeBytes = 1 << 20;

    private readonly TrainingJobs _jobs;
    private readonly RuntimeManager _runtimes;
    private readonly RuntimeFiles _files;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, Attached> _attached = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _disposed = new();
    private readonly DriveMirrorJobs? _driveMirror;

    /// <param name="driveMirror">Uploads to Drive for jobs with a <c>driveFolder</c> (none: such jobs are never started here).</param>
    public RemoteJobs(TrainingJobs jobs, RuntimeManager runtimes, RuntimeFiles files, ILogger? logger = null, DriveMirrorJobs? driveMirror = null)
    {
        _driveMirror = driveMirror;
        _jobs = jobs;
        _runtimes = runtimes;
        _files = files;
        _logger = logger ?? NullLogger.Instance;
        _runtimes.Changed += Reattach;
    }

    private sealed class Attached(string runtimeId, string? webhookUrl)
    {
        public string RuntimeId { get; } = runtimeId;
        public string? WebhookUrl { get; } = webhookUrl;
        public CancellationTokenSource Stop { get; } = new();
        public Task Loop { get; set; } = Task.CompletedTask;

        /// <summary>One fetch for Drive at a time: the supervising loop's and a flush's.</summary>
        public SemaphoreSlim DriveFetch { get; } = new(1, 1);

        public MirrorState DriveState { get; } = new();
    }

    public bool IsAttached(string jobId) => _attached.ContainsKey(jobId);

    /// <summary>Parses <c>exit</c>: a decimal 0–255 (the runner writes 128+N for signal N). Anything else is malformed.</summary>
    public static int? ParseExit(string text)
        => text.Trim() is { Length: > 0 and <= 3 } t && t.All(char.IsAsciiDigit) && int.Parse(t, CultureInfo.InvariantCulture) is var n and <= 255 ? n : null;

    /// <summary>Parses <c>runner.pid</c>: a decimal process id above 1 (never 0, 1 or negative: those would signal a group or init).</summary>
    public static int? ParsePid(string text)
        => text.Trim() is { Length: > 0 and <= 10 } t && t.All(char.IsAsciiDigit) && long.Parse(t, CultureInfo.InvariantCulture) is var n and > 1 and <= 4_194_304 ? (int)n : null;

    /// <summary>Syncs the code, uploads the helpers, launches the runner and starts supervising. The spec is already created.</summary>
    public async Task StartAsync(TrainingJobSpec spec, string runtimeId, string workspace, string? webhookUrl, CancellationToken cancellationToken)
    {
        var remote = spec.Remote ?? throw new TrainingException("not a remote job");
        var dir = _jobs.DirectoryOf(spec.Id);
        var sync = await new CodeSync(_files).SyncAsync(runtimeId, workspace, remote.SyncGlobs, remote.CodeFolder, cancellationToken).ConfigureAwait(false);
        Log(dir, $"synced {sync.Files} file(s) to {remote.CodeFolder} on the runtime: {sync.Uploaded} changed ({sync.UploadedBytes} bytes) uploaded");
        foreach (var helper in new[] { "colab_resume.py", RunnerName })
        {
            await _files.UploadAsync(runtimeId, Path.Combine(TrainingJobs.PythonHelperDirectory, helper), $"{remote.JobFolder}/{helper}", overwrite: true, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        var attached = new Attached(runtimeId, webhookUrl);
        if (!_attached.TryAdd(spec.Id, attached))
        {
            throw new TrainingException($"training job '{spec.Id}' is already supervised");
        }
        var status = Update(dir, _jobs.ReadStatus(spec.Id) with { State = TrainingStates.Starting, SupervisorPid = Environment.ProcessId });
        var seeded = await SeedAsync(spec, runtimeId, cancellationToken).ConfigureAwait(false);
        await LaunchAsync(spec, runtimeId, status.Restarts, resume: seeded, cancellationToken).ConfigureAwait(false);
        Update(dir, status with { State = TrainingStates.Running });
        attached.Loop = Task.Run(() => SuperviseAsync(spec, attached, launchedNow: true));
    }

    /// <summary>Asks a remote job to stop (SIGTERM on the runtime, the grace period, SIGKILL). The job must be attached to this daemon.</summary>
    public void RequestStop(string jobId)
    {
        if (!_attached.TryGetValue(jobId, out var a))
        {
            throw new TrainingException($"training job '{jobId}' runs on a remote runtime that is not connected to this daemon; connect it (the job re-attaches), then stop it");
        }
        a.Stop.Cancel();
    }

    /// <summary>When runtimes change: supervise again every unfinished remote job whose runtime (by URL) is connected.</summary>
    public void Reattach()
    {
        if (_disposed.IsCancellationRequested)
        {
            return;
        }
        IReadOnlyList<RuntimeInfo> runtimes;
        try
        {
            runtimes = _runtimes.List();
        }
        catch (ObjectDisposedException)
        {
            return;
        }
        foreach (var status in _jobs.List())
        {
            // Only jobs nobody supervises: their daemon died (ReadStatus says lost) or their runtime was disconnected.
            if (status.State != TrainingStates.Lost || _attached.ContainsKey(status.Id))
            {
                continue;
            }
            TrainingJobSpec spec;
            try
            {
                spec = _jobs.ReadSpec(status.Id);
            }
            catch (TrainingException)
            {
                continue;
            }
            if (spec.Remote is not { } remote || runtimes.FirstOrDefault(r => r.Url == remote.RuntimeUrl && r.State == RuntimeStates.Connected) is not { } runtime)
            {
                continue;
            }
            var attached = new Attached(runtime.Id, null);
            if (_attached.TryAdd(spec.Id, attached))
            {
                var dir = _jobs.DirectoryOf(spec.Id);
                Log(dir, $"re-attached on runtime {runtime.Id} ({remote.RuntimeUrl})");
                Update(dir, status with { State = TrainingStates.Running, SupervisorPid = Environment.ProcessId, LastError = null });
                attached.Loop = Task.Run(() => SuperviseAsync(spec, attached, launchedNow: false));
            }
        }
    }

    private async Task SuperviseAsync(TrainingJobSpec spec, Attached a, bool launchedNow)
    {
        var remote = spec.Remote!;
        var dir = _jobs.DirectoryOf(spec.Id);
        var ct = _disposed.Token;
        var sizes = new Dictionary<string, long>(StringComparer.Ordinal);
        var mirrored = new Dictionary<string, DateTime>(StringComparer.Ordinal);
        DateTimeOffset? lastBeat = null;
        var beatSeen = DateTime.UtcNow;
        var launchedAt = DateTime.UtcNow;
        DateTime? termSent = null;
        var killed = false;
        var attemptsThisRun = 0;
        var mirror = new MirrorState();
        var mirrorNext = DateTime.MinValue;
        var driveNext = DateTime.MinValue;
        var drive = _driveMirror is not null && DriveMirrorJobs.ReadState(dir) is not null;
        if (drive)
        {
            _driveMirror!.RegisterRemote(spec.Id, dir, spec.CheckpointDirectory, async token =>
            {
                using var both = CancellationTokenSource.CreateLinkedTokenSource(token, ct);
                await FetchForDriveAsync(spec, a, both.Token).ConfigureAwait(false);
            });
        }
        try
        {
            while (!ct.IsCancellationRequested)
            {
                if (a.Stop.IsCancellationRequested && termSent is null)
                {
                    Log(dir, "stop requested: SIGTERM to the worker on the runtime");
                    await SignalAsync(a.RuntimeId, remote, 15, ct).ConfigureAwait(false);
                    termSent = DateTime.UtcNow;
                }
                else if (termSent is { } sent && !killed && DateTime.UtcNow - sent > TimeSpan.FromSeconds(spec.GraceSeconds))
                {
                    Log(dir, $"worker did not exit within {spec.GraceSeconds} s of SIGTERM: SIGKILL");
                    await SignalAsync(a.RuntimeId, remote, 9, ct).ConfigureAwait(false);
                    killed = true;
                }
                IReadOnlyList<RuntimeFileEntry> entries;
                try
                {
                    entries = await _files.ListAsync(a.RuntimeId, remote.JobFolder, ct).ConfigureAwait(false);
                }
                catch (JupyterException e) when (e.Kind == JupyterErrorKind.NotFound && !_runtimes.List().Any(r => r.Id == a.RuntimeId))
                {
                    Update(dir, _jobs.ReadStatus(spec.Id) with { State = TrainingStates.Lost, LastError = $"runtime {a.RuntimeId} was disconnected; connect it again and the job re-attaches" });
                    return;
                }
                catch (Exception e) when (e is JupyterException or HttpRequestException or IOException)
                {
                    // The server restarts or the network blips: the runner goes on; try again.
                    _logger.LogDebug("remote job {Job}: polling failed: {Error}", spec.Id, e.Message);
                    await Task.Delay(TimeSpan.FromSeconds(2), ct).ConfigureAwait(false);
                    continue;
                }
                var byName = entries.ToDictionary(e => e.Name, StringComparer.Ordinal);
                foreach (var name in new[] { TrainingJobs.WorkerLog, TrainingJobs.MetricsFile })
                {
                    // A big file is fetched whole: while the worker runs, at most every 10 s; always once it has ended.
                    if (byName.TryGetValue(name, out var e) && e.Size is long size && (!sizes.TryGetValue(name, out var before) || before != size)
                        && (size <= MirrorEveryTimeBytes || byName.ContainsKey("exit") || !mirrored.TryGetValue(name, out var at) || DateTime.UtcNow - at > TimeSpan.FromSeconds(10)))
                    {
                        mirrored[name] = DateTime.UtcNow;
                        await _files.DownloadAsync(a.RuntimeId, $"{remote.JobFolder}/{name}", Path.Combine(dir, name), overwrite: true, cancellationToken: ct).ConfigureAwait(false);
                        sizes[name] = size;
                    }
                }
                if (spec.Mirror is not null && (DateTime.UtcNow >= mirrorNext || byName.ContainsKey("exit")))
                {
                    // Every 2 s while it runs, and once more when the worker has ended (its checkpoint on SIGTERM, its last one).
                    mirrorNext = DateTime.UtcNow + MirrorInterval;
                    await MirrorCheckpointsAsync(spec, a, mirror, ct).ConfigureAwait(false);
                }
                if (drive && (DateTime.UtcNow >= driveNext || byName.ContainsKey("exit")))
                {
                    driveNext = DateTime.UtcNow + MirrorInterval;
                    await FetchForDriveAsync(spec, a, ct).ConfigureAwait(false);
                }
                if (byName.TryGetValue("heartbeat", out var hb) && hb.LastModified != lastBeat)
                {
                    lastBeat = hb.LastModified;
                    beatSeen = DateTime.UtcNow;
                }
                int? code = null;
                string? why = null;
                if (byName.TryGetValue("exit", out var exitEntry))
                {
                    var text = exitEntry.Size is > 16 ? "" : await ReadSmallAsync(a.RuntimeId, $"{remote.JobFolder}/exit", ct).ConfigureAwait(false);
                    code = ParseExit(text);
                    if (code is null)
                    {
                        code = 1;
                        why = "the runner's exit file on the runtime is malformed";
                    }
                }
                else if (DateTime.UtcNow - beatSeen > HeartbeatTimeout && DateTime.UtcNow - launchedAt > HeartbeatTimeout)
                {
                    code = termSent is null ? 137 : 143;
                    why = lastBeat is null ? "the worker never started on the runtime (no heartbeat)" : "the runner on the runtime stopped beating (the runtime restarted or was preempted)";
                }
                if (code is int c)
                {
                    var status = _jobs.ReadStatus(spec.Id);
                    if (termSent is not null)
                    {
                        Log(dir, $"stopped; worker exit code {c}");
                        Finish(spec, a, status with { State = TrainingStates.Stopped, WorkerPid = null, LastExitCode = c });
                        return;
                    }
                    if (c == 0)
                    {
                        Log(dir, "worker finished");
                        Finish(spec, a, status with { State = TrainingStates.Succeeded, WorkerPid = null, LastExitCode = 0, LastError = null });
                        return;
                    }
                    var error = why ?? $"worker exited with {(c > 128 ? $"signal {c - 128}" : $"exit code {c}")}: {TrainingJobs.Tail(Path.Combine(dir, TrainingJobs.WorkerLog), 8).Replace('\n', ' ').Trim()}".TrimEnd(' ', ':');
                    attemptsThisRun++;
                    if (status.Restarts >= spec.MaxRestarts)
                    {
                        Log(dir, $"giving up after {status.Restarts} restarts; {error}");
                        Finish(spec, a, status with
                        {
                            State = TrainingStates.Failed, WorkerPid = null, LastExitCode = c,
                            LastError = $"stopped after {status.Restarts} restart(s) (limit {spec.MaxRestarts}); last error: {error}",
                        });
                        return;
                    }
                    var delay = TimeSpan.FromSeconds(Math.Min(60, spec.BackoffSeconds * Math.Pow(2, attemptsThisRun - 1)));
                    status = Update(dir, status with { State = TrainingStates.Restarting, LastExitCode = c, LastError = error, Restarts = status.Restarts + 1 });
                    Log(dir, $"{error}; restarting in {delay.TotalSeconds:0.##} s");
                    try
                    {
                        await Task.Delay(delay, a.Stop.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        Finish(spec, a, status with { State = TrainingStates.Stopped });
                        return;
                    }
                    await LaunchAsync(spec, a.RuntimeId, status.Restarts, resume: true, ct).ConfigureAwait(false);
                    Update(dir, status with { State = TrainingStates.Running });
                    launchedAt = beatSeen = DateTime.UtcNow;
                    lastBeat = null;
                    continue;
                }
                await Task.Delay(TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // the daemon is stopping: the runner goes on; a later daemon re-attaches
        }
        catch (Exception e) when (e is TrainingException or JupyterException or IOException or HttpRequestException)
        {
            Log(dir, $"supervising failed: {e.Message}");
            Update(dir, _jobs.ReadStatus(spec.Id) with { State = TrainingStates.Lost, LastError = $"supervising on the runtime failed: {e.Message}" });
        }
        finally
        {
            _driveMirror?.UnregisterRemote(spec.Id);
            _attached.TryRemove(spec.Id, out _);
        }
    }

    private void Finish(TrainingJobSpec spec, Attached a, TrainingJobStatus status)
    {
        var dir = _jobs.DirectoryOf(spec.Id);
        Update(dir, status);
        if (a.WebhookUrl is { } url && status.State is TrainingStates.Succeeded or TrainingStates.Failed)
        {
            var progress = TrainingService.ReadProgress(Path.Combine(dir, TrainingJobs.MetricsFile));
            var payload = new TrainWebhookPayload(spec.Id, status.State, status.Restarts,
                TrainingWebhook.Summary(spec.Id, status.State, status.Restarts, status.LastError, progress), status.LastError, progress);
            _ = Task.Run(async () =>
            {
                using var http = TrainingWebhook.CreateClient();
                Log(dir, await TrainingWebhook.SendAsync(http, url, payload, TrainingWebhook.DefaultTimeout, CancellationToken.None).ConfigureAwait(false));
            });
        }
    }

    /// <summary>How often the checkpoint manifest on the runtime is looked at while the job has a mirror.</summary>
    public static readonly TimeSpan MirrorInterval = TimeSpan.FromSeconds(2);

    /// <summary>The local folder (in the job's directory) where payloads fetched from the runtime wait for <see cref="CheckpointMirror.Sync"/>; emptied after every pass.</summary>
    public const string MirrorStaging = "mirror-staging";

    /// <summary>The local folder (in the job's directory) where payloads fetched from the runtime for Drive wait to be committed into the job's local checkpoint directory; emptied after every pass.</summary>
    public const string DriveStaging = "drive-staging";

    private sealed class MirrorState
    {
        public (DateTimeOffset?, long?) Stamp { get; set; }
        public long? Step { get; set; }
        public string? Error { get; set; }
    }

    /// <summary>
    /// Mirrors the job's checkpoints from the runtime: when the manifest there changed, it is fetched,
    /// each of its newest <c>keep</c> payloads the mirror does not hold yet is fetched through the
    /// contents API into <see cref="MirrorStaging"/>, and <see cref="CheckpointMirror.Sync"/> verifies
    /// size and sha256 against that manifest and commits them into the mirror atomically (temp name,
    /// fsync, rename, dir fsync, then the mirror's manifest; pruning last). A failure never touches what
    /// the mirror holds; it is logged once, shown as mirrorError, and retried.
    /// </summary>
    private async Task MirrorCheckpointsAsync(TrainingJobSpec spec, Attached a, MirrorState state, CancellationToken ct)
    {
        var dir = _jobs.DirectoryOf(spec.Id);
        if (await FetchCheckpointsAsync(spec, a.RuntimeId, spec.Mirror!, Path.Combine(dir, MirrorStaging), state, $"mirroring to {spec.Mirror} failed", ct).ConfigureAwait(false) is not { } result)
        {
            return;
        }
        if (result.Copied > 0)
        {
            Log(dir, $"mirrored {result.Copied} checkpoint(s) from the runtime to {spec.Mirror} (newest step {result.NewestStep})");
        }
        if (result.Error is not null && result.Error != state.Error)
        {
            Log(dir, result.Error);
        }
        else if (result.Error is null && state.Error is not null)
        {
            Log(dir, $"mirroring to {spec.Mirror} works again");
        }
        var changed = result.Error != state.Error || (result.NewestStep ?? state.Step) != state.Step;
        state.Error = result.Error;
        state.Step = result.NewestStep ?? state.Step;
        if (changed)
        {
            Update(dir, _jobs.ReadStatus(spec.Id) with { MirroredStep = state.Step, MirrorError = state.Error });
        }
    }

    /// <summary>
    /// For a job with a Drive folder: the runtime's new checkpoints are fetched and committed, verified, into the
    /// job's local checkpoint directory (the staging folder between the runtime and Drive), and a Drive pass
    /// (<see cref="DriveMirrorJobs.Poll"/>) uploads them from there. A failure is <c>driveMirrorError</c> and retried.
    /// </summary>
    private async Task FetchForDriveAsync(TrainingJobSpec spec, Attached a, CancellationToken ct)
    {
        var dir = _jobs.DirectoryOf(spec.Id);
        await a.DriveFetch.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var state = a.DriveState;
            MirrorResult? result;
            try
            {
                Directory.CreateDirectory(spec.CheckpointDirectory);
                result = await FetchCheckpointsAsync(spec, a.RuntimeId, spec.CheckpointDirectory, Path.Combine(dir, DriveStaging), state, "mirroring to Drive failed", ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                result = new MirrorResult(0, null, $"mirroring to Drive failed: the local staging folder {spec.CheckpointDirectory}: {e.Message}; trying again");
            }
            if (result is not null)
            {
                if (result.Copied > 0)
                {
                    Log(dir, $"fetched {result.Copied} verified checkpoint(s) from the runtime for Drive (newest step {result.NewestStep})");
                }
                if (result.Error is not null && result.Error != state.Error)
                {
                    Log(dir, result.Error);
                }
                else if (result.Error is null && state.Error is not null)
                {
                    Log(dir, "fetching checkpoints from the runtime for Drive works again");
                }
                state.Error = result.Error;
                DriveMirrorJobs.SetFetchError(dir, result.Error);
            }
            _driveMirror?.Poll(spec.Id, dir, spec.CheckpointDirectory);
        }
        finally
        {
            a.DriveFetch.Release();
        }
    }

    /// <summary>
    /// When the checkpoint manifest on the runtime changed: it is fetched, each of its newest <c>keep</c>
    /// payloads <paramref name="target"/> does not hold yet is fetched through the contents API into
    /// <paramref name="staging"/> (not one whose size on the runtime differs from the manifest's), and
    /// <see cref="CheckpointMirror.Sync"/> verifies size and sha256 against that manifest and commits them into
    /// <paramref name="target"/> atomically (temp name, fsync, rename, dir fsync, then its manifest; pruning last).
    /// A failure never touches what <paramref name="target"/> holds. Null when the manifest did not change.
    /// </summary>
    private async Task<MirrorResult?> FetchCheckpointsAsync(TrainingJobSpec spec, string runtimeId, string target, string staging, MirrorState state, string failed, CancellationToken ct)
    {
        var remoteDir = spec.Remote!.CheckpointPath;
        MirrorResult result;
        (DateTimeOffset?, long?) stamp;
        try
        {
            IReadOnlyList<RuntimeFileEntry> entries;
            try
            {
                entries = await _files.ListAsync(runtimeId, remoteDir, ct).ConfigureAwait(false);
            }
            catch (JupyterException e) when (e.Kind == JupyterErrorKind.NotFound)
            {
                return null; // no checkpoint yet
            }
            if (entries.FirstOrDefault(e => e.Name == CheckpointStore.ManifestName && e.Type == "file") is not { } manifestEntry)
            {
                return null;
            }
            stamp = (manifestEntry.LastModified, manifestEntry.Size);
            if (stamp == state.Stamp)
            {
                return null;
            }
            if (manifestEntry.Size is > 16 * 1024 * 1024)
            {
                throw new CheckpointException($"the checkpoint manifest on the runtime is too large ({manifestEntry.Size} bytes)");
            }
            Directory.CreateDirectory(staging);
            var fetched = Path.Combine(staging, "." + CheckpointStore.ManifestName + ".fetched");
            await _files.DownloadAsync(runtimeId, $"{remoteDir}/{CheckpointStore.ManifestName}", fetched, overwrite: true, cancellationToken: ct).ConfigureAwait(false);
            var raw = await File.ReadAllBytesAsync(fetched, ct).ConfigureAwait(false);
            var manifest = CheckpointStore.Parse(raw, $"{remoteDir}/{CheckpointStore.ManifestName} on runtime {runtimeId}");
            IReadOnlyList<CheckpointEntry> held;
            try
            {
                held = Directory.Exists(target) ? CheckpointMirror.Held(target, manifest.Model, spec.CheckpointKeep) : [];
            }
            catch (CheckpointException)
            {
                held = []; // Sync says what is wrong with the target
            }
            var listed = entries.Where(e => e.Type == "file").ToDictionary(e => e.Name, e => e.Size, StringComparer.Ordinal);
            string? refused = null;
            foreach (var e in manifest.Checkpoints.OrderByDescending(c => c.Step).Take(spec.CheckpointKeep))
            {
                if (held.Any(h => h.File == e.File && h.Size == e.Size && string.Equals(h.Sha256, e.Sha256, StringComparison.OrdinalIgnoreCase)) || !listed.TryGetValue(e.File, out var size))
                {
                    continue; // held already; or pruned on the runtime since the listing (Sync tells if that loses anything)
                }
                if (size is long actual && actual != e.Size)
                {
                    // A manifest that lies about the size (or a payload torn on the runtime): not even fetched.
                    refused ??= $"checkpoint step {e.Step} was not mirrored: the runtime's copy is {actual} bytes but its manifest says {e.Size}";
                    continue;
                }
                // The listing and the stream may disagree (the file changed in between, or a hostile server): stop once past the size.
                using var cut = CancellationTokenSource.CreateLinkedTokenSource(ct);
                try
                {
                    await _files.DownloadAsync(runtimeId, $"{remoteDir}/{e.File}", Path.Combine(staging, e.File), overwrite: true,
                        progress: p => { if (p.Done > e.Size) { cut.Cancel(); } }, cancellationToken: cut.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    refused ??= $"checkpoint step {e.Step} was not mirrored: the runtime sent more than the {e.Size} bytes its manifest says";
                }
            }
            File.Move(fetched, Path.Combine(staging, CheckpointStore.ManifestName), overwrite: true);
            result = CheckpointMirror.Sync(staging, target, spec.CheckpointKeep);
            if (refused is not null && (result.Error is null || !result.Error.StartsWith("mirroring to", StringComparison.Ordinal)))
            {
                result = result with { Error = refused };
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e) when (e is JupyterException or HttpRequestException or IOException or UnauthorizedAccessException or CheckpointException or ArgumentException or TargetExistsException)
        {
            // Fetching failed (the server restarts, the network blips, a file vanished): the same manifest is tried again.
            stamp = state.Stamp;
            result = new MirrorResult(0, null, $"{failed}: fetching from the runtime: {e.Message}; trying again");
        }
        finally
        {
            EmptyStaging(staging);
        }
        state.Stamp = stamp;
        return result;
    }

    private static void EmptyStaging(string staging)
    {
        try
        {
            if (Directory.Exists(staging))
            {
                foreach (var f in Directory.EnumerateFiles(staging))
                {
                    File.Delete(f);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // emptied at the next pass
        }
    }

    /// <summary>
    /// A new job with a mirror or a Drive folder on a runtime that has none of its checkpoints (a fresh runtime
    /// after the old one is gone): the newest checkpoint that verifies — in the mirror, or restored from Drive
    /// into the job's local checkpoint directory (<see cref="TrainingService"/> did that) — is uploaded into the
    /// job's checkpoint folder there (chunked, to a temporary name, renamed into place): payload first, then a
    /// manifest naming it, so the worker resumes from it. True when seeded.
    /// </summary>
    private async Task<bool> SeedAsync(TrainingJobSpec spec, string runtimeId, CancellationToken cancellationToken)
    {
        var dir = _jobs.DirectoryOf(spec.Id);
        var candidates = new List<(CheckpointEntry Entry, string Model, string Path, string From)>();
        if (spec.Mirror is not null)
        {
            try
            {
                if (CheckpointMirror.NewestHeld(spec.Mirror, spec.CheckpointKeep, m => Log(dir, $"mirror: {m}")) is { } m)
                {
                    candidates.Add((m.Entry, m.Model, m.Path, $"the mirror: uploaded checkpoint step {m.Entry.Step} ({m.Entry.Size} bytes) from {spec.Mirror}"));
                }
            }
            catch (Exception e) when (e is CheckpointException or IOException or UnauthorizedAccessException)
            {
                Log(dir, $"the mirror {spec.Mirror} is not usable to resume from: {e.Message}; starting without it");
            }
        }
        if (DriveMirrorJobs.ReadState(dir) is { } drive && Directory.Exists(spec.CheckpointDirectory))
        {
            try
            {
                if (CheckpointMirror.NewestHeld(spec.CheckpointDirectory, spec.CheckpointKeep, m => Log(dir, $"Drive: {m}")) is { } d)
                {
                    candidates.Add((d.Entry, d.Model, d.Path, $"Drive: uploaded checkpoint step {d.Entry.Step} ({d.Entry.Size} bytes) restored from Drive folder {drive.Folder}"));
                }
            }
            catch (Exception e) when (e is CheckpointException or IOException or UnauthorizedAccessException)
            {
                Log(dir, $"the checkpoint restored from Drive is not usable to resume from: {e.Message}; starting without it");
            }
        }
        if (candidates.Count == 0)
        {
            return false;
        }
        var n = candidates.MaxBy(c => c.Entry.Step);
        var remoteDir = spec.Remote!.CheckpointPath;
        var manifest = Path.Combine(Path.GetTempPath(), $"colab-seed-{Guid.NewGuid():N}.json");
        try
        {
            await File.WriteAllBytesAsync(manifest, CheckpointMirror.ManifestBytes(n.Model, [n.Entry]), cancellationToken).ConfigureAwait(false);
            await _files.UploadAsync(runtimeId, n.Path, $"{remoteDir}/{n.Entry.File}", overwrite: true, cancellationToken: cancellationToken).ConfigureAwait(false);
            await _files.UploadAsync(runtimeId, manifest, $"{remoteDir}/{CheckpointStore.ManifestName}", overwrite: true, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(manifest);
        }
        Log(dir, $"resuming from {n.From} to the runtime");
        return true;
    }

    /// <summary>Starts the runner on the runtime from a hidden kernel (parameters as base64 JSON: nothing of the command is spliced into code).</summary>
    private async Task LaunchAsync(TrainingJobSpec spec, string runtimeId, int restarts, bool resume, CancellationToken cancellationToken)
    {
        var remote = spec.Remote!;
        var env = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["COLAB_JOB_ID"] = spec.Id,
            ["COLAB_CHECKPOINT_KEEP"] = spec.CheckpointKeep.ToString(CultureInfo.InvariantCulture),
            ["COLAB_RESTART_COUNT"] = restarts.ToString(CultureInfo.InvariantCulture),
        };
        if (spec.CheckpointEvery is int every)
        {
            env["COLAB_CHECKPOINT_EVERY"] = every.ToString(CultureInfo.InvariantCulture);
        }
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("jobDir", remote.JobFolder);
            w.WriteString("codeDir", remote.CodeFolder);
            w.WriteString("checkpointDir", remote.CheckpointFolder ?? "checkpoints");
            w.WriteBoolean("resume", resume);
            w.WriteStartArray("command");
            foreach (var arg in spec.Command)
            {
                w.WriteStringValue(arg);
            }
            w.WriteEndArray();
            w.WriteStartObject("env");
            foreach (var (k, v) in env)
            {
                w.WriteString(k, v);
            }
            w.WriteEndObject();
            w.WriteEndObject();
        }
        var parameters = Convert.ToBase64String(buffer.ToArray());
        var code = $$"""
            import base64, json, os, subprocess, sys
            p = json.loads(base64.b64decode("{{parameters}}").decode("utf-8"))
            d = os.path.abspath(p["jobDir"]); c = os.path.abspath(p["codeDir"])
            ck = os.path.join(d, os.path.basename(p["checkpointDir"]))
            os.makedirs(ck, exist_ok=True)
            for n in ("exit", "runner.pid", "heartbeat"):
                try: os.remove(os.path.join(d, n))
                except FileNotFoundError: pass
            env = {k: v for k, v in os.environ.items() if not k.startswith("COLAB_") and not k.startswith("JPY_")}
            env.update(p["env"])
            env["COLAB_CHECKPOINT_DIR"] = ck
            env["COLAB_METRICS_FILE"] = os.path.join(d, "metrics.jsonl")
            if p["resume"]: env["COLAB_RESUME_FROM"] = env["COLAB_CHECKPOINT_DIR"]
            env["PYTHONPATH"] = d + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
            env["PYTHONUNBUFFERED"] = "1"
            argv = list(p["command"])
            if argv[0] in ("python", "python3"): argv[0] = sys.executable
            out = open(os.path.join(d, "runner.log"), "ab")
            subprocess.Popen([sys.executable, os.path.join(d, "{{RunnerName}}"), d, "--"] + argv, cwd=c, env=env,
                             stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
            print("colab-launched")
            """;
        var stdout = await RunHiddenAsync(runtimeId, code, cancellationToken).ConfigureAwait(false);
        if (!stdout.Contains("colab-launched", StringComparison.Ordinal))
        {
            throw new TrainingException($"the worker could not be launched on runtime {runtimeId}: {stdout.Trim()}");
        }
        Log(_jobs.DirectoryOf(spec.Id), $"worker launched on runtime {runtimeId} (restart {restarts}){(resume ? ", resuming from the newest verified checkpoint" : "")}");
    }

    /// <summary>Signals the runner's process group on the runtime (the runner is a session leader: its pid is the group).</summary>
    private async Task SignalAsync(string runtimeId, RemoteJobSpec remote, int signal, CancellationToken cancellationToken)
    {
        int? pid;
        try
        {
            pid = ParsePid(await ReadSmallAsync(runtimeId, $"{remote.JobFolder}/runner.pid", cancellationToken).ConfigureAwait(false));
        }
        catch (JupyterException e) when (e.Kind == JupyterErrorKind.NotFound)
        {
            return; // not started (or already cleaned up): nothing to signal
        }
        if (pid is not int p)
        {
            throw new TrainingException("the runner's pid file on the runtime is malformed; not signalling anything");
        }
        // SIGTERM to the runner only (it passes it to the worker, which checkpoints); SIGKILL to the whole group.
        var call = signal == 9 ? $"os.killpg({p}, 9)" : $"os.kill({p}, {signal})";
        await RunHiddenAsync(runtimeId, $"import os\ntry:\n    {call}\nexcept ProcessLookupError:\n    pass\nprint('colab-signalled')", cancellationToken).ConfigureAwait(false);
    }

    private async Task<string> ReadSmallAsync(string runtimeId, string remotePath, CancellationToken cancellationToken)
    {
        var tmp = Path.Combine(Path.GetTempPath(), $"colab-remote-{Guid.NewGuid():N}");
        try
        {
            await _files.DownloadAsync(runtimeId, remotePath, tmp, overwrite: true, cancellationToken: cancellationToken).ConfigureAwait(false);
            var info = new FileInfo(tmp);
            return info.Length > 64 ? "" : await File.ReadAllTextAsync(tmp, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(tmp);
        }
    }

    /// <summary>Runs code in a hidden, short-lived kernel on the runtime (started at the server's root); returns its stdout.</summary>
    private async Task<string> RunHiddenAsync(string runtimeId, string code, CancellationToken cancellationToken)
    {
        var source = _runtimes.Client(runtimeId);
        using var client = new JupyterClient(source.Endpoint, source.Token);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(StartTimeout);
        var kernel = await client.StartKernelAsync(path: "", cancellationToken: limit.Token).ConfigureAwait(false);
        _runtimes.HideKernel(runtimeId, kernel.Id);
        try
        {
            var connection = await KernelConnection.ConnectAsync(client, kernel.Id, logger: _logger, cancellationToken: limit.Token).ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            {
                var execution = await connection.ExecuteAsync(code, new ExecuteOptions { Silent = false, StoreHistory = false }, limit.Token).ConfigureAwait(false);
                var result = await execution.CollectAsync(limit.Token).ConfigureAwait(false);
                if (result.Reply.Status != "ok")
                {
                    throw new TrainingException($"code on runtime {runtimeId} failed: {result.Reply.Ename}: {result.Reply.Evalue}");
                }
                return result.Stdout;
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TrainingException($"runtime {runtimeId} did not run the job's launcher within {StartTimeout.TotalSeconds:0} s");
        }
        finally
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await client.DeleteKernelAsync(kernel.Id, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is JupyterException or OperationCanceledException or HttpRequestException)
            {
                _logger.LogDebug("hidden kernel {Kernel} not shut down: {Error}", kernel.Id, e.Message);
            }
        }
    }

    private static TrainingJobStatus Update(string dir, TrainingJobStatus status)
    {
        var s = status with { UpdatedAt = DateTimeOffset.UtcNow };
        TrainingJobs.WriteStatus(dir, s);
        return s;
    }

    private void Log(string dir, string message)
    {
        _logger.LogInformation("remote training job {Job}: {Message}", Path.GetFileName(dir), message);
        try
        {
            File.AppendAllText(Path.Combine(dir, TrainingJobs.SupervisorLog), $"{DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} [supervisor] {message}\n", Encoding.UTF8);
        }
        catch (IOException)
        {
        }
    }

    public void Dispose()
    {
        _runtimes.Changed -= Reattach;
        _disposed.Cancel();
    }
}
