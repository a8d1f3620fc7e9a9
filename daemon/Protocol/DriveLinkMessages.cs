using System.Text.Json.Serialization;
using Colab.Daemon.Drive;

namespace Colab.Daemon.Protocol;

/// <summary><c>colab/drive/parseLink</c>: a share link or file id to check before asking where to save it.</summary>
public sealed record DriveLinkParams(string Link);

/// <param name="Kind">"file", "document", "spreadsheet", "presentation" or "folder".</param>
/// <param name="Formats">Export formats for Docs/Sheets/Slides, the default first; absent for files.</param>
public sealed record DriveLinkInfo(string Kind, string Id, IReadOnlyList<string>? Formats);

/// <summary>
/// <c>colab/drive/getLink</c>: downloads a publicly shared file by link without signing in, into
/// <c>folder</c> under Drive's name (made safe and unique) or to exactly <c>localPath</c>;
/// <c>format</c> picks a Docs/Sheets/Slides export format; <c>baseUrl</c> points at a Drive stand-in.
/// </summary>
public sealed record DriveGetLinkParams(string Link, string? Folder = null, string? LocalPath = null, string? Format = null, string? BaseUrl = null);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(DriveLinkParams))]
[JsonSerializable(typeof(DriveLinkInfo))]
[JsonSerializable(typeof(DriveGetLinkParams))]
[JsonSerializable(typeof(DriveTransfer))]
public sealed partial class DriveLinkJson : JsonSerializerContext;
