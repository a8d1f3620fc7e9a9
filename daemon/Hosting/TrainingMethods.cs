using System.Text.Json;
using Colab.Daemon.JsonRpc;
using Colab.Daemon.Protocol;
using Colab.Daemon.Training;

namespace Colab.Daemon.Hosting;

/// <summary>
/// <c>colab/train/*</c>: start, status, list, stop, logs; and <c>colab/train/changed</c> whenever a
/// job's status or progress changes (the job directories are read once a second while any job is
/// not final — the supervisors are separate processes, so reading their files is the re-attach).
/// </summary>
internal sealed class TrainingMethods(TrainingService training, DriveMirrorJobs driveMirror) : IMethodGroup
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);

    public void Register(JsonRpcConnection connection)
    {
        var json = TrainingProtocolJson.Default;
        connection.OnRequest(Methods.TrainStart, () => json.TrainStartParams, () => json.TrainJobInfo, (p, ctx) => Guard(() => StartAsync(connection, p, ctx.CancellationToken)));
        connection.OnRequest(Methods.TrainStatus, () => json.TrainJobIdParams, () => json.TrainJobInfo, (p, _) => Guard(() => Task.FromResult(training.Info(p.JobId))));
        connection.OnRequest(Methods.TrainList, () => json.EmptyParams, () => json.TrainListResult, (_, _) => Guard(() => Task.FromResult(new TrainListResult(training.List()))));
        connection.OnRequest(Methods.TrainStop, () => json.TrainJobIdParams, () => json.TrainJobInfo, (p, _) => Guard(() =>
        {
            training.RequestStop(p.JobId);
            return Task.FromResult(training.Info(p.JobId));
        }));
        connection.OnRequest(Methods.TrainLogs, () => json.TrainLogsParams, () => json.TrainLogsResult, (p, _) => Guard(() => Task.FromResult(training.Logs(p))));
        connection.OnRequest(Methods.TrainMetrics, () => json.TrainMetricsParams, () => json.TrainMetricsResult, (p, _) => Guard(() => Task.FromResult(training.Metrics(p))));
        // Its own thread that sleeps between readings, not a Task.Delay loop: a thread-pool timer
        // and work item every second cost ~2 ms of CPU each time in the pool's spin-waiting alone,
        // more than the reading (docs/benchmarks.md, GPU: the daemon's CPU while idle).
        var closed = connection.Closed;
        new Thread(() => Watch(connection, closed)) { IsBackground = true, Name = "colab train poll" }.Start();
    }

    /// <summary>Jobs started with a <c>workDoneToken</c>: their <c>$/progress</c> follows every change until the job is over.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, WorkDoneProgress> _progress = new(StringComparer.Ordinal);

    private async Task<TrainJobInfo> StartAsync(JsonRpcConnection connection, TrainStartParams p, CancellationToken cancellationToken)
    {
        WorkDoneProgress? progress = null;
        if (p.WorkDoneToken is { ValueKind: JsonValueKind.String or JsonValueKind.Number } token)
        {
            progress = new WorkDoneProgress(connection, token.Clone());
            progress.Send(new WorkDoneProgressValue("begin", Title: TrainingService.ProgressTitle(p), Message: "starting", Percentage: 0, Cancellable: false));
        }
        TrainJobInfo job;
        try
        {
            job = await training.StartAsync(p, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            progress?.End($"not started: {e.Message}");
            throw;
        }
        if (progress is not null)
        {
            _progress[job.Id] = progress;
            // Read again: a short job may have ended (and been announced) before it was registered here.
            TrainJobInfo now;
            try
            {
                now = training.Info(job.Id);
            }
            catch (Exception e) when (e is TrainingException or IOException or UnauthorizedAccessException)
            {
                now = job;
            }
            Follow(now);
        }
        return job;
    }

    /// <summary>Reports a job's figures on its progress token; ends it when the job is over.</summary>
    private void Follow(TrainJobInfo job)
    {
        if (!_progress.TryGetValue(job.Id, out var progress))
        {
            return;
        }
        var (message, percentage) = TrainingService.ProgressReport(job);
        if (TrainingStates.IsFinal(job.State))
        {
            progress.End(message);
            _progress.TryRemove(job.Id, out _);
        }
        else
        {
            progress.Report(message, percentage);
        }
    }

    private void Watch(JsonRpcConnection connection, CancellationToken closed)
    {
        var last = new Dictionary<string, TrainJobInfo>(StringComparer.Ordinal);
        var first = true;
        try
        {
            var wake = closed.WaitHandle;
            do
            {
                IReadOnlyList<TrainJobInfo> jobs;
                try
                {
                    jobs = training.List();
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    jobs = []; // the jobs folder is unreadable this second; try again on the next tick
                }
                foreach (var job in jobs)
                {
                    if (job.DriveFolder is not null)
                    {
                        driveMirror.Poll(job.Id, training.Jobs.DirectoryOf(job.Id), job.CheckpointDirectory);
                    }
                    var seen = last.TryGetValue(job.Id, out var before);
                    last[job.Id] = job;
                    // Jobs already over when the session began are listed by colab/train/list, not announced.
                    var announce = seen ? !SameAs(before!, job) : !(first && TrainingStates.IsFinal(job.State));
                    if (announce)
                    {
                        connection.Notify(Methods.TrainChanged, job, TrainingProtocolJson.Default.TrainJobInfo);
                        Follow(job);
                    }
                    if (seen && !TrainingStates.IsFinal(before!.State) && job.State is TrainingStates.Succeeded or TrainingStates.Failed or TrainingStates.Stopped && job.OnDone == TrainingOnDone.Disconnect)
                    {
                        // On the pool, so a slow disconnect never holds up the announcements of this thread.
                        _ = ApplyOnDoneAsync(job.Id, closed);
                    }
                }
                first = false;
            }
            while (!wake.WaitOne(PollInterval));
        }
        catch (ObjectDisposedException)
        {
            // the session ended (its token source is disposed once the connection is)
        }
        catch (Exception)
        {
            // As the Task.Run loop this replaces did, stop announcing; a thread's exception must not end the daemon.
        }
    }

    private async Task ApplyOnDoneAsync(string jobId, CancellationToken closed)
    {
        try
        {
            await training.ApplyOnDoneAsync(jobId, closed).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TrainingException or IOException or UnauthorizedAccessException)
        {
            // the job directory went away; nothing to disconnect for
        }
        catch (OperationCanceledException) when (closed.IsCancellationRequested)
        {
            // the session ended first
        }
    }

    private static bool SameAs(TrainJobInfo a, TrainJobInfo b)
        => a.State == b.State && a.UpdatedAt == b.UpdatedAt && a.Restarts == b.Restarts && a.Progress == b.Progress
           && a.DriveMirroredStep == b.DriveMirroredStep && a.DriveMirrorError == b.DriveMirrorError;

    private static async Task<T> Guard<T>(Func<Task<T>> action)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (TrainingGpuMismatchException e)
        {
            throw new JsonRpcException(ErrorCodes.TrainGpuMismatch, e.Message);
        }
        catch (TrainingException e) when (e.Message.StartsWith("Invalid params", StringComparison.Ordinal) || e.Message.StartsWith("no training job", StringComparison.Ordinal) || e.Message.Contains("is not a training job id", StringComparison.Ordinal))
        {
            throw new JsonRpcException(ErrorCodes.InvalidParams, e.Message.StartsWith("Invalid params", StringComparison.Ordinal) ? e.Message : $"Invalid params: {e.Message}");
        }
        catch (Exception e) when (e is TrainingException or CheckpointException or IOException or UnauthorizedAccessException)
        {
            throw new JsonRpcException(ErrorCodes.RequestFailed, e.Message);
        }
    }
}
