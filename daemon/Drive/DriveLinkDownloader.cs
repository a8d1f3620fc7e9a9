using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Colab.Daemon.Drive;

/// <summary>
/// The only addresses a by-link download fetches: Drive's three public hosts (or one stand-in
/// origin serving all three in tests), plus, for the real hosts, the https
/// <c>*.googleusercontent.com</c> hosts Docs exports redirect to. Nothing a link, page or
/// redirect names outside these is ever requested.
/// </summary>
public sealed class DriveLinkHosts
{
    private readonly bool _google;

    private DriveLinkHosts(Uri drive, Uri docs, Uri userContent, bool google)
    {
        Drive = drive;
        Docs = docs;
        UserContent = userContent;
        _google = google;
    }

    public static DriveLinkHosts Google { get; } = new(new("https://drive.google.com/"), new("https://docs.google.com/"), new("https://drive.usercontent.google.com/"), true);

    public Uri Drive { get; }

    public Uri Docs { get; }

    public Uri UserContent { get; }

    /// <summary>One origin standing in for all three hosts (a test stand-in); http(s), no user, path or query.</summary>
    public static DriveLinkHosts At(string baseUrl)
    {
        if (!Uri.TryCreate(baseUrl, UriKind.Absolute, out var b) || (b.Scheme != Uri.UriSchemeHttps && b.Scheme != Uri.UriSchemeHttp)
            || b.UserInfo.Length > 0 || b.AbsolutePath != "/" || b.Query.Length > 0)
        {
            throw new DriveException(DriveErrorKind.InvalidInput, $"The Drive link address '{DriveLinks.Printable(baseUrl)}' is not an http(s) origin like https://host:port/.");
        }
        var origin = new Uri(b.GetLeftPart(UriPartial.Authority) + "/");
        return new DriveLinkHosts(origin, origin, origin, false);
    }

    public bool IsUserContent(Uri u) => SameOrigin(u, UserContent);

    public bool IsAllowed(Uri u)
    {
        if (!u.IsAbsoluteUri || u.UserInfo.Length > 0)
        {
            return false;
        }
        if (SameOrigin(u, Drive) || SameOrigin(u, Docs) || SameOrigin(u, UserContent))
        {
            return true;
        }
        return _google && u.Scheme == Uri.UriSchemeHttps && u.IsDefaultPort && u.IdnHost.EndsWith(".googleusercontent.com", StringComparison.OrdinalIgnoreCase);
    }

    private static bool SameOrigin(Uri a, Uri b)
        => a.IsAbsoluteUri && a.UserInfo.Length == 0 && a.Scheme == b.Scheme && string.Equals(a.IdnHost, b.IdnHost, StringComparison.OrdinalIgnoreCase) && a.Port == b.Port;
}

/// <summary>
/// Downloads a Drive file from its share link without signing in (what gdown does): the public
/// <c>uc?export=download</c> address, the large-file confirmation (today's virus-scan form on
/// drive.usercontent.google.com and the older <c>confirm=</c> token with its
/// <c>download_warning_*</c> cookie), Docs/Sheets/Slides exports, clear errors for private files
/// and used-up quotas, and ranged resumption after a dropped connection. Pages are never saved
/// as the file. Drive gives no md5 without signing in, so the size is checked instead.
/// </summary>
public sealed partial class DriveLinkDownloader(HttpClient http, DriveLinkHosts hosts, DriveRetryPolicy? retry = null)
{
    private const int MaxHops = 10;
    private readonly DriveRetryPolicy _retry = retry ?? new DriveRetryPolicy(MaxAttempts: 5);
    private readonly Dictionary<string, Dictionary<string, string>> _cookies = new(StringComparer.Ordinal);

    public static readonly IReadOnlyDictionary<DriveLinkKind, string[]> ExportFormats = new Dictionary<DriveLinkKind, string[]>
    {
        [DriveLinkKind.Document] = ["docx", "pdf", "txt", "odt", "rtf", "html", "epub", "md"],
        [DriveLinkKind.Spreadsheet] = ["xlsx", "csv", "tsv", "pdf", "ods"],
        [DriveLinkKind.Presentation] = ["pptx", "pdf", "odp", "txt"],
    };

    [GeneratedRegex("^[A-Za-z0-9_-]{1,100}$")]
    private static partial Regex CookieName();

    [GeneratedRegex("^[A-Za-z0-9_.:/+=-]{0,400}$")]
    private static partial Regex CookieValue();

    /// <summary>
    /// Downloads what <paramref name="link"/> points at into <paramref name="folder"/> (under the
    /// name Drive gives, made safe and unique) or to exactly <paramref name="localPath"/>.
    /// <paramref name="format"/> picks the export format of a Docs/Sheets/Slides link.
    /// </summary>
    public async Task<DriveTransfer> DownloadAsync(DriveLink link, string? folder, string? localPath, string? format, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        if (link.Kind == DriveLinkKind.Folder)
        {
            throw new DriveException(DriveErrorKind.Auth, "That is a Drive folder: folders need sign-in (Drive lists a folder's files only to a signed-in client). Sign in to Google Drive, or share and download the files one by one.");
        }
        if (localPath is null && string.IsNullOrEmpty(folder))
        {
            throw new DriveException(DriveErrorKind.InvalidInput, "Say where to download: a folder or a file path.");
        }
        var url = FirstAddress(link, format, out var extension);
        var confirmed = false;
        for (var hop = 0; hop < MaxHops; hop++)
        {
            HttpResponseMessage? response = await SendAsync(url, null, cancellationToken).ConfigureAwait(false);
            try
            {
                var status = (int)response.StatusCode;
                if (status is >= 300 and < 400)
                {
                    url = NextHop(url, response);
                    continue;
                }
                if (IsFile(response))
                {
                    var r = response;
                    response = null;
                    return await SaveAsync(link, url, r, folder, localPath, extension, progress, cancellationToken).ConfigureAwait(false);
                }
                var html = await ReadPageAsync(response, cancellationToken).ConfigureAwait(false);
                var page = status == 404
                    ? new DriveLinkPage.Error(DriveErrorKind.NotFound, "Google Drive has no file shared under that link (wrong id, or it was deleted).")
                    : DriveLinkPages.Read(html, link.Id, WarningCookie(url), hosts);
                switch (page)
                {
                    case DriveLinkPage.Error e:
                        throw new DriveException(status is 401 or 403 && e.Kind == DriveErrorKind.BadResponse ? DriveErrorKind.Auth : e.Kind,
                            status is 401 or 403 && e.Kind == DriveErrorKind.BadResponse ? DriveLinkPages.NotPublic : e.Message);
                    case DriveLinkPage.Confirm c when !confirmed:
                        confirmed = true;
                        url = new Uri(c.Action, "?" + string.Join("&", c.Fields.Select(f => $"{Uri.EscapeDataString(f.Key)}={Uri.EscapeDataString(f.Value)}")));
                        continue;
                    case DriveLinkPage.LegacyConfirm l when !confirmed:
                        confirmed = true;
                        url = new Uri(hosts.Drive, $"uc?export=download&confirm={Uri.EscapeDataString(l.Token)}&id={Uri.EscapeDataString(link.Id)}" + (link.ResourceKey is { } rk ? "&resourcekey=" + Uri.EscapeDataString(rk) : ""));
                        continue;
                    default:
                        throw new DriveException(DriveErrorKind.BadResponse, "Google Drive asked to confirm the download again after it was confirmed; nothing was saved.");
                }
            }
            finally
            {
                response?.Dispose();
            }
        }
        throw new DriveException(DriveErrorKind.BadResponse, "Google Drive kept redirecting the download; nothing was saved.");
    }

    private Uri FirstAddress(DriveLink link, string? format, out string extension)
    {
        var id = Uri.EscapeDataString(link.Id);
        var rk = link.ResourceKey is { } k ? "&resourcekey=" + Uri.EscapeDataString(k) : "";
        extension = "";
        if (link.Kind == DriveLinkKind.File)
        {
            if (format is not null)
            {
                throw new DriveException(DriveErrorKind.InvalidInput, "An export format only applies to Google Docs, Sheets and Slides links.");
            }
            return new Uri(hosts.Drive, $"uc?export=download&id={id}{rk}");
        }
        var formats = ExportFormats[link.Kind];
        format ??= formats[0];
        if (!formats.Contains(format))
        {
            throw new DriveException(DriveErrorKind.InvalidInput, $"'{DriveLinks.Printable(format)}' is not an export format for this link; use one of {string.Join(", ", formats)}.");
        }
        extension = "." + format;
        var kind = link.Kind switch
        {
            DriveLinkKind.Document => "document",
            DriveLinkKind.Spreadsheet => "spreadsheets",
            _ => "presentation",
        };
        return new Uri(hosts.Docs, $"{kind}/d/{id}/export?format={format}{rk}");
    }

    /// <summary>Where a redirect may go: only the Drive hosts; a sign-in page means the file is private.</summary>
    private Uri NextHop(Uri from, HttpResponseMessage response)
    {
        var location = response.Headers.Location ?? throw new DriveException(DriveErrorKind.BadResponse, "Google Drive redirected without saying where; nothing was saved.");
        var next = location.IsAbsoluteUri ? location : new Uri(from, location);
        if (next.IsAbsoluteUri && next.IdnHost.Equals("accounts.google.com", StringComparison.OrdinalIgnoreCase))
        {
            throw new DriveException(DriveErrorKind.Auth, DriveLinkPages.NotPublic);
        }
        if (!hosts.IsAllowed(next))
        {
            throw new DriveException(DriveErrorKind.Unsafe, $"Google Drive redirected to '{DriveLinks.Printable(next.IsAbsoluteUri ? next.GetLeftPart(UriPartial.Authority) : next.OriginalString)}', which is not a Google Drive address; nothing was fetched from it.");
        }
        return next;
    }

    /// <summary>The file itself comes as an attachment (or at least not as a web page).</summary>
    private static bool IsFile(HttpResponseMessage response)
    {
        if (!response.IsSuccessStatusCode)
        {
            return false;
        }
        if (response.Content.Headers.ContentDisposition is { } cd && (cd.DispositionType.Equals("attachment", StringComparison.OrdinalIgnoreCase) || cd.FileName is not null || cd.FileNameStar is not null))
        {
            return true;
        }
        return response.Content.Headers.ContentType?.MediaType is not ("text/html" or "application/xhtml+xml");
    }

    private static async Task<string> ReadPageAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.Content.Headers.ContentLength > DriveLinkPages.MaxPageBytes)
        {
            throw new DriveException(DriveErrorKind.BadResponse, "Google Drive answered with a large web page instead of the file; nothing was saved.");
        }
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        var buffer = new byte[DriveLinkPages.MaxPageBytes + 1];
        var n = await body.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        if (n > DriveLinkPages.MaxPageBytes)
        {
            throw new DriveException(DriveErrorKind.BadResponse, "Google Drive answered with a large web page instead of the file; nothing was saved.");
        }
        return Encoding.UTF8.GetString(buffer, 0, n);
    }

    private async Task<DriveTransfer> SaveAsync(DriveLink link, Uri url, HttpResponseMessage first, string? folder, string? localPath, string extension, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        HttpResponseMessage? response = first;
        try
        {
            if (localPath is null)
            {
                Directory.CreateDirectory(folder!);
                localPath = Path.Combine(folder!, SafeNames.Unique(folder!, FileName(first, link, extension)));
            }
            var total = first.Content.Headers.ContentLength;
            var part = localPath + ".part";
            using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
            long have = 0;
            var failures = 0;
            var buffer = new byte[1 << 20];
            await using (var output = new FileStream(part, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.Asynchronous))
            {
                // A .part left by an earlier, interrupted run of the same download is resumed.
                var ranged = first.Headers.AcceptRanges.Contains("bytes");
                if (ranged && total is { } t0 && output.Length > 0 && output.Length < t0)
                {
                    int n0;
                    while ((n0 = await output.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                    {
                        md5.AppendData(buffer, 0, n0);
                        have += n0;
                    }
                    first.Dispose();
                    response = null;
                }
                else
                {
                    output.SetLength(0);
                }
                while (true)
                {
                    try
                    {
                        if (response is null)
                        {
                            response = await SendAsync(url, have, cancellationToken).ConfigureAwait(false);
                            if (response.StatusCode == HttpStatusCode.PartialContent && response.Content.Headers.ContentRange is { From: { } from } cr && from == have)
                            {
                                total = cr.Length ?? total;
                            }
                            else if (response.StatusCode == HttpStatusCode.OK && IsFile(response))
                            {
                                // The server ignored the range: start over from byte 0.
                                output.SetLength(0);
                                output.Position = 0;
                                md5.GetHashAndReset();
                                have = 0;
                                total = response.Content.Headers.ContentLength;
                            }
                            else
                            {
                                throw new DriveException(DriveErrorKind.BadResponse, $"Google Drive answered HTTP {(int)response.StatusCode} when the download was resumed; the partial file is kept for the next try.");
                            }
                        }
                        output.Position = have;
                        await using (var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false))
                        {
                            int n;
                            while ((n = await body.ReadAtLeastAsync(buffer, 256 * 1024, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false)) > 0)
                            {
                                md5.AppendData(buffer, 0, n);
                                await output.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                                have += n;
                                progress?.Report(have);
                            }
                        }
                        response.Dispose();
                        response = null;
                        if (total is { } t && have < t)
                        {
                            throw new IOException("The connection closed before the whole file arrived.");
                        }
                        break;
                    }
                    catch (Exception e) when (e is IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
                    {
                        response?.Dispose();
                        response = null;
                        if (++failures >= _retry.MaxAttempts)
                        {
                            throw new DriveException(DriveErrorKind.Failed, $"Downloading from the Drive link kept failing after {have} bytes; the partial file is kept and the next try resumes from there.", e);
                        }
                        await Task.Delay(_retry.DelayFor(failures - 1, null), cancellationToken).ConfigureAwait(false);
                    }
                }
                if (total is { } size && have != size)
                {
                    throw new DriveException(DriveErrorKind.Integrity, $"The download arrived with {have} bytes, Drive said {size}.");
                }
            }
            File.Move(part, localPath, overwrite: true);
            return new DriveTransfer(link.Id, localPath, have, Convert.ToHexStringLower(md5.GetHashAndReset()), false);
        }
        finally
        {
            response?.Dispose();
        }
    }

    /// <summary>The name Drive gives in Content-Disposition (RFC 6266 filename* first), made safe; else the id.</summary>
    internal static string FileName(HttpResponseMessage response, DriveLink link, string extension)
    {
        var cd = response.Content.Headers.ContentDisposition;
        var name = cd?.FileNameStar ?? cd?.FileName?.Trim('"');
        if (string.IsNullOrWhiteSpace(name))
        {
            name = link.Id + extension;
        }
        return SafeNames.Sanitize(name);
    }

    private async Task<HttpResponseMessage> SendAsync(Uri url, long? from, CancellationToken cancellationToken)
    {
        if (!hosts.IsAllowed(url))
        {
            // Every address is checked again right before it is fetched.
            throw new DriveException(DriveErrorKind.Unsafe, "Refused to fetch an address outside Google Drive.");
        }
        for (var attempt = 0; ; attempt++)
        {
            var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.UserAgent.Add(new ProductInfoHeaderValue("colab-vscode", "1"));
            if (from is > 0)
            {
                request.Headers.Range = new RangeHeaderValue(from, null);
            }
            var origin = url.GetLeftPart(UriPartial.Authority);
            if (_cookies.TryGetValue(origin, out var jar) && jar.Count > 0)
            {
                request.Headers.Add("Cookie", string.Join("; ", jar.Select(c => $"{c.Key}={c.Value}")));
            }
            HttpResponseMessage response;
            try
            {
                response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or HttpRequestException && !cancellationToken.IsCancellationRequested && attempt + 1 < _retry.MaxAttempts)
            {
                request.Dispose();
                await Task.Delay(_retry.DelayFor(attempt, null), cancellationToken).ConfigureAwait(false);
                continue;
            }
            catch (HttpRequestException e) when (!cancellationToken.IsCancellationRequested)
            {
                request.Dispose();
                throw new DriveException(DriveErrorKind.Failed, $"Cannot reach Google Drive ({e.Message}); nothing was saved.", e);
            }
            request.Dispose();
            KeepCookies(origin, response);
            var status = (int)response.StatusCode;
            if ((status == 429 || status >= 500) && attempt + 1 < _retry.MaxAttempts)
            {
                var retryAfter = response.Headers.RetryAfter?.Delta;
                response.Dispose();
                await Task.Delay(_retry.DelayFor(attempt, retryAfter), cancellationToken).ConfigureAwait(false);
                continue;
            }
            if (status == 429 || status >= 500)
            {
                response.Dispose();
                throw new DriveException(DriveErrorKind.RateLimited, $"Google Drive kept answering HTTP {status} (gave up after {attempt + 1} tries).");
            }
            return response;
        }
    }

    /// <summary>Keeps well-formed cookies per origin (Drive's download_warning cookie among them); anything odd is ignored.</summary>
    private void KeepCookies(string origin, HttpResponseMessage response)
    {
        if (!response.Headers.TryGetValues("Set-Cookie", out var values))
        {
            return;
        }
        if (!_cookies.TryGetValue(origin, out var jar))
        {
            _cookies[origin] = jar = new Dictionary<string, string>(StringComparer.Ordinal);
        }
        foreach (var v in values)
        {
            var first = v.Split(';', 2)[0];
            var eq = first.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                continue;
            }
            var name = first[..eq].Trim();
            var value = first[(eq + 1)..].Trim();
            if (CookieName().IsMatch(name) && CookieValue().IsMatch(value) && (jar.Count < 20 || jar.ContainsKey(name)))
            {
                jar[name] = value;
            }
        }
    }

    private string? WarningCookie(Uri url)
        => _cookies.TryGetValue(url.GetLeftPart(UriPartial.Authority), out var jar)
            ? jar.Where(c => c.Key.StartsWith("download_warning", StringComparison.Ordinal)).Select(c => c.Value).LastOrDefault()
            : null;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"DriveLinkDownloader {{ Drive = {hosts.Drive} }}");
}
