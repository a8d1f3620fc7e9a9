using System.Security.Cryptography;

namespace Colab.Daemon.Drive;

/// <summary>
/// A mounted Drive folder (Drive for desktop, an rclone mount) or any local folder, behind the
/// same interface as the API. Ids are '/'-separated paths relative to the root; nothing outside
/// the root (by '..', an absolute path or a symlink) is ever read or written.
/// </summary>
public sealed class FolderBackend : IDriveBackend
{
    private readonly string _root;

    public FolderBackend(string root)
    {
        if (string.IsNullOrWhiteSpace(root) || !Directory.Exists(root))
        {
            throw new DriveException(DriveErrorKind.NotFound, $"The folder '{root}' does not exist.");
        }
        _root = Path.GetFullPath(root).TrimEnd(Path.DirectorySeparatorChar);
    }

    public string Kind => "folder";

    public string Root => _root;

    public Task<DrivePage> ListAsync(DriveListRequest request, CancellationToken cancellationToken)
    {
        var dir = new DirectoryInfo(Resolve(request.FolderId));
        if (!dir.Exists)
        {
            throw new DriveException(DriveErrorKind.NotFound, $"The folder '{request.FolderId}' does not exist.");
        }
        IEnumerable<FileSystemInfo> entries = dir.EnumerateFileSystemInfos();
        if (!string.IsNullOrEmpty(request.NameContains))
        {
            entries = entries.Where(e => e.Name.Contains(request.NameContains, StringComparison.OrdinalIgnoreCase));
        }
        var all = entries.Select(e => (Info: e, Item: ToItem(e))).ToList();
        Comparison<(FileSystemInfo Info, DriveItem Item)> by = request.Sort switch
        {
            DriveSort.Modified => (a, b) => Nullable.Compare(a.Item.ModifiedTime, b.Item.ModifiedTime),
            DriveSort.Size => (a, b) => Nullable.Compare(a.Item.Size, b.Item.Size),
            _ => (a, b) => string.CompareOrdinal(a.Item.Name, b.Item.Name),
        };
        all.Sort((a, b) =>
        {
            var folders = b.Item.IsFolder.CompareTo(a.Item.IsFolder);
            if (folders != 0)
            {
                return folders;
            }
            var c = by(a, b);
            return request.Descending ? -c : c;
        });
        var offset = 0;
        if (request.PageToken is { } token && (!int.TryParse(token, out offset) || offset < 0 || offset > all.Count))
        {
            throw new DriveException(DriveErrorKind.InvalidInput, "That page token does not belong to this folder listing.");
        }
        var size = Math.Clamp(request.PageSize, 1, 1000);
        var page = all.Skip(offset).Take(size).Select(e => e.Item).ToList();
        var next = offset + size < all.Count ? (offset + size).ToString(System.Globalization.CultureInfo.InvariantCulture) : null;
        return Task.FromResult(new DrivePage(page, next));
    }

    public Task<DriveItem> GetAsync(string id, CancellationToken cancellationToken)
    {
        var path = Resolve(id);
        FileSystemInfo info = Directory.Exists(path) ? new DirectoryInfo(path) : new FileInfo(path);
        if (!info.Exists)
        {
            throw new DriveException(DriveErrorKind.NotFound, $"'{id}' does not exist in the folder.");
        }
        return Task.FromResult(ToItem(info));
    }

    public async Task<DriveTransfer> DownloadAsync(string id, string localPath, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        var source = Resolve(id);
        if (!File.Exists(source))
        {
            throw new DriveException(DriveErrorKind.NotFound, $"'{id}' is not a file in the folder.");
        }
        var (bytes, md5) = await CopyAsync(source, localPath, progress, cancellationToken).ConfigureAwait(false);
        return new DriveTransfer(id, localPath, bytes, md5, true, null, DriveChecksums.Md5);
    }

    public async Task<DriveTransfer> UploadAsync(string localPath, string parentId, string name, string? existingId, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        var target = existingId is not null ? Resolve(existingId) : Path.Combine(Resolve(parentId), SafeNames.Sanitize(name));
        var (bytes, md5) = await CopyAsync(localPath, target, progress, cancellationToken).ConfigureAwait(false);
        return new DriveTransfer(Relative(target), localPath, bytes, md5, true, null, DriveChecksums.Md5);
    }

    public Task TrashAsync(string id, CancellationToken cancellationToken)
    {
        var path = Resolve(id);
        if (Directory.Exists(path) || path == _root)
        {
            throw new DriveException(DriveErrorKind.InvalidInput, $"'{id}' is a folder; only files are moved to the trash here.");
        }
        if (!File.Exists(path))
        {
            throw new DriveException(DriveErrorKind.NotFound, $"There is no file '{id}' in {_root}.");
        }
        File.Delete(path);
        return Task.CompletedTask;
    }

    /// <summary>Copies through a .part file, hashing as it goes, then re-reads the destination to verify (a mount may write lazily).</summary>
    private static async Task<(long Bytes, string Md5)> CopyAsync(string from, string to, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        var part = to + ".part";
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        long total = 0;
        var buffer = new byte[1 << 20];
        await using (var input = new FileStream(from, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous | FileOptions.SequentialScan))
        await using (var output = new FileStream(part, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous))
        {
            int n;
            while ((n = await input.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                await output.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                md5.AppendData(buffer, 0, n);
                total += n;
                progress?.Report(total);
            }
        }
        var digest = Convert.ToHexStringLower(md5.GetHashAndReset());
        var written = await Md5OfFileAsync(part, cancellationToken).ConfigureAwait(false);
        if (written != digest)
        {
            File.Delete(part);
            throw new DriveException(DriveErrorKind.Integrity, $"The copy of '{Path.GetFileName(from)}' does not read back the same (md5 {written}, expected {digest}); it was discarded.");
        }
        File.Move(part, to, overwrite: true);
        return (total, digest);
    }

    public static async Task<string> Md5OfFileAsync(string path, CancellationToken cancellationToken)
    {
        await using var s = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.Asynchronous | FileOptions.SequentialScan);
        return Convert.ToHexStringLower(await MD5.HashDataAsync(s, cancellationToken).ConfigureAwait(false));
    }

    private DriveItem ToItem(FileSystemInfo e) => e is DirectoryInfo
        ? new DriveItem(Relative(e.FullName), e.Name, DriveMime.Folder, null, e.LastWriteTimeUtc, null)
        : new DriveItem(Relative(e.FullName), e.Name, e.Name.EndsWith(".ipynb", StringComparison.OrdinalIgnoreCase) ? "application/x-ipynb+json" : "application/octet-stream", ((FileInfo)e).Length, e.LastWriteTimeUtc, null);

    private string Relative(string full) => Path.GetRelativePath(_root, full) is "." ? "" : Path.GetRelativePath(_root, full).Replace(Path.DirectorySeparatorChar, '/');

    /// <summary>Maps an id to a path under the root, refusing absolute paths, '..' and symlinks that lead out.</summary>
    internal string Resolve(string id)
    {
        if (id is null || id.Contains('\0') || Path.IsPathRooted(id) || id.Split('/', '\\').Any(p => p == ".."))
        {
            throw new DriveException(DriveErrorKind.Unsafe, $"'{id}' is not a path inside the folder.");
        }
        var full = Path.GetFullPath(Path.Combine(_root, id));
        if (full != _root && !full.StartsWith(_root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new DriveException(DriveErrorKind.Unsafe, $"'{id}' is not a path inside the folder.");
        }
        // Every existing component must not be a link that points elsewhere.
        var probe = _root;
        foreach (var part in Path.GetRelativePath(_root, full).Split(Path.DirectorySeparatorChar))
        {
            if (part is "." or "")
            {
                continue;
            }
            probe = Path.Combine(probe, part);
            var info = new FileInfo(probe);
            if (info.Exists || Directory.Exists(probe))
            {
                FileSystemInfo fi = Directory.Exists(probe) ? new DirectoryInfo(probe) : info;
                if (fi.LinkTarget is not null)
                {
                    var target = fi.ResolveLinkTarget(true)?.FullName ?? "";
                    if (target != _root && !target.StartsWith(_root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                    {
                        throw new DriveException(DriveErrorKind.Unsafe, $"'{id}' is a link that leads outside the folder.");
                    }
                }
            }
        }
        return full;
    }
}
