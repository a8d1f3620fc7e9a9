namespace Colab.Daemon.GitHub;

/// <summary>What a link points at.</summary>
public static class GitHubTargetKinds
{
    public const string File = "file";
    public const string Directory = "directory";
    public const string Repo = "repo";
    public const string Gist = "gist";
}

/// <summary>
/// A link resolved to one place: <c>owner/repo</c> at <c>ref</c> (null: the default branch) and
/// <c>path</c> ("" for the root), or a gist (<c>gistId</c>, optionally one <c>gistFile</c>).
/// </summary>
public sealed record GitHubTarget(
    string Kind,
    string? Owner = null,
    string? Repo = null,
    string? Ref = null,
    string? Path = null,
    string? GistId = null,
    string? GistFile = null);

/// <summary>The reason a GitHub request failed; each maps to one error code.</summary>
public enum GitHubErrorKind
{
    BadUrl,
    NotFound,
    Unauthorized,
    RateLimited,
    Unreachable,
    BadNotebook,
    TooLarge,
}

/// <summary>A failure with a message for the user. Messages never contain the token.</summary>
public sealed class GitHubException(GitHubErrorKind kind, string message, DateTimeOffset? resetAt = null) : Exception(message)
{
    public GitHubErrorKind Kind { get; } = kind;

    /// <summary>For <see cref="GitHubErrorKind.RateLimited"/>: when the limit resets, if GitHub said.</summary>
    public DateTimeOffset? ResetAt { get; } = resetAt;
}

/// <summary>
/// Which GitHub this is. <c>github.com</c> by default; a GitHub Enterprise server (or the tests'
/// stand-in) by its base URL, whose API is at <c>{base}/api/v3</c>. The API base is the only
/// place the daemon ever fetches from: links on other hosts are parsed, never followed.
/// </summary>
public sealed record GitHubHosts
{
    public const long DefaultMaxBytes = 50L * 1024 * 1024;
    private static readonly string[] s_publicWebHosts = ["github.com", "www.github.com"];

    private GitHubHosts(Uri apiBase, IReadOnlyList<string> webHosts, bool isPublic)
    {
        ApiBase = apiBase;
        WebHosts = webHosts;
        IsPublic = isPublic;
    }

    public Uri ApiBase { get; }

    /// <summary>Host[:port] of repository pages (github.com, or the Enterprise host).</summary>
    public IReadOnlyList<string> WebHosts { get; }

    public bool IsPublic { get; }

    public string WebBase => IsPublic ? "https://github.com" : ApiBase.GetLeftPart(UriPartial.Authority);

    public static GitHubHosts Public { get; } = new(new Uri("https://api.github.com/"), s_publicWebHosts, true);

    /// <summary>An Enterprise base URL (<c>https://ghe.example.com</c>); empty or github.com means the public one.</summary>
    public static GitHubHosts FromBaseUrl(string? baseUrl)
    {
        if (string.IsNullOrWhiteSpace(baseUrl))
        {
            return Public;
        }
        if (!Uri.TryCreate(baseUrl.Trim(), UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp)
            || !string.IsNullOrEmpty(uri.UserInfo) || !string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment))
        {
            throw new GitHubException(GitHubErrorKind.BadUrl, "The GitHub Enterprise URL must be a plain http(s) URL such as https://github.example.com (no user name, query or fragment).");
        }
        var host = uri.IdnHost.ToLowerInvariant();
        if (host is "github.com" or "www.github.com" or "api.github.com")
        {
            return Public;
        }
        var path = uri.AbsolutePath.TrimEnd('/');
        if (path.EndsWith("/api/v3", StringComparison.OrdinalIgnoreCase))
        {
            path = path[..^"/api/v3".Length];
        }
        var authority = uri.IsDefaultPort ? host : $"{host}:{uri.Port}";
        var apiBase = new Uri($"{uri.Scheme}://{authority}{path}/api/v3/");
        return new GitHubHosts(apiBase, [authority], false);
    }
}
