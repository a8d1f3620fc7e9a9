using System.Text;
using System.Text.Json;
using Colab.Daemon.Runtimes;
using Colab.Daemon.Runtimes.Files;
using Microsoft.Extensions.Logging;

namespace Colab.Daemon.Drive;

/// <summary>
/// "Dataset to runtime, fast" for a connected remote Jupyter runtime. The daemon downloads the
/// archive from Drive (the Drive token never leaves this machine), streams it to the runtime's disk
/// beside the target through the contents API (<see cref="RuntimeFiles"/>: chunked base64 to a
/// temporary name renamed into place), then runs <c>colab_extract.py</c> in a hidden, short-lived
/// kernel. The extractor keeps the rules of <see cref="ArchiveExtractor"/> (no path escapes, no
/// links, byte and entry limits, a marker with the archive's digest (sha256, or md5 where Drive has none) that makes a second run a no-op)
/// and removes the uploaded archive. Parameters reach the kernel as base64 JSON, never as code.
/// </summary>
public sealed class RemoteDatasetCopy(DriveService drive, RuntimeManager runtimes, RuntimeFiles files, ILogger logger)
{
    public const string ExtractorName = "colab_extract.py";

    public static string ExtractorPath => Path.Combine(AppContext.BaseDirectory, "Drive", "python", ExtractorName);

    /// <summary>How long the hidden kernel may take to start.</summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Copies Drive file <paramref name="id"/> to <paramref name="target"/> (relative to the runtime's
    /// root) on runtime <paramref name="runtimeId"/> and extracts it there.
    /// </summary>
    public async Task<ExtractResult> CopyAsync(string runtimeId, string id, string target, ExtractLimits? limits,
        IProgress<(string Phase, long Bytes)>? progress, CancellationToken cancellationToken)
    {
        limits ??= new ExtractLimits();
        var backend = drive.Require();
        var runtime = runtimes.List().FirstOrDefault(r => r.Id == runtimeId)
            ?? throw new DriveException(DriveErrorKind.NotFound, $"Runtime '{runtimeId}' is not connected; connect it, then copy the dataset again.");
        IReadOnlyList<string> segments;
        try
        {
            segments = RuntimePaths.Split(target);
        }
        catch (ArgumentException e)
        {
            throw new DriveException(DriveErrorKind.InvalidInput, $"target: {e.Message}");
        }
        var targetPath = RuntimePaths.Join(segments);
        id = DriveLinks.Normalize(id);
        var item = await backend.GetAsync(id, cancellationToken).ConfigureAwait(false);
        if (item.IsFolder)
        {
            throw new DriveException(DriveErrorKind.InvalidInput, $"'{item.Name}' is a folder; pick a zip or tar archive.");
        }
        var script = await File.ReadAllTextAsync(ExtractorPath, cancellationToken).ConfigureAwait(false);
        return await OnRuntimeAsync(runtime, async () =>
        {
            // Skip before the download when the runtime already holds this archive's extraction.
            var marker = await ReadMarkerAsync(runtimeId, targetPath, cancellationToken).ConfigureAwait(false);
            var known = DriveChecksums.KnownKey(item);
            if (known is null && marker is not null && backend is FolderBackend folder)
            {
                known = await FolderBackend.Md5OfFileAsync(folder.Resolve(id), cancellationToken).ConfigureAwait(false);
            }
            if (known is not null && marker is not null && marker.StartsWith(known + " ", StringComparison.Ordinal))
            {
                logger.LogInformation("dataset {Name} is already extracted at {Target} on {Runtime}", item.Name, targetPath, runtimeId);
                return new ExtractResult(targetPath, 0, 0, true);
            }
            var local = Path.Combine(Path.GetTempPath(), $"colab-dataset-{Guid.NewGuid():N}.archive");
            var remoteArchive = RuntimePaths.Join([.. segments.Take(segments.Count - 1), $"colab-dataset-{Guid.NewGuid():N}.archive"]);
            var uploaded = false;
            try
            {
                var transfer = await backend.DownloadAsync(id, local, progress is null ? null : new Progress<long>(b => progress.Report(("download", b))), cancellationToken).ConfigureAwait(false);
                if (marker is not null && marker.StartsWith(transfer.ContentKey + " ", StringComparison.Ordinal))
                {
                    return new ExtractResult(targetPath, 0, 0, true);
                }
                uploaded = true;
                await files.UploadAsync(runtimeId, local, remoteArchive, overwrite: false, p => progress?.Report(("upload", p.Done)), cancellationToken).ConfigureAwait(false);
                File.Delete(local);
                var result = await ExtractAsync(runtimeId, script, remoteArchive, targetPath, transfer.ContentKey, limits, progress, cancellationToken).ConfigureAwait(false);
                uploaded = false; // the extractor removed it
                return result;
            }
            finally
            {
                File.Delete(local);
                File.Delete(local + ".part");
                if (uploaded)
                {
                    await RemoveAsync(runtimeId, remoteArchive).ConfigureAwait(false);
                }
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Turns the runtime's failures into Drive errors that say which runtime and what happened.</summary>
    private static async Task<T> OnRuntimeAsync<T>(RuntimeInfo runtime, Func<Task<T>> work, CancellationToken cancellationToken)
    {
        try
        {
            return await work().ConfigureAwait(false);
        }
        catch (JupyterException e) when (!cancellationToken.IsCancellationRequested)
        {
            var kind = e.Kind is JupyterErrorKind.NotFound ? DriveErrorKind.NotFound : DriveErrorKind.Failed;
            throw new DriveException(kind, $"The runtime at {runtime.Url} failed during the copy: {e.Message}", e);
        }
        catch (HttpRequestException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new DriveException(DriveErrorKind.Failed, $"The runtime at {runtime.Url} is gone (the copy stopped): {e.Message}", e);
        }
        catch (TargetExistsException e)
        {
            throw new DriveException(DriveErrorKind.InvalidInput, e.Message, e);
        }
    }

    /// <summary>
    /// The target's marker on the runtime, or null. Read from a hidden kernel: the contents API
    /// does not serve dot-files, and the marker's name starts with a dot like the local one's.
    /// </summary>
    private async Task<string?> ReadMarkerAsync(string runtimeId, string targetPath, CancellationToken cancellationToken)
    {
        var stdout = new StringBuilder();
        await RunHiddenAsync(runtimeId, $$"""
            import base64, json, os
            m = os.path.join(json.loads(base64.b64decode("{{Json(targetPath)}}").decode("utf-8")), "{{ArchiveExtractor.MarkerName}}")
            t = None
            if os.path.isfile(m) and not os.path.islink(m):
                with open(m, "r", encoding="utf-8", errors="replace") as f: t = f.read(200)
            print("colab-marker " + json.dumps(t), flush=True)
            """, text => stdout.Append(text), cancellationToken).ConfigureAwait(false);
        var line = stdout.ToString().Split('\n').FirstOrDefault(l => l.StartsWith("colab-marker ", StringComparison.Ordinal));
        if (line is null)
        {
            return null;
        }
        using var doc = JsonDocument.Parse(line["colab-marker ".Length..]);
        return doc.RootElement.ValueKind == JsonValueKind.String ? doc.RootElement.GetString() : null;
    }

    /// <summary>A value as base64 JSON, to be decoded by Python (nothing of it is spliced into code).</summary>
    private static string Json(string value)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStringValue(value);
        }
        return Convert.ToBase64String(buffer.ToArray());
    }

    private async Task<ExtractResult> ExtractAsync(string runtimeId, string script, string archive, string target, string digest, ExtractLimits limits,
        IProgress<(string Phase, long Bytes)>? progress, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("script", script);
            w.WriteString("archive", archive);
            w.WriteString("target", target);
            w.WriteString("digest", digest);
            w.WriteNumber("maxBytes", limits.MaxBytes);
            w.WriteNumber("maxEntries", limits.MaxEntries);
            w.WriteEndObject();
        }
        var code = $$"""
            import base64, json
            p = json.loads(base64.b64decode("{{Convert.ToBase64String(buffer.ToArray())}}").decode("utf-8"))
            ns = {"__name__": "colab_extract"}
            exec(compile(p.pop("script"), "{{ExtractorName}}", "exec"), ns)
            print("colab-extract-result " + json.dumps(ns["extract"](p)), flush=True)
            """;
        var stdout = new StringBuilder();
        await RunHiddenAsync(runtimeId, code, text =>
        {
            stdout.Append(text);
            foreach (var line in text.Split('\n'))
            {
                var parts = line.Split(' ');
                if (parts.Length == 3 && parts[0] == "colab-extract-progress" && long.TryParse(parts[2], out var bytes))
                {
                    progress?.Report(("extract", bytes));
                }
            }
        }, cancellationToken).ConfigureAwait(false);
        var resultLine = stdout.ToString().Split('\n').LastOrDefault(l => l.StartsWith("colab-extract-result ", StringComparison.Ordinal))
            ?? throw new DriveException(DriveErrorKind.Failed, $"The extractor on runtime {runtimeId} gave no answer: {Tail(stdout.ToString())}");
        using var doc = JsonDocument.Parse(resultLine["colab-extract-result ".Length..]);
        var r = doc.RootElement;
        if (r.GetProperty("ok").GetBoolean())
        {
            return new ExtractResult(target, r.GetProperty("files").GetInt32(), r.GetProperty("bytes").GetInt64(), r.GetProperty("skipped").GetBoolean());
        }
        var message = r.GetProperty("message").GetString() ?? "extraction failed";
        throw r.GetProperty("kind").GetString() switch
        {
            "unsafe" => new DriveException(DriveErrorKind.Unsafe, message),
            "invalid" => new DriveException(DriveErrorKind.InvalidInput, message),
            "diskFull" => new DriveException(DriveErrorKind.Quota, message),
            _ => new DriveException(DriveErrorKind.Failed, message),
        };
    }

    private static string Tail(string s) => s.Length > 500 ? s[^500..] : s;

    /// <summary>Best effort: removes an uploaded archive that the extractor did not get to (a cancel, a failure).</summary>
    private async Task RemoveAsync(string runtimeId, string remoteArchive)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await RunHiddenAsync(runtimeId, $$"""
                import base64, json, os
                try: os.remove(json.loads(base64.b64decode("{{Json(remoteArchive)}}").decode("utf-8")))
                except OSError: pass
                """, _ => { }, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is JupyterException or OperationCanceledException or HttpRequestException or DriveException)
        {
            logger.LogWarning("the uploaded archive {Archive} on runtime {Runtime} was not removed: {Error}", remoteArchive, runtimeId, e.Message);
        }
    }

    /// <summary>Runs code in a hidden kernel started at the server's root; streams its stdout; the kernel is deleted afterwards (which also stops it on cancel).</summary>
    private async Task RunHiddenAsync(string runtimeId, string code, Action<string> stdout, CancellationToken cancellationToken)
    {
        var source = runtimes.Client(runtimeId);
        using var client = new JupyterClient(source.Endpoint, source.Token);
        JupyterKernel kernel;
        using (var start = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            start.CancelAfter(StartTimeout);
            kernel = await client.StartKernelAsync(path: "", cancellationToken: start.Token).ConfigureAwait(false);
        }
        runtimes.HideKernel(runtimeId, kernel.Id);
        try
        {
            var connection = await KernelConnection.ConnectAsync(client, kernel.Id, logger: logger, cancellationToken: cancellationToken).ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            {
                var execution = await connection.ExecuteAsync(code, new ExecuteOptions { Silent = false, StoreHistory = false }, cancellationToken).ConfigureAwait(false);
                await foreach (var output in execution.ReadOutputsAsync(cancellationToken).ConfigureAwait(false))
                {
                    if (output is StreamOutput { Name: "stdout" } s)
                    {
                        stdout(s.Text);
                    }
                }
                var reply = await execution.Completion.WaitAsync(cancellationToken).ConfigureAwait(false);
                if (reply.Status != "ok")
                {
                    throw new DriveException(DriveErrorKind.Failed, $"The extractor on runtime {runtimeId} failed: {reply.Ename}: {reply.Evalue}");
                }
            }
        }
        finally
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await client.DeleteKernelAsync(kernel.Id, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is JupyterException or OperationCanceledException or HttpRequestException)
            {
                logger.LogDebug("hidden kernel {Kernel} not shut down: {Error}", kernel.Id, e.Message);
            }
        }
    }
}
