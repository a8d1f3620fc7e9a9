using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Serialization;
using Colab.Daemon.Drive;
using Microsoft.Extensions.Logging;

namespace Colab.Daemon.Training;

/// <summary>A job's Drive mirror: <c>drive-mirror.json</c> in the job directory, written when the job is created and after each pass.</summary>
/// <param name="Folder">The Drive folder (id, share link, or for a mounted folder its path) as the user gave it.</param>
/// <param name="ManifestStamp">The job's checkpoint manifest (last write, ticks, and length) that the last good pass mirrored; 0: none yet.</param>
/// <param name="FetchError">For a job on a remote runtime: what went wrong fetching its checkpoints from the runtime into the local staging folder (null: nothing).</param>
public sealed record DriveMirrorState(string Folder, int Keep, long? MirroredStep, string? Error, DateTimeOffset At, long ManifestStamp, string? FetchError = null);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(DriveMirrorState))]
internal sealed partial class DriveMirrorJson : JsonSerializerContext;

/// <summary>
/// The daemon's side of <c>driveFolder</c> in <c>colab/train/start</c>: the daemon holds the Drive
/// sign-in (the supervisor is a separate process and never sees a token), so it mirrors each job's
/// committed checkpoints to the Drive folder from its once-a-second job poll — one pass per job at a
/// time, a new pass when the job's manifest changed, failed passes retried after
/// <see cref="RetryAfter"/>. Passes are tracked by <see cref="DriveService"/> so that "Flush to Drive"
/// waits for them; a flush first starts a pass for every job that has something unsent.
/// </summary>
public sealed class DriveMirrorJobs
{
    public const string StateFile = "drive-mirror.json";
    public static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(30);

    private readonly DriveService _drive;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, Task<string?>> _inFlight = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (string JobDirectory, string CheckpointDirectory)> _known = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Func<CancellationToken, Task>> _fetchers = new(StringComparer.Ordinal);
    private static readonly Lock StateLock = new();

    public DriveMirrorJobs(DriveService drive, ILogger<DriveMirrorJobs> logger)
    {
        _drive = drive;
        _logger = logger;
        drive.BeforeFlush = async ct =>
        {
            // Jobs on a remote runtime: what the runtime committed since the last poll is fetched first.
            foreach (var (id, fetch) in _fetchers)
            {
                try
                {
                    await fetch(ct).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
                {
                    _logger.LogWarning("training job {Job}: fetching checkpoints from the runtime before the flush failed: {Error}", id, e.Message);
                }
            }
            foreach (var (id, job) in _known)
            {
                Poll(id, job.JobDirectory, job.CheckpointDirectory, retryNow: true);
            }
        };
    }

    /// <summary>
    /// A job on a remote runtime being supervised: <paramref name="fetch"/> brings its newest checkpoints from the
    /// runtime into <paramref name="checkpointDirectory"/> (the local staging folder); a flush runs it first.
    /// </summary>
    public void RegisterRemote(string jobId, string jobDirectory, string checkpointDirectory, Func<CancellationToken, Task> fetch)
    {
        _known[jobId] = (jobDirectory, checkpointDirectory);
        _fetchers[jobId] = fetch;
    }

    public void UnregisterRemote(string jobId) => _fetchers.TryRemove(jobId, out _);

    /// <summary>Records what fetching a remote job's checkpoints from the runtime did (null: it worked); shown as <c>driveMirrorError</c>.</summary>
    public static void SetFetchError(string jobDirectory, string? error)
    {
        lock (StateLock)
        {
            if (ReadState(jobDirectory) is { } state && state.FetchError != error)
            {
                WriteStateLocked(jobDirectory, state with { FetchError = error });
            }
        }
    }

    public const string NotConnected = "Invalid params: driveFolder needs Google Drive: sign in ('Colab: Sign in to Google Drive') or use a Drive folder first";

    /// <summary>Whether a Drive backend (the API after sign-in, or a mounted folder) is in use.</summary>
    public bool Connected => _drive.Backend is not null;

    public static void ValidateFolder(string folder)
    {
        if (string.IsNullOrWhiteSpace(folder) || folder.Length > 2048 || folder.Any(char.IsControl))
        {
            throw new TrainingException("Invalid params: driveFolder is not a Drive folder id, link or path");
        }
    }

    /// <summary>Makes a new job's Drive mirror known (before it starts): the folder and how many checkpoints it keeps.</summary>
    public static void Attach(string jobDirectory, string folder, int keep)
    {
        ValidateFolder(folder);
        WriteState(jobDirectory, new DriveMirrorState(folder, keep, null, null, DateTimeOffset.UtcNow, 0));
    }

    /// <summary>Checks a job (each poll); starts a mirror pass when it has a Drive folder and something new to send.</summary>
    public void Poll(string jobId, string jobDirectory, string checkpointDirectory, bool retryNow = false)
    {
        if (_inFlight.ContainsKey(jobId))
        {
            return;
        }
        var state = ReadState(jobDirectory);
        if (state is null)
        {
            return; // no Drive mirror for this job
        }
        _known[jobId] = (jobDirectory, checkpointDirectory);
        var stamp = ManifestStamp(checkpointDirectory);
        var (folder, keep) = (state.Folder, state.Keep);
        if (stamp == 0 || (state.ManifestStamp == stamp && state.Error is null))
        {
            return; // nothing committed yet, or already mirrored
        }
        if (state.Error is not null && !retryNow && DateTimeOffset.UtcNow - state.At < RetryAfter)
        {
            return;
        }
        if (_drive.Backend is not { } backend)
        {
            const string signIn = "Drive is not connected: sign in to Google Drive or use a Drive folder; the checkpoints are mirrored once it is";
            if (state.Error != signIn)
            {
                Update(jobDirectory, s => s with { Error = signIn, At = DateTimeOffset.UtcNow });
            }
            return;
        }
        var pass = Task.Run(async () =>
        {
            var r = await DriveCheckpointMirror.SyncAsync(backend, checkpointDirectory, folder, keep, jobDirectory, CancellationToken.None).ConfigureAwait(false);
            if (r.Error is not null)
            {
                _logger.LogWarning("training job {Job}: {Error}", jobId, r.Error);
            }
            else if (r.Copied > 0)
            {
                _logger.LogInformation("training job {Job}: {Copied} checkpoint(s) mirrored to Drive, newest step {Step}", jobId, r.Copied, r.NewestStep);
            }
            Update(jobDirectory, s => s with { MirroredStep = r.NewestStep ?? s.MirroredStep, Error = r.Error, At = DateTimeOffset.UtcNow, ManifestStamp = r.Error is null ? stamp : s.ManifestStamp });
            return r.Error;
        });
        if (_inFlight.TryAdd(jobId, pass))
        {
            _drive.Track($"checkpoints of training job {jobId}", pass);
            _ = pass.ContinueWith(_ => _inFlight.TryRemove(jobId, out var _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    /// <summary>Before a job starts: the newest verified checkpoint from the Drive folder when the job's directory has none as new.</summary>
    public async Task<long?> RestoreAsync(string folder, string checkpointDirectory, int keep, string workDirectory, Action<string> log, CancellationToken cancellationToken)
    {
        var backend = _drive.Backend ?? throw new TrainingException(NotConnected);
        try
        {
            return await DriveCheckpointMirror.RestoreAsync(backend, folder, checkpointDirectory, keep, workDirectory, log, cancellationToken).ConfigureAwait(false);
        }
        catch (DriveException e) when (e.Kind is DriveErrorKind.NotFound or DriveErrorKind.InvalidInput)
        {
            throw new TrainingException($"Invalid params: driveFolder {folder}: {e.Message}");
        }
        catch (DriveException e)
        {
            throw new TrainingException($"the checkpoints in Drive folder {folder} could not be read: {e.Message}");
        }
    }

    public static DriveMirrorState? ReadState(string jobDirectory)
    {
        try
        {
            var raw = File.ReadAllBytes(Path.Combine(jobDirectory, StateFile));
            return raw.Length > 64 * 1024 ? null : JsonSerializer.Deserialize(raw, DriveMirrorJson.Default.DriveMirrorState);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }

    /// <summary>Read, change, write under one lock: the supervising loop (fetch errors) and the mirror passes both write the state.</summary>
    private static void Update(string jobDirectory, Func<DriveMirrorState, DriveMirrorState> change)
    {
        lock (StateLock)
        {
            if (ReadState(jobDirectory) is { } state)
            {
                WriteStateLocked(jobDirectory, change(state));
            }
        }
    }

    private static void WriteState(string jobDirectory, DriveMirrorState state)
    {
        lock (StateLock)
        {
            WriteStateLocked(jobDirectory, state);
        }
    }

    private static void WriteStateLocked(string jobDirectory, DriveMirrorState state)
    {
        var path = Path.Combine(jobDirectory, StateFile);
        var tmp = path + ".tmp";
        try
        {
            File.WriteAllBytes(tmp, JsonSerializer.SerializeToUtf8Bytes(state, DriveMirrorJson.Default.DriveMirrorState));
            File.Move(tmp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // the job directory went away: nothing to record
        }
    }

    private static long ManifestStamp(string checkpointDirectory)
    {
        var info = new FileInfo(Path.Combine(checkpointDirectory, CheckpointStore.ManifestName));
        return info.Exists ? info.LastWriteTimeUtc.Ticks ^ info.Length : 0;
    }
}
