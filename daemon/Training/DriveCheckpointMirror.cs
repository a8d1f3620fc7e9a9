using System.Security.Cryptography;
using System.Text.Json;
using Colab.Daemon.Drive;

namespace Colab.Daemon.Training;

/// <summary>
/// Checkpoints mirrored to a Google Drive folder through the Drive capability (the API after
/// sign-in, or a mounted folder), so that a run can resume on a new machine after the old one is
/// gone. The same format as on disk: the payload files under their checkpoint names and a
/// <c>manifest.json</c> naming the newest <c>keep</c>.
/// </summary>
/// <remarks>
/// Order of a pass, so that the Drive copy is never worse than before it: each new payload is
/// sha256-checked locally against the job's manifest, uploaded (the backend compares Drive's sha256Checksum, or md5Checksum for
/// a file Drive has no SHA-256 for, with what was sent), and only then does the Drive manifest name it; payloads the new manifest
/// no longer names are moved to the trash last. A reader of the folder therefore always finds a
/// manifest whose files are there. Failures never touch the job: they come back as
/// <see cref="MirrorResult.Error"/> and the next pass tries again.
/// </remarks>
public static class DriveCheckpointMirror
{
    private const int MaxManifestBytes = 16 * 1024 * 1024;

    /// <summary>Brings the Drive folder <paramref name="folderId"/> up to date with the checkpoint directory <paramref name="source"/>.</summary>
    public static async Task<MirrorResult> SyncAsync(IDriveBackend drive, string source, string folderId, int keep, string workDirectory, CancellationToken cancellationToken)
    {
        try
        {
            return await SyncCoreAsync(drive, source, folderId, keep, workDirectory, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is DriveException or CheckpointException or IOException or UnauthorizedAccessException or HttpRequestException)
        {
            return new MirrorResult(0, null, $"mirroring to Drive folder {folderId} failed: {e.Message}; trying again at the next checkpoint");
        }
    }

    private static async Task<MirrorResult> SyncCoreAsync(IDriveBackend drive, string source, string folderId, int keep, string work, CancellationToken cancellationToken)
    {
        var sourceManifest = Path.Combine(source, CheckpointStore.ManifestName);
        if (!File.Exists(sourceManifest))
        {
            return new MirrorResult(0, null, null);
        }
        var src = CheckpointStore.Parse(await File.ReadAllBytesAsync(sourceManifest, cancellationToken).ConfigureAwait(false), sourceManifest);
        var folder = await FolderAsync(drive, folderId, cancellationToken).ConfigureAwait(false);
        var remote = await ReadManifestAsync(drive, folder, work, cancellationToken).ConfigureAwait(false);
        if (remote is not null && remote.Model != src.Model)
        {
            throw new CheckpointException($"the Drive folder {folderId} holds checkpoints of model '{remote.Model}', not '{src.Model}'; give each model a folder of its own");
        }
        // What Drive holds and the manifest there vouches for: the same name with the same size.
        var held = (remote?.Checkpoints ?? []).Where(e => folder.Files.TryGetValue(e.File, out var f) && f.Size == e.Size).ToList();
        var copied = 0;
        string? skipped = null;
        foreach (var e in src.Checkpoints.OrderByDescending(c => c.Step).Take(keep))
        {
            if (held.Any(h => h.File == e.File && h.Sha256 == e.Sha256 && h.Size == e.Size))
            {
                continue;
            }
            var problem = await UploadVerifiedAsync(drive, Path.Combine(source, e.File), folder, e, work, cancellationToken).ConfigureAwait(false);
            if (problem is not null)
            {
                skipped ??= $"checkpoint step {e.Step} was not mirrored to Drive: {problem}";
                continue;
            }
            held.RemoveAll(h => h.File == e.File);
            held.Add(e);
            copied++;
        }
        var all = held.OrderBy(c => c.Step).ToList();
        var kept = all.Skip(Math.Max(0, all.Count - keep)).ToList();
        if (copied > 0 || remote is null || kept.Count != remote.Checkpoints.Count)
        {
            var bytes = JsonSerializer.SerializeToUtf8Bytes(new CheckpointManifest(CheckpointStore.Format, src.Model, kept), CheckpointJson.Default.CheckpointManifest);
            var tmp = Path.Combine(work, $"drive-manifest-{Environment.ProcessId}-{Guid.NewGuid():N}.json");
            await File.WriteAllBytesAsync(tmp, bytes, cancellationToken).ConfigureAwait(false);
            try
            {
                folder.Files.TryGetValue(CheckpointStore.ManifestName, out var existing);
                await drive.UploadAsync(tmp, folder.Id, CheckpointStore.ManifestName, existing?.Id, null, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                File.Delete(tmp);
            }
        }
        // Only now that the manifest names the new ones: the payloads it no longer names go to the trash.
        var named = kept.Select(k => k.File).ToHashSet(StringComparer.Ordinal);
        foreach (var (name, item) in folder.Files)
        {
            if (CheckpointStore.ValidName(name) && !named.Contains(name))
            {
                await drive.TrashAsync(item.Id, cancellationToken).ConfigureAwait(false);
            }
        }
        return new MirrorResult(copied, kept.Count > 0 ? kept[^1].Step : null, skipped);
    }

    /// <summary>
    /// Before a job starts: when <paramref name="checkpointDirectory"/> holds no checkpoint that verifies
    /// and the Drive folder does, downloads the newest one that verifies (sha256 against the Drive manifest)
    /// and commits it into the directory, so the job resumes from it. Answers the step restored, or null.
    /// </summary>
    public static async Task<long?> RestoreAsync(IDriveBackend drive, string folderId, string checkpointDirectory, int keep, string workDirectory, Action<string> log, CancellationToken cancellationToken)
    {
        var folder = await FolderAsync(drive, folderId, cancellationToken).ConfigureAwait(false);
        var remote = await ReadManifestAsync(drive, folder, workDirectory, cancellationToken).ConfigureAwait(false);
        if (remote is null || remote.Checkpoints.Count == 0)
        {
            return null;
        }
        var local = new CheckpointStore(checkpointDirectory, remote.Model, keep);
        var localNewest = local.Verify().Where(v => v.Problem is null).Select(v => (long?)v.Entry.Step).Max();
        foreach (var e in remote.Checkpoints.OrderByDescending(c => c.Step))
        {
            if (localNewest is { } have && have >= e.Step)
            {
                return null; // the job's own directory is as new: nothing to fetch
            }
            if (!folder.Files.TryGetValue(e.File, out var item))
            {
                log($"Drive: checkpoint step {e.Step} ({e.File}) is named by the manifest but missing; trying the previous one");
                continue;
            }
            var tmp = Path.Combine(workDirectory, $"drive-restore-{Environment.ProcessId}-{Guid.NewGuid():N}");
            try
            {
                await drive.DownloadAsync(item.Id, tmp, null, cancellationToken).ConfigureAwait(false);
                var (size, sha) = await HashAsync(tmp, cancellationToken).ConfigureAwait(false);
                if (size != e.Size || !string.Equals(sha, e.Sha256, StringComparison.OrdinalIgnoreCase))
                {
                    log($"Drive: checkpoint step {e.Step} ({e.File}) does not verify ({(size != e.Size ? $"{size} of {e.Size} bytes" : "sha256 mismatch")}); trying the previous one");
                    continue;
                }
                var committed = await local.CommitAsync(e.Step, e.Epoch, async (output, token) =>
                {
                    await using var input = new FileStream(tmp, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous);
                    await input.CopyToAsync(output, token).ConfigureAwait(false);
                }, cancellationToken).ConfigureAwait(false);
                if (!string.Equals(committed.Sha256, e.Sha256, StringComparison.OrdinalIgnoreCase))
                {
                    throw new CheckpointException($"the restored checkpoint step {e.Step} changed while it was committed");
                }
                log($"Drive: restored checkpoint step {e.Step} from the Drive folder into {checkpointDirectory}");
                return e.Step;
            }
            catch (DriveException ex) when (ex.Kind is DriveErrorKind.Integrity or DriveErrorKind.NotFound)
            {
                log($"Drive: checkpoint step {e.Step} ({e.File}) could not be fetched ({ex.Message}); trying the previous one");
            }
            finally
            {
                TryDelete(tmp);
                TryDelete(tmp + ".part");
            }
        }
        log("Drive: no checkpoint in the Drive folder verifies; the job starts without one from Drive");
        return null;
    }

    private sealed record FolderView(string Id, Dictionary<string, DriveItem> Files);

    /// <summary>The folder's files by name (folders and duplicates beyond the newest ignored).</summary>
    private static async Task<FolderView> FolderAsync(IDriveBackend drive, string folderId, CancellationToken cancellationToken)
    {
        var id = DriveLinks.Normalize(folderId);
        var folder = await drive.GetAsync(id, cancellationToken).ConfigureAwait(false);
        if (!folder.IsFolder)
        {
            throw new DriveException(DriveErrorKind.InvalidInput, $"'{folder.Name}' is a file; give a Drive folder for the checkpoints");
        }
        var files = new Dictionary<string, DriveItem>(StringComparer.Ordinal);
        string? token = null;
        do
        {
            var page = await drive.ListAsync(new DriveListRequest(folder.Id, PageToken: token, Sort: DriveSort.Modified, DriveId: folder.DriveId), cancellationToken).ConfigureAwait(false);
            foreach (var item in page.Items.Where(i => !i.IsFolder))
            {
                if (!files.TryGetValue(item.Name, out var other) || (item.ModifiedTime ?? default) > (other.ModifiedTime ?? default))
                {
                    files[item.Name] = item;
                }
            }
            token = page.NextPageToken;
        }
        while (token is not null);
        return new FolderView(folder.Id, files);
    }

    private static async Task<CheckpointManifest?> ReadManifestAsync(IDriveBackend drive, FolderView folder, string work, CancellationToken cancellationToken)
    {
        if (!folder.Files.TryGetValue(CheckpointStore.ManifestName, out var item))
        {
            return null;
        }
        if (item.Size > MaxManifestBytes)
        {
            throw new CheckpointException($"the Drive folder's {CheckpointStore.ManifestName} is not a valid checkpoint manifest: larger than {MaxManifestBytes} bytes");
        }
        var tmp = Path.Combine(work, $"drive-manifest-read-{Environment.ProcessId}-{Guid.NewGuid():N}.json");
        try
        {
            await drive.DownloadAsync(item.Id, tmp, null, cancellationToken).ConfigureAwait(false);
            var info = new FileInfo(tmp);
            if (info.Length > MaxManifestBytes)
            {
                throw new CheckpointException($"the Drive folder's {CheckpointStore.ManifestName} is not a valid checkpoint manifest: larger than {MaxManifestBytes} bytes");
            }
            return CheckpointStore.Parse(await File.ReadAllBytesAsync(tmp, cancellationToken).ConfigureAwait(false), $"Drive folder {folder.Id}/{CheckpointStore.ManifestName}");
        }
        finally
        {
            TryDelete(tmp);
            TryDelete(tmp + ".part");
        }
    }

    /// <summary>Checks the job's payload against its manifest entry, then uploads it (replacing a stale copy of the same name).</summary>
    private static async Task<string?> UploadVerifiedAsync(IDriveBackend drive, string path, FolderView folder, CheckpointEntry e, string work, CancellationToken cancellationToken)
    {
        // A private copy first: the worker may prune the file while it is uploaded, and what is hashed must be what is sent.
        var copy = Path.Combine(work, $"drive-upload-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            try
            {
                File.Copy(path, copy);
            }
            catch (FileNotFoundException)
            {
                return "the job's copy is missing (pruned meanwhile)";
            }
            var (size, sha) = await HashAsync(copy, cancellationToken).ConfigureAwait(false);
            if (size != e.Size)
            {
                return $"the job's copy is {(size < e.Size ? "truncated" : "longer than the manifest says")} ({size} of {e.Size} bytes)";
            }
            if (!string.Equals(sha, e.Sha256, StringComparison.OrdinalIgnoreCase))
            {
                return "the job's copy is corrupt (sha256 mismatch)";
            }
            folder.Files.TryGetValue(e.File, out var stale);
            var sent = await drive.UploadAsync(copy, folder.Id, e.File, stale?.Id, null, cancellationToken).ConfigureAwait(false);
            if (!sent.Verified)
            {
                return "Drive did not confirm the upload's checksum";
            }
            folder.Files[e.File] = new DriveItem(sent.FileId, e.File, "application/octet-stream", e.Size, DateTimeOffset.UtcNow, sent.Md5Checksum, Sha256Checksum: sent.Sha256Checksum);
            return null;
        }
        finally
        {
            TryDelete(copy);
        }
    }

    private static async Task<(long Size, string Sha256)> HashAsync(string path, CancellationToken cancellationToken)
    {
        await using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        var sha = await SHA256.HashDataAsync(f, cancellationToken).ConfigureAwait(false);
        return (f.Length, Convert.ToHexStringLower(sha));
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // best effort: a temp file in the job's own directory
        }
    }
}
