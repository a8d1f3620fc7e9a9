using Colab.Daemon.GitHub;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace Colab.Daemon.Tests.GitHub;

/// <summary>
/// Every link shape people paste: parsed as github.com links, with the ambiguous refs
/// ("feature/x", "release/2.0") resolved by asking the stand-in's API which branches and tags exist.
/// </summary>
public sealed class GitHubLinkTests : IDisposable
{
    private const string Sha = "0123456789abcdef0123456789abcdef01234567";
    private const string Gist = "aa5a315d61ae9438b18d";
    private readonly GitHubStandIn _standIn = new();
    private readonly GitHubService _service = new(new ConfigurationBuilder().Build(), NullLogger<GitHubService>.Instance);

    public GitHubLinkTests()
    {
        var repo = _standIn.AddRepo("org", "repo");
        repo.Branches["feature/x"] = [];
        repo.Branches["feature"] = [];
        repo.Branches["release/2.0"] = [];
        repo.Tags["v1.0"] = [];
        repo.Tags["v1.0/rc"] = [];
    }

    public void Dispose()
    {
        _service.Dispose();
        _standIn.Dispose();
    }

    // input → kind owner repo ref path (ref "-" = the default branch); gists: kind "gist", id, file
    public static TheoryData<string, string, string, string, string, string> Links => new()
    {
        { "https://github.com/org/repo/blob/main/nb.ipynb", "file", "org", "repo", "main", "nb.ipynb" },
        { "https://github.com/org/repo/blob/main/dir/sub/nb.ipynb", "file", "org", "repo", "main", "dir/sub/nb.ipynb" },
        { "https://github.com/org/repo/blob/feature/x/nb.ipynb", "file", "org", "repo", "feature/x", "nb.ipynb" },
        { "https://github.com/org/repo/blob/feature/x/y/nb.ipynb", "file", "org", "repo", "feature/x", "y/nb.ipynb" },
        { "https://github.com/org/repo/blob/feature/nb.ipynb", "file", "org", "repo", "feature", "nb.ipynb" },
        { "https://github.com/org/repo/blob/release/2.0/notebooks/a.ipynb", "file", "org", "repo", "release/2.0", "notebooks/a.ipynb" },
        { "https://github.com/org/repo/blob/v1.0/nb.ipynb", "file", "org", "repo", "v1.0", "nb.ipynb" },
        { "https://github.com/org/repo/blob/v1.0/rc/nb.ipynb", "file", "org", "repo", "v1.0/rc", "nb.ipynb" },
        { $"https://github.com/org/repo/blob/{Sha}/nb.ipynb", "file", "org", "repo", Sha, "nb.ipynb" },
        { $"https://github.com/org/repo/blob/{Sha}/a/b/nb.ipynb", "file", "org", "repo", Sha, "a/b/nb.ipynb" },
        { "https://github.com/org/repo/blob/main/nb.ipynb?raw=true", "file", "org", "repo", "main", "nb.ipynb" },
        { "https://github.com/org/repo/blob/main/nb.ipynb?plain=1#L10", "file", "org", "repo", "main", "nb.ipynb" },
        { "https://github.com/org/repo/blob/main/nb.ipynb#L10-L20", "file", "org", "repo", "main", "nb.ipynb" },
        { "https://github.com/org/repo/blob/main/My%20Notebook.ipynb", "file", "org", "repo", "main", "My Notebook.ipynb" },
        { "https://github.com/org/repo/blob/main/%E6%97%A5%E6%9C%AC.ipynb", "file", "org", "repo", "main", "日本.ipynb" },
        { "https://github.com/org/repo/blob/main/a%23b%3F.ipynb", "file", "org", "repo", "main", "a#b?.ipynb" },
        { "https://github.com/org/repo/blob/main/nb.ipynb/", "file", "org", "repo", "main", "nb.ipynb" },
        { "  https://github.com/org/repo/blob/main/nb.ipynb \n", "file", "org", "repo", "main", "nb.ipynb" },
        { "https://www.github.com/org/repo/blob/main/nb.ipynb", "file", "org", "repo", "main", "nb.ipynb" },
        { "https://GitHub.com/org/repo/blob/main/nb.ipynb", "file", "org", "repo", "main", "nb.ipynb" },
        { "github.com/org/repo/blob/main/nb.ipynb", "file", "org", "repo", "main", "nb.ipynb" },
        { "https://github.com/org/repo/raw/main/nb.ipynb", "file", "org", "repo", "main", "nb.ipynb" },
        { "https://github.com/org/repo/blame/main/nb.ipynb", "file", "org", "repo", "main", "nb.ipynb" },
        { "https://github.com/org/repo", "repo", "org", "repo", "-", "" },
        { "https://github.com/org/repo/", "repo", "org", "repo", "-", "" },
        { "https://github.com/org/repo.git", "repo", "org", "repo", "-", "" },
        { "https://github.com/org/repo/tree/main", "directory", "org", "repo", "main", "" },
        { "https://github.com/org/repo/tree/main/notebooks/", "directory", "org", "repo", "main", "notebooks" },
        { "https://github.com/org/repo/tree/feature/x", "directory", "org", "repo", "feature/x", "" },
        { "https://github.com/org/repo/tree/feature/x/notebooks", "directory", "org", "repo", "feature/x", "notebooks" },
        { $"https://github.com/org/repo/commit/{Sha}", "repo", "org", "repo", Sha, "" },
        { "https://raw.githubusercontent.com/org/repo/main/nb.ipynb", "file", "org", "repo", "main", "nb.ipynb" },
        { "https://raw.githubusercontent.com/org/repo/refs/heads/main/nb.ipynb", "file", "org", "repo", "main", "nb.ipynb" },
        { "https://raw.githubusercontent.com/org/repo/refs/heads/feature/x/d/nb.ipynb", "file", "org", "repo", "feature/x", "d/nb.ipynb" },
        { "https://raw.githubusercontent.com/org/repo/refs/tags/v1.0/nb.ipynb", "file", "org", "repo", "v1.0", "nb.ipynb" },
        { $"https://raw.githubusercontent.com/org/repo/{Sha}/d/nb.ipynb", "file", "org", "repo", Sha, "d/nb.ipynb" },
        { "https://colab.research.google.com/github/org/repo/blob/main/nb.ipynb", "file", "org", "repo", "main", "nb.ipynb" },
        { "https://colab.research.google.com/github/org/repo/blob/feature/x/d/nb.ipynb", "file", "org", "repo", "feature/x", "d/nb.ipynb" },
        { "https://colab.research.google.com/github/org/repo/blob/main/nb.ipynb?authuser=1#scrollTo=abc", "file", "org", "repo", "main", "nb.ipynb" },
        { "https://colab.research.google.com/github/org/repo", "repo", "org", "repo", "-", "" },
        { "https://colab.research.google.com/github/org/repo/", "repo", "org", "repo", "-", "" },
        { "https://colab.research.google.com/github/org/repo/tree/release/2.0", "directory", "org", "repo", "release/2.0", "" },
        { "https://nbviewer.org/github/org/repo/blob/main/nb.ipynb", "file", "org", "repo", "main", "nb.ipynb" },
        { "https://nbviewer.jupyter.org/github/org/repo/blob/main/nb.ipynb", "file", "org", "repo", "main", "nb.ipynb" },
        { "/github/org/repo/blob/main/d/nb.ipynb", "file", "org", "repo", "main", "d/nb.ipynb" },
        { "/github/org/repo/blob/feature/x/nb.ipynb", "file", "org", "repo", "feature/x", "nb.ipynb" },
        { "org/repo/nb.ipynb@main", "file", "org", "repo", "main", "nb.ipynb" },
        { "org/repo/d/nb.ipynb@feature/x", "file", "org", "repo", "feature/x", "d/nb.ipynb" },
        { $"org/repo/nb.ipynb@{Sha}", "file", "org", "repo", Sha, "nb.ipynb" },
        { "org/repo/nb.ipynb", "file", "org", "repo", "-", "nb.ipynb" },
        { "org/repo@v1.0", "repo", "org", "repo", "v1.0", "" },
        { "org/repo", "repo", "org", "repo", "-", "" },
        { "org/repo/notebooks@main", "directory", "org", "repo", "main", "notebooks" },
        { "my-org/my.repo_2/nb.ipynb", "file", "my-org", "my.repo_2", "-", "nb.ipynb" },
        { $"https://gist.github.com/user/{Gist}", "gist", Gist, "", "", "" },
        { $"https://gist.github.com/{Gist}", "gist", Gist, "", "", "" },
        { $"https://gist.github.com/user/{Gist}/", "gist", Gist, "", "", "" },
        { $"https://gist.github.com/user/{Gist}#file-demo-ipynb", "gist", Gist, "demo-ipynb", "", "" },
        { $"https://gist.githubusercontent.com/user/{Gist}/raw/{Sha}/demo.ipynb", "gist", Gist, "demo.ipynb", "", "" },
        { $"https://colab.research.google.com/gist/user/{Gist}", "gist", Gist, "", "", "" },
        { $"https://nbviewer.org/gist/user/{Gist}", "gist", Gist, "", "", "" },
    };

    [Theory]
    [MemberData(nameof(Links))]
    public async Task Link_ResolvesTo_TheRightRepositoryRefAndPath(string input, string kind, string a, string b, string gitRef, string path)
    {
        var link = GitHubLinkParser.Parse(input, GitHubHosts.Public);
        var access = new GitHubAccess(BaseUrl: _standIn.BaseUrl);
        var target = await _service.ResolveAsync(link, access, CancellationToken.None);

        Assert.Equal(kind, target.Kind);
        if (kind == "gist")
        {
            Assert.Equal(a, target.GistId);
            Assert.Equal(b.Length == 0 ? null : b, target.GistFile);
            return;
        }
        Assert.Equal((a, b), (target.Owner, target.Repo));
        Assert.Equal(gitRef == "-" ? null : gitRef, target.Ref);
        Assert.Equal(path, target.Path);
    }

    [Fact]
    public void TheTable_HasAtLeastFortyShapes() => Assert.True(Links.Count >= 40, $"{Links.Count} shapes");

    public static TheoryData<string, string> Hostile => new()
    {
        { "https://evil.example/org/repo/blob/main/nb.ipynb", "not a GitHub host" },
        { "https://github.com.evil.example/org/repo/blob/main/nb.ipynb", "not a GitHub host" },
        { "https://raw.githubusercontent.com.evil.example/org/repo/main/nb.ipynb", "not a GitHub host" },
        { "https://evil.example@github.com/org/repo/blob/main/nb.ipynb", "user name" },
        { "https://user:pass@github.com/org/repo/blob/main/nb.ipynb", "user name" },
        { "https://github.com:8443/org/repo/blob/main/nb.ipynb", "Port 8443" },
        { "https://github.com:22/org/repo", "Port 22" },
        { "http://github.com/org/repo/blob/main/nb.ipynb", "https" },
        { "file:///etc/passwd", "https" },
        { "ftp://github.com/org/repo", "https" },
        { "gopher://github.com/org/repo", "https" },
        { "https://127.0.0.1/org/repo/blob/main/nb.ipynb", "not a GitHub host" },
        { "https://169.254.169.254/latest/meta-data/", "not a GitHub host" },
        { "https://[::1]/org/repo", "not a GitHub host" },
        { "https://localhost:8080/org/repo", "Port" },
        { "https://github.com/org/repo/blob/main/../../etc/passwd", "\"..\"" },
        { "https://github.com/org/repo/blob/main/./nb.ipynb", "\"..\"" },
        { "https://github.com/org/repo/blob/main/%2e%2e/secret.ipynb", "\"..\"" },
        { "https://github.com/org/repo/blob/main/%2E%2E/secret.ipynb", "\"..\"" },
        { "https://github.com/org/repo/blob/main/%252e%252e/secret.ipynb", "\"..\"" },
        { "https://github.com/org/repo/blob/main/a%2fb.ipynb", "encoded slash" },
        { "https://github.com/org/repo/blob/main/a%5cb.ipynb", "encoded slash" },
        { "https://github.com/org/repo/blob/main/a%00.ipynb", "control character" },
        { "https://github.com/org/repo/blob/main/a%0d%0aHost:%20evil.ipynb", "control character" },
        { "https://github.com\\@evil.example/x", "backslash" },
        { "https://github.com/../org/repo", "\"..\"" },
        { "org/../etc/passwd.ipynb", "\"..\"" },
        { "org/repo/nb.ipynb@bad..ref", "not a valid branch" },
        { "org/repo@feature/x:y", "not a valid branch" },
        { "org/repo@-", "not a valid branch" }, // rejected by git's rules? '-' is allowed; see below
        { "", "Enter a GitHub link" },
        { "   ", "Enter a GitHub link" },
        { "javascript:alert(1)", "shorthand" },
        { "https://colab.research.google.com/drive/1AbCdEf", "does not point at GitHub" },
        { "https://github.com/org/repo/issues/1", "hold no notebook" },
        { "https://github.com/org/repo/blob/main", "names no file" },
        { "https://github.com/org", "owner and a repository" },
        { "https://github.com/-bad-/repo", "not a GitHub user" },
        { "https://github.com/org/re%20po", "not a GitHub repository" },
        { "https://gist.github.com/user/not-a-gist", "no gist id" },
        { "https://github.com/org/repo/blob/main/a%zz.ipynb", "broken %-escape" },
        { "https://github.com/org/repo/blob/main/" + new string('a', 5000), "longer than 4096" },
    };

    [Theory]
    [MemberData(nameof(Hostile))]
    public void HostileOrBrokenLink_IsRefused_WithAMessageNamingTheProblem(string input, string expected)
    {
        if (input == "org/repo@-")
        {
            // '-' is a legal branch name in git; it must parse (and fail later only if absent).
            Assert.Equal("-", GitHubLinkParser.Parse(input, GitHubHosts.Public).ExplicitRef);
            return;
        }
        var e = Assert.Throws<GitHubException>(() => GitHubLinkParser.Parse(input, GitHubHosts.Public));
        Assert.Equal(GitHubErrorKind.BadUrl, e.Kind);
        Assert.Contains(expected, e.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void EnterpriseHost_OpensItsOwnLinks_AndRefusesGitHubComOnes()
    {
        var ghe = GitHubHosts.FromBaseUrl("https://ghe.example.com");
        Assert.Equal(new Uri("https://ghe.example.com/api/v3/"), ghe.ApiBase);
        var link = GitHubLinkParser.Parse("https://ghe.example.com/team/proj/blob/main/a.ipynb", ghe);
        Assert.Equal(("team", "proj"), (link.Owner, link.Repo));
        var gist = GitHubLinkParser.Parse($"https://ghe.example.com/gist/user/{Gist}", ghe);
        Assert.Equal(Gist, gist.GistId);
        var e = Assert.Throws<GitHubException>(() => GitHubLinkParser.Parse("https://github.com/org/repo/blob/main/a.ipynb", ghe));
        Assert.Contains("ghe.example.com", e.Message);
        Assert.Throws<GitHubException>(() => GitHubLinkParser.Parse("https://ghe.example.com:444/team/proj", ghe));
    }

    [Theory]
    [InlineData("ftp://ghe.example.com")]
    [InlineData("https://user@ghe.example.com")]
    [InlineData("https://ghe.example.com/?x=1")]
    [InlineData("not a url")]
    public void EnterpriseUrl_ThatIsNotAPlainHttpUrl_IsRefused(string baseUrl)
        => Assert.Equal(GitHubErrorKind.BadUrl, Assert.Throws<GitHubException>(() => GitHubHosts.FromBaseUrl(baseUrl)).Kind);

    [Theory]
    [InlineData("https://github.com/org/repo.git", "github.com", "org", "repo")]
    [InlineData("https://github.com/org/repo", "github.com", "org", "repo")]
    [InlineData("git@github.com:org/repo.git", "github.com", "org", "repo")]
    [InlineData("ssh://git@github.com/org/repo.git", "github.com", "org", "repo")]
    [InlineData("ssh://git@ssh.github.com:443/org/repo.git", "ssh.github.com", "org", "repo")]
    [InlineData("https://user@github.com/org/my.repo", "github.com", "org", "my.repo")]
    public void RemoteUrl_HttpsAndSsh_Parse(string url, string host, string owner, string repo)
        => Assert.Equal((host, owner, repo), GitRemote.ParseRemoteUrl(url));

    [Theory]
    [InlineData("/local/path/repo")]
    [InlineData("file:///srv/git/repo.git")]
    [InlineData("https://github.com/onlyone")]
    public void RemoteUrl_ThatIsNotAHostedRepository_IsNull(string url) => Assert.Null(GitRemote.ParseRemoteUrl(url));
}
