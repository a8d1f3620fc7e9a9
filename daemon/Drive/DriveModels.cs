namespace Colab.Daemon.Drive;

/// <summary>One file or folder as every backend describes it.</summary>
/// <param name="Id">The Drive file id, or for a mounted folder the path relative to its root ("" is the root).</param>
/// <param name="DriveId">The shared drive that holds the item (null in My Drive and for a mounted folder).</param>
public sealed record DriveItem(string Id, string Name, string MimeType, long? Size, DateTimeOffset? ModifiedTime, string? Md5Checksum, string? DriveId = null)
{
    public bool IsFolder => MimeType == DriveMime.Folder;
}

public sealed record DrivePage(IReadOnlyList<DriveItem> Items, string? NextPageToken);

/// <summary>What one finished and verified transfer produced.</summary>
public sealed record DriveTransfer(string FileId, string LocalPath, long Bytes, string Md5Checksum, bool Verified);

public static class DriveMime
{
    public const string Folder = "application/vnd.google-apps.folder";
    public const string GooglePrefix = "application/vnd.google-apps.";
}

/// <summary>Sort orders the view offers; each backend maps them to its own.</summary>
public enum DriveSort
{
    Name,
    Modified,
    Size,
}

/// <summary>What listing asks for: a folder's children or a name search, one page at a time.</summary>
/// <param name="DriveId">The shared drive that holds <paramref name="FolderId"/>, so the API lists that drive's corpus.</param>
public sealed record DriveListRequest(string FolderId, string? NameContains = null, DriveSort Sort = DriveSort.Name, bool Descending = false, string? PageToken = null, int PageSize = 1000, string? DriveId = null);

public enum DriveErrorKind
{
    NotFound,
    Auth,
    Quota,
    RateLimited,
    BadResponse,
    Integrity,
    InvalidInput,
    Unsafe,
    Failed,
}

/// <summary>A Drive failure with a message a user understands (never a token).</summary>
public sealed class DriveException(DriveErrorKind kind, string message, Exception? inner = null) : Exception(message, inner)
{
    public DriveErrorKind Kind { get; } = kind;
}

/// <summary>The operations both backends (Drive API, mounted folder) offer.</summary>
public interface IDriveBackend
{
    string Kind { get; }

    Task<DrivePage> ListAsync(DriveListRequest request, CancellationToken cancellationToken);

    Task<DriveItem> GetAsync(string id, CancellationToken cancellationToken);

    /// <summary>Downloads to <paramref name="localPath"/> (written via a .part file), verifying md5 where the backend knows it.</summary>
    Task<DriveTransfer> DownloadAsync(string id, string localPath, IProgress<long>? progress, CancellationToken cancellationToken);

    /// <summary>Uploads a new file into <paramref name="parentId"/>, or replaces the content of <paramref name="existingId"/>.</summary>
    Task<DriveTransfer> UploadAsync(string localPath, string parentId, string name, string? existingId, IProgress<long>? progress, CancellationToken cancellationToken);

    /// <summary>Moves a file to the trash (the API: files.update with trashed=true, recoverable for 30 days; a mounted folder: deleted, which Drive for desktop turns into the same). Folders are refused.</summary>
    Task TrashAsync(string id, CancellationToken cancellationToken);
}
