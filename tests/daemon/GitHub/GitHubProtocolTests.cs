using System.Text.Json;
using Colab.Daemon.Protocol;
using Colab.Daemon.Tests.Infrastructure;

namespace Colab.Daemon.Tests.GitHub;

/// <summary>The colab/github/* methods on the real daemon process over stdio, pointed at the stand-in by COLAB_GitHub__BaseUrl.</summary>
public sealed class GitHubProtocolTests : IAsyncLifetime
{
    private const string Token = "ghp_protocolTOKEN987654321";
    private readonly GitHubStandIn _gh = new();
    private DaemonProcess? _daemon;

    private DaemonProcess D => _daemon!;

    public async Task InitializeAsync()
    {
        _gh.AddRepo("org", "repo", "main", ("nb.ipynb", GitHubStandIn.Notebook("'over rpc'")), ("lfs.ipynb", "version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 1\n"));
        _gh.AddRepo("org", "secret", "main", ("s.ipynb", GitHubStandIn.Notebook())).Token = Token;
        _daemon = DaemonProcess.Start(environment: new Dictionary<string, string> { ["COLAB_GitHub__BaseUrl"] = _gh.BaseUrl });
        await _daemon.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        if (_daemon is not null)
        {
            await _daemon.DisposeAsync();
        }
        _gh.Dispose();
    }

    private static (int Code, string Message) ErrorOf(JsonElement answer)
    {
        Assert.True(answer.TryGetProperty("error", out var e), answer.GetRawText());
        return (e.GetProperty("code").GetInt32(), e.GetProperty("message").GetString()!);
    }

    [Fact]
    public async Task Open_ABadgeLink_AnswersTheNotebookText_AndResolveAndListWork()
    {
        var open = await D.RequestAsync(Methods.GitHubOpen, """{"url":"https://colab.research.google.com/github/org/repo/blob/main/nb.ipynb"}""");
        var result = open.GetProperty("result");
        // The notebook is embedded as JSON, byte for byte as GitHub served it.
        Assert.Equal(JsonValueKind.Object, result.GetProperty("notebook").ValueKind);
        Assert.Equal(GitHubStandIn.Notebook("'over rpc'"), result.GetProperty("notebook").GetRawText());
        Assert.Equal("nb.ipynb", result.GetProperty("suggestedName").GetString());

        var resolve = (await D.RequestAsync(Methods.GitHubResolve, """{"url":"org/repo/nb.ipynb@main"}""")).GetProperty("result");
        Assert.Equal("file", resolve.GetProperty("kind").GetString());
        Assert.Equal("main", resolve.GetProperty("ref").GetString());

        var list = (await D.RequestAsync(Methods.GitHubList, """{"repo":"org/repo"}""")).GetProperty("result");
        Assert.Equal(["lfs.ipynb", "nb.ipynb"], list.GetProperty("notebooks").EnumerateArray().Select(n => n.GetProperty("path").GetString()));
    }

    [Fact]
    public async Task Open_ANotebookWithQuotesEscapesAndUnicode_ArrivesIntact_InAValidFrame()
    {
        const string Code = "s = \"\\\"</script>\" + '\u2028\u2029' + \"é😀\\u0000\" # +/=\n\ttab";
        _gh.AddRepo("org", "odd", "main", ("odd.ipynb", "\uFEFF  " + GitHubStandIn.Notebook(Code, cells: 3) + "\n"));
        var result = (await D.RequestAsync(Methods.GitHubOpen, """{"url":"org/odd/odd.ipynb@main"}""")).GetProperty("result");
        var cells = result.GetProperty("notebook").GetProperty("cells");
        Assert.Equal(3, cells.GetArrayLength());
        Assert.All(cells.EnumerateArray(), c => Assert.Equal(Code, c.GetProperty("source").GetString()));
        Assert.Equal("odd.ipynb", result.GetProperty("suggestedName").GetString());
    }

    [Fact]
    public async Task Failures_MapToTheirCodes_AndTheTokenNeverComesBack()
    {
        Assert.Equal(ErrorCodes.GitHubBadLink, ErrorOf(await D.RequestAsync(Methods.GitHubOpen, """{"url":"https://169.254.169.254/latest/meta-data"}""")).Code);
        Assert.Equal(ErrorCodes.GitHubBadNotebook, ErrorOf(await D.RequestAsync(Methods.GitHubOpen, """{"url":"org/repo/lfs.ipynb@main"}""")).Code);
        var (code, message) = ErrorOf(await D.RequestAsync(Methods.GitHubOpen, $$"""{"url":"org/secret/nope.ipynb@main","token":"{{Token}}"}"""));
        Assert.Equal(ErrorCodes.GitHubNotFound, code);
        Assert.DoesNotContain(Token, message);
        Assert.Equal(ErrorCodes.InvalidParams, ErrorOf(await D.RequestAsync(Methods.GitHubOpen, "{}")).Code);
        var ok = await D.RequestAsync(Methods.GitHubOpen, $$"""{"url":"org/secret/s.ipynb@main","token":"{{Token}}"}""");
        Assert.True(ok.TryGetProperty("result", out _), ok.GetRawText());
        Assert.DoesNotContain(Token, D.Stderr);
    }
}
