using System.Text.Json.Serialization;

namespace Colab.Daemon.Drive;

/// <summary>The Drive v3 REST resources this client reads (fields it does not ask for are ignored).</summary>
internal sealed class FileResource
{
    public string? Id { get; set; }
    public string? Name { get; set; }
    public string? MimeType { get; set; }
    public string? Size { get; set; }
    public string? Md5Checksum { get; set; }
    public string? Sha256Checksum { get; set; }
    public DateTimeOffset? ModifiedTime { get; set; }
    public string? DriveId { get; set; }
}

internal sealed class FileList
{
    public List<FileResource>? Files { get; set; }
    public string? NextPageToken { get; set; }
}

internal sealed class ErrorEnvelope
{
    public ErrorBody? Error { get; set; }
}

internal sealed class ErrorBody
{
    public int Code { get; set; }
    public string? Message { get; set; }
    public List<ErrorDetail>? Errors { get; set; }
}

internal sealed class ErrorDetail
{
    public string? Reason { get; set; }
    public string? Domain { get; set; }
    public string? Message { get; set; }
}

internal sealed class UploadMetadata
{
    public string? Name { get; set; }
    public List<string>? Parents { get; set; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(FileResource))]
[JsonSerializable(typeof(FileList))]
[JsonSerializable(typeof(ErrorEnvelope))]
[JsonSerializable(typeof(UploadMetadata))]
internal sealed partial class DriveApiJson : JsonSerializerContext;
