using System.Text.Json;
using System.Text.Json.Serialization;
using Colab.Daemon.GitHub;

namespace Colab.Daemon.Protocol;

/// <summary>
/// <c>colab/github/resolve</c> and <c>colab/github/open</c>: a link (<c>url</c>) or, for open, an
/// already resolved <c>target</c>. <c>token</c> comes from the client's SecretStorage or GitHub
/// sign-in and is never logged; <c>baseUrl</c> is the GitHub Enterprise URL (empty: github.com).
/// </summary>
public sealed record GitHubOpenParams(string? Url = null, GitHubTarget? Target = null, string? Token = null, string? BaseUrl = null, long? MaxBytes = null);

/// <summary>
/// <c>colab/github/open</c> result: the nbformat 4 notebook, embedded in the answer as a JSON
/// object (not a string: no escaping of 5 MB of text and one parse on the client), and the name
/// to give the untitled copy.
/// </summary>
public sealed record GitHubOpenResult(RawJson Notebook, string SuggestedName, GitHubTarget Source, string WebUrl, long Bytes, string? Note = null);

/// <summary>
/// A JSON value kept as its UTF-8 text and written as it is. Only for text already checked to be
/// one valid JSON value (<see cref="NotebookCheck"/> reads every byte of it with a
/// <see cref="Utf8JsonReader"/>), so the answer frame stays valid JSON.
/// </summary>
[JsonConverter(typeof(RawJsonConverter))]
public readonly record struct RawJson(ReadOnlyMemory<byte> Utf8);

public sealed class RawJsonConverter : JsonConverter<RawJson>
{
    public override RawJson Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        using var doc = JsonDocument.ParseValue(ref reader);
        return new RawJson(JsonSerializer.SerializeToUtf8Bytes(doc.RootElement, GitHubProtocolJson.Default.JsonElement));
    }

    public override void Write(Utf8JsonWriter writer, RawJson value, JsonSerializerOptions options)
        => writer.WriteRawValue(value.Utf8.Span, skipInputValidation: true);
}

/// <summary><c>colab/github/list</c>: <c>repo</c> is owner/repo[@ref] or any repository link; <c>ref</c> overrides.</summary>
public sealed record GitHubListParams(string Repo, string? Ref = null, string? Token = null, string? BaseUrl = null);

public sealed record GitHubListResult(string Owner, string Repo, string Ref, string DefaultBranch, IReadOnlyList<GitHubNotebookEntry> Notebooks,
    IReadOnlyList<string> Branches, IReadOnlyList<string> Tags, bool Truncated);

/// <summary><c>colab/github/links</c>: a notebook file in the workspace.</summary>
public sealed record GitHubLinksParams(string Path, string? BaseUrl = null);

public sealed record GitHubLinksResult(string Owner, string Repo, string Ref, string Path, string GitHubUrl, string ColabUrl, string BadgeMarkdown);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(GitHubOpenParams))]
[JsonSerializable(typeof(GitHubOpenResult))]
[JsonSerializable(typeof(GitHubTarget))]
[JsonSerializable(typeof(GitHubListParams))]
[JsonSerializable(typeof(GitHubListResult))]
[JsonSerializable(typeof(GitHubLinksParams))]
[JsonSerializable(typeof(GitHubLinksResult))]
[JsonSerializable(typeof(JsonElement))]
public sealed partial class GitHubProtocolJson : JsonSerializerContext;
