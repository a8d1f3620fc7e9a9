using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Colab.Daemon.GitHub;

/// <summary>
/// The GitHub REST calls, over one <see cref="HttpClient"/> that never follows redirects by
/// itself: the only host it talks to is <see cref="GitHubHosts.ApiBase"/> (a redirect elsewhere
/// is refused), so a crafted link cannot make the daemon fetch anything else. The token goes
/// in the Authorization header and nowhere else.
/// </summary>
public sealed class GitHubClient(HttpClient http, GitHubHosts hosts, string? token)
{
    private const int MaxRedirects = 3;

    public GitHubHosts Hosts => hosts;

    public bool HasToken => !string.IsNullOrEmpty(token);

    /// <summary>An API path (segments already escaped) plus query, as JSON.</summary>
    public async Task<JsonDocument> GetJsonAsync(string relative, CancellationToken cancellationToken, long maxBytes = 32L * 1024 * 1024)
    {
        var bytes = await GetBytesAsync(relative, "application/vnd.github+json", maxBytes, cancellationToken).ConfigureAwait(false);
        try
        {
            return JsonDocument.Parse(bytes);
        }
        catch (JsonException)
        {
            throw new GitHubException(GitHubErrorKind.Unreachable, $"{hosts.ApiBase.Host} answered with something that is not JSON; is the GitHub Enterprise URL right?");
        }
    }

    /// <summary>Null on 404 (for probing which refs exist).</summary>
    public async Task<JsonDocument?> TryGetJsonAsync(string relative, CancellationToken cancellationToken)
    {
        try
        {
            return await GetJsonAsync(relative, cancellationToken).ConfigureAwait(false);
        }
        catch (GitHubException e) when (e.Kind == GitHubErrorKind.NotFound)
        {
            return null;
        }
    }

    /// <summary>The body, at most <paramref name="maxBytes"/> (read no further than that).</summary>
    public async Task<byte[]> GetBytesAsync(string relative, string accept, long maxBytes, CancellationToken cancellationToken)
    {
        var uri = new Uri(hosts.ApiBase, relative);
        for (var redirect = 0; ; redirect++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, uri);
            request.Headers.Accept.ParseAdd(accept);
            request.Headers.UserAgent.Add(new ProductInfoHeaderValue("colab-vscode-daemon", "0.1"));
            request.Headers.TryAddWithoutValidation("X-GitHub-Api-Version", "2022-11-28");
            if (!string.IsNullOrEmpty(token))
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            }
            HttpResponseMessage response;
            try
            {
                response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException e)
            {
                throw new GitHubException(GitHubErrorKind.Unreachable, $"Could not reach {hosts.ApiBase.Host}: {e.Message}");
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new GitHubException(GitHubErrorKind.Unreachable, $"{hosts.ApiBase.Host} did not answer in time.");
            }
            using (response)
            {
                var status = (int)response.StatusCode;
                if (status is 301 or 302 or 303 or 307 or 308)
                {
                    var location = response.Headers.Location;
                    var next = location is null ? null : location.IsAbsoluteUri ? location : new Uri(uri, location);
                    if (next is null || redirect >= MaxRedirects || next.Scheme != hosts.ApiBase.Scheme
                        || !string.Equals(next.Authority, hosts.ApiBase.Authority, StringComparison.OrdinalIgnoreCase) || !string.IsNullOrEmpty(next.UserInfo))
                    {
                        throw new GitHubException(GitHubErrorKind.Unreachable, $"{hosts.ApiBase.Host} redirected to another place; the daemon only fetches from {hosts.ApiBase.Authority}.");
                    }
                    uri = next;
                    continue;
                }
                if (status >= 400)
                {
                    throw await ErrorOfAsync(response, cancellationToken).ConfigureAwait(false);
                }
                if (response.Content.Headers.ContentLength is long length && length > maxBytes)
                {
                    throw TooLarge(length, maxBytes);
                }
                return await ReadCappedAsync(response, maxBytes, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static async Task<byte[]> ReadCappedAsync(HttpResponseMessage response, long maxBytes, CancellationToken cancellationToken)
    {
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // A declared length (checked against the cap above) is read straight into one array, no copies.
            if (response.Content.Headers.ContentLength is long declared && response.Content.Headers.ContentEncoding.Count == 0)
            {
                var exact = new byte[declared];
                await stream.ReadExactlyAsync(exact, cancellationToken).ConfigureAwait(false);
                var extra = new byte[1];
                if (await stream.ReadAsync(extra, cancellationToken).ConfigureAwait(false) != 0)
                {
                    throw new GitHubException(GitHubErrorKind.Unreachable, "GitHub sent more than the length it declared.");
                }
                return exact;
            }
            using var buffer = new MemoryStream();
            var chunk = new byte[81920];
            int read;
            while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
            {
                buffer.Write(chunk, 0, read);
                if (buffer.Length > maxBytes)
                {
                    throw TooLarge(null, maxBytes);
                }
            }
            return buffer.ToArray();
        }
        catch (EndOfStreamException)
        {
            throw new GitHubException(GitHubErrorKind.Unreachable, "The download broke off before the declared length.");
        }
        catch (IOException e)
        {
            throw new GitHubException(GitHubErrorKind.Unreachable, $"The download broke off: {e.Message}");
        }
    }

    public static GitHubException TooLarge(long? length, long maxBytes)
        => new(GitHubErrorKind.TooLarge, $"The file is {(length is long l ? FormatBytes(l) : "larger than " + FormatBytes(maxBytes))}; the limit is {FormatBytes(maxBytes)} (setting colab.github.maxNotebookSizeMB).");

    public static string FormatBytes(long bytes) => bytes >= 1024 * 1024
        ? (bytes / 1024.0 / 1024.0).ToString("0.#", CultureInfo.InvariantCulture) + " MB"
        : (bytes / 1024.0).ToString("0.#", CultureInfo.InvariantCulture) + " KB";

    private async Task<GitHubException> ErrorOfAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var status = (int)response.StatusCode;
        string? apiMessage = null;
        try
        {
            var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            if (body.Length is > 0 and < 64 * 1024)
            {
                using var doc = JsonDocument.Parse(body);
                if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String)
                {
                    apiMessage = m.GetString();
                }
            }
        }
        catch (Exception e) when (e is JsonException or HttpRequestException or IOException)
        {
        }
        var remaining = Header(response, "x-ratelimit-remaining");
        var reset = Header(response, "x-ratelimit-reset") is { } r && long.TryParse(r, NumberStyles.Integer, CultureInfo.InvariantCulture, out var epoch)
            ? DateTimeOffset.FromUnixTimeSeconds(epoch) : (DateTimeOffset?)null;
        if (status == 429 || (status == 403 && (remaining == "0" || (apiMessage?.Contains("rate limit", StringComparison.OrdinalIgnoreCase) ?? false))))
        {
            if (reset is null && response.Headers.RetryAfter?.Delta is TimeSpan delta)
            {
                reset = DateTimeOffset.UtcNow + delta;
            }
            var when = reset is { } t ? $" until {t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)} UTC" : "";
            var hint = HasToken ? "" : " Sign in to GitHub (or set a token) for a higher limit.";
            return new GitHubException(GitHubErrorKind.RateLimited, $"GitHub's rate limit is used up{when}.{hint}", reset);
        }
        return status switch
        {
            404 => new GitHubException(GitHubErrorKind.NotFound, HasToken
                ? "Not found on GitHub: the path, branch or repository is wrong, or the token cannot see this repository."
                : "Not found on GitHub: the path is wrong, or it is a private repository and you are not signed in (set a token or sign in to GitHub)."),
            401 => new GitHubException(GitHubErrorKind.Unauthorized, HasToken
                ? "GitHub rejected the token (401): it is expired or revoked; sign in again or set a new token."
                : "GitHub asks for sign-in (401)."),
            403 => new GitHubException(GitHubErrorKind.Unauthorized, $"GitHub refused access (403){(apiMessage is null ? "" : ": " + Clip(apiMessage))}."),
            451 => new GitHubException(GitHubErrorKind.NotFound, "GitHub blocks this repository (451)."),
            _ => new GitHubException(GitHubErrorKind.Unreachable, $"GitHub answered {status} {response.ReasonPhrase}{(apiMessage is null ? "" : ": " + Clip(apiMessage))}."),
        };
    }

    private static string Clip(string s)
    {
        var sb = new StringBuilder();
        foreach (var c in s.Take(200))
        {
            sb.Append(char.IsControl(c) ? ' ' : c);
        }
        return sb.ToString();
    }

    private static string? Header(HttpResponseMessage response, string name)
        => response.Headers.TryGetValues(name, out var v) ? v.FirstOrDefault() : null;

    /// <summary>Escapes each segment of a repository path for a URL.</summary>
    public static string EscapePath(string path) => string.Join('/', path.Split('/').Select(Uri.EscapeDataString));

    public static HttpClient CreateHttpClient() => new(new SocketsHttpHandler
    {
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.GZip | DecompressionMethods.Deflate | DecompressionMethods.Brotli,
        ConnectTimeout = TimeSpan.FromSeconds(15),
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        UseProxy = true,
    })
    {
        Timeout = TimeSpan.FromSeconds(120),
    };
}
