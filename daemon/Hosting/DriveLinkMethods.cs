using Colab.Daemon.Drive;
using Colab.Daemon.JsonRpc;
using Colab.Daemon.Protocol;

namespace Colab.Daemon.Hosting;

/// <summary>
/// Share-link handlers: <c>colab/drive/parseLink</c> checks a link (what it points at, which export
/// formats it offers) and <c>colab/drive/getLink</c> downloads it without signing in, reporting
/// <c>$/progress</c> and stopping on <c>$/cancelRequest</c>. Errors map to the Drive error codes.
/// </summary>
internal sealed class DriveLinkMethods(DriveLinkService links) : IMethodGroup
{
    public void Register(JsonRpcConnection connection)
    {
        var json = DriveLinkJson.Default;

        connection.OnRequest(Methods.DriveParseLink, json.DriveLinkParams, json.DriveLinkInfo, (p, _) => Guard(() =>
        {
            var link = DriveLinks.Parse(p.Link);
            return Task.FromResult(new DriveLinkInfo(KindName(link.Kind), link.Id, DriveLinkDownloader.ExportFormats.GetValueOrDefault(link.Kind)));
        }));

        connection.OnRequest(Methods.DriveGetLink, json.DriveGetLinkParams, json.DriveTransfer, async (p, ctx) =>
        {
            if (p.Folder is null && p.LocalPath is null)
            {
                throw new JsonRpcException(ErrorCodes.InvalidParams, "Invalid params: say where to download: folder or localPath.");
            }
            var progress = await ctx.BeginProgressAsync("Downloading from a Drive link", cancellable: true).ConfigureAwait(false);
            var last = 0L;
            var reporter = new SyncProgress<long>(bytes =>
            {
                if (bytes - Interlocked.Read(ref last) >= 4 << 20)
                {
                    Interlocked.Exchange(ref last, bytes);
                    progress.Report($"{bytes / (1024.0 * 1024):0.0} MB", null);
                }
            });
            try
            {
                var result = await Guard(() => links.DownloadAsync(p.Link, p.Folder, p.LocalPath, p.Format, p.BaseUrl, reporter, ctx.CancellationToken)).ConfigureAwait(false);
                progress.End("done");
                return result;
            }
            catch
            {
                progress.End(ctx.CancellationToken.IsCancellationRequested ? "cancelled" : "failed");
                throw;
            }
        });
    }

    internal static string KindName(DriveLinkKind kind) => kind switch
    {
        DriveLinkKind.File => "file",
        DriveLinkKind.Document => "document",
        DriveLinkKind.Spreadsheet => "spreadsheet",
        DriveLinkKind.Presentation => "presentation",
        _ => "folder",
    };

    private static async Task<T> Guard<T>(Func<Task<T>> action)
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
