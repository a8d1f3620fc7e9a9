using System.Text.RegularExpressions;

namespace Colab.Daemon.GitHub;

/// <summary>Where a workspace file lives on GitHub, from its repository's .git (config and HEAD, read as text; git is not run).</summary>
public sealed record GitHubFileLocation(string Host, string Owner, string Repo, string Ref, string Path);

public static partial class GitRemote
{
    [GeneratedRegex(@"^\s*\[remote\s+""(?<name>[^""]+)""\]\s*$")]
    private static partial Regex RemoteHeader();

    [GeneratedRegex(@"^\s*url\s*=\s*(?<url>.+?)\s*$")]
    private static partial Regex UrlLine();

    /// <summary>https://host/owner/repo(.git), ssh://git@host[:port]/owner/repo(.git), git@host:owner/repo(.git).</summary>
    public static (string Host, string Owner, string Repo)? ParseRemoteUrl(string url)
    {
        url = url.Trim();
        string host, path;
        var scp = Regex.Match(url, @"^(?:[A-Za-z0-9._-]+@)?(?<host>[A-Za-z0-9.-]+):(?!//)(?<path>.+)$");
        if (url.Contains("://", StringComparison.Ordinal))
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http" or "ssh" or "git"))
            {
                return null;
            }
            host = uri.Host.ToLowerInvariant();
            path = uri.AbsolutePath;
        }
        else if (scp.Success)
        {
            host = scp.Groups["host"].Value.ToLowerInvariant();
            path = scp.Groups["path"].Value;
        }
        else
        {
            return null;
        }
        var parts = path.Trim('/').Split('/');
        if (parts.Length < 2)
        {
            return null;
        }
        var owner = parts[^2];
        var repo = parts[^1].EndsWith(".git", StringComparison.OrdinalIgnoreCase) ? parts[^1][..^4] : parts[^1];
        if (!Regex.IsMatch(owner, "^[A-Za-z0-9-]+$") || !Regex.IsMatch(repo, @"^[A-Za-z0-9._-]+$"))
        {
            return null;
        }
        return (host, owner, repo);
    }

    /// <summary>The GitHub location of <paramref name="file"/>: the "origin" remote (else the first GitHub one) and the checked-out branch or commit.</summary>
    public static GitHubFileLocation Locate(string file, GitHubHosts hosts)
    {
        var full = System.IO.Path.GetFullPath(file);
        var dir = System.IO.Path.GetDirectoryName(full);
        while (dir is not null && !Directory.Exists(System.IO.Path.Combine(dir, ".git")) && !File.Exists(System.IO.Path.Combine(dir, ".git")))
        {
            dir = System.IO.Path.GetDirectoryName(dir);
        }
        if (dir is null)
        {
            throw new GitHubException(GitHubErrorKind.NotFound, "This file is not in a git repository, so it has no GitHub link.");
        }
        var gitDir = System.IO.Path.Combine(dir, ".git");
        if (File.Exists(gitDir))
        {
            var line = File.ReadAllText(gitDir).Trim();
            if (!line.StartsWith("gitdir:", StringComparison.Ordinal))
            {
                throw new GitHubException(GitHubErrorKind.NotFound, "The repository's .git file is not a gitdir link.");
            }
            gitDir = System.IO.Path.GetFullPath(System.IO.Path.Combine(dir, line["gitdir:".Length..].Trim()));
        }
        var commonDir = File.Exists(System.IO.Path.Combine(gitDir, "commondir"))
            ? System.IO.Path.GetFullPath(System.IO.Path.Combine(gitDir, File.ReadAllText(System.IO.Path.Combine(gitDir, "commondir")).Trim()))
            : gitDir;
        var configPath = System.IO.Path.Combine(commonDir, "config");
        var remotes = new List<(string Name, string Url)>();
        if (File.Exists(configPath))
        {
            string? current = null;
            foreach (var line in File.ReadLines(configPath))
            {
                var h = RemoteHeader().Match(line);
                if (h.Success)
                {
                    current = h.Groups["name"].Value;
                    continue;
                }
                if (line.TrimStart().StartsWith('['))
                {
                    current = null;
                    continue;
                }
                var u = UrlLine().Match(line);
                if (current is not null && u.Success)
                {
                    remotes.Add((current, u.Groups["url"].Value));
                }
            }
        }
        var candidates = remotes.OrderBy(r => r.Name == "origin" ? 0 : r.Name == "upstream" ? 1 : 2)
            .Select(r => ParseRemoteUrl(r.Url)).Where(p => p is not null).Select(p => p!.Value)
            .Where(p => hosts.IsPublic ? p.Host is "github.com" or "www.github.com" or "ssh.github.com" : hosts.WebHosts.Any(w => w.Split(':')[0] == p.Host))
            .ToList();
        if (candidates.Count == 0)
        {
            throw new GitHubException(GitHubErrorKind.NotFound, remotes.Count == 0
                ? "The repository has no remote, so it has no GitHub link."
                : $"None of the repository's remotes ({string.Join(", ", remotes.Select(r => r.Name))}) is on {(hosts.IsPublic ? "github.com" : hosts.WebHosts[0])}.");
        }
        var head = File.Exists(System.IO.Path.Combine(gitDir, "HEAD")) ? File.ReadAllText(System.IO.Path.Combine(gitDir, "HEAD")).Trim() : "";
        string gitRef;
        if (head.StartsWith("ref: refs/heads/", StringComparison.Ordinal))
        {
            gitRef = head["ref: refs/heads/".Length..];
        }
        else if (GitHubLinkParser.IsSha(head))
        {
            gitRef = head;
        }
        else
        {
            throw new GitHubException(GitHubErrorKind.NotFound, "Could not read the checked-out branch from .git/HEAD.");
        }
        var relative = System.IO.Path.GetRelativePath(dir, full).Replace('\\', '/');
        var (host, owner, repo) = candidates[0];
        return new GitHubFileLocation(host == "ssh.github.com" ? "github.com" : host, owner, repo, gitRef, relative);
    }
}
