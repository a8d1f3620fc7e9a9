using System.Text.RegularExpressions;

namespace Colab.Daemon.Drive;

/// <summary>
/// Turns a Drive share link (…/file/d/ID/view, open?id=ID, uc?id=ID, …/folders/ID) or a bare
/// id into the file id the API takes; anything else passes through unchanged (a folder path).
/// </summary>
public static partial class DriveLinks
{
    [GeneratedRegex(@"^https://(drive|docs)\.google\.com/(?:(?:file|document|spreadsheets|presentation)/d/|drive/(?:u/\d+/)?folders/)(?<id>[A-Za-z0-9_-]{10,200})(?:[/?#].*)?$")]
    private static partial Regex PathLink();

    [GeneratedRegex(@"^https://(drive|docs)\.google\.com/(?:open|uc)\?(?:.*&)?id=(?<id>[A-Za-z0-9_-]{10,200})(?:&.*)?$")]
    private static partial Regex QueryLink();

    public static string Normalize(string idOrLink)
    {
        if (!idOrLink.StartsWith("http", StringComparison.OrdinalIgnoreCase))
        {
            return idOrLink;
        }
        var m = PathLink().Match(idOrLink);
        if (!m.Success)
        {
            m = QueryLink().Match(idOrLink);
        }
        return m.Success ? m.Groups["id"].Value
            : throw new DriveException(DriveErrorKind.InvalidInput, "That link is not a Google Drive file or folder link.");
    }
}
