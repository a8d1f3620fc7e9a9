using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Colab.Daemon.Drive;
using Colab.Daemon.Protocol;
using Colab.Daemon.Python;
using Colab.Daemon.Runtimes;
using Colab.Daemon.Runtimes.Files;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace Colab.Daemon.Cli;

/// <summary>
/// <c>colab drive ls|get|put|cp-to-runtime|flush</c>. The backend is a mounted folder
/// (<c>--folder</c> or COLAB_DRIVE_FOLDER) or the Drive v3 API (<c>--api</c>, address from
/// <c>--api-url</c>, token from COLAB_DRIVE_TOKEN: never from argv, which other users can read).
/// <c>cp-to-runtime --runtime &lt;id|url&gt;</c> extracts on a remote Jupyter runtime instead of this disk.
/// </summary>
internal static class DriveCommand
{
    public static Command Create(TextWriter output)
    {
        var folder = new Option<string?>("--folder") { Description = "A mounted Drive folder (Drive for desktop, rclone mount) or any folder; default COLAB_DRIVE_FOLDER.", Recursive = true };
        var api = new Option<bool>("--api") { Description = "Use the Drive v3 API with the access token in COLAB_DRIVE_TOKEN.", Recursive = true };
        var apiUrl = new Option<string?>("--api-url") { Description = "The Drive API address (default https://www.googleapis.com/).", Recursive = true };
        var asJson = new Option<bool>("--json") { Description = "Print JSON (the protocol's records).", Recursive = true };

        var lsId = new Argument<string>("folder-id") { Description = "Folder id (API: 'root' for My Drive; folder: a relative path, '' for the root).", DefaultValueFactory = _ => "" };
        var search = new Option<string?>("--name") { Description = "Only names containing this text." };
        var sort = new Option<string>("--sort") { Description = "name, modified or size.", DefaultValueFactory = _ => "name" };
        var ls = new Command("ls", "List a folder (all pages).") { lsId, search, sort };
        ls.SetAction((p, ct) => RunAsync(p, folder, api, apiUrl, output, async drive =>
        {
            var sortBy = p.GetValue(sort) switch
            {
                "modified" => DriveSort.Modified,
                "size" => DriveSort.Size,
                "name" => DriveSort.Name,
                _ => throw new DriveException(DriveErrorKind.InvalidInput, "--sort must be name, modified or size."),
            };
            var id = p.GetValue(lsId) is { Length: > 0 } given ? given : drive.Backend is DriveApiBackend ? "root" : "";
            string? token = null;
            do
            {
                var page = await drive.ListAsync(new DriveListRequest(id, p.GetValue(search), sortBy, PageToken: token), ct).ConfigureAwait(false);
                foreach (var i in page.Items)
                {
                    await output.WriteLineAsync(p.GetValue(asJson)
                        ? JsonSerializer.Serialize(i, DriveJson.Default.DriveItem)
                        : $"{(i.IsFolder ? "d" : "-")} {(i.Size?.ToString(CultureInfo.InvariantCulture) ?? "").PadLeft(12)}  {i.ModifiedTime:yyyy-MM-dd HH:mm}  {i.Name}  ({i.Id})").ConfigureAwait(false);
                }
                token = page.NextPageToken;
            }
            while (token is not null);
        }, ct));

        var getId = new Argument<string>("id") { Description = "The file to download: a Drive id, a mounted folder's path, or a share link (downloaded without sign-in)." };
        var dest = new Argument<string>("dest") { Description = "A local folder (a safe, non-clashing name is chosen) or file path.", DefaultValueFactory = _ => "." };
        var format = new Option<string?>("--format") { Description = "Export format for a Docs/Sheets/Slides share link (docx, pdf, xlsx, csv, pptx, …)." };
        var linkUrl = new Option<string?>("--link-url") { Description = "Serve Drive's public share-link hosts from this origin instead (a stand-in for tests)." };
        var get = new Command("get", "Download a file, verifying its sha256 (md5 where Drive has no sha256); a share link or file id without --api/--folder downloads without sign-in.") { getId, dest, format, linkUrl };
        get.SetAction((p, ct) => DriveLinkCommand.Applies(p.GetValue(getId)!, p.GetValue(api), p.GetValue(folder))
            ? DriveLinkCommand.RunAsync(p.GetValue(getId)!, p.GetValue(dest)!, p.GetValue(format), p.GetValue(linkUrl), p.GetValue(asJson), output, ct)
            : RunAsync(p, folder, api, apiUrl, output, async drive =>
        {
            var d = p.GetValue(dest)!;
            var t = Directory.Exists(d)
                ? await drive.DownloadAsync(p.GetValue(getId)!, d, null, null, ct).ConfigureAwait(false)
                : await drive.DownloadAsync(p.GetValue(getId)!, null, d, null, ct).ConfigureAwait(false);
            await PrintTransferAsync(t, p.GetValue(asJson), output).ConfigureAwait(false);
        }, ct));

        var putPath = new Argument<string>("path") { Description = "The local file to upload." };
        var putParent = new Argument<string>("parent-id") { Description = "The Drive folder to upload into.", DefaultValueFactory = _ => "" };
        var replace = new Option<string?>("--replace") { Description = "Replace the content of this existing file id instead of creating a file." };
        var put = new Command("put", "Upload a file (resumable), verifying its sha256 (md5 where Drive has no sha256).") { putPath, putParent, replace };
        put.SetAction((p, ct) => RunAsync(p, folder, api, apiUrl, output, async drive =>
        {
            var parent = p.GetValue(putParent) is { Length: > 0 } given ? given : drive.Backend is DriveApiBackend ? "root" : "";
            var t = await drive.UploadAsync(p.GetValue(putPath)!, parent, null, p.GetValue(replace), null, ct).ConfigureAwait(false);
            await PrintTransferAsync(t, p.GetValue(asJson), output).ConfigureAwait(false);
        }, ct));

        var cpId = new Argument<string>("id") { Description = "A zip or tar(.gz) on Drive." };
        var cpTarget = new Argument<string>("target") { Description = "The folder to extract into: on this machine's disk, or with --runtime a path relative to the runtime's root." };
        var cpRuntime = new Option<string?>("--runtime") { Description = "Copy to this remote Jupyter runtime instead: the id of a runtime remembered by 'colab runtime connect', or its URL; its token comes from COLAB_RUNTIME_TOKEN (never the command line)." };
        var cp = new Command("cp-to-runtime", "Copy an archive from Drive to the runtime's disk and extract it safely (skipped when already complete): the local disk, or a remote runtime with --runtime.") { cpId, cpTarget, cpRuntime };
        cp.SetAction((p, ct) => RunAsync(p, folder, api, apiUrl, output, async drive =>
        {
            var r = p.GetValue(cpRuntime) is { } runtime
                ? await CopyToRemoteRuntimeAsync(drive, runtime, p.GetValue(cpId)!, p.GetValue(cpTarget)!, ct).ConfigureAwait(false)
                : await drive.CopyToRuntimeAsync(p.GetValue(cpId)!, p.GetValue(cpTarget)!, null, null, ct).ConfigureAwait(false);
            await output.WriteLineAsync(p.GetValue(asJson)
                ? JsonSerializer.Serialize(r, DriveJson.Default.ExtractResult)
                : r.Skipped ? $"{r.Target} already holds this archive; nothing to do." : $"Extracted {r.Files} files ({r.Bytes} bytes) into {r.Target}.").ConfigureAwait(false);
        }, ct));

        var pairs = new Argument<string[]>("local=id") { Description = "Local files and the Drive ids they should be, e.g. model.pt=1AbC…", Arity = ArgumentArity.OneOrMore };
        var flush = new Command("flush", "Check that local files are really on Drive: compare each file's sha256 (md5 where Drive has no sha256) with Drive's. Exit code 1 when any differs.") { pairs };
        flush.SetAction((p, ct) => RunAsync(p, folder, api, apiUrl, output, async drive =>
        {
            var bad = 0;
            foreach (var pair in p.GetValue(pairs)!)
            {
                var eq = pair.LastIndexOf('=');
                if (eq <= 0)
                {
                    throw new DriveException(DriveErrorKind.InvalidInput, $"'{pair}' is not local=id.");
                }
                var item = await drive.GetAsync(pair[(eq + 1)..], ct).ConfigureAwait(false);
                var algorithm = DriveChecksums.AlgorithmFor(item);
                var local = await DriveChecksums.OfFileAsync(pair[..eq], algorithm, ct).ConfigureAwait(false);
                var remote = DriveChecksums.Expected(item, algorithm);
                if (remote is null && drive.Backend is FolderBackend f)
                {
                    remote = await DriveChecksums.OfFileAsync(f.Resolve(item.Id), algorithm, ct).ConfigureAwait(false);
                }
                var ok = string.Equals(local, remote, StringComparison.OrdinalIgnoreCase);
                bad += ok ? 0 : 1;
                await output.WriteLineAsync($"{(ok ? "ok      " : "DIFFERS ")} {pair[..eq]} {algorithm} {local} / Drive {remote ?? "unknown"}").ConfigureAwait(false);
            }
            if (bad > 0)
            {
                throw new DriveException(DriveErrorKind.Integrity, $"{bad} file(s) are not the same on Drive.");
            }
        }, ct));

        return new Command("drive", "Google Drive or a mounted Drive folder: list, download, upload, datasets to the runtime, verify.") { folder, api, apiUrl, asJson, ls, get, put, cp, flush };
    }

    /// <summary>
    /// <c>cp-to-runtime --runtime</c>: connects to the remote Jupyter runtime (a remembered id or a
    /// URL, the token from <c>COLAB_RUNTIME_TOKEN</c>) for this command only, and hands over to
    /// <see cref="RemoteDatasetCopy"/> as the daemon's "Copy to Runtime and Extract…" does.
    /// </summary>
    private static async Task<ExtractResult> CopyToRemoteRuntimeAsync(DriveService drive, string runtime, string id, string target, CancellationToken cancellationToken)
    {
        var url = ResolveRuntime(runtime);
        var empty = new Hosting.ColabSettings();
        var runtimes = new RuntimeManager(new PythonLocator(empty), empty);
        try
        {
            RuntimeInfo info;
            try
            {
                info = await runtimes.ConnectRemoteAsync(url, Environment.GetEnvironmentVariable(RuntimeStateCommands.TokenVariable) is { Length: > 0 } token ? token : null, cancellationToken).ConfigureAwait(false);
            }
            catch (JupyterException e)
            {
                throw new DriveException(DriveErrorKind.Failed, $"cannot connect to the runtime {runtime}: {e.Message}", e);
            }
            using var files = new RuntimeFiles(runtimes);
            return await new RemoteDatasetCopy(drive, runtimes, files, NullLogger.Instance).CopyAsync(info.Id, id, target, null, null, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await runtimes.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The URL of <paramref name="runtime"/>: a URL as given (never with a token in it), else a remembered runtime's id.</summary>
    internal static string ResolveRuntime(string runtime)
    {
        if (string.IsNullOrWhiteSpace(runtime))
        {
            throw new DriveException(DriveErrorKind.InvalidInput, "--runtime needs a runtime id (see colab runtime list) or a Jupyter server URL.");
        }
        if (runtime.Contains("://", StringComparison.Ordinal))
        {
            try
            {
                JupyterEndpoint.Parse(runtime, out var inUrl);
                if (inUrl is not null)
                {
                    throw new DriveException(DriveErrorKind.InvalidInput, $"take the token out of the runtime URL (others can read the command line); set {RuntimeStateCommands.TokenVariable} instead.");
                }
            }
            catch (JupyterException e)
            {
                throw new DriveException(DriveErrorKind.InvalidInput, $"--runtime: {e.Message}", e);
            }
            return runtime.Trim();
        }
        return RuntimeStateCommands.Load().Runtimes.FirstOrDefault(r => r.Id == runtime)?.Url
            ?? throw new DriveException(DriveErrorKind.NotFound,
                $"no remembered runtime '{(runtime.Length > 100 ? runtime[..100] + "…" : runtime)}': connect it with 'colab runtime connect <url>' (see colab runtime list), or pass its URL.");
    }

    private static async Task PrintTransferAsync(DriveTransfer t, bool asJson, TextWriter output)
        => await output.WriteLineAsync(asJson
            ? JsonSerializer.Serialize(t, DriveJson.Default.DriveTransfer)
            : $"{t.LocalPath} ⇄ {t.FileId}: {t.Bytes} bytes, {(t.VerifiedWith == DriveChecksums.Md5 || t.Sha256Checksum is null ? $"md5 {t.Md5Checksum}" : $"sha256 {t.Sha256Checksum}")} {(t.Verified ? "verified" : "(Drive gave no checksum to compare)")}").ConfigureAwait(false);

    private static async Task<int> RunAsync(ParseResult p, Option<string?> folder, Option<bool> api, Option<string?> apiUrl, TextWriter output, Func<DriveService, Task> work, CancellationToken cancellationToken)
    {
        var drive = new DriveService(NullLogger<DriveService>.Instance);
        try
        {
            if (p.GetValue(api))
            {
                var token = Environment.GetEnvironmentVariable("COLAB_DRIVE_TOKEN");
                if (string.IsNullOrEmpty(token))
                {
                    throw new DriveException(DriveErrorKind.Auth, "--api needs an access token in the COLAB_DRIVE_TOKEN environment variable.");
                }
                drive.UseApi(p.GetValue(apiUrl) ?? DriveApiBackend.DefaultBaseUrl, new StaticDriveToken(token));
            }
            else
            {
                var path = p.GetValue(folder) ?? Environment.GetEnvironmentVariable("COLAB_DRIVE_FOLDER");
                if (string.IsNullOrEmpty(path))
                {
                    throw new DriveException(DriveErrorKind.InvalidInput, "Say which Drive: --folder <mounted Drive folder> (or COLAB_DRIVE_FOLDER), or --api with COLAB_DRIVE_TOKEN.");
                }
                drive.UseFolder(path);
            }
            await work(drive).ConfigureAwait(false);
            return CommandLine.ExitOk;
        }
        catch (DriveException e)
        {
            await Console.Error.WriteLineAsync($"colab drive: {e.Message}").ConfigureAwait(false);
            return CommandLine.ExitFailure;
        }
        catch (IOException e)
        {
            await Console.Error.WriteLineAsync($"colab drive: {e.Message}").ConfigureAwait(false);
            return CommandLine.ExitFailure;
        }
        catch (HttpRequestException e)
        {
            // Retries are spent (connection refused, DNS): a message, not a stack trace.
            await Console.Error.WriteLineAsync($"colab drive: cannot reach Google Drive: {e.Message}").ConfigureAwait(false);
            return CommandLine.ExitFailure;
        }
    }
}
