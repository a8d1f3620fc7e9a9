using System.IO.Compression;
using System.Text.Json;
using Colab.Daemon.Tests.Infrastructure;

namespace Colab.Daemon.Tests.Drive;

/// <summary>The colab/drive/* methods through the real daemon process, and the colab drive CLI.</summary>
public sealed class DriveProtocolTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("colab-drive-rpc-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private static string J(object o) => JsonSerializer.Serialize(o, DriveTestJson.Options);

    [Fact]
    public async Task FolderBackend_ListGetPutFlushAndReadWrite_OverJsonRpc()
    {
        var root = Directory.CreateDirectory(Path.Combine(_dir, "My Drive")).FullName;
        await File.WriteAllTextAsync(Path.Combine(root, "nb.ipynb"), "{\"cells\":[]}");
        await using var daemon = DaemonProcess.Start();
        await daemon.InitializeAsync();

        var none = await daemon.RequestAsync("colab/drive/list", J(new { folderId = "" }));
        Assert.Equal(-32060, TestClient.ErrorCode(none));

        var use = (await daemon.RequestAsync("colab/drive/use", J(new { kind = "folder", path = root }))).GetProperty("result");
        Assert.Equal("folder", use.GetProperty("kind").GetString());

        var list = (await daemon.RequestAsync("colab/drive/list", J(new { folderId = "" }))).GetProperty("result");
        Assert.Equal("nb.ipynb", list.GetProperty("items")[0].GetProperty("name").GetString());

        var read = (await daemon.RequestAsync("colab/drive/read", J(new { id = "nb.ipynb" }))).GetProperty("result");
        Assert.Equal("{\"cells\":[]}", System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(read.GetProperty("contentBase64").GetString()!)));
        var write = await daemon.RequestAsync("colab/drive/write", J(new { id = "nb.ipynb", contentBase64 = Convert.ToBase64String("{\"cells\":[1]}"u8.ToArray()) }));
        Assert.True(write.GetProperty("result").GetProperty("verified").GetBoolean());
        Assert.Equal("{\"cells\":[1]}", await File.ReadAllTextAsync(Path.Combine(root, "nb.ipynb")));

        var local = Path.Combine(_dir, "model.pt");
        await File.WriteAllBytesAsync(local, new byte[100_000]);
        var put = (await daemon.RequestAsync("colab/drive/put", J(new { localPath = local, parentId = "" }))).GetProperty("result");
        Assert.Equal("model.pt", put.GetProperty("fileId").GetString());
        var flush = (await daemon.RequestAsync("colab/drive/flush")).GetProperty("result").GetProperty("uploads");
        Assert.Contains(flush.EnumerateArray(), u => u.GetProperty("name").GetString() == "model.pt" && u.GetProperty("verified").GetBoolean());

        var get = (await daemon.RequestAsync("colab/drive/get", J(new { id = "model.pt", folder = _dir }))).GetProperty("result");
        Assert.Equal(Path.Combine(_dir, "model (1).pt"), get.GetProperty("localPath").GetString());

        var escape = await daemon.RequestAsync("colab/drive/item", J(new { id = "../../etc/passwd" }));
        Assert.Equal(-32065, TestClient.ErrorCode(escape));
        var badSort = await daemon.RequestAsync("colab/drive/list", J(new { folderId = "", sort = "random" }));
        Assert.Equal(-32602, TestClient.ErrorCode(badSort));
        var badUse = await daemon.RequestAsync("colab/drive/use", J(new { kind = "api" }));
        Assert.Equal(-32602, TestClient.ErrorCode(badUse));
        Assert.Equal(0, await daemon.ShutdownAndExitAsync());
    }

    [Fact]
    public async Task ApiBackend_CopyToRuntime_ExtractsOnceThenSkips_AndTheTokenIsNeverLogged()
    {
        await using var drive = await DriveStandIn.StartAsync();
        var zipPath = Path.Combine(_dir, "ds.zip");
        using (var zip = ZipFile.Open(zipPath, ZipArchiveMode.Create))
        {
            for (var i = 0; i < 50; i++)
            {
                using var w = new StreamWriter(zip.CreateEntry($"train/{i}.txt").Open());
                w.Write(i);
            }
        }
        var id = await drive.AddFileAsync("ds.zip", await File.ReadAllBytesAsync(zipPath));
        await drive.TokensAsync("secret-token-123");
        await using var daemon = DaemonProcess.Start();
        await daemon.InitializeAsync();
        await daemon.RequestAsync("colab/drive/use", J(new { kind = "api", baseUrl = drive.BaseUrl, accessToken = "secret-token-123" }));
        var target = Path.Combine(_dir, "content", "ds");
        var first = (await daemon.RequestAsync("colab/drive/copyToRuntime", J(new { id, target }))).GetProperty("result");
        Assert.Equal(50, first.GetProperty("files").GetInt32());
        Assert.Equal("7", await File.ReadAllTextAsync(Path.Combine(target, "train", "7.txt")));
        var second = (await daemon.RequestAsync("colab/drive/copyToRuntime", J(new { id, target }))).GetProperty("result");
        Assert.True(second.GetProperty("skipped").GetBoolean());
        Assert.Equal(0, await daemon.ShutdownAndExitAsync());
        Assert.DoesNotContain("secret-token-123", daemon.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cli_LsPutGetFlush_OnAMountedFolder()
    {
        var root = Directory.CreateDirectory(Path.Combine(_dir, "mnt")).FullName;
        var local = Path.Combine(_dir, "w.bin");
        await File.WriteAllBytesAsync(local, [1, 2, 3]);
        var env = new Dictionary<string, string> { ["COLAB_DRIVE_FOLDER"] = root };
        var (code, stdout, stderr) = await RepoLayout.RunColabAsync(env, "drive", "put", local);
        Assert.True(code == 0, stderr);
        Assert.Contains("verified", stdout, StringComparison.Ordinal);
        (code, stdout, _) = await RepoLayout.RunColabAsync(env, "drive", "ls", "--json");
        Assert.Equal(0, code);
        Assert.Contains("\"name\":\"w.bin\"", stdout, StringComparison.Ordinal);
        (code, stdout, _) = await RepoLayout.RunColabAsync(env, "drive", "flush", $"{local}=w.bin");
        Assert.Equal(0, code);
        await File.WriteAllBytesAsync(local, [9]);
        (code, stdout, _) = await RepoLayout.RunColabAsync(env, "drive", "flush", $"{local}=w.bin");
        Assert.Equal(1, code);
        Assert.Contains("DIFFERS", stdout, StringComparison.Ordinal);
        (code, _, stderr) = await RepoLayout.RunColabAsync(env, "drive", "get", "../../etc/passwd", _dir);
        Assert.Equal(1, code);
        Assert.Contains("not a path inside the folder", stderr, StringComparison.Ordinal);
    }
}
