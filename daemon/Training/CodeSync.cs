using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Colab.Daemon.Runtimes;
using Colab.Daemon.Runtimes.Files;
using Microsoft.Extensions.FileSystemGlobbing;

namespace Colab.Daemon.Training;

/// <summary>One synced file in the manifest on the runtime.</summary>
public sealed record SyncedFile(long Size, string Sha256);

/// <summary><c>colab-sync.json</c> in the code folder on the runtime: what the last sync uploaded.</summary>
public sealed record SyncManifest(string Format, Dictionary<string, SyncedFile> Files);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(SyncManifest))]
internal sealed partial class CodeSyncJson : JsonSerializerContext;

/// <summary>What a sync did.</summary>
public sealed record CodeSyncResult(int Files, int Uploaded, long UploadedBytes);

/// <summary>
/// Copies the workspace files a remote job needs to the runtime through the Jupyter contents API
/// (<see cref="RuntimeFiles"/>): the files matching the globs, only those whose sha256 differs from
/// the manifest the previous sync left on the runtime. Globs are relative to the workspace and may
/// not leave it; symbolic links are not followed; limits on file count and bytes.
/// </summary>
public sealed class CodeSync(RuntimeFiles files)
{
    public const string ManifestName = "colab-sync.json";
    public const string Format = "colab-sync/1";
    public const int MaxFiles = 5000;
    public const long MaxBytes = 256L * 1024 * 1024;
    public const int MaxGlobs = 64;
    public static readonly IReadOnlyList<string> DefaultGlobs = ["**/*.py"];

    /// <summary>Checks globs (a boundary): relative, no <c>..</c> segment, no backslash or control characters.</summary>
    public static IReadOnlyList<string> ValidateGlobs(IReadOnlyList<string>? globs)
    {
        if (globs is null || globs.Count == 0)
        {
            return DefaultGlobs;
        }
        if (globs.Count > MaxGlobs)
        {
            throw new TrainingException($"Invalid params: at most {MaxGlobs} sync globs");
        }
        foreach (var g in globs)
        {
            if (g is null || g.Length is 0 or > 256 || g.Any(char.IsControl) || g.Contains('\\', StringComparison.Ordinal))
            {
                throw new TrainingException("Invalid params: a sync glob is 1 to 256 characters, '/'-separated, without control characters");
            }
            if (g.StartsWith('/') || g.StartsWith('~') || (g.Length > 1 && g[1] == ':') || g.Split('/').Any(s => s == ".."))
            {
                throw new TrainingException($"Invalid params: the sync glob '{g}' leaves the workspace (globs are relative to it, without '..')");
            }
        }
        return globs;
    }

    /// <summary>The workspace files the globs select: relative '/'-separated paths, sorted; never a path through a symbolic link.</summary>
    public static IReadOnlyList<string> Select(string workspace, IReadOnlyList<string> globs)
    {
        var root = Path.GetFullPath(workspace);
        if (!Directory.Exists(root))
        {
            throw new TrainingException($"Invalid params: the workspace {root} does not exist");
        }
        var matcher = new Matcher(StringComparison.Ordinal);
        matcher.AddIncludePatterns(globs);
        matcher.AddExcludePatterns([".git/**", "**/__pycache__/**", "**/.venv/**", "**/node_modules/**"]);
        var selected = new List<string>();
        foreach (var relative in matcher.GetResultsInFullPath(root).Select(p => Path.GetRelativePath(root, p).Replace(Path.DirectorySeparatorChar, '/')).Order(StringComparer.Ordinal))
        {
            if (relative.StartsWith("../", StringComparison.Ordinal) || relative == ".." || Path.IsPathRooted(relative) || ThroughLink(root, relative))
            {
                continue;
            }
            selected.Add(relative);
            if (selected.Count > MaxFiles)
            {
                throw new TrainingException($"the sync globs select more than {MaxFiles} files; narrow them (syncGlobs)");
            }
        }
        return selected;
    }

    private static bool ThroughLink(string root, string relative)
    {
        var path = root;
        foreach (var segment in relative.Split('/'))
        {
            path = Path.Combine(path, segment);
            var info = new FileInfo(path);
            if (info.LinkTarget is not null || (info.Attributes & FileAttributes.ReparsePoint) != 0)
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Uploads the changed files to <paramref name="remoteFolder"/> and replaces the manifest there.</summary>
    public async Task<CodeSyncResult> SyncAsync(string runtimeId, string workspace, IReadOnlyList<string> globs, string remoteFolder, CancellationToken cancellationToken)
    {
        var root = Path.GetFullPath(workspace);
        var selected = Select(root, globs);
        var local = new Dictionary<string, SyncedFile>(StringComparer.Ordinal);
        long total = 0;
        foreach (var relative in selected)
        {
            var path = Path.Combine(root, relative);
            await using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            total += f.Length;
            if (total > MaxBytes)
            {
                throw new TrainingException($"the sync globs select more than {MaxBytes / (1024 * 1024)} MiB; narrow them (syncGlobs)");
            }
            local[relative] = new SyncedFile(f.Length, Convert.ToHexStringLower(await SHA256.HashDataAsync(f, cancellationToken).ConfigureAwait(false)));
        }
        var previous = await ReadManifestAsync(runtimeId, remoteFolder, cancellationToken).ConfigureAwait(false);
        int uploaded = 0;
        long bytes = 0;
        foreach (var (relative, file) in local)
        {
            if (previous.TryGetValue(relative, out var before) && before == file)
            {
                continue;
            }
            await files.UploadAsync(runtimeId, Path.Combine(root, relative), $"{remoteFolder}/{relative}", overwrite: true, cancellationToken: cancellationToken).ConfigureAwait(false);
            uploaded++;
            bytes += file.Size;
        }
        if (uploaded > 0 || previous.Count != local.Count || previous.Keys.Any(k => !local.ContainsKey(k)))
        {
            // Files that left the selection stay on the runtime; the manifest lists what matches now.
            var merged = new Dictionary<string, SyncedFile>(local, StringComparer.Ordinal);
            var tmp = Path.Combine(Path.GetTempPath(), $"colab-sync-{Guid.NewGuid():N}.json");
            try
            {
                await File.WriteAllBytesAsync(tmp, JsonSerializer.SerializeToUtf8Bytes(new SyncManifest(Format, merged), CodeSyncJson.Default.SyncManifest), cancellationToken).ConfigureAwait(false);
                await files.UploadAsync(runtimeId, tmp, $"{remoteFolder}/{ManifestName}", overwrite: true, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                File.Delete(tmp);
            }
        }
        return new CodeSyncResult(local.Count, uploaded, bytes);
    }

    /// <summary>The manifest on the runtime; empty when there is none or it is not valid (then everything is uploaded).</summary>
    private async Task<Dictionary<string, SyncedFile>> ReadManifestAsync(string runtimeId, string remoteFolder, CancellationToken cancellationToken)
    {
        var tmp = Path.Combine(Path.GetTempPath(), $"colab-sync-{Guid.NewGuid():N}.json");
        try
        {
            await files.DownloadAsync(runtimeId, $"{remoteFolder}/{ManifestName}", tmp, overwrite: true, cancellationToken: cancellationToken).ConfigureAwait(false);
            var m = JsonSerializer.Deserialize(await File.ReadAllBytesAsync(tmp, cancellationToken).ConfigureAwait(false), CodeSyncJson.Default.SyncManifest);
            return m is { Format: Format } ? new Dictionary<string, SyncedFile>(m.Files, StringComparer.Ordinal) : [];
        }
        catch (Exception e) when (e is JupyterException { Kind: JupyterErrorKind.NotFound } or JsonException or FileNotFoundException)
        {
            return [];
        }
        finally
        {
            File.Delete(tmp);
        }
    }
}
