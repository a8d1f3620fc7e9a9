using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Colab.Daemon.GitHub;

/// <summary>How a request reaches GitHub: the token (from the client's SecretStorage or GitHub sign-in; never logged) and the Enterprise base URL.</summary>
public sealed record GitHubAccess(string? Token = null, string? BaseUrl = null, long? MaxBytes = null);

/// <summary>An opened notebook: <see cref="Utf8"/> is the checked nbformat 4 JSON, forwarded to the client as it is.</summary>
public sealed record GitHubNotebook(ReadOnlyMemory<byte> Utf8, string SuggestedName, GitHubTarget Source, string WebUrl, long Bytes, string? Note = null)
{
    /// <summary>The notebook as text (for the CLI and tests).</summary>
    public string Notebook => System.Text.Encoding.UTF8.GetString(Utf8.Span);
}

public sealed record GitHubNotebookEntry(string Path, long? Size);

public sealed record GitHubListing(string Owner, string Repo, string Ref, string DefaultBranch, IReadOnlyList<GitHubNotebookEntry> Notebooks,
    IReadOnlyList<string> Branches, IReadOnlyList<string> Tags, bool Truncated);

public sealed record GitHubLinks(string Owner, string Repo, string Ref, string Path, string GitHubUrl, string ColabUrl, string BadgeMarkdown);

/// <summary>
/// Opening notebooks from GitHub: resolves a link (asking GitHub which branch or tag a
/// slash-separated ref names), fetches the file through the contents API (raw media type,
/// size-capped), checks it is a notebook, and lists a repository's notebooks and refs.
/// </summary>
public sealed class GitHubService(IConfiguration configuration, ILogger<GitHubService> logger) : IDisposable
{
    // Created on first use, not with the service: the daemon builds every service at start, and an
    // idle session that never opens a notebook should not pay for an HTTP stack (issue 8, idle RSS).
    private HttpClient? _http;

    /// <summary>The Enterprise base URL from the request, else <c>COLAB_GitHub__BaseUrl</c>; empty means github.com.</summary>
    public GitHubHosts HostsFor(GitHubAccess access)
        => GitHubHosts.FromBaseUrl(string.IsNullOrWhiteSpace(access.BaseUrl) ? configuration["GitHub:BaseUrl"] : access.BaseUrl);

    private long MaxBytes(GitHubAccess access)
    {
        if (access.MaxBytes is long m)
        {
            return Math.Clamp(m, 1024, 1024L * 1024 * 1024);
        }
        return long.TryParse(configuration["GitHub:MaxNotebookBytes"], out var c) && c > 0 ? c : GitHubHosts.DefaultMaxBytes;
    }

    private GitHubClient Client(GitHubAccess access) => new(LazyInitializer.EnsureInitialized(ref _http, GitHubClient.CreateHttpClient), HostsFor(access), string.IsNullOrWhiteSpace(access.Token) ? null : access.Token.Trim());

    public async Task<GitHubTarget> ResolveAsync(string url, GitHubAccess access, CancellationToken cancellationToken)
    {
        var client = Client(access);
        var link = GitHubLinkParser.Parse(url, client.Hosts);
        return await ResolveAsync(link, client, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Resolves an already parsed link's ref against the API that <paramref name="access"/> names.</summary>
    public Task<GitHubTarget> ResolveAsync(GitHubLink link, GitHubAccess access, CancellationToken cancellationToken)
        => ResolveAsync(link, Client(access), cancellationToken);

    private async Task<GitHubTarget> ResolveAsync(GitHubLink link, GitHubClient client, CancellationToken cancellationToken)
    {
        if (link.Kind == GitHubTargetKinds.Gist)
        {
            return new GitHubTarget(GitHubTargetKinds.Gist, GistId: link.GistId, GistFile: link.GistFile);
        }
        var s = link.Segments;
        if (link.ExplicitRef is not null)
        {
            var explicitRef = link.ExplicitRef.Length == 0 ? null : link.ExplicitRef;
            return new GitHubTarget(link.Kind, link.Owner, link.Repo, explicitRef, string.Join('/', s));
        }
        if (s.Count == 0)
        {
            return new GitHubTarget(link.Kind, link.Owner, link.Repo, null, "");
        }
        // A file needs at least one path segment after the ref; a directory may be the ref alone.
        var maxRefSegments = link.Kind == GitHubTargetKinds.File ? s.Count - 1 : s.Count;
        var refSegments = 1;
        if (maxRefSegments > 1 && !GitHubLinkParser.IsSha(s[0]))
        {
            refSegments = await LongestExistingRefAsync(client, link.Owner!, link.Repo!, s, maxRefSegments, link.RefNamespace, cancellationToken).ConfigureAwait(false);
        }
        var gitRef = string.Join('/', s.Take(refSegments));
        GitHubLinkParser.ValidateRef(gitRef);
        return new GitHubTarget(link.Kind, link.Owner, link.Repo, gitRef, string.Join('/', s.Skip(refSegments)));
    }

    /// <summary>How many leading segments name an existing branch or tag (the longest wins); 1 when none does.</summary>
    private async Task<int> LongestExistingRefAsync(GitHubClient client, string owner, string repo, IReadOnlyList<string> s, int max, string? ns, CancellationToken cancellationToken)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var space in ns is null ? new[] { "heads", "tags" } : [ns])
        {
            using var doc = await client.TryGetJsonAsync(
                $"repos/{owner}/{repo}/git/matching-refs/{space}/{Uri.EscapeDataString(s[0])}", cancellationToken).ConfigureAwait(false);
            if (doc?.RootElement.ValueKind != JsonValueKind.Array)
            {
                continue;
            }
            foreach (var r in doc.RootElement.EnumerateArray())
            {
                if (r.ValueKind == JsonValueKind.Object && r.TryGetProperty("ref", out var name) && name.ValueKind == JsonValueKind.String
                    && name.GetString() is { } full && full.StartsWith($"refs/{space}/", StringComparison.Ordinal))
                {
                    names.Add(full[$"refs/{space}/".Length..]);
                }
            }
        }
        for (var k = max; k > 1; k--)
        {
            if (names.Contains(string.Join('/', s.Take(k))))
            {
                return k;
            }
        }
        logger.LogDebug("github: no branch or tag of {Owner}/{Repo} is longer than its first segment; using that", owner, repo);
        return 1;
    }

    public async Task<GitHubNotebook> OpenAsync(string url, GitHubAccess access, CancellationToken cancellationToken)
    {
        var client = Client(access);
        var link = GitHubLinkParser.Parse(url, client.Hosts);
        var target = await ResolveAsync(link, client, cancellationToken).ConfigureAwait(false);
        return await OpenAsync(target, client, MaxBytes(access), cancellationToken).ConfigureAwait(false);
    }

    public Task<GitHubNotebook> OpenAsync(GitHubTarget target, GitHubAccess access, CancellationToken cancellationToken)
        => OpenAsync(target, Client(access), MaxBytes(access), cancellationToken);

    private async Task<GitHubNotebook> OpenAsync(GitHubTarget target, GitHubClient client, long maxBytes, CancellationToken cancellationToken)
    {
        if (target.Kind == GitHubTargetKinds.Gist)
        {
            return await OpenGistAsync(target, client, maxBytes, cancellationToken).ConfigureAwait(false);
        }
        if (target.Kind != GitHubTargetKinds.File)
        {
            throw new GitHubException(GitHubErrorKind.BadUrl, "This link is a folder or repository, not a notebook; pick a notebook from colab/github/list.");
        }
        var (owner, repo) = CheckRepo(target);
        var path = CheckPath(target.Path);
        if (!string.IsNullOrEmpty(target.Ref))
        {
            GitHubLinkParser.ValidateRef(target.Ref);
        }
        var name = path.Split('/')[^1];
        var query = string.IsNullOrEmpty(target.Ref) ? "" : "?ref=" + Uri.EscapeDataString(target.Ref);
        var bytes = await client.GetBytesAsync($"repos/{owner}/{repo}/contents/{GitHubClient.EscapePath(path)}{query}", "application/vnd.github.raw",
            maxBytes, cancellationToken).ConfigureAwait(false);
        var check = NotebookCheck.Check(bytes, name);
        var webRef = target.Ref ?? "HEAD";
        var web = $"{client.Hosts.WebBase}/{owner}/{repo}/blob/{GitHubClient.EscapePath(webRef)}/{GitHubClient.EscapePath(path)}";
        logger.LogInformation("github: opened {Owner}/{Repo}@{Ref}:{Path} ({Bytes} bytes)", owner, repo, webRef, path, bytes.Length);
        return new GitHubNotebook(check.Utf8, name, target, web, bytes.Length, check.Note);
    }

    private async Task<GitHubNotebook> OpenGistAsync(GitHubTarget target, GitHubClient client, long maxBytes, CancellationToken cancellationToken)
    {
        var id = target.GistId ?? throw new GitHubException(GitHubErrorKind.BadUrl, "The gist has no id.");
        if (!System.Text.RegularExpressions.Regex.IsMatch(id, "^[0-9a-fA-F]{5,40}$|^[0-9]{1,12}$"))
        {
            throw new GitHubException(GitHubErrorKind.BadUrl, "That is not a gist id.");
        }
        using var doc = await client.GetJsonAsync($"gists/{id}", cancellationToken, maxBytes * 2 + 1024 * 1024).ConfigureAwait(false);
        if (!doc.RootElement.TryGetProperty("files", out var files) || files.ValueKind != JsonValueKind.Object)
        {
            throw new GitHubException(GitHubErrorKind.BadNotebook, "The gist has no files.");
        }
        var notebooks = files.EnumerateObject().Where(f => f.Name.EndsWith(".ipynb", StringComparison.OrdinalIgnoreCase)).ToList();
        if (notebooks.Count == 0)
        {
            throw new GitHubException(GitHubErrorKind.BadNotebook, $"The gist has no .ipynb file (it has {string.Join(", ", files.EnumerateObject().Select(f => f.Name).Take(5))}).");
        }
        var wanted = target.GistFile;
        var chosen = wanted is null ? notebooks[0]
            : notebooks.FirstOrDefault(f => f.Name == wanted || Slug(f.Name) == wanted.ToLowerInvariant()) is { Value.ValueKind: JsonValueKind.Object } hit ? hit
            : throw new GitHubException(GitHubErrorKind.NotFound, $"The gist has no notebook named {wanted}; it has {string.Join(", ", notebooks.Select(n => n.Name))}.");
        var file = chosen.Value;
        var size = file.TryGetProperty("size", out var sz) && sz.TryGetInt64(out var l) ? l : 0;
        if (size > maxBytes)
        {
            throw GitHubClient.TooLarge(size, maxBytes);
        }
        var truncated = file.TryGetProperty("truncated", out var tr) && tr.ValueKind == JsonValueKind.True;
        if (truncated || !file.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String)
        {
            throw new GitHubException(GitHubErrorKind.TooLarge, $"{chosen.Name} is too large for the gist API to include; clone the gist with git instead.");
        }
        var bytes = System.Text.Encoding.UTF8.GetBytes(content.GetString()!);
        var check = NotebookCheck.Check(bytes, chosen.Name);
        var web = client.Hosts.IsPublic ? $"https://gist.github.com/{id}" : $"{client.Hosts.WebBase}/gist/{id}";
        return new GitHubNotebook(check.Utf8, chosen.Name, target with { GistFile = chosen.Name }, web, bytes.Length, check.Note);
    }

    /// <summary>GitHub's gist anchor: "file-" + the name lower-cased with non-alphanumerics as '-'.</summary>
    private static string Slug(string name) => new(name.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').ToArray());

    public async Task<GitHubListing> ListAsync(string repoText, string? gitRef, GitHubAccess access, CancellationToken cancellationToken)
    {
        var client = Client(access);
        var link = GitHubLinkParser.Parse(repoText, client.Hosts);
        if (link.Kind == GitHubTargetKinds.Gist)
        {
            throw new GitHubException(GitHubErrorKind.BadUrl, "A gist is opened, not browsed; use colab/github/open.");
        }
        var target = await ResolveAsync(link, client, cancellationToken).ConfigureAwait(false);
        var (owner, repo) = CheckRepo(target);
        if (!string.IsNullOrEmpty(gitRef))
        {
            GitHubLinkParser.ValidateRef(gitRef);
        }
        using var repoDoc = await client.GetJsonAsync($"repos/{owner}/{repo}", cancellationToken).ConfigureAwait(false);
        var defaultBranch = repoDoc.RootElement.TryGetProperty("default_branch", out var db) && db.ValueKind == JsonValueKind.String ? db.GetString()! : "main";
        var effective = !string.IsNullOrEmpty(gitRef) ? gitRef : target.Ref ?? defaultBranch;
        var prefix = target.Kind == GitHubTargetKinds.Directory && !string.IsNullOrEmpty(target.Path) ? target.Path.TrimEnd('/') + "/" : "";

        var tree = client.GetJsonAsync($"repos/{owner}/{repo}/git/trees/{Uri.EscapeDataString(effective)}?recursive=1", cancellationToken, 256L * 1024 * 1024);
        var branches = NamesAsync(client, $"repos/{owner}/{repo}/branches?per_page=100", cancellationToken);
        var tags = NamesAsync(client, $"repos/{owner}/{repo}/tags?per_page=100", cancellationToken);
        using var treeDoc = await tree.ConfigureAwait(false);
        var notebooks = new List<GitHubNotebookEntry>();
        if (treeDoc.RootElement.TryGetProperty("tree", out var entries) && entries.ValueKind == JsonValueKind.Array)
        {
            foreach (var e in entries.EnumerateArray())
            {
                if (e.TryGetProperty("type", out var t) && t.GetString() == "blob" && e.TryGetProperty("path", out var p) && p.GetString() is { } path
                    && path.EndsWith(".ipynb", StringComparison.OrdinalIgnoreCase) && path.StartsWith(prefix, StringComparison.Ordinal))
                {
                    notebooks.Add(new GitHubNotebookEntry(path, e.TryGetProperty("size", out var sz) && sz.TryGetInt64(out var l) ? l : null));
                }
            }
        }
        var truncated = treeDoc.RootElement.TryGetProperty("truncated", out var tr) && tr.ValueKind == JsonValueKind.True;
        notebooks.Sort((a, b) => string.CompareOrdinal(a.Path, b.Path));
        return new GitHubListing(owner, repo, effective, defaultBranch, notebooks, await branches.ConfigureAwait(false), await tags.ConfigureAwait(false), truncated);
    }

    private static async Task<IReadOnlyList<string>> NamesAsync(GitHubClient client, string relative, CancellationToken cancellationToken)
    {
        using var doc = await client.TryGetJsonAsync(relative, cancellationToken).ConfigureAwait(false);
        if (doc?.RootElement.ValueKind != JsonValueKind.Array)
        {
            return [];
        }
        return doc.RootElement.EnumerateArray()
            .Select(e => e.ValueKind == JsonValueKind.Object && e.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null)
            .OfType<string>().ToList();
    }

    /// <summary>The github.com, Colab and badge links of a workspace notebook, from its repository's remote.</summary>
    public GitHubLinks Links(string file, GitHubAccess access)
    {
        var hosts = HostsFor(access);
        var at = GitRemote.Locate(file, hosts);
        var path = GitHubClient.EscapePath(at.Path);
        var refPart = GitHubClient.EscapePath(at.Ref);
        var github = $"{hosts.WebBase}/{at.Owner}/{at.Repo}/blob/{refPart}/{path}";
        var colab = $"https://colab.research.google.com/github/{at.Owner}/{at.Repo}/blob/{refPart}/{path}";
        var badge = $"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab})";
        return new GitHubLinks(at.Owner, at.Repo, at.Ref, at.Path, github, colab, badge);
    }

    private static (string Owner, string Repo) CheckRepo(GitHubTarget t)
    {
        // Re-parse as shorthand so a target sent straight by a client gets the same checks as a link.
        var parsed = GitHubLinkParser.Parse($"{t.Owner}/{t.Repo}", GitHubHosts.Public);
        return (parsed.Owner!, parsed.Repo!);
    }

    private static string CheckPath(string? path)
    {
        if (string.IsNullOrEmpty(path))
        {
            throw new GitHubException(GitHubErrorKind.BadUrl, "No notebook path was given.");
        }
        foreach (var seg in path.Split('/'))
        {
            if (seg.Length == 0 || seg is "." or ".." || seg.Contains('\\') || seg.Any(char.IsControl))
            {
                throw new GitHubException(GitHubErrorKind.BadUrl, "The notebook path contains an empty, \".\" or \"..\" segment or a control character.");
            }
        }
        return path;
    }

    public void Dispose() => _http?.Dispose();
}
