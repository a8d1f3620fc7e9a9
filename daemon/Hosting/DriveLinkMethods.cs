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

        connection.OnRequest(Methods.DriveParseLink, () => json.DriveLinkParams, () => json.DriveLinkInfo, (p, _) => Guard(() =>
        {
            var link = DriveLinks.Parse(p.Link);
            return Task.FromResult(new DriveLinkInfo(KindName(link.Kind), link.Id, DriveLinkDownloader.ExportFormats.GetValueOrDefault(link.Kind)));
        }));

        connection.OnRequest(Methods.DriveGetLink, () => json.DriveGetLinkParams, () => json.DriveTransfer, async (p, ctx) =>
        {
            if (p.Folder is null && p.LocalPath is null)
            {
                throw new JsonRpcException(ErrorCodes.InvalidParams, "Invalid params: say where to download: folder or localPath.");
            }
            return await DriveMethods.WithProgressAsync(ctx, "Downloading from a Drive link",
                reporter => Guard(() => links.DownloadAsync(p.Link, p.Folder, p.LocalPath, p.Format, p.BaseUrl, reporter, ctx.CancellationToken))).ConfigureAwait(false);
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

    private static Task<T> Guard<T>(Func<Task<T>> action) => DriveMethods.Guard(action);
}
