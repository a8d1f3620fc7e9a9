using System.Text.Json.Nodes;
using Colab.Daemon.Tests.Infrastructure;

namespace Colab.Daemon.Tests.Runtimes;

/// <summary><c>colab runtime connect|list|disconnect</c> as real CLI processes against a real Jupyter server, with the state in a temporary XDG_STATE_HOME.</summary>
public sealed class RuntimeStateCommandsTests(JupyterServerFixture f) : IClassFixture<JupyterServerFixture>, IDisposable
{
    private readonly TempWorkspace _state = new();

    public void Dispose() => _state.Dispose();

    private string StateFile => Path.Combine(_state.Path, "colab", "runtimes.json");

    private string Url => f.Client.Endpoint.Display;

    private async Task<(int Code, string Stdout, string Stderr)> Colab(string? token, params string[] args)
    {
        var env = new Dictionary<string, string> { ["XDG_STATE_HOME"] = _state.Path, ["COLAB_PYTHON"] = await DebianPython.RequireAsync() };
        if (token is not null)
        {
            env["COLAB_RUNTIME_TOKEN"] = token;
        }
        return await RepoLayout.RunColabAsync(env, args);
    }

    [Fact]
    public async Task Connect_remembers_the_url_without_the_token_list_checks_it_run_uses_it_and_disconnect_forgets_it()
    {
        var token = f.Client.Token!;
        var (code, stdout, stderr) = await Colab(token, "runtime", "connect", Url);
        Assert.True(code == 0, stderr);
        var id = stdout.Split('\t')[0];
        Assert.StartsWith("remote-", id);
        var text = File.ReadAllText(StateFile);
        Assert.DoesNotContain(token, text);
        Assert.Equal(Url, (string?)JsonNode.Parse(text)!["runtimes"]![0]!["url"]);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(StateFile));
        }

        // Connecting again keeps one entry with the same id.
        Assert.Equal(0, (await Colab(token, "runtime", "connect", Url)).Code);
        Assert.Single(JsonNode.Parse(File.ReadAllText(StateFile))!["runtimes"]!.AsArray());

        var listed = await Colab(null, "runtime", "list");
        Assert.Equal(0, listed.Code);
        Assert.Contains($"{id}\t{Url}\tanswers (Jupyter Server", listed.Stdout);

        var notebook = Path.Combine(f.Workspace, $"cli-{Guid.NewGuid():N}.ipynb");
        File.WriteAllText(notebook, """{"nbformat":4,"nbformat_minor":5,"metadata":{},"cells":[{"cell_type":"code","metadata":{},"source":"print(6*7)","outputs":[],"execution_count":null}]}""");
        var ran = await Colab(token, "run", "--url", id, notebook);
        Assert.True(ran.Code == 0, ran.Stderr);
        Assert.Equal("42\n", (string?)JsonNode.Parse(File.ReadAllText(notebook))!["cells"]![0]!["outputs"]![0]!["text"]);
        Assert.DoesNotContain(await f.Client.ListKernelsAsync(), _ => true); // colab run shut its kernel down

        var forgot = await Colab(null, "runtime", "disconnect", id);
        Assert.Equal(0, forgot.Code);
        Assert.Empty(JsonNode.Parse(File.ReadAllText(StateFile))!["runtimes"]!.AsArray());
        var again = await Colab(null, "runtime", "disconnect", id);
        Assert.Equal(1, again.Code);
        Assert.Contains($"no remembered runtime {id}", again.Stderr);
    }

    [Fact]
    public async Task A_wrong_token_is_rejected_and_nothing_is_remembered()
    {
        var token = f.Client.Token!;
        var wrong = "f" + token[1..^1] + "0";
        var (code, stdout, stderr) = await Colab(wrong, "runtime", "connect", Url);
        Assert.Equal(1, code);
        Assert.Contains("token was rejected", stderr);
        Assert.DoesNotContain(wrong, stdout + stderr);
        Assert.False(File.Exists(StateFile));
    }

    [Fact]
    public async Task A_token_in_the_url_is_refused_and_a_token_on_stdin_is_read_when_the_variable_is_unset()
    {
        var token = f.Client.Token!;
        var refused = await Colab(null, "runtime", "connect", $"{Url}?token={token}");
        Assert.Equal(1, refused.Code);
        Assert.Contains("COLAB_RUNTIME_TOKEN", refused.Stderr);
        Assert.DoesNotContain(token, refused.Stderr);
        Assert.False(File.Exists(StateFile));

        // stdin is closed by the helper: an empty token, which this server rejects.
        var empty = await Colab(null, "runtime", "connect", Url);
        Assert.Equal(1, empty.Code);
        Assert.Contains("token", empty.Stderr);
    }

    [Fact]
    public async Task List_with_nothing_remembered_says_how_to_add_one_and_a_damaged_state_file_is_ignored_with_a_note()
    {
        var none = await Colab(null, "runtime", "list");
        Assert.Equal(0, none.Code);
        Assert.Contains("colab runtime connect", none.Stdout);
        Directory.CreateDirectory(Path.GetDirectoryName(StateFile)!);
        File.WriteAllText(StateFile, "{ not json");
        var damaged = await Colab(null, "runtime", "list");
        Assert.Equal(0, damaged.Code);
        Assert.Contains("ignoring", damaged.Stderr);
    }
}
