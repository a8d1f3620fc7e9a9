using System.Text.RegularExpressions;

namespace Colab.Daemon.GitHub;

/// <summary>
/// A link as parsed, before its ref is known: for <c>blob/feature/x/nb.ipynb</c> the ref may be
/// <c>feature</c> or <c>feature/x</c>, so <see cref="Segments"/> holds ref and path together
/// and <see cref="GitHubService"/> asks GitHub which branch or tag exists.
/// </summary>
public sealed record GitHubLink(
    string Kind,
    string? Owner,
    string? Repo,
    IReadOnlyList<string> Segments,
    string? ExplicitRef = null,
    string? RefNamespace = null,
    string? GistId = null,
    string? GistFile = null);

/// <summary>
/// Parses every link form a notebook is shared by into a <see cref="GitHubLink"/>. Pure: it
/// fetches nothing. Hostile input (other hosts, user info, odd ports, <c>..</c> in any
/// encoding, control characters) is refused with a message naming the problem.
/// </summary>
public static partial class GitHubLinkParser
{
    private static readonly string[] s_colabHosts = ["colab.research.google.com", "colab.google.com"];
    private static readonly string[] s_nbviewerHosts = ["nbviewer.org", "nbviewer.jupyter.org"];

    [GeneratedRegex(@"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")]
    private static partial Regex OwnerPattern();

    [GeneratedRegex(@"^[A-Za-z0-9._-]{1,100}$")]
    private static partial Regex RepoPattern();

    [GeneratedRegex(@"^[0-9a-fA-F]{7,40}$")]
    private static partial Regex ShaPattern();

    [GeneratedRegex(@"^[0-9a-fA-F]{20,40}$|^[0-9]{1,12}$")]
    private static partial Regex GistIdPattern();

    [GeneratedRegex(@"%(?![0-9A-Fa-f]{2})")]
    private static partial Regex BrokenEscape();

    public static bool IsSha(string s) => s.Length == 40 && ShaPattern().IsMatch(s);

    public static GitHubLink Parse(string? input, GitHubHosts hosts)
    {
        var text = (input ?? "").Trim();
        if (text.Length == 0)
        {
            throw Bad("Enter a GitHub link, a Colab badge link, a gist link, or owner/repo/path.ipynb@ref.");
        }
        if (text.Length > 4096)
        {
            throw Bad("The link is longer than 4096 characters.");
        }
        if (text.Any(c => char.IsControl(c)) || text.Contains('\\'))
        {
            throw Bad("The link contains control characters or a backslash.");
        }
        if (text.StartsWith('/'))
        {
            // The path of a vscode:// link (…/github/owner/repo/blob/ref/path): the Colab form without a host.
            var (segs, _) = SplitPath(text);
            return FromColabPath(segs, hosts, text);
        }
        var schemeEnd = text.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd < 0)
        {
            var firstSlash = text.IndexOf('/');
            var first = firstSlash < 0 ? text : text[..firstSlash];
            if (first.Contains('.') && !first.Contains('@') && (IsKnownHost(first.ToLowerInvariant(), hosts) || first.Contains(':')))
            {
                text = "https://" + text; // github.com/owner/repo/… typed without a scheme
                schemeEnd = "https".Length;
            }
            else
            {
                return ParseShorthand(text);
            }
        }
        var scheme = text[..schemeEnd].ToLowerInvariant();
        if (scheme is not ("https" or "http"))
        {
            throw Bad($"Only https links are opened (this one is {scheme}:).");
        }
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri))
        {
            throw Bad("That is not a valid URL.");
        }
        if (!string.IsNullOrEmpty(uri.UserInfo) || text[(schemeEnd + 3)..].Split('/', 2)[0].Contains('@'))
        {
            throw Bad("Links with a user name or password in them are not opened.");
        }
        var host = uri.IdnHost.ToLowerInvariant();
        var authority = uri.IsDefaultPort ? host : $"{host}:{uri.Port}";
        var portOk = uri.IsDefaultPort || hosts.WebHosts.Contains(authority);
        if (!portOk)
        {
            throw Bad($"Port {uri.Port} is not a GitHub port; only {string.Join(", ", hosts.WebHosts)} and the Colab/gist forms are opened.");
        }
        if (scheme == "http" && (hosts.ApiBase.Scheme != "http" || !hosts.WebHosts.Contains(authority)))
        {
            throw Bad("Only https links are opened.");
        }
        // The raw text, not uri.AbsolutePath: Uri removes "..", and a link with ".." must be refused, not rewritten.
        var rest = text[(schemeEnd + 3)..];
        var slash = rest.IndexOfAny(['/', '?', '#']);
        var pathAndMore = slash < 0 ? "" : rest[slash..];
        var (segments, fragment) = SplitPath(pathAndMore);

        if (s_colabHosts.Contains(host))
        {
            return FromColabPath(segments, hosts, text);
        }
        if (s_nbviewerHosts.Contains(host))
        {
            if (segments.Count > 0 && segments[0] == "github")
            {
                return FromColabPath(segments, hosts, text);
            }
            if (segments.Count > 0 && segments[0] == "gist")
            {
                return FromGistPath(segments.Skip(1).ToList(), fragment);
            }
            throw Bad("This nbviewer link does not point at GitHub.");
        }
        if (hosts.IsPublic)
        {
            switch (host)
            {
                case "github.com" or "www.github.com":
                    return FromRepoPath(segments, uri.Query);
                case "raw.githubusercontent.com":
                    return FromRawPath(segments);
                case "gist.github.com":
                    return FromGistPath(segments, fragment);
                case "gist.githubusercontent.com":
                    return FromGistRawPath(segments);
            }
        }
        else if (hosts.WebHosts.Contains(authority))
        {
            if (segments.Count > 0 && segments[0] == "gist")
            {
                return FromGistPath(segments.Skip(1).ToList(), fragment);
            }
            if (segments.Count > 0 && segments[0] == "raw")
            {
                return FromRawPath(segments.Skip(1).ToList());
            }
            return FromRepoPath(segments, uri.Query);
        }
        var allowed = hosts.IsPublic ? "github.com, raw.githubusercontent.com, gist.github.com" : string.Join(", ", hosts.WebHosts);
        throw Bad($"{host} is not a GitHub host; only {allowed}, colab.research.google.com and nbviewer.org links are opened.");
    }

    private static bool IsKnownHost(string host, GitHubHosts hosts)
        => hosts.WebHosts.Contains(host) || s_colabHosts.Contains(host) || s_nbviewerHosts.Contains(host)
           || host is "github.com" or "www.github.com" or "raw.githubusercontent.com" or "gist.github.com" or "gist.githubusercontent.com";

    /// <summary>Splits "/a/b%20c/?q#f" into decoded segments (empty ones dropped) and the fragment.</summary>
    private static (List<string> Segments, string Fragment) SplitPath(string pathAndMore)
    {
        var hash = pathAndMore.IndexOf('#');
        var fragment = hash < 0 ? "" : pathAndMore[(hash + 1)..];
        var path = hash < 0 ? pathAndMore : pathAndMore[..hash];
        var q = path.IndexOf('?');
        if (q >= 0)
        {
            path = path[..q];
        }
        var segments = new List<string>();
        foreach (var raw in path.Split('/'))
        {
            if (raw.Length == 0)
            {
                continue;
            }
            var once = Decode(raw);
            var twice = BrokenEscape().IsMatch(once) ? once : Uri.UnescapeDataString(once);
            foreach (var s in new[] { raw, once, twice })
            {
                if (s is "." or ".." || s.Contains('/') || s.Contains('\\') || s.Any(char.IsControl))
                {
                    throw Bad("The link's path contains \"..\", \".\", an encoded slash or a control character; it is not opened.");
                }
            }
            segments.Add(once);
        }
        return (segments, fragment);
    }

    private static string Decode(string s)
    {
        if (BrokenEscape().IsMatch(s))
        {
            throw Bad("The link has a broken %-escape.");
        }
        try
        {
            return Uri.UnescapeDataString(s);
        }
        catch (UriFormatException)
        {
            throw Bad("The link has a broken %-escape.");
        }
    }

    private static GitHubLink ParseShorthand(string text)
    {
        // owner/repo[/path][@ref]: the ref is after the last '@'.
        string? explicitRef = null;
        var at = text.LastIndexOf('@');
        if (at >= 0)
        {
            explicitRef = text[(at + 1)..];
            text = text[..at];
            ValidateRef(explicitRef);
        }
        var (segments, _) = SplitPath("/" + text);
        if (segments.Count < 2)
        {
            throw Bad("Write the shorthand as owner/repo, owner/repo@ref or owner/repo/path/to/notebook.ipynb@ref.");
        }
        var (owner, repo) = OwnerRepo(segments[0], segments[1]);
        var path = segments.Skip(2).ToList();
        var kind = path.Count == 0 ? GitHubTargetKinds.Repo
            : path[^1].EndsWith(".ipynb", StringComparison.OrdinalIgnoreCase) ? GitHubTargetKinds.File : GitHubTargetKinds.Directory;
        return new GitHubLink(kind, owner, repo, path, explicitRef ?? "");
    }

    /// <summary>/github/owner/repo[/blob|tree/ref/path] (Colab and nbviewer) or /gist/user/id.</summary>
    private static GitHubLink FromColabPath(List<string> segments, GitHubHosts hosts, string text)
    {
        if (segments.Count >= 2 && segments[0] == "gist")
        {
            return FromGistPath(segments.Skip(1).ToList(), "");
        }
        if (segments.Count < 3 || segments[0] != "github")
        {
            throw Bad("This Colab link does not point at GitHub (expected …/github/owner/repo/blob/ref/path.ipynb); Drive notebooks are opened from the Drive view.");
        }
        _ = hosts;
        _ = text;
        return FromRepoPath(segments.Skip(1).ToList(), "");
    }

    /// <summary>owner/repo[/blob|tree|raw|blame/ref/path…]</summary>
    private static GitHubLink FromRepoPath(List<string> segments, string query)
    {
        if (segments.Count < 2)
        {
            throw Bad("The link needs an owner and a repository (…/owner/repo).");
        }
        var (owner, repo) = OwnerRepo(segments[0], segments[1]);
        if (segments.Count == 2)
        {
            return new GitHubLink(GitHubTargetKinds.Repo, owner, repo, []);
        }
        var marker = segments[2];
        var rest = segments.Skip(3).ToList();
        switch (marker)
        {
            case "blob" or "raw" or "blame":
                if (rest.Count < 2)
                {
                    throw Bad("The link names no file after the ref (…/blob/<ref>/<path>.ipynb).");
                }
                return WithRefNamespace(new GitHubLink(GitHubTargetKinds.File, owner, repo, rest));
            case "tree":
                if (rest.Count == 0)
                {
                    return new GitHubLink(GitHubTargetKinds.Repo, owner, repo, []);
                }
                return WithRefNamespace(new GitHubLink(GitHubTargetKinds.Directory, owner, repo, rest));
            case "commit" when rest.Count == 1 && IsSha(rest[0]):
                return new GitHubLink(GitHubTargetKinds.Repo, owner, repo, [], rest[0]);
            default:
                _ = query;
                throw Bad($"GitHub's \"{marker}\" pages hold no notebook; use a …/blob/<ref>/<path>.ipynb or …/tree/<ref> link.");
        }
    }

    /// <summary>raw.githubusercontent.com/owner/repo/ref/path (ref may be refs/heads/…).</summary>
    private static GitHubLink FromRawPath(List<string> segments)
    {
        if (segments.Count < 4)
        {
            throw Bad("A raw link needs owner/repo/ref/path.");
        }
        var (owner, repo) = OwnerRepo(segments[0], segments[1]);
        return WithRefNamespace(new GitHubLink(GitHubTargetKinds.File, owner, repo, segments.Skip(2).ToList()));
    }

    /// <summary>refs/heads/x… and refs/tags/x… name the namespace; strip it.</summary>
    private static GitHubLink WithRefNamespace(GitHubLink link)
    {
        var s = link.Segments;
        if (s.Count >= 3 && s[0] == "refs" && s[1] is "heads" or "tags")
        {
            return link with { Segments = s.Skip(2).ToList(), RefNamespace = s[1] };
        }
        return link;
    }

    /// <summary>gist.github.com/[user/]id[/revision] with an optional #file-name-ipynb.</summary>
    private static GitHubLink FromGistPath(List<string> segments, string fragment)
    {
        var id = segments.FirstOrDefault(s => GistIdPattern().IsMatch(s) && s.Length >= 5)
            ?? (segments.Count == 2 && GistIdPattern().IsMatch(segments[1]) ? segments[1] : null);
        if (id is null)
        {
            throw Bad("The gist link has no gist id (gist.github.com/<user>/<id>).");
        }
        string? file = null;
        if (fragment.StartsWith("file-", StringComparison.Ordinal))
        {
            file = fragment["file-".Length..]; // a slug: matched loosely against the gist's file names
        }
        return new GitHubLink(GitHubTargetKinds.Gist, null, null, [], GistId: id.ToLowerInvariant(), GistFile: file);
    }

    /// <summary>gist.githubusercontent.com/user/id/raw/[revision/]file</summary>
    private static GitHubLink FromGistRawPath(List<string> segments)
    {
        var rawAt = segments.IndexOf("raw");
        if (rawAt < 1 || !GistIdPattern().IsMatch(segments[rawAt - 1]) || rawAt + 1 >= segments.Count)
        {
            throw Bad("The raw gist link needs …/<user>/<id>/raw/…/<file>.");
        }
        return new GitHubLink(GitHubTargetKinds.Gist, null, null, [], GistId: segments[rawAt - 1].ToLowerInvariant(), GistFile: segments[^1]);
    }

    private static (string Owner, string Repo) OwnerRepo(string owner, string repo)
    {
        if (repo.EndsWith(".git", StringComparison.OrdinalIgnoreCase) && repo.Length > 4)
        {
            repo = repo[..^4];
        }
        if (!OwnerPattern().IsMatch(owner))
        {
            throw Bad($"\"{Shorten(owner)}\" is not a GitHub user or organisation name.");
        }
        if (!RepoPattern().IsMatch(repo) || repo is "." or "..")
        {
            throw Bad($"\"{Shorten(repo)}\" is not a GitHub repository name.");
        }
        return (owner, repo);
    }

    /// <summary>git's ref-name rules (git check-ref-format), enough to keep a ref from being a path trick.</summary>
    public static void ValidateRef(string r)
    {
        if (r.Length == 0 || r.Length > 255 || r.StartsWith('/') || r.EndsWith('/') || r.EndsWith('.') || r.Contains("..") || r.Contains("//")
            || r.Contains("@{") || r.Any(c => char.IsControl(c) || c is ' ' or '~' or '^' or ':' or '?' or '*' or '[' or '\\')
            || r.Split('/').Any(p => p.StartsWith('.') || p.EndsWith(".lock", StringComparison.Ordinal)))
        {
            throw Bad($"\"{Shorten(r)}\" is not a valid branch, tag or commit name.");
        }
    }

    private static string Shorten(string s) => s.Length > 60 ? s[..60] + "…" : s;

    private static GitHubException Bad(string message) => new(GitHubErrorKind.BadUrl, message);
}
