using System.Buffers;
using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Colab.Daemon.Runtimes.Terminals;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Colab.Daemon.Runtimes.Files;

/// <summary>An entry of a runtime folder.</summary>
/// <param name="Type">file, directory or notebook.</param>
public sealed record RuntimeFileEntry(string Name, string Path, string Type, long? Size, DateTimeOffset? LastModified);

/// <summary>What a transfer did.</summary>
public sealed record TransferResult(int Files, int Folders, long Bytes, IReadOnlyList<string> Skipped);

/// <summary>Where a transfer is: bytes done of the total, and the file being copied.</summary>
public readonly record struct TransferProgress(long Done, long Total, string Current);

/// <summary>
/// Copies files between the daemon's machine and a runtime through the Jupyter contents API:
/// uploads in base64 chunks (<c>chunk</c> 1…n, -1 for the last) to a temporary name that is
/// renamed into place at the end, so an interrupted or cancelled upload never leaves half a
/// file under the real name; downloads stream from <c>/files/</c> into a temporary file that
/// replaces the target only when complete. Existing targets are kept unless the caller says
/// to overwrite them.
/// </summary>
public sealed class RuntimeFiles : IDisposable
{
    /// <summary>Raw bytes per upload chunk (JupyterLab uses 1 MiB too).</summary>
    public const int DefaultChunkBytes = 1024 * 1024;

    private readonly RuntimeManager _runtimes;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, RuntimeHttp> _http = new(StringComparer.Ordinal);

    public RuntimeFiles(RuntimeManager runtimes, ILogger<RuntimeFiles>? logger = null)
    {
        _runtimes = runtimes;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    internal int ChunkBytes { get; set; } = DefaultChunkBytes;

    /// <summary>The entries of a runtime folder ("" is the root).</summary>
    public async Task<IReadOnlyList<RuntimeFileEntry>> ListAsync(string runtimeId, string path, CancellationToken cancellationToken = default)
    {
        var segments = RuntimePaths.Split(path, allowRoot: true);
        var http = Http(runtimeId);
        using (var meta = await GetModelAsync(http, segments, content: false, cancellationToken).ConfigureAwait(false))
        {
            if (Str(meta.RootElement, "type") != "directory")
            {
                throw new ArgumentException($"'{RuntimePaths.Join(segments)}' on the runtime is a file, not a folder");
            }
        }
        using var doc = await GetModelAsync(http, segments, content: true, cancellationToken).ConfigureAwait(false);
        var root = doc.RootElement;
        return Entries(root);
    }

    /// <summary>Uploads a local file or folder to <paramref name="remotePath"/> on the runtime.</summary>
    public async Task<TransferResult> UploadAsync(string runtimeId, string localPath, string remotePath, bool overwrite,
        Action<TransferProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var local = RuntimePaths.CheckLocal(localPath);
        var target = RuntimePaths.Split(remotePath);
        var http = Http(runtimeId);
        var skipped = new List<string>();
        var files = new List<(string Local, IReadOnlyList<string> Remote, long Size)>();
        var folders = new List<IReadOnlyList<string>>();
        if (File.Exists(local))
        {
            files.Add((local, target, new FileInfo(local).Length));
        }
        else if (Directory.Exists(local))
        {
            folders.Add(target);
            Walk(local, target, files, folders, skipped);
        }
        else
        {
            throw new FileNotFoundException($"{local} does not exist");
        }
        if (!overwrite && await ExistsAsync(http, target, cancellationToken).ConfigureAwait(false))
        {
            throw new TargetExistsException($"'{RuntimePaths.Join(target)}' already exists on the runtime; choose overwrite to replace it");
        }
        // The parent folder must exist: create it (and its parents) like mkdir -p.
        for (var i = 1; i < target.Count; i++)
        {
            await EnsureFolderAsync(http, target.Take(i).ToList(), cancellationToken).ConfigureAwait(false);
        }
        foreach (var folder in folders)
        {
            await EnsureFolderAsync(http, folder, cancellationToken).ConfigureAwait(false);
        }
        var total = files.Sum(f => f.Size);
        long done = 0;
        foreach (var (file, remote, _) in files)
        {
            var name = RuntimePaths.Join(remote);
            progress?.Invoke(new TransferProgress(done, total, name));
            done += await UploadFileAsync(http, file, remote, overwrite, d => progress?.Invoke(new TransferProgress(done + d, total, name)), cancellationToken).ConfigureAwait(false);
        }
        progress?.Invoke(new TransferProgress(done, total, ""));
        _logger.LogInformation("uploaded {Files} files ({Bytes} bytes) to {Runtime}", files.Count, done, runtimeId);
        return new TransferResult(files.Count, folders.Count, done, skipped);
    }

    /// <summary>Downloads a runtime file or folder to <paramref name="localPath"/>.</summary>
    public async Task<TransferResult> DownloadAsync(string runtimeId, string remotePath, string localPath, bool overwrite,
        Action<TransferProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var local = RuntimePaths.CheckLocal(localPath);
        var source = RuntimePaths.Split(remotePath);
        var http = Http(runtimeId);
        var files = new List<(IReadOnlyList<string> Remote, string Local, long Size)>();
        var folders = new List<string>();
        var skipped = new List<string>();
        await CollectAsync(http, source, local, files, folders, skipped, cancellationToken).ConfigureAwait(false);
        if (!overwrite)
        {
            var existing = files.Select(f => f.Local).Where(File.Exists).Concat(folders.Where(File.Exists)).ToList();
            if (existing.Count > 0 || (files.Count == 1 && folders.Count == 0 && Directory.Exists(local)))
            {
                throw new TargetExistsException($"{(existing.Count > 0 ? existing[0] : local)} already exists{(existing.Count > 1 ? $" (and {existing.Count - 1} more)" : "")}; choose overwrite to replace it");
            }
        }
        foreach (var folder in folders)
        {
            Directory.CreateDirectory(folder);
        }
        var total = files.Sum(f => f.Size);
        long done = 0;
        foreach (var (remote, file, _) in files)
        {
            var name = RuntimePaths.Join(remote);
            progress?.Invoke(new TransferProgress(done, total, name));
            done += await DownloadFileAsync(http, remote, file, d => progress?.Invoke(new TransferProgress(done + d, total, name)), cancellationToken).ConfigureAwait(false);
        }
        progress?.Invoke(new TransferProgress(done, total, ""));
        _logger.LogInformation("downloaded {Files} files ({Bytes} bytes) from {Runtime}", files.Count, done, runtimeId);
        return new TransferResult(files.Count, folders.Count, done, skipped);
    }

    public void Dispose()
    {
        foreach (var http in _http.Values)
        {
            http.Dispose();
        }
        _http.Clear();
    }

    // ---- upload ----------------------------------------------------------------------------

    private static void Walk(string folder, IReadOnlyList<string> remote, List<(string, IReadOnlyList<string>, long)> files, List<IReadOnlyList<string>> folders, List<string> skipped)
    {
        foreach (var entry in new DirectoryInfo(folder).EnumerateFileSystemInfos().OrderBy(e => e.Name, StringComparer.Ordinal))
        {
            if (entry.LinkTarget is not null)
            {
                // A link may lead anywhere on this machine: it is not followed.
                skipped.Add(entry.FullName);
                continue;
            }
            IReadOnlyList<string> child;
            try
            {
                child = [.. remote, RuntimePaths.CheckName(entry.Name)];
            }
            catch (ArgumentException)
            {
                skipped.Add(entry.FullName);
                continue;
            }
            if (entry is DirectoryInfo directory)
            {
                folders.Add(child);
                Walk(directory.FullName, child, files, folders, skipped);
            }
            else if (entry is FileInfo file)
            {
                files.Add((file.FullName, child, file.Length));
            }
        }
    }

    private async Task<long> UploadFileAsync(RuntimeHttp http, string local, IReadOnlyList<string> remote, bool overwrite, Action<long> progress, CancellationToken cancellationToken)
    {
        // Upload beside the target under a temporary name, then rename it into place.
        var temp = remote.Take(remote.Count - 1).Append($"{remote[^1]}.colab-upload-{Guid.NewGuid():N}"[..(remote[^1].Length + 22)] + ".part").ToList();
        long sent = 0;
        try
        {
            await using var stream = new FileStream(local, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
            var buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
            try
            {
                var length = stream.Length;
                if (length <= ChunkBytes)
                {
                    var n = await stream.ReadAtLeastAsync(buffer.AsMemory(0, ChunkBytes), ChunkBytes, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                    await PutFileAsync(http, temp, buffer.AsMemory(0, n), chunk: null, cancellationToken).ConfigureAwait(false);
                    sent = n;
                    progress(sent);
                }
                else
                {
                    var chunk = 1;
                    while (true)
                    {
                        var n = await stream.ReadAtLeastAsync(buffer.AsMemory(0, ChunkBytes), ChunkBytes, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                        var last = sent + n >= length || n < ChunkBytes;
                        await PutFileAsync(http, temp, buffer.AsMemory(0, n), last ? -1 : chunk, cancellationToken).ConfigureAwait(false);
                        sent += n;
                        progress(sent);
                        if (last)
                        {
                            break;
                        }
                        chunk++;
                    }
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
            if (overwrite && await ExistsAsync(http, remote, cancellationToken).ConfigureAwait(false))
            {
                await DeleteAsync(http, remote, cancellationToken).ConfigureAwait(false);
            }
            var body = JsonBody(w => w.WriteString("path", RuntimePaths.Join(remote)));
            using var rename = http.Request(HttpMethod.Patch, "api/contents/" + RuntimePaths.Escape(temp), body);
            using var _ = await http.SendAsync(rename, $"the uploaded part of {RuntimePaths.Join(remote)} vanished on the runtime", cancellationToken).ConfigureAwait(false);
            return sent;
        }
        catch
        {
            try
            {
                await DeleteAsync(http, temp, CancellationToken.None).ConfigureAwait(false);
            }
            catch (JupyterException)
            {
            }
            throw;
        }
    }

    private static async Task PutFileAsync(RuntimeHttp http, IReadOnlyList<string> remote, ReadOnlyMemory<byte> bytes, int? chunk, CancellationToken cancellationToken)
    {
        var body = JsonBody(w =>
        {
            w.WriteString("type", "file");
            w.WriteString("format", "base64");
            w.WriteString("content", Convert.ToBase64String(bytes.Span));
            if (chunk is { } c)
            {
                w.WriteNumber("chunk", c);
            }
        });
        using var request = http.Request(HttpMethod.Put, "api/contents/" + RuntimePaths.Escape(remote), body);
        using var _ = await http.SendAsync(request, $"the folder of {RuntimePaths.Join(remote)} does not exist on the runtime", cancellationToken).ConfigureAwait(false);
    }

    private static async Task EnsureFolderAsync(RuntimeHttp http, IReadOnlyList<string> remote, CancellationToken cancellationToken)
    {
        if (await TypeAsync(http, remote, cancellationToken).ConfigureAwait(false) is { } type)
        {
            if (type != "directory")
            {
                throw new TargetExistsException($"'{RuntimePaths.Join(remote)}' on the runtime is a file, not a folder");
            }
            return;
        }
        var body = JsonBody(w => w.WriteString("type", "directory"));
        using var request = http.Request(HttpMethod.Put, "api/contents/" + RuntimePaths.Escape(remote), body);
        using var _ = await http.SendAsync(request, null, cancellationToken).ConfigureAwait(false);
    }

    private static async Task DeleteAsync(RuntimeHttp http, IReadOnlyList<string> remote, CancellationToken cancellationToken)
    {
        using var request = http.Request(HttpMethod.Delete, "api/contents/" + RuntimePaths.Escape(remote));
        using var _ = await http.SendAsync(request, null, cancellationToken).ConfigureAwait(false);
    }

    // ---- download --------------------------------------------------------------------------

    private static async Task CollectAsync(RuntimeHttp http, IReadOnlyList<string> remote, string local,
        List<(IReadOnlyList<string>, string, long)> files, List<string> folders, List<string> skipped, CancellationToken cancellationToken)
    {
        // Metadata first: content=1 on a file would send the whole file inside the JSON.
        using (var meta = await GetModelAsync(http, remote, content: false, cancellationToken).ConfigureAwait(false))
        {
            var model = meta.RootElement;
            if (Str(model, "type") != "directory")
            {
                files.Add((remote, local, model.TryGetProperty("size", out var s) && s.ValueKind == JsonValueKind.Number ? s.GetInt64() : 0));
                return;
            }
        }
        using var doc = await GetModelAsync(http, remote, content: true, cancellationToken).ConfigureAwait(false);
        var root = doc.RootElement;
        folders.Add(local);
        foreach (var entry in Entries(root))
        {
            string name;
            try
            {
                name = RuntimePaths.CheckName(entry.Name);
            }
            catch (ArgumentException)
            {
                skipped.Add(entry.Name);
                continue;
            }
            var child = Path.Combine(local, name);
            if (!Path.GetFullPath(child).StartsWith(local, StringComparison.Ordinal))
            {
                skipped.Add(entry.Name);
                continue;
            }
            await CollectAsync(http, [.. remote, name], child, files, folders, skipped, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<long> DownloadFileAsync(RuntimeHttp http, IReadOnlyList<string> remote, string local, Action<long> progress, CancellationToken cancellationToken)
    {
        var temp = $"{local}.colab-download-{Guid.NewGuid():N}"[..(local.Length + 24)] + ".part";
        long received = 0;
        try
        {
            using var request = http.Request(HttpMethod.Get, "files/" + RuntimePaths.Escape(remote));
            using var response = await http.SendAsync(request, $"'{RuntimePaths.Join(remote)}' does not exist on the runtime", cancellationToken,
                HttpCompletionOption.ResponseHeadersRead, TimeSpan.FromHours(12)).ConfigureAwait(false);
            await using (var source = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false))
            await using (var target = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1))
            {
                var buffer = ArrayPool<byte>.Shared.Rent(256 * 1024);
                try
                {
                    int n;
                    var last = Environment.TickCount64;
                    while ((n = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                    {
                        await target.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                        received += n;
                        if (Environment.TickCount64 - last > 200)
                        {
                            last = Environment.TickCount64;
                            progress(received);
                        }
                    }
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
            File.Move(temp, local, overwrite: true);
            progress(received);
            return received;
        }
        catch
        {
            try
            {
                File.Delete(temp);
            }
            catch (IOException)
            {
            }
            throw;
        }
    }

    // ---- contents API helpers ----------------------------------------------------------------

    private static Task<JsonDocument> GetModelAsync(RuntimeHttp http, IReadOnlyList<string> remote, bool content, CancellationToken cancellationToken)
    {
        var query = content ? "?content=1" : "?content=0";
        var request = http.Request(HttpMethod.Get, "api/contents/" + RuntimePaths.Escape(remote) + query);
        return SendDisposingAsync(http, request, $"'{RuntimePaths.Join(remote)}' does not exist on the runtime", cancellationToken);
    }

    private static async Task<JsonDocument> SendDisposingAsync(RuntimeHttp http, HttpRequestMessage request, string notFound, CancellationToken cancellationToken)
    {
        using (request)
        {
            return await http.SendJsonAsync(request, notFound, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<bool> ExistsAsync(RuntimeHttp http, IReadOnlyList<string> remote, CancellationToken cancellationToken)
        => await TypeAsync(http, remote, cancellationToken).ConfigureAwait(false) is not null;

    private static async Task<string?> TypeAsync(RuntimeHttp http, IReadOnlyList<string> remote, CancellationToken cancellationToken)
    {
        try
        {
            using var doc = await GetModelAsync(http, remote, content: false, cancellationToken).ConfigureAwait(false);
            return Str(doc.RootElement, "type");
        }
        catch (JupyterException e) when (e.Kind == JupyterErrorKind.NotFound)
        {
            return null;
        }
    }

    private static List<RuntimeFileEntry> Entries(JsonElement directory)
    {
        var list = new List<RuntimeFileEntry>();
        if (!directory.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.Array)
        {
            return list;
        }
        foreach (var e in content.EnumerateArray())
        {
            if (Str(e, "name") is not { } name || Str(e, "path") is not { } path || Str(e, "type") is not { } type)
            {
                continue;
            }
            long? size = e.TryGetProperty("size", out var s) && s.ValueKind == JsonValueKind.Number ? s.GetInt64() : null;
            DateTimeOffset? modified = Str(e, "last_modified") is { } m && DateTimeOffset.TryParse(m, System.Globalization.CultureInfo.InvariantCulture, out var t) ? t : null;
            list.Add(new RuntimeFileEntry(name, path, type, size, modified));
        }
        list.Sort((a, b) => (a.Type == "directory" ? 0 : 1).CompareTo(b.Type == "directory" ? 0 : 1) is var c && c != 0 ? c : string.CompareOrdinal(a.Name, b.Name));
        return list;
    }

    private static string? Str(JsonElement element, string name)
        => element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static ByteArrayContent JsonBody(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            write(writer);
            writer.WriteEndObject();
        }
        var content = new ByteArrayContent(buffer.WrittenSpan.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = Encoding.UTF8.WebName };
        return content;
    }

    private RuntimeHttp Http(string runtimeId)
    {
        var client = _runtimes.Client(runtimeId);
        foreach (var gone in _http.Keys.Where(k => !_runtimes.List().Any(r => r.Id == k)).ToList())
        {
            if (_http.TryRemove(gone, out var stale))
            {
                stale.Dispose();
            }
        }
        return _http.GetOrAdd(runtimeId, _ => new RuntimeHttp(client));
    }
}

/// <summary>The target of a transfer exists and the caller did not ask to overwrite it.</summary>
public sealed class TargetExistsException(string message) : Exception(message);
