using System.Net;
using System.Text;
using System.Text.Json;
using Colab.Daemon.GitHub;
using Colab.Daemon.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace Colab.Daemon.Tests.GitHub;

/// <summary>The production client over real HTTP against the stand-in: opening, listing, access, errors and hostile files.</summary>
public sealed class GitHubServiceTests : IDisposable
{
    private const string Token = "ghp_SECRETtoken1234567890";
    private readonly GitHubStandIn _gh = new();
    private readonly GitHubService _service = new(new ConfigurationBuilder().Build(), NullLogger<GitHubService>.Instance);

    public GitHubServiceTests()
    {
        var repo = _gh.AddRepo("org", "repo", "main",
            ("nb.ipynb", GitHubStandIn.Notebook("print('hello')")),
            ("notebooks/intro.ipynb", GitHubStandIn.Notebook("1 + 1")),
            ("notebooks/deep/b.ipynb", GitHubStandIn.Notebook()),
            ("README.md", "# hi"),
            ("big.ipynb", GitHubStandIn.Notebook(new string('x', 5000))),
            ("data/lfs.ipynb", "version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n"),
            ("bad/page.ipynb", "<!DOCTYPE html><html><body>Sign in</body></html>"),
            ("bad/broken.ipynb", "{\"cells\": [ {\"cell_type\": \"code\""),
            ("bad/notnb.ipynb", "{\"hello\": 1}"),
            ("bad/v2.ipynb", "{\"nbformat\": 2, \"worksheets\": []}"),
            ("bad/v5.ipynb", "{\"nbformat\": 5, \"cells\": []}"),
            ("bad/badcell.ipynb", "{\"nbformat\": 4, \"nbformat_minor\": 2, \"metadata\": {}, \"cells\": [{\"cell_type\": \"widget\", \"source\": \"\"}]}"),
            ("bad/empty.ipynb", ""),
            ("old/v3.ipynb", V3Notebook),
            ("My Notebook.ipynb", GitHubStandIn.Notebook("'space'")));
        repo.Branches["feature/x"] = new() { ["f.ipynb"] = Encoding.UTF8.GetBytes(GitHubStandIn.Notebook("'on feature/x'")) };
        repo.Tags["v1.0"] = new() { ["t.ipynb"] = Encoding.UTF8.GetBytes(GitHubStandIn.Notebook("'at v1.0'")) };
        var secret = _gh.AddRepo("org", "secret", "main", ("s.ipynb", GitHubStandIn.Notebook("'secret'")));
        secret.Token = Token;
        _gh.Gists["aa5a315d61ae9438b18d"] = new() { ["notes.md"] = "x", ["My Demo.ipynb"] = GitHubStandIn.Notebook("'gist'") };
    }

    private const string V3Notebook = """
        {"metadata": {"name": "old", "signature": "sha256:x"}, "nbformat": 3, "nbformat_minor": 0,
         "worksheets": [{"cells": [
           {"cell_type": "heading", "level": 2, "metadata": {}, "source": "Title"},
           {"cell_type": "code", "collapsed": false, "input": ["x = 1\n", "x"], "language": "python", "metadata": {}, "prompt_number": 3,
            "outputs": [{"output_type": "pyout", "prompt_number": 3, "text": ["1"], "metadata": {}},
                        {"output_type": "stream", "stream": "stderr", "text": ["warn"]},
                        {"output_type": "pyerr", "ename": "E", "evalue": "v", "traceback": ["tb"]},
                        {"output_type": "display_data", "png": "iVBOR", "metadata": {}}]},
           {"cell_type": "markdown", "metadata": {}, "source": "*md*"}]}]}
        """;

    public void Dispose()
    {
        _service.Dispose();
        _gh.Dispose();
    }

    private GitHubAccess Access(string? token = null, long? max = null) => new(token, _gh.BaseUrl, max);

    private Task<GitHubNotebook> OpenAsync(string link, string? token = null, long? max = null)
        => _service.OpenAsync(link, Access(token, max), CancellationToken.None);

    private async Task<GitHubException> FailsAsync(string link, string? token = null, long? max = null)
        => await Assert.ThrowsAsync<GitHubException>(() => OpenAsync(link, token, max));

    [Fact]
    public async Task ColabBadgeLink_OpensTheNotebook_ExactlyAsStored_WithItsFileName()
    {
        var nb = await OpenAsync("https://colab.research.google.com/github/org/repo/blob/main/notebooks/intro.ipynb");

        Assert.Equal(GitHubStandIn.Notebook("1 + 1"), nb.Notebook);
        Assert.Equal("intro.ipynb", nb.SuggestedName);
        Assert.Equal(("org", "repo", "main", "notebooks/intro.ipynb"), (nb.Source.Owner, nb.Source.Repo, nb.Source.Ref, nb.Source.Path));
        Assert.Equal($"{_gh.BaseUrl}/org/repo/blob/main/notebooks/intro.ipynb", nb.WebUrl);
        Assert.Null(nb.Note);
    }

    [Theory]
    [InlineData("/org/repo/blob/main/nb.ipynb", "hello")]
    [InlineData("/org/repo/blob/feature/x/f.ipynb", "on feature/x")]
    [InlineData("/org/repo/raw/v1.0/t.ipynb", "at v1.0")]
    [InlineData("/org/repo/blob/main/My%20Notebook.ipynb", "space")]
    public async Task EnterpriseHostLink_OpensFromThatHost(string path, string contains)
    {
        var nb = await OpenAsync(_gh.BaseUrl + path);
        Assert.Contains(contains, nb.Notebook);
    }

    [Fact]
    public async Task Shorthand_WithoutRef_OpensTheDefaultBranch_AndWithRef_ThatRef()
    {
        Assert.Contains("hello", (await OpenAsync("org/repo/nb.ipynb")).Notebook);
        Assert.Contains("on feature/x", (await OpenAsync("org/repo/f.ipynb@feature/x")).Notebook);
        Assert.Contains("/contents/f.ipynb?ref=feature%2Fx", _gh.Requests.Last().Url);
    }

    [Fact]
    public async Task PrivateRepo_WithoutToken_SaysPrivateOrWrongPath_WithToken_Opens_AndTheTokenIsOnlyInTheHeader()
    {
        var e = await FailsAsync("org/secret/s.ipynb");
        Assert.Equal(GitHubErrorKind.NotFound, e.Kind);
        Assert.Contains("private repository and you are not signed in", e.Message);

        var nb = await OpenAsync("org/secret/s.ipynb", Token);
        Assert.Contains("secret", nb.Notebook);
        Assert.Contains(_gh.Requests, r => r.Authorization == $"Bearer {Token}");
        Assert.DoesNotContain(_gh.Requests, r => r.Url.Contains(Token, StringComparison.Ordinal));

        var wrong = await FailsAsync("org/secret/nope.ipynb", Token);
        Assert.Contains("the token cannot see", wrong.Message);
        Assert.DoesNotContain(Token, wrong.Message);
    }

    [Fact]
    public async Task Unauthorized_401_SaysTheTokenWasRejected_WithoutEchoingIt()
    {
        _gh.Fault = _ => (401, new() { ["Content-Type"] = "application/json" }, Encoding.UTF8.GetBytes($"{{\"message\":\"Bad credentials\"}}"));
        var e = await FailsAsync("org/repo/nb.ipynb", Token);
        Assert.Equal(GitHubErrorKind.Unauthorized, e.Kind);
        Assert.Contains("rejected the token", e.Message);
        Assert.DoesNotContain(Token, e.Message);
    }

    [Fact]
    public async Task RateLimit_403_ShowsTheResetTimeInUtc_AndSuggestsSignIn()
    {
        var reset = new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero);
        _gh.Fault = _ => GitHubStandIn.RateLimited(reset);
        var e = await FailsAsync("org/repo/nb.ipynb");
        Assert.Equal(GitHubErrorKind.RateLimited, e.Kind);
        Assert.Equal(reset, e.ResetAt);
        Assert.Contains("2030-01-02 03:04:05 UTC", e.Message);
        Assert.Contains("Sign in", e.Message);
    }

    [Fact]
    public async Task RateLimit_429_WithRetryAfter_IsRateLimited()
    {
        _gh.Fault = _ => (429, new() { ["Retry-After"] = "60", ["Content-Type"] = "application/json" }, Encoding.UTF8.GetBytes("{\"message\":\"slow down\"}"));
        var e = await FailsAsync("org/repo/nb.ipynb");
        Assert.Equal(GitHubErrorKind.RateLimited, e.Kind);
        Assert.NotNull(e.ResetAt);
    }

    [Fact]
    public async Task Forbidden_403_WithoutRateLimit_IsUnauthorized_WithGitHubsReason()
    {
        _gh.Fault = _ => (403, new() { ["Content-Type"] = "application/json", ["x-ratelimit-remaining"] = "4999" }, Encoding.UTF8.GetBytes("{\"message\":\"Resource protected by organization SAML enforcement.\"}"));
        var e = await FailsAsync("org/repo/nb.ipynb");
        Assert.Equal(GitHubErrorKind.Unauthorized, e.Kind);
        Assert.Contains("SAML", e.Message);
    }

    [Fact]
    public async Task NetworkFailure_IsUnreachable_NamingTheHost()
    {
        var closed = $"http://127.0.0.1:{Runtimes.StandInServer.FreePort()}";
        var e = await Assert.ThrowsAsync<GitHubException>(() => _service.OpenAsync("org/repo/nb.ipynb", new GitHubAccess(BaseUrl: closed), CancellationToken.None));
        Assert.Equal(GitHubErrorKind.Unreachable, e.Kind);
        Assert.Contains("127.0.0.1", e.Message);
    }

    [Fact]
    public async Task RedirectToAnotherHost_IsRefused_AndThatHostIsNeverAsked()
    {
        using var other = new GitHubStandIn();
        other.AddRepo("org", "repo", "main", ("nb.ipynb", GitHubStandIn.Notebook()));
        _gh.Fault = r => (302, new() { ["Location"] = $"{other.BaseUrl}{r.RawUrl}" }, []);
        var e = await FailsAsync("org/repo/nb.ipynb");
        Assert.Equal(GitHubErrorKind.Unreachable, e.Kind);
        Assert.Contains("redirected", e.Message);
        Assert.Empty(other.Requests);
    }

    [Fact]
    public async Task RedirectOnTheSameHost_IsFollowed_LikeARenamedRepository()
    {
        _gh.Fault = r => r.RawUrl!.Contains("/repos/org/old/", StringComparison.Ordinal)
            ? (301, new() { ["Location"] = r.RawUrl.Replace("/repos/org/old/", "/repos/org/repo/", StringComparison.Ordinal) }, [])
            : null;
        Assert.Contains("hello", (await OpenAsync("org/old/nb.ipynb@main")).Notebook);
    }

    [Fact]
    public async Task OversizedFile_IsRefused_ByContentLength_AndByStreaming()
    {
        var e = await FailsAsync("org/repo/big.ipynb", max: 1024);
        Assert.Equal(GitHubErrorKind.TooLarge, e.Kind);
        Assert.Contains("limit is 1 KB", e.Message);

        var big = new string('x', 300_000);
        _gh.Fault = _ => (200, new(), Encoding.UTF8.GetBytes(big)); // no gzip here; HttpListener sends Content-Length
        var e2 = await FailsAsync("org/repo/nb.ipynb", max: 100_000);
        Assert.Equal(GitHubErrorKind.TooLarge, e2.Kind);
    }

    [Theory]
    [InlineData("data/lfs.ipynb", "Git LFS pointer")]
    [InlineData("bad/page.ipynb", "HTML page")]
    [InlineData("bad/broken.ipynb", "not valid JSON")]
    [InlineData("bad/notnb.ipynb", "not a Jupyter notebook")]
    [InlineData("bad/v2.ipynb", "too old to upgrade")]
    [InlineData("bad/v5.ipynb", "newer than")]
    [InlineData("bad/badcell.ipynb", "cell 0 has cell_type \"widget\"")]
    [InlineData("bad/empty.ipynb", "empty")]
    public async Task FileThatIsNotAUsableNotebook_IsRefused_WithAMessageNamingTheProblem(string path, string expected)
    {
        var e = await FailsAsync($"org/repo/{path}@main");
        Assert.Equal(GitHubErrorKind.BadNotebook, e.Kind);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public async Task Nbformat3_IsUpgradedToNbformat4_CellsOutputsAndHeadings()
    {
        var nb = await OpenAsync("org/repo/old/v3.ipynb");
        Assert.Contains("upgraded", nb.Note);
        using var doc = JsonDocument.Parse(nb.Notebook);
        var root = doc.RootElement;
        Assert.Equal(4, root.GetProperty("nbformat").GetInt32());
        Assert.False(root.GetProperty("metadata").TryGetProperty("signature", out _));
        var cells = root.GetProperty("cells");
        Assert.Equal("## Title", cells[0].GetProperty("source").GetString());
        var code = cells[1];
        Assert.Equal("x = 1\nx", code.GetProperty("source").GetString());
        Assert.Equal(3, code.GetProperty("execution_count").GetInt32());
        var outputs = code.GetProperty("outputs");
        Assert.Equal("execute_result", outputs[0].GetProperty("output_type").GetString());
        Assert.Equal("1", outputs[0].GetProperty("data").GetProperty("text/plain").GetString());
        Assert.Equal("stderr", outputs[1].GetProperty("name").GetString());
        Assert.Equal("error", outputs[2].GetProperty("output_type").GetString());
        Assert.Equal("iVBOR", outputs[3].GetProperty("data").GetProperty("image/png").GetString());
        Assert.Equal("markdown", cells[2].GetProperty("cell_type").GetString());
    }

    [Fact]
    public async Task WrongPath_InAPublicRepo_IsNotFound()
    {
        var e = await FailsAsync("org/repo/missing.ipynb");
        Assert.Equal(GitHubErrorKind.NotFound, e.Kind);
    }

    [Fact]
    public async Task FolderLink_IsNotOpened_ButListed()
    {
        var e = await FailsAsync($"{_gh.BaseUrl}/org/repo/tree/main/notebooks");
        Assert.Contains("folder or repository", e.Message);

        var list = await _service.ListAsync($"{_gh.BaseUrl}/org/repo/tree/main/notebooks", null, Access(), CancellationToken.None);
        Assert.Equal(["notebooks/deep/b.ipynb", "notebooks/intro.ipynb"], list.Notebooks.Select(n => n.Path));
    }

    [Fact]
    public async Task List_GivesEveryNotebookInTheTree_TheBranchesAndTags_AndSwitchesRef()
    {
        var list = await _service.ListAsync("org/repo", null, Access(), CancellationToken.None);
        Assert.Equal("main", list.Ref);
        Assert.Equal("main", list.DefaultBranch);
        Assert.Contains("notebooks/intro.ipynb", list.Notebooks.Select(n => n.Path));
        Assert.DoesNotContain("README.md", list.Notebooks.Select(n => n.Path));
        Assert.Equal(["feature/x", "main"], list.Branches.Order());
        Assert.Equal(["v1.0"], list.Tags);

        var atTag = await _service.ListAsync("org/repo@v1.0", null, Access(), CancellationToken.None);
        Assert.Equal(["t.ipynb"], atTag.Notebooks.Select(n => n.Path));
        var switched = await _service.ListAsync("org/repo", "feature/x", Access(), CancellationToken.None);
        Assert.Equal(["f.ipynb"], switched.Notebooks.Select(n => n.Path));
    }

    [Fact]
    public async Task Gist_OpensItsNotebook_ByFirstNotebookOrByAnchor()
    {
        var nb = await OpenAsync("https://colab.research.google.com/gist/someone/aa5a315d61ae9438b18d");
        Assert.Equal("My Demo.ipynb", nb.SuggestedName);
        Assert.Contains("gist", nb.Notebook);
        var byAnchor = await OpenAsync($"{_gh.BaseUrl}/gist/someone/aa5a315d61ae9438b18d#file-my-demo-ipynb");
        Assert.Equal("My Demo.ipynb", byAnchor.SuggestedName);
        var e = await FailsAsync($"{_gh.BaseUrl}/gist/someone/aa5a315d61ae9438b18d#file-other-ipynb");
        Assert.Contains("My Demo.ipynb", e.Message);
    }

    [Fact]
    public async Task Target_FromAClient_GetsTheSameChecksAsALink()
    {
        var traversal = new GitHubTarget(GitHubTargetKinds.File, "org", "repo", "main", "../../etc/passwd");
        var e = await Assert.ThrowsAsync<GitHubException>(() => _service.OpenAsync(traversal, Access(), CancellationToken.None));
        Assert.Equal(GitHubErrorKind.BadUrl, e.Kind);
        var badOwner = new GitHubTarget(GitHubTargetKinds.File, "../x", "repo", "main", "a.ipynb");
        await Assert.ThrowsAsync<GitHubException>(() => _service.OpenAsync(badOwner, Access(), CancellationToken.None));
        var badRef = new GitHubTarget(GitHubTargetKinds.File, "org", "repo", "a/../../b", "a.ipynb");
        await Assert.ThrowsAsync<GitHubException>(() => _service.OpenAsync(badRef, Access(), CancellationToken.None));
        Assert.DoesNotContain(_gh.Requests, r => r.Url.Contains("..", StringComparison.Ordinal));
    }

    [Fact]
    public void Links_FromAWorkspaceRepository_UseTheRemoteAndTheCheckedOutBranch()
    {
        var dir = Directory.CreateTempSubdirectory("colab-gh-links-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(dir, ".git"));
            Directory.CreateDirectory(Path.Combine(dir, "nbs"));
            File.WriteAllText(Path.Combine(dir, ".git", "config"), "[core]\n\tbare = false\n[remote \"fork\"]\n\turl = https://gitlab.com/a/b.git\n[remote \"origin\"]\n\turl = git@github.com:org/repo.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n");
            File.WriteAllText(Path.Combine(dir, ".git", "HEAD"), "ref: refs/heads/feature/x\n");
            var file = Path.Combine(dir, "nbs", "My nb.ipynb");
            File.WriteAllText(file, "{}");

            var links = _service.Links(file, new GitHubAccess());

            Assert.Equal(("org", "repo", "feature/x", "nbs/My nb.ipynb"), (links.Owner, links.Repo, links.Ref, links.Path));
            Assert.Equal("https://github.com/org/repo/blob/feature/x/nbs/My%20nb.ipynb", links.GitHubUrl);
            Assert.Equal("https://colab.research.google.com/github/org/repo/blob/feature/x/nbs/My%20nb.ipynb", links.ColabUrl);
            Assert.StartsWith("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](", links.BadgeMarkdown);

            File.WriteAllText(Path.Combine(dir, ".git", "config"), "[remote \"origin\"]\n\turl = https://gitlab.com/a/b.git\n");
            var e = Assert.Throws<GitHubException>(() => _service.Links(file, new GitHubAccess()));
            Assert.Contains("origin", e.Message);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void Links_OutsideARepository_SaySo()
    {
        var dir = Directory.CreateTempSubdirectory("colab-gh-nogit-").FullName;
        try
        {
            var e = Assert.Throws<GitHubException>(() => _service.Links(Path.Combine(dir, "a.ipynb"), new GitHubAccess()));
            Assert.Contains("not in a git repository", e.Message);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public async Task Cli_OpenWritesTheFile_RefusesToOverwrite_AndLsListsNotebooks()
    {
        var dir = Directory.CreateTempSubdirectory("colab-gh-cli-").FullName;
        try
        {
            var env = new Dictionary<string, string> { ["COLAB_GitHub__BaseUrl"] = _gh.BaseUrl };
            var target = Path.Combine(dir, "out.ipynb");
            var (code, _, stderr) = await RepoLayout.RunColabAsync(env, "github", "open", "https://colab.research.google.com/github/org/repo/blob/main/nb.ipynb", "-o", target);
            Assert.True(code == 0, stderr);
            Assert.Equal(GitHubStandIn.Notebook("print('hello')"), File.ReadAllText(target));

            var (again, _, err2) = await RepoLayout.RunColabAsync(env, "github", "open", "org/repo/nb.ipynb", "-o", target);
            Assert.Equal(1, again);
            Assert.Contains("cannot write", err2);

            var (lsCode, stdout, lsErr) = await RepoLayout.RunColabAsync(env, "github", "ls", "org/repo@main");
            Assert.True(lsCode == 0, lsErr);
            Assert.Contains("notebooks/intro.ipynb", stdout);
            Assert.Contains("branches: ", stdout);

            var (badCode, _, badErr) = await RepoLayout.RunColabAsync(env, "github", "open", "https://evil.example/org/repo/blob/main/nb.ipynb");
            Assert.Equal(1, badCode);
            Assert.Contains("not a GitHub host", badErr);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
