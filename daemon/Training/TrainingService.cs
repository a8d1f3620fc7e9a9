using System.Text;
using System.Text.Json;
using Colab.Daemon.Gpu;
using Colab.Daemon.Protocol;
using Colab.Daemon.Runtimes;
using Colab.Daemon.Runtimes.Files;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Colab.Daemon.Training;

/// <summary>The daemon's side of training jobs: start/stop through <see cref="TrainingJobs"/>, and job info with progress read from the job directory.</summary>
public sealed class TrainingService : IDisposable
{
    public const int MaxLogChunk = 1 << 20;

    private readonly GpuService? _gpu;
    private readonly RuntimeManager? _runtimes;
    private readonly ILogger _logger;
    private readonly RuntimeGpuService? _runtimeGpu;
    private readonly RemoteJobs? _remote;
    private readonly DriveMirrorJobs? _driveMirror;

    public TrainingService(GpuService gpu, RuntimeManager runtimes, RuntimeFiles files, RuntimeGpuService runtimeGpu, DriveMirrorJobs driveMirror, ILogger<TrainingService> logger)
        : this(TrainingJobs.DefaultRoot(), gpu, runtimes, logger, files, runtimeGpu, driveMirror)
    {
    }

    /// <param name="gpu">This host's GPUs, for the required-GPU check (none: a job that requires a GPU is refused).</param>
    /// <param name="runtimes">The connected runtimes, for <c>runtimeId</c> and <c>onDone: disconnect</c>.</param>
    /// <param name="driveMirror">Mirroring to a Drive folder through the Drive sign-in (none: <c>driveFolder</c> is refused).</param>
    public TrainingService(string root, GpuService? gpu = null, RuntimeManager? runtimes = null, ILogger? logger = null, RuntimeFiles? files = null, RuntimeGpuService? runtimeGpu = null, DriveMirrorJobs? driveMirror = null)
    {
        _driveMirror = driveMirror;
        Jobs = new TrainingJobs(root);
        _gpu = gpu;
        _runtimes = runtimes;
        _logger = logger ?? NullLogger.Instance;
        _runtimeGpu = runtimeGpu;
        _remote = runtimes is not null && files is not null ? new RemoteJobs(Jobs, runtimes, files, _logger, driveMirror) : null;
    }

    public void Dispose() => _remote?.Dispose();

    /// <summary>Stops a job: a local one through its supervisor process, a remote one through this daemon.</summary>
    public void RequestStop(string id)
    {
        if (Jobs.ReadSpec(id).Remote is not null && !TrainingStates.IsFinal(Jobs.ReadStatus(id).State))
        {
            (_remote ?? throw new TrainingException("this daemon cannot reach runtimes")).RequestStop(id);
            return;
        }
        Jobs.RequestStop(id);
    }

    public TrainingJobs Jobs { get; }

    public async Task<TrainJobInfo> StartAsync(TrainStartParams p, CancellationToken cancellationToken)
    {
        IReadOnlyList<string> command;
        if (p.Example)
        {
            var python = Environment.GetEnvironmentVariable("COLAB_PYTHON") is { Length: > 0 } py ? py : File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
            command = [python, TrainingJobs.ExampleScript, "--epochs", (p.Epochs ?? 8).ToString(System.Globalization.CultureInfo.InvariantCulture)];
        }
        else if (p.Command is { Count: > 0 } c && c.All(a => a is not null) && !string.IsNullOrWhiteSpace(c[0]))
        {
            command = c;
        }
        else
        {
            throw new TrainingException("Invalid params: give a command (argv) or example: true");
        }
        if (p.MaxRestarts is < 0 or > 1000 || p.Keep is < 1 or > 1000 || p.CheckpointEvery is < 1 || p.GraceSeconds is < 0 or > 3600 || p.Epochs is < 1 or > 10000)
        {
            throw new TrainingException("Invalid params: maxRestarts 0–1000, keep 1–1000, checkpointEvery ≥ 1, graceSeconds 0–3600, epochs 1–10000");
        }
        if (p.WorkingDirectory is { } wd && !Directory.Exists(wd))
        {
            throw new TrainingException($"Invalid params: the working directory {wd} does not exist");
        }
        var onDone = p.OnDone ?? TrainingOnDone.Notify;
        if (onDone is not (TrainingOnDone.Notify or TrainingOnDone.Disconnect))
        {
            throw new TrainingException("Invalid params: onDone is \"notify\" or \"disconnect\"");
        }
        if (p.WebhookUrl is { } hook)
        {
            TrainingWebhook.Validate(hook);
        }
        IReadOnlyList<string> required;
        try
        {
            required = GpuCheck.ValidateRequired(p.RequiredGpu);
        }
        catch (ArgumentException e)
        {
            throw new TrainingException($"Invalid params: {e.Message}");
        }
        var (runtimeId, runtime) = CheckRuntime(p.RuntimeId, onDone);
        if (runtime is { Kind: "remote" })
        {
            return await StartRemoteAsync(p, command, required, onDone, runtime, cancellationToken).ConfigureAwait(false);
        }
        if (p.SyncGlobs is not null)
        {
            throw new TrainingException("Invalid params: syncGlobs is for jobs on a remote runtime");
        }
        if (required.Count > 0)
        {
            await RequireGpuAsync(_gpu, required, runtimeId, cancellationToken).ConfigureAwait(false);
        }
        if (p.DriveFolder is { } wanted)
        {
            DriveMirrorJobs.ValidateFolder(wanted);
            if (_driveMirror?.Connected != true)
            {
                throw new TrainingException(DriveMirrorJobs.NotConnected);
            }
        }
        var spec = Jobs.Create(command, p.WorkingDirectory, p.CheckpointDirectory, p.MaxRestarts, p.Keep, p.CheckpointEvery, 2, p.GraceSeconds,
            requiredGpu: required, onDone: onDone, runtimeId: runtimeId, webhook: p.WebhookUrl is not null, mirror: p.Mirror);
        if (p.DriveFolder is { } driveFolder)
        {
            await RestoreFromDriveAsync(spec, driveFolder, cancellationToken).ConfigureAwait(false);
        }
        await Jobs.LaunchAsync(spec.Id, TrainingJobs.SelfCommand(), cancellationToken, p.WebhookUrl).ConfigureAwait(false);
        return Info(spec.Id);
    }

    /// <summary>Before a job with a Drive folder starts: the folder is recorded, and a newer checkpoint there is restored into the job's directory.</summary>
    private async Task RestoreFromDriveAsync(TrainingJobSpec spec, string folder, CancellationToken cancellationToken)
    {
        var dir = Jobs.DirectoryOf(spec.Id);
        try
        {
            DriveMirrorJobs.Attach(dir, folder, spec.CheckpointKeep);
            var step = await _driveMirror!.RestoreAsync(folder, spec.CheckpointDirectory, spec.CheckpointKeep, dir, m =>
            {
                _logger.LogInformation("training job {Job}: {Message}", spec.Id, m);
                if (spec.Remote is not null)
                {
                    // A remote job's supervisor is this daemon: its log is where the user reads what happened.
                    File.AppendAllText(Path.Combine(dir, TrainingJobs.SupervisorLog), $"{DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} [supervisor] {m}\n", Encoding.UTF8);
                }
            }, cancellationToken).ConfigureAwait(false);
            if (step is not null)
            {
                _logger.LogInformation("training job {Job}: resumes from checkpoint step {Step} restored from Drive", spec.Id, step);
            }
        }
        catch (Exception e) when (e is TrainingException or CheckpointException or IOException or UnauthorizedAccessException or OperationCanceledException)
        {
            var s = Jobs.ReadStatus(spec.Id);
            TrainingJobs.WriteStatus(dir, s with { State = TrainingStates.Failed, LastError = $"not started: {e.Message}", UpdatedAt = DateTimeOffset.UtcNow });
            throw;
        }
    }

    /// <summary>A job on a remote runtime: the GPU check there, the code sync, the runner started detached on the runtime, supervised by this daemon.</summary>
    private async Task<TrainJobInfo> StartRemoteAsync(TrainStartParams p, IReadOnlyList<string> command, IReadOnlyList<string> required, string onDone,
        RuntimeInfo runtime, CancellationToken cancellationToken)
    {
        if (_remote is null)
        {
            throw new TrainingException("this daemon cannot reach runtimes");
        }
        if (p.Example)
        {
            throw new TrainingException("Invalid params: the built-in example runs on the daemon's host; on a remote runtime give your command (its files are synced)");
        }
        if (p.DriveFolder is { } wanted)
        {
            DriveMirrorJobs.ValidateFolder(wanted);
            if (_driveMirror?.Connected != true)
            {
                throw new TrainingException(DriveMirrorJobs.NotConnected);
            }
        }
        if (p.CheckpointDirectory is not null)
        {
            throw new TrainingException("Invalid params: on a remote runtime checkpoints go to the job's folder (colab-training/jobs/ID/ckpt); checkpointDirectory is for local jobs");
        }
        var globs = CodeSync.ValidateGlobs(p.SyncGlobs);
        var workspace = p.WorkingDirectory ?? Environment.GetEnvironmentVariable("COLAB_WORKSPACE") ?? Environment.CurrentDirectory;
        if (required.Count > 0)
        {
            var snapshot = _runtimeGpu is null
                ? throw new TrainingGpuMismatchException($"{string.Join(" or ", required)} is required, but this daemon cannot read the runtime's GPUs; the job was not started")
                : await _runtimeGpu.SnapshotAsync(runtime.Id, cancellationToken).ConfigureAwait(false);
            var result = GpuCheck.Check(runtime.Id, $"Runtime {runtime.Id}", snapshot, required);
            if (result.Matches != true)
            {
                throw new TrainingGpuMismatchException($"{result.Message} The job was not started (change requiredGpu in the task, or the colab.gpu.required setting).");
            }
        }
        _ = CodeSync.Select(workspace, globs);
        var id = TrainingJobs.NewId();
        var remote = new RemoteJobSpec(runtime.Url, $"{RemoteJobs.RemoteRoot}/jobs/{id}", $"{RemoteJobs.RemoteRoot}/code", globs, RemoteJobSpec.DefaultCheckpointFolder);
        var spec = Jobs.Create(command, workspace, null, p.MaxRestarts, p.Keep, p.CheckpointEvery, 2, p.GraceSeconds, id: id,
            requiredGpu: required, onDone: onDone, runtimeId: runtime.Id, webhook: p.WebhookUrl is not null, remote: remote, mirror: p.Mirror);
        if (p.DriveFolder is { } driveFolder)
        {
            // The job's local checkpoint directory is the staging folder between the runtime and Drive:
            // Drive's newest verified checkpoint is restored into it here and uploaded to the runtime before the worker starts.
            await RestoreFromDriveAsync(spec, driveFolder, cancellationToken).ConfigureAwait(false);
        }
        try
        {
            await _remote.StartAsync(spec, runtime.Id, workspace, p.WebhookUrl, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TrainingException or JupyterException or IOException or HttpRequestException or UnauthorizedAccessException)
        {
            var s = Jobs.ReadStatus(id);
            TrainingJobs.WriteStatus(Jobs.DirectoryOf(id), s with { State = TrainingStates.Failed, LastError = $"could not start on runtime {runtime.Id}: {e.Message}", UpdatedAt = DateTimeOffset.UtcNow });
            throw new TrainingException($"could not start the job on runtime {runtime.Id}: {e.Message}");
        }
        return Info(id);
    }

    /// <summary>The runtime a job belongs to: connected; local (the job runs on the daemon's host) or remote (the job runs there).</summary>
    private (string? Id, RuntimeInfo? Runtime) CheckRuntime(string? runtimeId, string onDone)
    {
        if (runtimeId is null)
        {
            return onDone == TrainingOnDone.Disconnect
                ? throw new TrainingException("Invalid params: onDone \"disconnect\" needs the runtimeId of the runtime to disconnect")
                : (null, null);
        }
        if (runtimeId.Length is 0 or > 128 || runtimeId.Any(char.IsControl))
        {
            throw new TrainingException("Invalid params: runtimeId is not a runtime id");
        }
        if (_runtimes is null)
        {
            throw new TrainingException($"Invalid params: no runtime {runtimeId} (it was disconnected, or never connected)");
        }
        RuntimeInfo runtime;
        try
        {
            runtime = _runtimes.Get(runtimeId);
        }
        catch (JupyterException e)
        {
            throw new TrainingException($"Invalid params: {e.Message}");
        }
        return (runtimeId, runtime);
    }

    /// <summary>Refuses to start when none of this host's GPUs is one of <paramref name="required"/> (or there is no GPU).</summary>
    public static async Task RequireGpuAsync(GpuService? gpu, IReadOnlyList<string> required, string? runtimeId, CancellationToken cancellationToken)
    {
        if (gpu is null)
        {
            throw new TrainingGpuMismatchException($"{string.Join(" or ", required)} is required, but this daemon cannot read GPUs; the job was not started");
        }
        var snapshot = await gpu.SnapshotAsync(cancellationToken).ConfigureAwait(false);
        var result = GpuCheck.Check(runtimeId ?? "local", runtimeId is null ? "This host" : $"Runtime {runtimeId}", snapshot, required);
        if (result.Matches != true)
        {
            throw new TrainingGpuMismatchException($"{result.Message} The job was not started (change requiredGpu in the task, or the colab.gpu.required setting).");
        }
    }

    /// <summary>
    /// What a job asks for when it ends, besides the editor's notification: with <c>onDone:
    /// disconnect</c>, disconnects its runtime (once, whichever session sees the end first).
    /// Returns a line saying what was done, or null.
    /// </summary>
    public async Task<string?> ApplyOnDoneAsync(string jobId, CancellationToken cancellationToken)
    {
        var spec = Jobs.ReadSpec(jobId);
        if (spec.OnDone != TrainingOnDone.Disconnect || spec.RuntimeId is not { } runtimeId || _runtimes is null)
        {
            return null;
        }
        var marker = Path.Combine(Jobs.DirectoryOf(jobId), OnDoneMarker);
        try
        {
            using (new FileStream(marker, FileMode.CreateNew, FileAccess.Write))
            {
            }
        }
        catch (IOException)
        {
            return null; // another session has done it
        }
        string line;
        try
        {
            await _runtimes.DisconnectAsync(runtimeId, cancellationToken).ConfigureAwait(false);
            line = $"onDone: disconnected runtime {runtimeId}";
        }
        catch (JupyterException e)
        {
            line = $"onDone: could not disconnect runtime {runtimeId}: {e.Message}";
        }
        _logger.LogInformation("training job {Job}: {Line}", jobId, line);
        try
        {
            File.AppendAllText(Path.Combine(Jobs.DirectoryOf(jobId), TrainingJobs.WorkerLog),
                $"{DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} [daemon] {line}\n");
        }
        catch (IOException)
        {
            // the log is best effort
        }
        return line;
    }

    /// <summary>The <c>$/progress</c> title of a job being started: <c>Training: train.py</c>.</summary>
    public static string ProgressTitle(TrainStartParams p)
    {
        if (p.Example)
        {
            return "Training: the digits example";
        }
        var script = p.Command?.Skip(1).FirstOrDefault(a => !a.StartsWith('-')) ?? p.Command?.FirstOrDefault() ?? "job";
        return $"Training: {Path.GetFileName(script)}";
    }

    /// <summary>
    /// A job's <c>$/progress</c> message and percentage: <c>epoch 3 · step 120/480 · loss 0.21 · ETA 1m20s · 1 restart</c>,
    /// step × 100 / total when the worker logs <c>total_steps</c>; the state when the job is not running.
    /// </summary>
    public static (string Message, int? Percentage) ProgressReport(TrainJobInfo job)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        var parts = new List<string>();
        if (job.State != TrainingStates.Running)
        {
            parts.Add(job.State);
        }
        var p = job.Progress;
        if (p?.Epoch is long epoch)
        {
            parts.Add($"epoch {epoch}");
        }
        if (p?.Step is long step)
        {
            parts.Add(p.TotalSteps is long t && t > 0 ? $"step {step}/{t}" : $"step {step}");
        }
        if (p?.Loss is double loss)
        {
            parts.Add(string.Create(inv, $"loss {loss:0.####}"));
        }
        if (p?.Accuracy is double acc && TrainingStates.IsFinal(job.State))
        {
            parts.Add(string.Create(inv, $"accuracy {acc:0.###}"));
        }
        if (p?.SamplesPerSecond is double sps && !TrainingStates.IsFinal(job.State))
        {
            parts.Add(string.Create(inv, $"{sps:0.#} samples/s"));
        }
        if (p?.EtaSeconds is double eta && eta >= 0 && !TrainingStates.IsFinal(job.State))
        {
            var e = TimeSpan.FromSeconds(Math.Round(eta));
            parts.Add(e.TotalHours >= 1 ? $"ETA {(int)e.TotalHours}h{e.Minutes:00}m" : e.TotalMinutes >= 1 ? $"ETA {e.Minutes}m{e.Seconds:00}s" : $"ETA {e.Seconds}s");
        }
        if (job.Restarts > 0)
        {
            parts.Add(job.Restarts == 1 ? "1 restart" : $"{job.Restarts} restarts");
        }
        if (job.MirrorError is not null)
        {
            parts.Add("mirror failing");
        }
        if (job.DriveMirrorError is not null)
        {
            parts.Add("Drive mirror failing");
        }
        if (job.State == TrainingStates.Failed && job.LastError is { } err)
        {
            parts.Add(err.Length > 200 ? err[..200] + "…" : err);
        }
        int? percentage = p is { Step: long s2, TotalSteps: long total } && total > 0 ? (int)Math.Clamp(s2 * 100 / total, 0, 100) : null;
        return (parts.Count == 0 ? job.State : string.Join(" · ", parts), percentage);
    }

    public const string OnDoneMarker = "on-done.done";

    public TrainJobInfo Info(string id)
    {
        var s = Jobs.ReadStatus(id);
        var spec = Jobs.ReadSpec(id);
        var drive = DriveMirrorJobs.ReadState(Jobs.DirectoryOf(id));
        return new TrainJobInfo(s.Id, s.State, s.Restarts, s.MaxRestarts, s.WorkerPid, s.LastExitCode, s.LastError, spec.Command,
            spec.CheckpointDirectory, ReadProgress(Path.Combine(Jobs.DirectoryOf(id), TrainingJobs.MetricsFile)), s.StartedAt, s.UpdatedAt,
            spec.OnDone, spec.RuntimeId, spec.Webhook, spec.RequiredGpu, spec.Mirror, s.MirroredStep, s.MirrorError,
            drive?.Folder, drive?.MirroredStep, drive?.FetchError ?? drive?.Error);
    }

    public IReadOnlyList<TrainJobInfo> List()
        => Jobs.List().Select(s =>
        {
            try
            {
                return Info(s.Id);
            }
            catch (TrainingException)
            {
                return null;
            }
        }).OfType<TrainJobInfo>().ToList();

    public TrainLogsResult Logs(TrainLogsParams p)
    {
        if (p.Offset < 0 || p.MaxBytes is < 1 or > MaxLogChunk)
        {
            throw new TrainingException($"Invalid params: offset ≥ 0 and maxBytes 1–{MaxLogChunk}");
        }
        var ended = TrainingStates.IsFinal(Jobs.ReadStatus(p.JobId).State);
        var path = Path.Combine(Jobs.DirectoryOf(p.JobId), TrainingJobs.WorkerLog);
        if (!File.Exists(path))
        {
            return new TrainLogsResult("", 0, ended);
        }
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var offset = Math.Min(p.Offset, f.Length);
        f.Seek(offset, SeekOrigin.Begin);
        var buffer = new byte[(int)Math.Min(p.MaxBytes, f.Length - offset)];
        var n = f.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        // Never split a UTF-8 sequence: stop before a trailing partial one.
        var end = n;
        if (n == buffer.Length && offset + n < f.Length)
        {
            var back = 0;
            while (back < Math.Min(4, end) && (buffer[end - 1 - back] & 0xC0) == 0x80)
            {
                back++;
            }
            if (back < end && buffer[end - 1 - back] >= 0xC0)
            {
                end -= back + 1;
            }
        }
        var more = offset + end < f.Length;
        return new TrainLogsResult(Encoding.UTF8.GetString(buffer, 0, end), offset + end, ended && !more);
    }

    /// <summary>Whole metrics lines from <paramref name="p"/>.Offset: the finite numeric fields of each JSON object line; a partial last line waits for the next call.</summary>
    public TrainMetricsResult Metrics(TrainMetricsParams p)
    {
        if (p.Offset < 0)
        {
            throw new TrainingException("Invalid params: offset must be ≥ 0");
        }
        var path = Path.Combine(Jobs.DirectoryOf(p.JobId), TrainingJobs.MetricsFile);
        _ = Jobs.ReadStatus(p.JobId);
        if (!File.Exists(path))
        {
            return new TrainMetricsResult([], 0);
        }
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var offset = Math.Min(p.Offset, f.Length);
        f.Seek(offset, SeekOrigin.Begin);
        var buffer = new byte[(int)Math.Min(4 << 20, f.Length - offset)];
        var n = f.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        var lastNewline = Array.LastIndexOf(buffer, (byte)'\n', Math.Max(0, n - 1));
        if (n == 0 || lastNewline < 0)
        {
            return new TrainMetricsResult([], offset);
        }
        var records = new List<Dictionary<string, double>>();
        foreach (var line in Encoding.UTF8.GetString(buffer, 0, lastNewline + 1).Split('\n'))
        {
            if (line.Length < 2 || line[0] != '{')
            {
                continue;
            }
            try
            {
                using var doc = JsonDocument.Parse(line);
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                {
                    continue;
                }
                var r = new Dictionary<string, double>(StringComparer.Ordinal);
                foreach (var prop in doc.RootElement.EnumerateObject())
                {
                    if (prop.Value.ValueKind == JsonValueKind.Number && prop.Value.TryGetDouble(out var d) && double.IsFinite(d) && prop.Name.Length <= 64 && r.Count < 64)
                    {
                        r[prop.Name] = d;
                    }
                }
                if (r.Count > 0)
                {
                    records.Add(r);
                }
            }
            catch (JsonException)
            {
                // a worker's malformed line is skipped
            }
        }
        return new TrainMetricsResult(records, offset + lastNewline + 1);
    }

    /// <summary>The newest value of each figure in the last 256 KiB of the metrics file; malformed lines are skipped.</summary>
    public static TrainProgress? ReadProgress(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }
        byte[] tail;
        try
        {
            using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var start = Math.Max(0, f.Length - (256 * 1024));
            f.Seek(start, SeekOrigin.Begin);
            tail = new byte[f.Length - start];
            f.ReadExactly(tail);
        }
        catch (IOException)
        {
            return null;
        }
        long? step = null, total = null, epoch = null;
        double? loss = null, acc = null, sps = null, eta = null;
        foreach (var line in Encoding.UTF8.GetString(tail).Split('\n'))
        {
            if (line.Length < 2 || line[0] != '{')
            {
                continue;
            }
            try
            {
                using var doc = JsonDocument.Parse(line);
                var r = doc.RootElement;
                if (r.ValueKind != JsonValueKind.Object)
                {
                    continue;
                }
                step = Long(r, "step") ?? step;
                total = Long(r, "total_steps") ?? total;
                epoch = Long(r, "epoch") ?? epoch;
                loss = Double(r, "loss") ?? loss;
                acc = Double(r, "accuracy") ?? acc;
                sps = Double(r, "samples_per_s") ?? sps;
                eta = Double(r, "eta_s") ?? eta;
            }
            catch (JsonException)
            {
                // a line cut at the tail's start, or a worker's malformed line
            }
        }
        return step is null && loss is null && acc is null ? null : new TrainProgress(step, total, epoch, loss, acc, sps, eta);
    }

    private static long? Long(JsonElement r, string name)
        => r.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var l) ? l : null;

    private static double? Double(JsonElement r, string name)
        => r.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) && double.IsFinite(d) ? d : null;
}
