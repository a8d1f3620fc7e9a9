using System.Text.Json;
using System.Text.Json.Serialization;
using Colab.Daemon.Drive;

namespace Colab.Daemon.Protocol;

/// <summary><c>colab/drive/use</c>: <c>kind</c> "folder" (a mounted Drive folder at <c>path</c>) or "api" (Drive v3 at <c>baseUrl</c> with <c>accessToken</c>).</summary>
public sealed record DriveUseParams(string Kind, string? Path = null, string? BaseUrl = null, string? AccessToken = null)
{
    // The token never reaches a log line or an error message through ToString.
    public override string ToString() => $"DriveUseParams {{ Kind = {Kind}, Path = {Path}, BaseUrl = {BaseUrl} }}";
}

/// <param name="Kind">"folder", "api", or null when no Drive is connected.</param>
public sealed record DriveStatusResult(string? Kind, string? Root, int PendingUploads);

/// <param name="Sort">"name", "modified" or "size".</param>
/// <param name="FolderId">A folder id, <c>root</c> (My Drive), <c>:sharedDrives</c> or <c>:sharedWithMe</c>.</param>
/// <param name="DriveId">The shared drive holding the folder (from its <c>DriveItem.driveId</c>).</param>
public sealed record DriveListParams(string FolderId, string? NameContains = null, string? Sort = null, bool Descending = false, string? PageToken = null, int PageSize = 1000, string? DriveId = null);

public sealed record DriveListResult(IReadOnlyList<DriveItem> Items, string? NextPageToken);

public sealed record DriveIdParams(string Id);

/// <summary>
/// <c>colab/drive/get</c>: into <c>folder</c> under a safe unique name, or to exactly <c>localPath</c>.
/// With <c>exportMimeType</c> (and <c>folder</c>), a Google Docs Editors file is exported to that format.
/// </summary>
public sealed record DriveGetParams(string Id, string? Folder = null, string? LocalPath = null, string? ExportMimeType = null, string? ExportExtension = null);

public sealed record DrivePutParams(string LocalPath, string ParentId, string? Name = null, string? ExistingId = null);

/// <summary>
/// <c>colab/drive/copyToRuntime</c>: without <c>runtimeId</c> (or with a local runtime's id) <c>target</c> is a folder on this
/// machine; with a remote runtime's id it is a folder relative to that runtime's root, and the archive is extracted there.
/// </summary>
public sealed record DriveCopyToRuntimeParams(string Id, string Target, long? MaxBytes = null, int? MaxEntries = null, string? RuntimeId = null);

public sealed record DriveFlushResult(IReadOnlyList<FlushedUpload> Uploads);

/// <summary><c>colab/drive/read</c>: the content and the digest it was verified with (sha256, or md5 where Drive has no sha256).</summary>
public sealed record DriveReadResult(string ContentBase64, string? Md5Checksum, string? Sha256Checksum = null);

public sealed record DriveWriteParams(string Id, string ContentBase64);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(DriveUseParams))]
[JsonSerializable(typeof(DriveStatusResult))]
[JsonSerializable(typeof(DriveListParams))]
[JsonSerializable(typeof(DriveListResult))]
[JsonSerializable(typeof(DriveIdParams))]
[JsonSerializable(typeof(DriveGetParams))]
[JsonSerializable(typeof(DrivePutParams))]
[JsonSerializable(typeof(DriveCopyToRuntimeParams))]
[JsonSerializable(typeof(DriveFlushResult))]
[JsonSerializable(typeof(DriveReadResult))]
[JsonSerializable(typeof(DriveWriteParams))]
[JsonSerializable(typeof(DriveItem))]
[JsonSerializable(typeof(DriveTransfer))]
[JsonSerializable(typeof(ExtractResult))]
[JsonSerializable(typeof(EmptyParams))]
[JsonSerializable(typeof(JsonElement))]
public sealed partial class DriveJson : JsonSerializerContext;
