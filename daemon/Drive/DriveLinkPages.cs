using System.Net;
using System.Text.RegularExpressions;

namespace Colab.Daemon.Drive;

/// <summary>What a web page Drive answered instead of a file means.</summary>
public abstract record DriveLinkPage
{
    private DriveLinkPage()
    {
    }

    /// <summary>Today's "can't scan this file for viruses" page: a form that GETs drive.usercontent.google.com/download with hidden inputs.</summary>
    public sealed record Confirm(Uri Action, IReadOnlyList<KeyValuePair<string, string>> Fields) : DriveLinkPage;

    /// <summary>The older warning: a <c>confirm=TOKEN</c> in the "Download anyway" link (and a <c>download_warning_*</c> cookie).</summary>
    public sealed record LegacyConfirm(string Token) : DriveLinkPage;

    /// <summary>An error page (download quota exceeded, too large to export, …) with its text.</summary>
    public sealed record Error(DriveErrorKind Kind, string Message) : DriveLinkPage;
}

/// <summary>
/// Reads the HTML pages drive.google.com and drive.usercontent.google.com answer instead of a
/// file. Everything taken from a page is checked: the form must post to the Drive download host
/// and name the same file, field names and values are short tokens, and anything unexpected
/// is an error — never a file.
/// </summary>
public static partial class DriveLinkPages
{
    /// <summary>A Drive page is a few KB; anything larger is not one.</summary>
    public const int MaxPageBytes = 1 << 20;

    [GeneratedRegex("<form\\b[^>]*\\bid=\"download-form\"[^>]*>(?<body>.*?)</form>", RegexOptions.Singleline | RegexOptions.IgnoreCase, 1000)]
    private static partial Regex DownloadForm();

    [GeneratedRegex("\\baction=\"(?<v>[^\"]*)\"", RegexOptions.IgnoreCase, 1000)]
    private static partial Regex FormAction();

    [GeneratedRegex("\\bmethod=\"(?<v>[^\"]*)\"", RegexOptions.IgnoreCase, 1000)]
    private static partial Regex FormMethod();

    [GeneratedRegex("<input\\b(?<attrs>[^>]*)>", RegexOptions.IgnoreCase, 1000)]
    private static partial Regex Input();

    [GeneratedRegex("\\b(?<name>type|name|value)=\"(?<v>[^\"]*)\"", RegexOptions.IgnoreCase, 1000)]
    private static partial Regex Attribute();

    [GeneratedRegex("href=\"/(?:u/[0-9]+/)?uc\\?export=download(?:&amp;|&)(?:[^\"]*?(?:&amp;|&))?confirm=(?<t>[^&\"]*)", RegexOptions.IgnoreCase, 1000)]
    private static partial Regex LegacyLink();

    [GeneratedRegex("<p class=\"uc-error-(?:sub)?caption\">(?<t>.*?)</p>", RegexOptions.Singleline | RegexOptions.IgnoreCase, 1000)]
    private static partial Regex ErrorCaption();

    [GeneratedRegex("<title>(?<t>.*?)</title>", RegexOptions.Singleline | RegexOptions.IgnoreCase, 1000)]
    private static partial Regex Title();

    [GeneratedRegex("<[^>]*>", RegexOptions.None, 1000)]
    private static partial Regex Tag();

    [GeneratedRegex("^[A-Za-z0-9_-]{1,200}$")]
    private static partial Regex Token();

    [GeneratedRegex("^[a-z_]{1,30}$")]
    private static partial Regex FieldName();

    public const string NotPublic = "This Drive file is not shared with 'Anyone with the link', so it cannot be downloaded without signing in. Sign in to Google Drive, or ask the owner to share it with 'Anyone with the link'.";

    /// <summary>
    /// Classifies a page answered for <paramref name="fileId"/>; <paramref name="cookieToken"/> is
    /// the value of a <c>download_warning_*</c> cookie set with it, if any.
    /// </summary>
    public static DriveLinkPage Read(string html, string fileId, string? cookieToken, DriveLinkHosts hosts)
    {
        var form = DownloadForm().Match(html);
        if (form.Success)
        {
            return ReadForm(form, fileId, hosts);
        }
        var legacy = LegacyLink().Match(html);
        if (legacy.Success)
        {
            return Legacy(cookieToken ?? WebUtility.HtmlDecode(legacy.Groups["t"].Value));
        }
        var caption = ErrorCaption().Matches(html).Select(m => Text(m.Groups["t"].Value)).Where(t => t.Length > 0).ToList();
        var title = Title().Match(html) is { Success: true } t ? Text(t.Groups["t"].Value) : "";
        var all = string.Join(" ", caption) + " " + title;
        if (all.Contains("Too many users", StringComparison.OrdinalIgnoreCase) || all.Contains("Quota exceeded", StringComparison.OrdinalIgnoreCase)
            || all.Contains("download quota", StringComparison.OrdinalIgnoreCase))
        {
            return new DriveLinkPage.Error(DriveErrorKind.Quota, "Google Drive's download quota for this shared file is used up (too many people downloaded it recently); try again in up to 24 hours, or sign in and copy it to your own Drive. Drive says: " + Clip(caption.Count > 0 ? string.Join(" ", caption) : title));
        }
        if (all.Contains("too large to be exported", StringComparison.OrdinalIgnoreCase) || all.Contains("too large to export", StringComparison.OrdinalIgnoreCase))
        {
            return new DriveLinkPage.Error(DriveErrorKind.Quota, "This Google Docs file is larger than Drive's 10 MB export limit; download it in the browser or split it.");
        }
        if (all.Contains("Sign in", StringComparison.OrdinalIgnoreCase) || all.Contains("Access denied", StringComparison.OrdinalIgnoreCase)
            || all.Contains("You need access", StringComparison.OrdinalIgnoreCase) || all.Contains("You need permission", StringComparison.OrdinalIgnoreCase))
        {
            return new DriveLinkPage.Error(DriveErrorKind.Auth, NotPublic);
        }
        if (caption.Count == 0 && cookieToken is not null)
        {
            // The older warning page sets download_warning_*=TOKEN and links to confirm=TOKEN.
            return Legacy(cookieToken);
        }
        if (caption.Count > 0)
        {
            return new DriveLinkPage.Error(DriveErrorKind.Failed, "Google Drive refused the download: " + Clip(string.Join(" ", caption)));
        }
        return new DriveLinkPage.Error(DriveErrorKind.BadResponse,
            "Google Drive answered with a web page instead of the file (it may not be shared with 'Anyone with the link', or Drive changed its download page); nothing was saved.");
    }

    private static DriveLinkPage.LegacyConfirm Legacy(string token) => Token().IsMatch(token)
        ? new DriveLinkPage.LegacyConfirm(token)
        : throw new DriveException(DriveErrorKind.BadResponse, "Drive's download warning carried a confirmation token this client does not trust; nothing was saved.");

    private static DriveLinkPage ReadForm(Match form, string fileId, DriveLinkHosts hosts)
    {
        var action = WebUtility.HtmlDecode(FormAction().Match(form.Value) is { Success: true } a ? a.Groups["v"].Value : "");
        var method = FormMethod().Match(form.Value) is { Success: true } me ? me.Groups["v"].Value : "get";
        if (!method.Equals("get", StringComparison.OrdinalIgnoreCase))
        {
            throw new DriveException(DriveErrorKind.BadResponse, "Drive's download warning asks to send a form in a way this client does not follow; nothing was saved.");
        }
        if (!Uri.TryCreate(hosts.UserContent, action, out var target) || !hosts.IsUserContent(target) || target.Query.Length > 0 || target.AbsolutePath.TrimEnd('/') is not ("/download" or "/uc"))
        {
            throw new DriveException(DriveErrorKind.Unsafe, $"Drive's download warning points at '{DriveLinks.Printable(action)}', which is not Drive's download address; nothing was fetched from it.");
        }
        var fields = new List<KeyValuePair<string, string>>();
        foreach (Match input in Input().Matches(form.Groups["body"].Value))
        {
            string? type = null, name = null, value = null;
            foreach (Match attr in Attribute().Matches(input.Groups["attrs"].Value))
            {
                var v = WebUtility.HtmlDecode(attr.Groups["v"].Value);
                switch (attr.Groups["name"].Value.ToLowerInvariant())
                {
                    case "type":
                        type = v;
                        break;
                    case "name":
                        name = v;
                        break;
                    default:
                        value = v;
                        break;
                }
            }
            if (!string.Equals(type, "hidden", StringComparison.OrdinalIgnoreCase) || name is null)
            {
                continue; // the "Download anyway" button
            }
            value ??= "";
            if (!FieldName().IsMatch(name) || (value.Length > 0 && !Token().IsMatch(value)) || fields.Count >= 16)
            {
                throw new DriveException(DriveErrorKind.BadResponse, "Drive's download warning holds a field this client does not trust; nothing was saved.");
            }
            fields.Add(new(name, value));
        }
        var ids = fields.Where(f => f.Key == "id").Select(f => f.Value).Distinct().ToList();
        if (ids.Count != 1 || ids[0] != fileId)
        {
            throw new DriveException(DriveErrorKind.Unsafe, "Drive's download warning names a different file than the link; nothing was fetched.");
        }
        if (!fields.Any(f => f.Key == "confirm" && f.Value.Length > 0))
        {
            throw new DriveException(DriveErrorKind.BadResponse, "Drive's download warning has no confirmation in it; nothing was saved.");
        }
        return new DriveLinkPage.Confirm(target, fields);
    }

    /// <summary>The visible text of an HTML fragment, one line, entities decoded, control characters dropped.</summary>
    internal static string Text(string html)
    {
        var text = WebUtility.HtmlDecode(Tag().Replace(html, " "));
        return string.Join(' ', text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Select(w => new string(w.Where(c => !char.IsControl(c)).ToArray())));
    }

    private static string Clip(string s) => s.Length > 300 ? s[..300] + "…" : s;
}
