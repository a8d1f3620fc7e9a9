using System.Text.RegularExpressions;

namespace Colab.Daemon.Drive;

/// <summary>What a share link points at.</summary>
public enum DriveLinkKind
{
    File,
    Document,
    Spreadsheet,
    Presentation,
    Folder,
}

/// <summary>A parsed Drive share link: only the id (and the optional resource key) is kept, never the link's address.</summary>
public sealed record DriveLink(DriveLinkKind Kind, string Id, string? ResourceKey = null);

/// <summary>
/// Turns a Drive share link or a bare id into the file id and its kind. Every form Drive hands out
/// is understood (…/file/d/ID/view?usp=sharing, open?id=, uc?id=&amp;export=download,
/// drive.usercontent.google.com/download?id=, Docs/Sheets/Slides links, …/folders/ID); links on
/// any other host, with a user name or password, or on an odd port are refused. Nothing here
/// fetches anything: a download builds its own address on the configured Drive hosts from the id.
/// </summary>
public static partial class DriveLinks
{
    /// <summary>The hosts a pasted link may name (they are never fetched as given).</summary>
    public static readonly IReadOnlyList<string> LinkHosts = ["drive.google.com", "docs.google.com", "drive.usercontent.google.com"];

    private const string IdPattern = "[A-Za-z0-9_-]{10,200}";

    [GeneratedRegex("^" + IdPattern + "$")]
    private static partial Regex BareId();

    [GeneratedRegex("^/(?:drive/)?file/(?:u/[0-9]{1,3}/)?d/(?<id>" + IdPattern + ")(?:/[A-Za-z]*)?/?$")]
    private static partial Regex FilePath();

    [GeneratedRegex("^/(?<kind>document|spreadsheets|presentation)/(?:u/[0-9]{1,3}/)?d/(?<id>" + IdPattern + ")(?:/[A-Za-z]*)?/?$")]
    private static partial Regex DocsPath();

    [GeneratedRegex("^/drive/(?:u/[0-9]{1,3}/)?(?:mobile/)?folders/(?<id>" + IdPattern + ")/?$")]
    private static partial Regex FolderPath();

    [GeneratedRegex("^/(?:u/[0-9]{1,3}/)?(?<what>open|uc|download|folderview)/?$")]
    private static partial Regex QueryPath();

    [GeneratedRegex("^[A-Za-z0-9_-]{1,100}$")]
    private static partial Regex ResourceKeyPattern();

    /// <summary>
    /// The file id for the API and folder backends: a link becomes its id, anything that is not an
    /// http(s) address passes through unchanged (a mounted folder's relative path).
    /// </summary>
    public static string Normalize(string idOrLink)
        => idOrLink.StartsWith("http", StringComparison.OrdinalIgnoreCase) ? Parse(idOrLink).Id : idOrLink;

    /// <summary>Parses a share link or a bare file id; a <see cref="DriveErrorKind.InvalidInput"/> error says what is wrong.</summary>
    public static DriveLink Parse(string idOrLink)
    {
        ArgumentNullException.ThrowIfNull(idOrLink);
        var s = idOrLink.Trim();
        if (s.Length == 0)
        {
            throw Invalid("Give a Google Drive share link or a file id.");
        }
        if (s.Length > 2048)
        {
            throw Invalid("That link is too long to be a Google Drive share link.");
        }
        if (BareId().IsMatch(s))
        {
            return new DriveLink(DriveLinkKind.File, s);
        }
        if (s.Any(c => char.IsControl(c) || char.IsWhiteSpace(c) || c == '\\'))
        {
            throw Invalid("That link holds spaces, control characters or backslashes; copy the share link again.");
        }
        // A link pasted without its scheme ("drive.google.com/file/d/…").
        if (!s.Contains("://", StringComparison.Ordinal) && LinkHosts.Any(h => s.StartsWith(h + "/", StringComparison.OrdinalIgnoreCase)))
        {
            s = "https://" + s;
        }
        if (!Uri.TryCreate(s, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
        {
            throw Invalid("That is neither a Google Drive share link nor a file id (letters, digits, '-' and '_').");
        }
        var authorityStart = s.IndexOf("://", StringComparison.Ordinal) + 3;
        var authorityEnd = s.IndexOfAny(['/', '?', '#'], authorityStart);
        if (uri.UserInfo.Length > 0 || s[authorityStart..(authorityEnd < 0 ? s.Length : authorityEnd)].Contains('@', StringComparison.Ordinal))
        {
            throw Invalid("A Google Drive share link has no user name or password in it; this one does, so it was refused.");
        }
        var host = uri.IdnHost.ToLowerInvariant();
        if (!LinkHosts.Contains(host))
        {
            throw Invalid($"That link is not a Google Drive or Docs link (its host is '{Printable(uri.Host)}'); only {string.Join(", ", LinkHosts)} are accepted.");
        }
        if (!uri.IsDefaultPort)
        {
            throw Invalid($"A Google Drive link has no port number; this one names port {uri.Port}, so it was refused.");
        }
        var query = ParseQuery(uri.Query);
        var resourceKey = query.GetValueOrDefault("resourcekey");
        if (resourceKey is not null && !ResourceKeyPattern().IsMatch(resourceKey))
        {
            throw Invalid("The link's resourcekey is not one Drive would give out.");
        }
        var path = uri.AbsolutePath;
        Match m;
        if (host != "drive.usercontent.google.com" && (m = FilePath().Match(path)).Success)
        {
            return new DriveLink(DriveLinkKind.File, m.Groups["id"].Value, resourceKey);
        }
        if (host == "docs.google.com" && (m = DocsPath().Match(path)).Success)
        {
            var kind = m.Groups["kind"].Value switch
            {
                "document" => DriveLinkKind.Document,
                "spreadsheets" => DriveLinkKind.Spreadsheet,
                _ => DriveLinkKind.Presentation,
            };
            return new DriveLink(kind, m.Groups["id"].Value, resourceKey);
        }
        if (host == "drive.google.com" && (m = FolderPath().Match(path)).Success)
        {
            return new DriveLink(DriveLinkKind.Folder, m.Groups["id"].Value, resourceKey);
        }
        if ((m = QueryPath().Match(path)).Success)
        {
            var what = m.Groups["what"].Value;
            if (host == "drive.usercontent.google.com" ? what is not ("download" or "uc") : what == "download")
            {
                throw Invalid("That link is not one of the Google Drive share-link forms this client understands.");
            }
            if (!query.TryGetValue("id", out var id) || !BareId().IsMatch(id))
            {
                throw Invalid("That Drive link has no valid file id (id=…) in it.");
            }
            return new DriveLink(what == "folderview" ? DriveLinkKind.Folder : DriveLinkKind.File, id, resourceKey);
        }
        throw Invalid("That link is not one of the Google Drive share-link forms this client understands (…/file/d/ID/view, open?id=ID, uc?id=ID, Docs/Sheets/Slides, folders).");
    }

    /// <summary>Query parameters, decoded; a name given twice with different values is refused (which one would Drive use?).</summary>
    private static Dictionary<string, string> ParseQuery(string query)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            var name = Uri.UnescapeDataString(eq < 0 ? pair : pair[..eq]);
            var value = eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..].Replace('+', ' '));
            if (result.TryGetValue(name, out var before) && before != value)
            {
                throw Invalid($"The link names '{Printable(name)}' twice with different values; it was refused.");
            }
            result[name] = value;
        }
        return result;
    }

    private static DriveException Invalid(string message) => new(DriveErrorKind.InvalidInput, message);

    internal static string Printable(string s)
    {
        var clipped = s.Length > 80 ? s[..80] + "…" : s;
        return new string(clipped.Select(c => char.IsControl(c) ? '?' : c).ToArray());
    }
}
