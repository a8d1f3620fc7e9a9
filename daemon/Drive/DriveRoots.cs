using System.Text.Json.Serialization;

namespace Colab.Daemon.Drive;

/// <summary>
/// The roots a signed-in Drive has besides My Drive (<c>root</c>): Shared drives (drives.list;
/// each drive's root folder id is the drive id) and Shared with me (<c>q=sharedWithMe</c>).
/// Their ids start with ':' so they can never be a Drive file id. Inside a shared drive a
/// listing names the drive (<c>corpora=drive&amp;driveId=…</c>): the default "user" corpus does
/// not hold shared-drive items.
/// </summary>
public static class DriveRoots
{
    public const string MyDrive = "root";
    public const string SharedDrives = ":sharedDrives";
    public const string SharedWithMe = ":sharedWithMe";

    public static bool IsVirtual(string folderId) => folderId is SharedDrives or SharedWithMe;

    /// <summary>The extra files.list parameters for a folder inside a shared drive ("" elsewhere).</summary>
    internal static string CorporaFor(DriveListRequest request)
    {
        if (request.DriveId is not { } driveId || request.FolderId == SharedWithMe)
        {
            return "";
        }
        DriveApiBackend.CheckId(driveId);
        return "&corpora=drive&driveId=" + Uri.EscapeDataString(driveId);
    }

    /// <summary>drives.list (at most 100 a page, as the API allows), shown as folders.</summary>
    internal static async Task<DrivePage> ListDrivesAsync(DriveApiBackend api, Uri baseUri, DriveListRequest request, CancellationToken cancellationToken)
    {
        var url = $"drive/v3/drives?pageSize={Math.Clamp(request.PageSize, 1, 100)}&fields={Uri.EscapeDataString("nextPageToken,drives(id,name)")}";
        if (!string.IsNullOrEmpty(request.NameContains))
        {
            url += "&q=" + Uri.EscapeDataString("name contains " + DriveApiBackend.Quote(request.NameContains));
        }
        if (request.PageToken is { } token)
        {
            url += "&pageToken=" + Uri.EscapeDataString(token);
        }
        using var response = await api.SendAsync(() => new HttpRequestMessage(HttpMethod.Get, new Uri(baseUri, url)), cancellationToken).ConfigureAwait(false);
        var list = await DriveApiBackend.ReadJsonAsync(response, DriveRootsJson.Default.DriveList, cancellationToken).ConfigureAwait(false);
        var items = new List<DriveItem>();
        foreach (var d in list.Drives ?? [])
        {
            if (string.IsNullOrEmpty(d.Id) || d.Name is null)
            {
                throw new DriveException(DriveErrorKind.BadResponse, "Google Drive sent a shared drive without an id or a name.");
            }
            DriveApiBackend.CheckId(d.Id);
            items.Add(new DriveItem(d.Id, d.Name, DriveMime.Folder, null, null, null, d.Id));
        }
        // drives.list has no orderBy: sort the page as the view asked.
        items.Sort((a, b) => string.Compare(a.Name, b.Name, StringComparison.OrdinalIgnoreCase) * (request.Descending ? -1 : 1));
        return new DrivePage(items, string.IsNullOrEmpty(list.NextPageToken) ? null : list.NextPageToken);
    }
}

internal sealed class SharedDriveResource
{
    public string? Id { get; set; }
    public string? Name { get; set; }
}

internal sealed class SharedDriveList
{
    public List<SharedDriveResource>? Drives { get; set; }
    public string? NextPageToken { get; set; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(SharedDriveList), TypeInfoPropertyName = "DriveList")]
internal sealed partial class DriveRootsJson : JsonSerializerContext;
