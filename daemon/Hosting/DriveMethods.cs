using System.Text.Json;
using Colab.Daemon.Drive;
using Colab.Daemon.JsonRpc;
using Colab.Daemon.Protocol;
using Colab.Daemon.Runtimes;
using Colab.Daemon.Runtimes.Files;
using Microsoft.Extensions.Logging;

namespace Colab.Daemon.Hosting;

/// <summary>
/// The Drive handlers: wire records in, <see cref="DriveService"/> calls out, transfers report
/// <c>$/progress</c> and stop on <c>$/cancelRequest</c>, <see cref="DriveException"/>s map to the
/// Drive error codes. <c>colab/drive/use</c> carries an access token: params are never logged.
/// </summary>
internal sealed class DriveMethods(DriveService drive, RuntimeManager runtimes, RuntimeFiles files, ILogger<RemoteDatasetCopy> remoteLogger) : IMethodGroup
{
    private readonly RemoteDatasetCopy _remote = new(drive, runtimes, files, remoteLogger);

    private const int MaxInlineBytes = 64 * 1024 * 1024;

    public void Register(JsonRpcConnection connection)
    {
        var json = DriveJson.Default;

        connection.OnRequest(Methods.DriveUse, () => json.DriveUseParams, () => json.DriveStatusResult, (p, _) => Guard(() =>
        {
            switch (p.Kind)
            {
                case "folder" when !string.IsNullOrEmpty(p.Path):
                    drive.UseFolder(p.Path);
                    break;
                case "api" when !string.IsNullOrEmpty(p.AccessToken):
                    drive.UseApi(p.BaseUrl ?? DriveApiBackend.DefaultBaseUrl, new StaticDriveToken(p.AccessToken));
                    break;
                case "none":
                    drive.Forget();
                    break;
                default:
                    throw new JsonRpcException(ErrorCodes.InvalidParams, "Invalid params: kind must be \"folder\" with a path, \"api\" with an accessToken, or \"none\".");
            }
            return Task.FromResult(Status());
        }));

        connection.OnRequest(Methods.DriveStatus, () => json.EmptyParams, () => json.DriveStatusResult, (_, _) => Task.FromResult(Status()));

        connection.OnRequest(Methods.DriveList, () => json.DriveListParams, () => json.DriveListResult, (p, ctx) => Guard(async () =>
        {
            var sort = p.Sort switch
            {
                null or "name" => DriveSort.Name,
                "modified" => DriveSort.Modified,
                "size" => DriveSort.Size,
                _ => throw new JsonRpcException(ErrorCodes.InvalidParams, "Invalid params: sort must be \"name\", \"modified\" or \"size\"."),
            };
            if (p.PageSize is < 1 or > 1000)
            {
                throw new JsonRpcException(ErrorCodes.InvalidParams, "Invalid params: pageSize must be between 1 and 1000.");
            }
            var page = await drive.ListAsync(new DriveListRequest(p.FolderId, p.NameContains, sort, p.Descending, p.PageToken, p.PageSize, p.DriveId), ctx.CancellationToken).ConfigureAwait(false);
            return new DriveListResult(page.Items, page.NextPageToken);
        }));

        connection.OnRequest(Methods.DriveItem, () => json.DriveIdParams, () => json.DriveItem, (p, ctx) => Guard(() => drive.GetAsync(p.Id, ctx.CancellationToken)));

        connection.OnRequest(Methods.DriveGet, () => json.DriveGetParams, () => json.DriveTransfer, (p, ctx) => Guard(() =>
            p.ExportMimeType is { } exportType
                ? drive.ExportAsync(p.Id, exportType, p.Folder ?? throw new JsonRpcException(ErrorCodes.InvalidParams, "Invalid params: an export needs a folder."), p.ExportExtension ?? "", ctx.CancellationToken)
                : WithProgressAsync(ctx, "Downloading from Drive", progress => drive.DownloadAsync(p.Id, p.Folder, p.LocalPath, progress, ctx.CancellationToken))));

        connection.OnRequest(Methods.DrivePut, () => json.DrivePutParams, () => json.DriveTransfer, (p, ctx) => Guard(() =>
            WithProgressAsync(ctx, "Uploading to Drive", progress => drive.UploadAsync(p.LocalPath, p.ParentId, p.Name, p.ExistingId, progress, ctx.CancellationToken))));

        connection.OnRequest(Methods.DriveCopyToRuntime, () => json.DriveCopyToRuntimeParams, () => json.ExtractResult, (p, ctx) => Guard(() =>
        {
            var limits = new ExtractLimits(p.MaxBytes ?? new ExtractLimits().MaxBytes, p.MaxEntries ?? new ExtractLimits().MaxEntries);
            if (p.MaxBytes is < 1 || p.MaxEntries is < 1)
            {
                throw new JsonRpcException(ErrorCodes.InvalidParams, "Invalid params: maxBytes and maxEntries must be positive.");
            }
            var runtime = p.RuntimeId is null ? null
                : runtimes.List().FirstOrDefault(r => r.Id == p.RuntimeId) ?? throw new DriveException(DriveErrorKind.NotFound, $"Runtime '{p.RuntimeId}' is not connected; connect it, then copy the dataset again.");
            if (runtime is { Kind: RuntimeKinds.Remote })
            {
                return WithPhasedProgressAsync(ctx, "Copying a dataset to the runtime", progress => _remote.CopyAsync(runtime.Id, p.Id, p.Target, limits, progress, ctx.CancellationToken));
            }
            // The local runtime's disk is this machine's: a relative target is under the runtime's root.
            var target = runtime?.RootDirectory is { } root && !Path.IsPathRooted(p.Target) ? Path.Combine(root, p.Target) : p.Target;
            return WithProgressAsync(ctx, "Copying a dataset to the runtime", progress => drive.CopyToRuntimeAsync(p.Id, target, limits,
                new SyncProgress<(string Phase, long Bytes)>(x => progress.Report(x.Bytes)), ctx.CancellationToken));
        }));

        connection.OnRequest(Methods.DriveFlush, () => json.EmptyParams, () => json.DriveFlushResult, (_, ctx) => Guard(async () =>
            new DriveFlushResult(await drive.FlushAsync(ctx.CancellationToken).ConfigureAwait(false))));

        connection.OnRequest(Methods.DriveRead, () => json.DriveIdParams, () => json.DriveReadResult, (p, ctx) => Guard(async () =>
        {
            var item = await drive.GetAsync(p.Id, ctx.CancellationToken).ConfigureAwait(false);
            if (item.Size > MaxInlineBytes)
            {
                throw new DriveException(DriveErrorKind.InvalidInput, $"'{item.Name}' is larger than 64 MB; download it instead of opening it.");
            }
            var temp = Path.Combine(Path.GetTempPath(), $"colab-drive-{Guid.NewGuid():N}");
            try
            {
                var t = await drive.DownloadAsync(p.Id, null, temp, null, ctx.CancellationToken).ConfigureAwait(false);
                return new DriveReadResult(Convert.ToBase64String(await File.ReadAllBytesAsync(temp, ctx.CancellationToken).ConfigureAwait(false)), t.Md5Checksum, t.Sha256Checksum);
            }
            finally
            {
                File.Delete(temp);
            }
        }));

        connection.OnRequest(Methods.DriveWrite, () => json.DriveWriteParams, () => json.DriveTransfer, (p, ctx) => Guard(async () =>
        {
            byte[] bytes;
            try
            {
                bytes = Convert.FromBase64String(p.ContentBase64);
            }
            catch (FormatException)
            {
                throw new JsonRpcException(ErrorCodes.InvalidParams, "Invalid params: contentBase64 is not base64.");
            }
            var item = await drive.GetAsync(p.Id, ctx.CancellationToken).ConfigureAwait(false);
            var temp = Path.Combine(Path.GetTempPath(), $"colab-drive-{Guid.NewGuid():N}");
            await File.WriteAllBytesAsync(temp, bytes, ctx.CancellationToken).ConfigureAwait(false);
            try
            {
                var parent = drive.Backend is FolderBackend ? (Path.GetDirectoryName(p.Id) ?? "").Replace('\\', '/') : "root";
                var t = await drive.UploadAsync(temp, parent, item.Name, p.Id, null, ctx.CancellationToken).ConfigureAwait(false);
                return t with { LocalPath = "" };
            }
            finally
            {
                File.Delete(temp);
            }
        }));
    }

    private DriveStatusResult Status() => drive.Backend switch
    {
        FolderBackend f => new DriveStatusResult("folder", f.Root, drive.PendingUploads),
        { } b => new DriveStatusResult(b.Kind, null, drive.PendingUploads),
        null => new DriveStatusResult(null, null, drive.PendingUploads),
    };

    /// <summary>Runs a transfer with cancellable <c>$/progress</c> (megabytes, at most one report per 4 MiB); also used by <see cref="DriveLinkMethods"/>.</summary>
    internal static async Task<T> WithProgressAsync<T>(RequestContext ctx, string title, Func<IProgress<long>, Task<T>> work)
    {
        var progress = await ctx.BeginProgressAsync(title, cancellable: true).ConfigureAwait(false);
        var last = 0L;
        var reporter = new SyncProgress<long>(bytes =>
        {
            // At most one report per 4 MiB keeps a fast transfer from flooding the client.
            if (bytes - Interlocked.Read(ref last) >= 4 << 20)
            {
                Interlocked.Exchange(ref last, bytes);
                progress.Report($"{bytes / (1024.0 * 1024):0.0} MB", null);
            }
        });
        return await EndingAsync(ctx, progress, () => work(reporter)).ConfigureAwait(false);
    }

    /// <summary>Runs <paramref name="work"/> and ends its progress with done, cancelled or failed.</summary>
    private static async Task<T> EndingAsync<T>(RequestContext ctx, WorkDoneProgress progress, Func<Task<T>> work)
    {
        try
        {
            var result = await work().ConfigureAwait(false);
            progress.End("done");
            return result;
        }
        catch
        {
            progress.End(ctx.CancellationToken.IsCancellationRequested ? "cancelled" : "failed");
            throw;
        }
    }

    /// <summary>Progress for a copy in phases (download from Drive, upload to the runtime, extract there): each says its phase and megabytes.</summary>
    private static async Task<T> WithPhasedProgressAsync<T>(RequestContext ctx, string title, Func<IProgress<(string Phase, long Bytes)>, Task<T>> work)
    {
        var progress = await ctx.BeginProgressAsync(title, cancellable: true).ConfigureAwait(false);
        var gate = new object();
        var lastPhase = "";
        var lastBytes = 0L;
        var reporter = new SyncProgress<(string Phase, long Bytes)>(x =>
        {
            lock (gate)
            {
                if (x.Phase != lastPhase || x.Bytes - lastBytes >= 4 << 20)
                {
                    lastPhase = x.Phase;
                    lastBytes = x.Bytes;
                    var verb = x.Phase switch { "download" => "downloading from Drive", "upload" => "sending to the runtime", _ => "extracting on the runtime" };
                    progress.Report($"{verb}: {x.Bytes / (1024.0 * 1024):0.0} MB", null);
                }
            }
        });
        return await EndingAsync(ctx, progress, () => work(reporter)).ConfigureAwait(false);
    }

    /// <summary>Maps <see cref="DriveException"/>s and local file errors to the Drive error codes; also used by <see cref="DriveLinkMethods"/>.</summary>
    internal static async Task<T> Guard<T>(Func<Task<T>> action)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (DriveException e)
        {
            var code = e.Kind switch
            {
                DriveErrorKind.NotFound => ErrorCodes.DriveNotFound,
                DriveErrorKind.Auth => ErrorCodes.DriveAuth,
                DriveErrorKind.Quota => ErrorCodes.DriveQuota,
                DriveErrorKind.RateLimited => ErrorCodes.DriveRateLimited,
                DriveErrorKind.Integrity => ErrorCodes.DriveIntegrity,
                DriveErrorKind.Unsafe => ErrorCodes.DriveUnsafe,
                DriveErrorKind.InvalidInput => ErrorCodes.InvalidParams,
                _ => ErrorCodes.RequestFailed,
            };
            throw new JsonRpcException(code, code == ErrorCodes.InvalidParams ? $"Invalid params: {e.Message}" : e.Message);
        }
        catch (IOException e)
        {
            throw new JsonRpcException(ErrorCodes.RequestFailed, $"A local file operation failed: {e.Message}");
        }
        catch (UnauthorizedAccessException e)
        {
            throw new JsonRpcException(ErrorCodes.RequestFailed, $"Permission denied: {e.Message}");
        }
    }
}

/// <summary>IProgress that reports on the caller's thread.</summary>
internal sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
