namespace Colab.Daemon.Drive;

/// <summary>One file or folder as every backend describes it.</summary>
/// <param name="Id">The Drive file id, or for a mounted folder the path relative to its root ("" is the root).</param>
/// <param name="DriveId">The shared drive that holds the item (null in My Drive and for a mounted folder).</param>
/// <param name="Sha256Checksum">Drive's SHA-256 of the content (lower-case hex); Drive gives it for files with content
/// stored in Drive, not for Docs Editors files, shortcuts or some very old files. Preferred over md5 for verification.</param>
public sealed record DriveItem(string Id, string Name, string MimeType, long? Size, DateTimeOffset? ModifiedTime, string? Md5Checksum, string? DriveId = null, string? Sha256Checksum = null)
{
    public bool IsFolder => MimeType == DriveMime.Folder;
}

public sealed record DrivePage(IReadOnlyList<DriveItem> Items, string? NextPageToken);

/// <summary>What one finished and verified transfer produced.</summary>
/// <param name="Md5Checksum">The md5 of the bytes transferred, where the transfer computed one (null when it verified with SHA-256).</param>
/// <param name="Verified">The content matched the checksum Drive (or the read-back copy) has.</param>
/// <param name="Sha256Checksum">The SHA-256 of the bytes transferred, where the transfer computed one.</param>
/// <param name="VerifiedWith">"sha256" or "md5": which checksum <paramref name="Verified"/> is about; null when not verified.</param>
public sealed record DriveTransfer(string FileId, string LocalPath, long Bytes, string? Md5Checksum, bool Verified, string? Sha256Checksum = null, string? VerifiedWith = null)
{
    /// <summary>The strongest digest this transfer has: what a dataset marker records and is compared with.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string ContentKey => Sha256Checksum ?? Md5Checksum ?? throw new InvalidOperationException("a transfer without a digest");
}

/// <summary>Which checksum verifies a Drive file: SHA-256 when Drive gives one, md5 only when it does not.</summary>
public static class DriveChecksums
{
    public const string Sha256 = "sha256";
    public const string Md5 = "md5";

    /// <summary>The algorithm a transfer of <paramref name="item"/> hashes with (SHA-256 also when Drive gives neither).</summary>
    public static string AlgorithmFor(DriveItem item) => item.Sha256Checksum is null && item.Md5Checksum is not null ? Md5 : Sha256;

    /// <summary>What Drive says for <paramref name="algorithm"/>, or null.</summary>
    public static string? Expected(DriveItem item, string algorithm) => algorithm == Sha256 ? item.Sha256Checksum : item.Md5Checksum;

    /// <summary>The key a dataset marker is compared with before downloading: the digest a download of the item would compute.</summary>
    public static string? KnownKey(DriveItem item) => item.Sha256Checksum ?? item.Md5Checksum;

    public static System.Security.Cryptography.IncrementalHash Create(string algorithm) =>
        System.Security.Cryptography.IncrementalHash.CreateHash(algorithm == Sha256 ? System.Security.Cryptography.HashAlgorithmName.SHA256 : System.Security.Cryptography.HashAlgorithmName.MD5);

    /// <summary>The lower-case hex digest of a local file with <paramref name="algorithm"/>.</summary>
    public static async Task<string> OfFileAsync(string path, string algorithm, CancellationToken cancellationToken)
    {
        await using var s = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.Asynchronous | FileOptions.SequentialScan);
        return Convert.ToHexStringLower(algorithm == Sha256
            ? await System.Security.Cryptography.SHA256.HashDataAsync(s, cancellationToken).ConfigureAwait(false)
            : await System.Security.Cryptography.MD5.HashDataAsync(s, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Drive sends checksums as lower-case hex; accept only that many hex digits.</summary>
    public static bool IsHex(string value, int digits) => value.Length == digits && value.All(Uri.IsHexDigit);
}

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
