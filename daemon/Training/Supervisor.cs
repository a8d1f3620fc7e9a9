using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace Colab.Daemon.Training;

/// <summary>
/// Runs one job's worker until it succeeds, is stopped, or has crashed more often than the
/// restart limit allows. This is the body of <c>colab train supervise DIR</c>, which
/// <see cref="TrainingJobs.LaunchAsync"/> starts detached. The worker gets the contract's
/// environment (docs/training.md); after an abnormal exit it is started again with
/// <c>COLAB_RESUME_FROM</c> pointing at the newest checkpoint that verifies, after a backoff
/// that doubles each time. SIGTERM to the supervisor = stop: SIGTERM to the worker, the grace
/// period for its last checkpoint, then SIGKILL.
/// </summary>
public sealed class Supervisor
{
    private readonly string _dir;
    private readonly TrainingJobSpec _spec;
    private readonly TextWriter _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _logGate = new(1, 1);
    private readonly FileStream _workerLog;
    private readonly string? _webhookUrl;
    private TrainingJobStatus _status;

    /// <param name="webhookUrl">The job's webhook (a secret: kept in this process's memory only), called when the job succeeds or fails.</param>
    public Supervisor(string jobDirectory, TextWriter log, string? webhookUrl = null)
    {
        _webhookUrl = string.IsNullOrEmpty(webhookUrl) ? null : webhookUrl;
        _dir = Path.GetFullPath(jobDirectory);
        var jobs = new TrainingJobs(Path.GetDirectoryName(_dir)!);
        var id = Path.GetFileName(_dir);
        _spec = jobs.ReadSpec(id);
        var previous = jobs.ReadStatus(id);
        _log = log;
        _workerLog = new FileStream(Path.Combine(_dir, TrainingJobs.WorkerLog), FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
        var now = DateTimeOffset.UtcNow;
        _status = new TrainingJobStatus(id, TrainingStates.Starting, Environment.ProcessId, null, previous.Restarts, _spec.MaxRestarts,
            previous.LastExitCode, null, now, now);
    }

    public async Task<int> RunAsync()
    {
        using var mirrorStop = new CancellationTokenSource();
        var mirroring = _spec.Mirror is null ? Task.CompletedTask : Task.Run(() => MirrorLoopAsync(mirrorStop.Token));
        var code = await SuperviseAsync().ConfigureAwait(false);
        await mirrorStop.CancelAsync().ConfigureAwait(false);
        await mirroring.ConfigureAwait(false);
        if (_spec.Mirror is not null)
        {
            MirrorOnce(); // what the worker committed last, e.g. its checkpoint on SIGTERM
            lock (_statusGate)
            {
                Update(_status);
            }
        }
        if (_webhookUrl is { } url && _status.State is TrainingStates.Succeeded or TrainingStates.Failed)
        {
            var progress = TrainingService.ReadProgress(Path.Combine(_dir, TrainingJobs.MetricsFile));
            var payload = new TrainWebhookPayload(_status.Id, _status.State, _status.Restarts,
                TrainingWebhook.Summary(_status.Id, _status.State, _status.Restarts, _status.LastError, progress), _status.LastError, progress);
            using var http = TrainingWebhook.CreateClient();
            Log(await TrainingWebhook.SendAsync(http, url, payload, TrainingWebhook.DefaultTimeout, CancellationToken.None).ConfigureAwait(false));
        }
        return code;
    }

    private async Task<int> SuperviseAsync()
    {
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnStopSignal);
        using var intr = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnStopSignal);
        using var hup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, c => c.Cancel = true); // the terminal going away is not a stop
        Update(_status with { State = TrainingStates.Starting });
        var attemptsThisRun = 0;
        while (true)
        {
            var resumeFrom = NewestVerified();
            Process worker;
            try
            {
                worker = StartWorker(resumeFrom);
            }
            catch (TrainingException e)
            {
                Log(e.Message);
                Update(_status with { State = TrainingStates.Failed, WorkerPid = null, LastError = e.Message });
                return 1;
            }
            using var _ = worker;
            Update(_status with { State = TrainingStates.Running, WorkerPid = worker.Id });
            Log($"worker pid {worker.Id} started (restart {_status.Restarts}){(resumeFrom is null ? "" : $", resuming from {resumeFrom}")}");
            var code = await WaitAsync(worker).ConfigureAwait(false);
            if (_stop.IsCancellationRequested)
            {
                Log($"stopped; worker exit code {code}");
                Update(_status with { State = TrainingStates.Stopped, WorkerPid = null, LastExitCode = code });
                return 0;
            }
            if (code == 0)
            {
                Log("worker finished");
                Update(_status with { State = TrainingStates.Succeeded, WorkerPid = null, LastExitCode = 0, LastError = null });
                return 0;
            }
            var error = $"worker exited with {Describe(code)}: {LastLines(8)}".TrimEnd(' ', ':');
            attemptsThisRun++;
            if (_status.Restarts >= _spec.MaxRestarts)
            {
                Log($"giving up after {_status.Restarts} restarts; {error}");
                Update(_status with
                {
                    State = TrainingStates.Failed, WorkerPid = null, LastExitCode = code,
                    LastError = $"stopped after {_status.Restarts} restart(s) (limit {_spec.MaxRestarts}); last error: {error}",
                });
                return 1;
            }
            var delay = TimeSpan.FromSeconds(Math.Min(60, _spec.BackoffSeconds * Math.Pow(2, attemptsThisRun - 1)));
            Update(_status with { State = TrainingStates.Restarting, WorkerPid = null, LastExitCode = code, LastError = error, Restarts = _status.Restarts + 1 });
            Log($"{error}; restarting in {delay.TotalSeconds:0.##} s");
            try
            {
                await Task.Delay(delay, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                Update(_status with { State = TrainingStates.Stopped });
                return 0;
            }
        }
    }

    private long? _mirroredStep;
    private string? _mirrorError;
    private (DateTime, long) _mirroredManifest;

    /// <summary>Mirrors whenever the checkpoint manifest changes (checked every 2 s); a failure is retried at the next change.</summary>
    private async Task MirrorLoopAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            MirrorOnce();
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(2), stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private readonly Lock _mirrorGate = new();

    private void MirrorOnce()
    {
        lock (_mirrorGate)
        {
            var manifest = new FileInfo(Path.Combine(_spec.CheckpointDirectory, CheckpointStore.ManifestName));
            var stamp = manifest.Exists ? (manifest.LastWriteTimeUtc, manifest.Length) : default;
            if (!manifest.Exists || stamp == _mirroredManifest)
            {
                return;
            }
            var r = CheckpointMirror.Sync(_spec.CheckpointDirectory, _spec.Mirror!, _spec.CheckpointKeep);
            _mirroredManifest = stamp;
            if (r.Copied > 0)
            {
                Log($"mirrored {r.Copied} checkpoint(s) to {_spec.Mirror} (newest step {r.NewestStep})");
            }
            if (r.Error is not null && r.Error != _mirrorError)
            {
                Log(r.Error);
            }
            else if (r.Error is null && _mirrorError is not null)
            {
                Log($"mirroring to {_spec.Mirror} works again");
            }
            var changed = r.Error != _mirrorError || (r.NewestStep ?? _mirroredStep) != _mirroredStep;
            _mirrorError = r.Error;
            _mirroredStep = r.NewestStep ?? _mirroredStep;
            if (changed)
            {
                lock (_statusGate)
                {
                    Update(_status);
                }
            }
        }
    }

    private void OnStopSignal(PosixSignalContext context)
    {
        context.Cancel = true;
        if (!_stop.IsCancellationRequested)
        {
            Log("stop requested");
            _stop.Cancel();
        }
    }

    private async Task<int> WaitAsync(Process worker)
    {
        var exited = worker.WaitForExitAsync();
        var stopped = Task.Delay(Timeout.Infinite, _stop.Token);
        if (await Task.WhenAny(exited, stopped).ConfigureAwait(false) == stopped)
        {
            _ = TrainingJobs.Kill(worker.Id, TrainingJobs.SigTerm);
            if (await Task.WhenAny(exited, Task.Delay(TimeSpan.FromSeconds(_spec.GraceSeconds))).ConfigureAwait(false) != exited)
            {
                Log($"worker did not exit within {_spec.GraceSeconds} s of SIGTERM: SIGKILL");
                worker.Kill(entireProcessTree: true);
            }
        }
        await exited.ConfigureAwait(false);
        await _pumps.ConfigureAwait(false);
        return worker.ExitCode;
    }

    private Task _pumps = Task.CompletedTask;

    private Process StartWorker(string? resumeFrom)
    {
        var start = new ProcessStartInfo(_spec.Command[0])
        {
            UseShellExecute = false,
            WorkingDirectory = _spec.WorkingDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in _spec.Command.Skip(1))
        {
            start.ArgumentList.Add(a);
        }
        foreach (var (k, v) in _spec.Environment ?? new Dictionary<string, string>())
        {
            start.Environment[k] = v;
        }
        var env = start.Environment;
        env["COLAB_JOB_ID"] = _spec.Id;
        env["COLAB_CHECKPOINT_DIR"] = _spec.CheckpointDirectory;
        env["COLAB_CHECKPOINT_KEEP"] = _spec.CheckpointKeep.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (_spec.CheckpointEvery is int every)
        {
            env["COLAB_CHECKPOINT_EVERY"] = every.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        env["COLAB_METRICS_FILE"] = Path.Combine(_dir, TrainingJobs.MetricsFile);
        env["COLAB_RESTART_COUNT"] = _status.Restarts.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (resumeFrom is null)
        {
            env.Remove("COLAB_RESUME_FROM");
        }
        else
        {
            env["COLAB_RESUME_FROM"] = resumeFrom;
        }
        var helper = TrainingJobs.PythonHelperDirectory;
        env["PYTHONPATH"] = env.TryGetValue("PYTHONPATH", out var pp) && !string.IsNullOrEmpty(pp) ? $"{helper}{Path.PathSeparator}{pp}" : helper;
        env["PYTHONUNBUFFERED"] = "1";
        Process worker;
        try
        {
            worker = Process.Start(start) ?? throw new TrainingException($"could not start {_spec.Command[0]}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new TrainingException($"could not start {_spec.Command[0]}: {e.Message}");
        }
        worker.StandardInput.Close();
        var log = _workerLog;
        var gate = _logGate;
        async Task Pump(StreamReader from)
        {
            var buffer = new char[8192];
            int n;
            while ((n = await from.ReadAsync(buffer).ConfigureAwait(false)) > 0)
            {
                var bytes = Encoding.UTF8.GetBytes(buffer, 0, n);
                await gate.WaitAsync().ConfigureAwait(false);
                try
                {
                    await log.WriteAsync(bytes).ConfigureAwait(false);
                    await log.FlushAsync().ConfigureAwait(false);
                }
                finally
                {
                    gate.Release();
                }
            }
        }
        _pumps = Task.WhenAll(Pump(worker.StandardOutput), Pump(worker.StandardError));
        return worker;
    }

    private string? NewestVerified()
    {
        if (_spec.Mirror is { } mirror)
        {
            // The job's own directory first, then the mirror: the newest checkpoint that verifies in
            // either (the job's directory may be empty on a fresh machine, or hold a corrupt newest one).
            return CheckpointMirror.NewestVerified([_spec.CheckpointDirectory, mirror], _spec.CheckpointKeep, m => Log(m));
        }
        var manifest = Path.Combine(_spec.CheckpointDirectory, CheckpointStore.ManifestName);
        if (!File.Exists(manifest))
        {
            return null;
        }
        try
        {
            var model = CheckpointStore.Parse(File.ReadAllBytes(manifest), manifest).Model;
            var found = new CheckpointStore(_spec.CheckpointDirectory, model, _spec.CheckpointKeep).OpenNewest(m => Log(m));
            if (found is not { } f)
            {
                return null;
            }
            f.Payload.Dispose();
            return Path.Combine(_spec.CheckpointDirectory, f.Entry.File);
        }
        catch (Exception e) when (e is CheckpointException or IOException)
        {
            Log($"checkpoints not usable: {e.Message}");
            return null;
        }
    }

    private string LastLines(int n) => TrainingJobs.Tail(Path.Combine(_dir, TrainingJobs.WorkerLog), n).Replace('\n', ' ').Trim();

    private static string Describe(int code) => code > 128 ? $"signal {code - 128}" : code < 0 ? $"signal {-code}" : $"exit code {code}";

    private readonly Lock _statusGate = new();

    private void Update(TrainingJobStatus status)
    {
        lock (_statusGate)
        {
            _status = status with { UpdatedAt = DateTimeOffset.UtcNow, MirroredStep = _mirroredStep, MirrorError = _mirrorError };
            TrainingJobs.WriteStatus(_dir, _status);
        }
    }

    private void Log(string message)
    {
        var line = $"{DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} [supervisor] {message}";
        lock (_log)
        {
            _log.WriteLine(line);
            _log.Flush();
        }
        _logGate.Wait();
        try
        {
            _workerLog.Write(Encoding.UTF8.GetBytes(line + "\n"));
            _workerLog.Flush();
        }
        catch (IOException)
        {
            // the log is best effort; status.json carries the state
        }
        finally
        {
            _logGate.Release();
        }
    }
}
