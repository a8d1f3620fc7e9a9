using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Colab.Daemon.Drive;

/// <summary>What "Flush to Drive" found for one upload this daemon started.</summary>
/// <param name="Sha256Checksum">The upload's SHA-256 (what it was verified with when Drive gave one).</param>
public sealed record FlushedUpload(string LocalPath, string Name, string? FileId, string? Md5Checksum, bool Verified, string? Error, string? Sha256Checksum = null);

/// <summary>
/// The Drive capability: holds the chosen backend (a mounted folder by default, the API after
/// sign-in), names downloads safely, tracks the uploads it started so that Flush can wait for
/// them, and copies archives to the runtime's disk with a safe extraction.
/// </summary>
public sealed class DriveService(ILogger<DriveService> logger)
{
    private readonly ConcurrentDictionary<Guid, (string Path, string Name, Task<DriveTransfer> Task)> _pending = new();
    private readonly ConcurrentQueue<FlushedUpload> _finished = new();
    private IDriveBackend? _backend;
    private HttpClient? _http;

    public IDriveBackend? Backend => _backend;

    public IDriveBackend Require() => _backend
        ?? throw new DriveException(DriveErrorKind.NotFound, "No Drive is connected: pick a mounted Drive folder ('Colab: Use a Drive Folder') or sign in to Google Drive.");

    public void UseFolder(string path)
    {
        _backend = new FolderBackend(path);
        logger.LogInformation("Drive backend: folder {Root}", ((FolderBackend)_backend).Root);
    }

    public void UseApi(string baseUrl, IDriveTokenSource tokens, DriveRetryPolicy? retry = null)
    {
        _http ??= new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), AllowAutoRedirect = false }) { Timeout = Timeout.InfiniteTimeSpan };
        _backend = new DriveApiBackend(_http, baseUrl, tokens, retry);
        logger.LogInformation("Drive backend: API at {BaseUrl}", baseUrl);
    }

    public void Forget() => _backend = null;

    public Task<DrivePage> ListAsync(DriveListRequest request, CancellationToken cancellationToken) => Require().ListAsync(request, cancellationToken);

    public Task<DriveItem> GetAsync(string id, CancellationToken cancellationToken) => Require().GetAsync(id, cancellationToken);

    /// <summary>Downloads into <paramref name="folder"/> under a safe, non-clashing name (or to exactly <paramref name="localPath"/>).</summary>
    public async Task<DriveTransfer> DownloadAsync(string id, string? folder, string? localPath, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        var backend = Require();
        id = DriveLinks.Normalize(id);
        if (localPath is null)
        {
            if (string.IsNullOrEmpty(folder))
            {
                throw new DriveException(DriveErrorKind.InvalidInput, "Say where to download: a folder or a file path.");
            }
            Directory.CreateDirectory(folder);
            var item = await backend.GetAsync(id, cancellationToken).ConfigureAwait(false);
            localPath = Path.Combine(folder, SafeNames.Unique(folder, item.Name));
        }
        return await backend.DownloadAsync(id, localPath, progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Exports a Google Docs/Sheets/Slides file into <paramref name="folder"/> (API backend only).</summary>
    public async Task<DriveTransfer> ExportAsync(string id, string mimeType, string folder, string extension, CancellationToken cancellationToken)
    {
        if (Require() is not DriveApiBackend api)
        {
            throw new DriveException(DriveErrorKind.InvalidInput, "Export needs the Drive API; a mounted folder holds Docs as shortcuts, not documents.");
        }
        Directory.CreateDirectory(folder);
        var item = await api.GetAsync(id, cancellationToken).ConfigureAwait(false);
        var path = Path.Combine(folder, SafeNames.Unique(folder, item.Name + extension));
        return await api.ExportAsync(id, mimeType, path, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Uploads and remembers the transfer until it has been flushed.</summary>
    public Task<DriveTransfer> UploadAsync(string localPath, string parentId, string? name, string? existingId, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        var backend = Require();
        if (!File.Exists(localPath))
        {
            throw new DriveException(DriveErrorKind.NotFound, $"There is no file at '{localPath}' to upload.");
        }
        name ??= Path.GetFileName(localPath);
        var key = Guid.NewGuid();
        var task = backend.UploadAsync(localPath, parentId, name, existingId, progress, cancellationToken);
        _pending[key] = (localPath, name, task);
        _ = task.ContinueWith(t =>
        {
            _pending.TryRemove(key, out _);
            _finished.Enqueue(t.IsCompletedSuccessfully
                ? new FlushedUpload(localPath, name, t.Result.FileId, t.Result.Md5Checksum, t.Result.Verified, null, t.Result.Sha256Checksum)
                : new FlushedUpload(localPath, name, null, null, false, t.Exception?.InnerException?.Message ?? "cancelled"));
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return task;
    }

    public int PendingUploads => _pending.Count + _work.Count;

    private readonly ConcurrentDictionary<Guid, Task> _work = new();

    /// <summary>Set by other capabilities that upload on their own (training checkpoints): started at the beginning of a flush, so what they have not sent yet is sent now.</summary>
    public Func<CancellationToken, Task>? BeforeFlush { get; set; }

    /// <summary>
    /// Other work that writes to Drive (a pass of the checkpoint mirror): Flush waits for it and reports it
    /// as one entry, verified when <paramref name="work"/> answers no error.
    /// </summary>
    public void Track(string label, Task<string?> work)
    {
        var key = Guid.NewGuid();
        _work[key] = work;
        _ = work.ContinueWith(t =>
        {
            _work.TryRemove(key, out _);
            var error = t.IsCompletedSuccessfully ? t.Result : t.Exception?.InnerException?.Message ?? "cancelled";
            _finished.Enqueue(new FlushedUpload(label, label, null, null, error is null, error));
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Waits for every upload this daemon started and answers each one's verified result (then forgets them).</summary>
    public async Task<IReadOnlyList<FlushedUpload>> FlushAsync(CancellationToken cancellationToken)
    {
        if (BeforeFlush is { } before)
        {
            await before(cancellationToken).ConfigureAwait(false);
        }
        while (!_work.IsEmpty)
        {
            try
            {
                await Task.WhenAll(_work.Values.ToArray()).WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // Failures are reported per entry below.
            }
            await Task.Yield();
        }
        while (!_pending.IsEmpty)
        {
            var tasks = _pending.Values.Select(p => (Task)p.Task).ToArray();
            try
            {
                await Task.WhenAll(tasks).WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // Failures are reported per upload below.
            }
            await Task.Yield();
        }
        var results = new List<FlushedUpload>();
        while (_finished.TryDequeue(out var r))
        {
            results.Add(r);
        }
        return results;
    }

    /// <summary>
    /// Copies an archive from Drive to the local disk and extracts it into <paramref name="target"/>;
    /// skips the work when the target already holds this archive (same sha256, or md5 where Drive has no sha256). Local runtimes only.
    /// </summary>
    public async Task<ExtractResult> CopyToRuntimeAsync(string id, string target, ExtractLimits? limits, IProgress<(string Phase, long Bytes)>? progress, CancellationToken cancellationToken)
    {
        var backend = Require();
        id = DriveLinks.Normalize(id);
        var item = await backend.GetAsync(id, cancellationToken).ConfigureAwait(false);
        if (item.IsFolder)
        {
            throw new DriveException(DriveErrorKind.InvalidInput, $"'{item.Name}' is a folder; pick a zip or tar archive.");
        }
        var full = Path.GetFullPath(target);
        var marker = Path.Combine(full, ArchiveExtractor.MarkerName);
        var known = DriveChecksums.KnownKey(item);
        if (known is null && backend is FolderBackend folder && File.Exists(marker))
        {
            // A mounted folder has no stored md5: hashing the source in place is cheaper than copying it first.
            known = await FolderBackend.Md5OfFileAsync(folder.Resolve(id), cancellationToken).ConfigureAwait(false);
        }
        if (known is not null && File.Exists(marker) && File.ReadAllText(marker).StartsWith(known + " ", StringComparison.Ordinal))
        {
            return new ExtractResult(full, 0, 0, true);
        }
        Directory.CreateDirectory(full);
        var scratch = Path.Combine(Path.GetDirectoryName(full.TrimEnd(Path.DirectorySeparatorChar)) ?? full, $".colab-{Guid.NewGuid():N}.archive");
        try
        {
            var transfer = await backend.DownloadAsync(id, scratch, progress is null ? null : new Progress<long>(b => progress.Report(("download", b))), cancellationToken).ConfigureAwait(false);
            return await ArchiveExtractor.ExtractAsync(scratch, full, transfer.ContentKey, limits, progress is null ? null : new Progress<long>(b => progress.Report(("extract", b))), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(scratch);
            File.Delete(scratch + ".part");
        }
    }
}
