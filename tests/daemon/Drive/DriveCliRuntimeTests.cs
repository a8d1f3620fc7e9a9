using System.IO.Compression;
using System.Text.Json;
using Colab.Daemon.Tests.Infrastructure;
using Colab.Daemon.Tests.Training;

namespace Colab.Daemon.Tests.Drive;

/// <summary>
/// <c>colab drive cp-to-runtime --runtime &lt;id|url&gt;</c> as real CLI processes: the archive from a
/// mounted Drive folder, copied to a real jupyter_server connected by URL (token from
/// COLAB_RUNTIME_TOKEN) or by the id <c>colab runtime connect</c> remembered, and extracted there;
/// without <c>--runtime</c> it extracts on this disk as before. Bad runtime ids and URLs, a wrong
/// token, a token in the URL, an escaping target and a hostile archive are refused with a message.
/// </summary>
public sealed class DriveCliRuntimeTests(RemoteJupyterFixture jupyter) : IClassFixture<RemoteJupyterFixture>, IDisposable
{
    private readonly string _drive = Directory.CreateTempSubdirectory("colab-drive-cli-rt-").FullName;
    private readonly string _state = Directory.CreateTempSubdirectory("colab-drive-cli-state-").FullName;
    private readonly string _local = Directory.CreateTempSubdirectory("colab-drive-cli-local-").FullName;

    public void Dispose()
    {
        Directory.Delete(_drive, true);
        Directory.Delete(_state, true);
        Directory.Delete(_local, true);
    }

    /// <summary>Runs <c>colab drive --folder &lt;drive&gt; …</c> with its own runtime state folder and, when given, the runtime token.</summary>
    private Task<(int Code, string Stdout, string Stderr)> Colab(string? token, params string[] args)
    {
        var env = new Dictionary<string, string> { ["XDG_STATE_HOME"] = _state, ["COLAB_RUNTIME_TOKEN"] = token ?? "" };
        return RepoLayout.RunColabAsync(env, args);
    }

    private Task<(int Code, string Stdout, string Stderr)> Cp(string? token, string id, string target, params string[] more)
        => Colab(token, ["drive", "--folder", _drive, "cp-to-runtime", id, target, .. more]);

    private string Zip(string name, params (string Entry, string Text)[] entries)
    {
        var path = Path.Combine(_drive, name);
        File.Delete(path);
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var (entry, text) in entries)
        {
            using var s = zip.CreateEntry(entry).Open();
            s.Write(System.Text.Encoding.UTF8.GetBytes(text));
        }
        return name;
    }

    [Fact]
    public async Task By_url_then_by_remembered_id_the_archive_lands_on_the_runtime_once_and_without_runtime_it_lands_here()
    {
        var name = Zip("data.zip", ("train/0.txt", "zero"), ("train/sub/1.txt", "one"), ("labels.csv", "a,b\n1,2\n"));
        var target = $"cli-{Guid.NewGuid():N}/data";
        var onRuntime = Path.Combine(jupyter.Root, target);

        var (code, stdout, stderr) = await Cp(jupyter.Token, name, target, "--runtime", jupyter.Url);
        Assert.True(code == 0, stderr);
        Assert.Equal($"Extracted 3 files (15 bytes) into {target}.", stdout.Trim());
        Assert.Equal("zero", await File.ReadAllTextAsync(Path.Combine(onRuntime, "train", "0.txt")));
        Assert.Equal("one", await File.ReadAllTextAsync(Path.Combine(onRuntime, "train", "sub", "1.txt")));
        Assert.True(File.Exists(Path.Combine(onRuntime, ".colab-extracted")));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(onRuntime)!, "colab-dataset-*")); // the uploaded archive is gone
        Assert.DoesNotContain(jupyter.Token, stdout + stderr);
        Assert.Empty(Directory.GetFileSystemEntries(_local));

        // colab runtime connect remembers it (without the token); its id works for --runtime.
        var connect = await Colab(jupyter.Token, "runtime", "connect", jupyter.Url);
        Assert.True(connect.Code == 0, connect.Stderr);
        var id = connect.Stdout.Split('\t')[0];
        Assert.StartsWith("remote-", id);
        await File.WriteAllTextAsync(Path.Combine(onRuntime, "train", "0.txt"), "edited on the runtime");
        (code, stdout, stderr) = await Cp(jupyter.Token, name, target, "--runtime", id, "--json");
        Assert.True(code == 0, stderr);
        using (var r = JsonDocument.Parse(stdout))
        {
            Assert.True(r.RootElement.GetProperty("skipped").GetBoolean(), stdout);
            Assert.Equal(target, r.RootElement.GetProperty("target").GetString());
        }
        Assert.Equal("edited on the runtime", await File.ReadAllTextAsync(Path.Combine(onRuntime, "train", "0.txt")));

        // A changed archive is extracted again.
        Zip(name, ("train/0.txt", "zero v2"));
        (code, stdout, stderr) = await Cp(jupyter.Token, name, target, "--runtime", id);
        Assert.True(code == 0, stderr);
        Assert.Equal($"Extracted 1 files (7 bytes) into {target}.", stdout.Trim());
        Assert.Equal("zero v2", await File.ReadAllTextAsync(Path.Combine(onRuntime, "train", "0.txt")));

        // Without --runtime: this machine's disk, as before; the runtime is not touched.
        var here = Path.Combine(_local, "data");
        (code, stdout, stderr) = await Cp(null, name, here);
        Assert.True(code == 0, stderr);
        Assert.Equal("zero v2", await File.ReadAllTextAsync(Path.Combine(here, "train", "0.txt")));
        Assert.False(Directory.Exists(Path.Combine(jupyter.Root, here.TrimStart('/'))));
    }

    public static TheoryData<string, string> BadRuntimes => new()
    {
        { "remote-nothere", "no remembered runtime 'remote-nothere': connect it with 'colab runtime connect <url>'" },
        { "TOKEN_IN_URL", "take the token out of the runtime URL" },
        { "ftp://127.0.0.1/", "must start with http:// or https://" },
        { "http://user:pw@127.0.0.1:1/", "must not carry a user name or password" },
        { "DEAD_PORT", "cannot connect to the runtime http://127.0.0.1:" },
        { " ", "--runtime needs a runtime id" },
    };

    [Theory]
    [MemberData(nameof(BadRuntimes))]
    public async Task Bad_runtime_ids_and_urls_are_refused_with_a_message_and_nothing_is_copied(string runtime, string message)
    {
        var secret = "s3cr3t" + Guid.NewGuid().ToString("N");
        runtime = runtime switch
        {
            "TOKEN_IN_URL" => $"{jupyter.Url}?token={secret}",
            "DEAD_PORT" => $"http://127.0.0.1:{WebhookListener.FreePort()}/",
            _ => runtime,
        };
        var name = Zip("bad.zip", ("x.txt", "x"));
        var target = $"bad-{Guid.NewGuid():N}";
        var (code, stdout, stderr) = await Cp(jupyter.Token, name, target, "--runtime", runtime);
        Assert.Equal(1, code);
        Assert.Contains(message, stderr);
        Assert.StartsWith("colab drive: ", stderr);
        Assert.DoesNotContain(secret, stdout + stderr);
        Assert.DoesNotContain(jupyter.Token, stdout + stderr);
        Assert.DoesNotContain("   at ", stderr); // a message, not a stack trace
        Assert.False(Directory.Exists(Path.Combine(jupyter.Root, target)));
        Assert.False(Directory.Exists(Path.Combine(Directory.GetCurrentDirectory(), target)));
    }

    [Fact]
    public async Task A_wrong_or_missing_token_is_refused_without_echoing_it()
    {
        var name = Zip("tok.zip", ("x.txt", "x"));
        var target = $"tok-{Guid.NewGuid():N}";
        var wrong = "f" + jupyter.Token[1..^1] + "0";
        var (code, stdout, stderr) = await Cp(wrong, name, target, "--runtime", jupyter.Url);
        Assert.Equal(1, code);
        Assert.Contains($"cannot connect to the runtime {jupyter.Url}", stderr);
        Assert.Contains("token", stderr);
        Assert.DoesNotContain(wrong, stdout + stderr);
        (code, _, stderr) = await Cp(null, name, target, "--runtime", jupyter.Url);
        Assert.Equal(1, code);
        Assert.Contains("cannot connect to the runtime", stderr);
        Assert.False(Directory.Exists(Path.Combine(jupyter.Root, target)));
    }

    [Theory]
    [InlineData("../outside", "target:")]
    [InlineData("/etc/colab-evil", "target:")]
    [InlineData("a/../../b", "target:")]
    public async Task A_target_outside_the_runtime_root_is_refused(string target, string message)
    {
        var name = Zip("t.zip", ("x.txt", "x"));
        var (code, _, stderr) = await Cp(jupyter.Token, name, target, "--runtime", jupyter.Url);
        Assert.Equal(1, code);
        Assert.Contains(message, stderr);
        Assert.False(File.Exists(Path.Combine(Path.GetDirectoryName(jupyter.Root)!, "outside", "x.txt")));
    }

    [Fact]
    public async Task A_hostile_archive_and_a_missing_file_are_refused_and_nothing_escapes()
    {
        var marker = $"escaped-{Guid.NewGuid():N}.txt";
        var name = Zip("slip.zip", ("ok.txt", "fine"), ($"../../{marker}", "evil"));
        var target = $"slip-{Guid.NewGuid():N}/in";
        var (code, _, stderr) = await Cp(jupyter.Token, name, target, "--runtime", jupyter.Url);
        Assert.Equal(1, code);
        Assert.Contains("outside the target", stderr);
        Assert.Contains(marker, stderr); // names the entry
        Assert.Empty(Directory.EnumerateFiles(jupyter.Root, "*" + marker, SearchOption.AllDirectories)
            .Concat(Directory.EnumerateFiles(Path.GetDirectoryName(jupyter.Root)!, "*" + marker)));
        var beside = Path.Combine(jupyter.Root, Path.GetDirectoryName(target)!);
        Assert.True(!Directory.Exists(beside) || Directory.GetFiles(beside, "colab-dataset-*").Length == 0, "the uploaded archive was left on the runtime");

        (code, _, stderr) = await Cp(jupyter.Token, "no-such.zip", $"missing-{Guid.NewGuid():N}", "--runtime", jupyter.Url);
        Assert.Equal(1, code);
        Assert.Contains("no-such.zip", stderr);
    }
}
