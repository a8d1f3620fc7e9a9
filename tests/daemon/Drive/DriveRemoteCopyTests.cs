using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json;
using Colab.Daemon.Tests.Infrastructure;
using Colab.Daemon.Tests.Training;

namespace Colab.Daemon.Tests.Drive;

/// <summary>
/// colab/drive/copyToRuntime to a remote runtime: a real jupyter_server connected by URL + token,
/// the archive from a mounted Drive folder, streamed through the contents API and extracted on the
/// runtime by colab_extract.py in a hidden kernel — through the real daemon process.
/// </summary>
public sealed class DriveRemoteCopyTests(RemoteJupyterFixture jupyter) : IClassFixture<RemoteJupyterFixture>, IDisposable
{
    private readonly string _drive = Directory.CreateTempSubdirectory("colab-drive-remote-").FullName;

    public void Dispose() => Directory.Delete(_drive, true);

    private static string J(object o) => JsonSerializer.Serialize(o, DriveTestJson.Options);

    private async Task<(DaemonProcess Daemon, string RuntimeId)> StartAsync()
    {
        var daemon = DaemonProcess.Start();
        await daemon.InitializeAsync();
        var use = await daemon.RequestAsync("colab/drive/use", J(new { kind = "folder", path = _drive }));
        Assert.True(use.TryGetProperty("result", out _), use.GetRawText());
        return (daemon, await jupyter.ConnectAsync(daemon));
    }

    private string Zip(string name, params (string Entry, byte[] Bytes, int? UnixMode)[] entries)
    {
        var path = Path.Combine(_drive, name);
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var (entry, bytes, mode) in entries)
        {
            var e = zip.CreateEntry(entry, CompressionLevel.Optimal);
            if (mode is int m)
            {
                e.ExternalAttributes = m << 16;
            }
            using var s = e.Open();
            s.Write(bytes);
        }
        return name;
    }

    private static byte[] T(string s) => System.Text.Encoding.UTF8.GetBytes(s);

    /// <summary>Files named <paramref name="marker"/> anywhere under the runtime's root or beside it: an escaped entry would be one.</summary>
    private string[] Escaped(string marker) => Directory.EnumerateFiles(jupyter.Root, "*" + marker, SearchOption.AllDirectories)
        .Concat(Directory.EnumerateFiles(Path.GetDirectoryName(jupyter.Root)!, "*" + marker))
        .ToArray();

    [Fact]
    public async Task Zip_ToARemoteRuntime_IsExtractedThere_ThenSkippedWhenComplete()
    {
        var name = Zip("data.zip", ("train/0.txt", T("zero"), null), ("train/sub/1.txt", T("one"), null), ("labels.csv", T("a,b\n1,2\n"), null), ("empty/", [], null));
        var (daemon, runtime) = await StartAsync();
        await using (daemon)
        {
            var target = $"ds-{Guid.NewGuid():N}/data";
            var first = await daemon.RequestAsync("colab/drive/copyToRuntime", J(new { id = name, target, runtimeId = runtime }));
            Assert.True(first.TryGetProperty("result", out var r), first.GetRawText());
            Assert.False(r.GetProperty("skipped").GetBoolean());
            Assert.Equal(3, r.GetProperty("files").GetInt32());
            Assert.Equal(target, r.GetProperty("target").GetString());
            var onRuntime = Path.Combine(jupyter.Root, target);
            Assert.Equal("zero", await File.ReadAllTextAsync(Path.Combine(onRuntime, "train", "0.txt")));
            Assert.Equal("one", await File.ReadAllTextAsync(Path.Combine(onRuntime, "train", "sub", "1.txt")));
            Assert.True(Directory.Exists(Path.Combine(onRuntime, "empty")));
            Assert.True(File.Exists(Path.Combine(onRuntime, ".colab-extracted")));
            // The uploaded archive is gone from the runtime.
            Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(onRuntime)!, "colab-dataset-*"));

            // A second copy of the same archive does nothing: a file changed on the runtime stays changed.
            await File.WriteAllTextAsync(Path.Combine(onRuntime, "train", "0.txt"), "edited on the runtime");
            var second = (await daemon.RequestAsync("colab/drive/copyToRuntime", J(new { id = name, target, runtimeId = runtime }))).GetProperty("result");
            Assert.True(second.GetProperty("skipped").GetBoolean());
            Assert.Equal("edited on the runtime", await File.ReadAllTextAsync(Path.Combine(onRuntime, "train", "0.txt")));

            // A different archive under the same target is extracted again.
            File.Delete(Path.Combine(_drive, name));
            Zip(name, ("train/0.txt", T("zero v2"), null));
            var third = (await daemon.RequestAsync("colab/drive/copyToRuntime", J(new { id = name, target, runtimeId = runtime }))).GetProperty("result");
            Assert.False(third.GetProperty("skipped").GetBoolean());
            Assert.Equal("zero v2", await File.ReadAllTextAsync(Path.Combine(onRuntime, "train", "0.txt")));
            Assert.Equal(0, await daemon.ShutdownAndExitAsync());
        }
    }

    [Fact]
    public async Task TarGz_ToARemoteRuntime_IsExtractedThere()
    {
        var path = Path.Combine(_drive, "data.tar.gz");
        await using (var file = File.Create(path))
        await using (var gz = new GZipStream(file, CompressionLevel.Fastest))
        await using (var tar = new TarWriter(gz, TarEntryFormat.Pax))
        {
            tar.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "images/"));
            foreach (var i in Enumerable.Range(0, 50))
            {
                tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, $"images/{i}.bin") { DataStream = new MemoryStream(Enumerable.Repeat((byte)i, 1000 + i).ToArray()) });
            }
        }
        var (daemon, runtime) = await StartAsync();
        await using (daemon)
        {
            var target = $"tar-{Guid.NewGuid():N}";
            var answer = await daemon.RequestAsync("colab/drive/copyToRuntime", J(new { id = "data.tar.gz", target, runtimeId = runtime }));
            Assert.True(answer.TryGetProperty("result", out var r), answer.GetRawText());
            Assert.Equal(50, r.GetProperty("files").GetInt32());
            Assert.Equal(Enumerable.Range(0, 50).Sum(i => 1000L + i), r.GetProperty("bytes").GetInt64());
            Assert.Equal(Enumerable.Repeat((byte)49, 1049).ToArray(), await File.ReadAllBytesAsync(Path.Combine(jupyter.Root, target, "images", "49.bin")));
            Assert.True((await daemon.RequestAsync("colab/drive/copyToRuntime", J(new { id = "data.tar.gz", target, runtimeId = runtime }))).GetProperty("result").GetProperty("skipped").GetBoolean());
        }
    }

    public static TheoryData<string, string> Hostile => new()
    {
        { "slip", "outside the target" },
        { "absolute", "outside the target" },
        { "zipSymlink", "symbolic link" },
        { "tarSymlink", "link" },
        { "tarHardlink", "link" },
        { "tarSlip", "outside the target" },
        { "bomb", "expands to more than" },
    };

    [Theory]
    [MemberData(nameof(Hostile))]
    public async Task HostileArchives_AreRefused_WithTheEntryAndWhy_AndNothingLandsOutsideTheTarget(string kind, string why)
    {
        var marker = $"escaped-{Guid.NewGuid():N}.txt";
        string name;
        switch (kind)
        {
            case "slip":
                name = Zip("slip.zip", ("ok.txt", T("fine"), null), ($"../../{marker}", T("evil"), null));
                break;
            case "absolute":
                name = Zip("abs.zip", ($"/tmp/{marker}", T("evil"), null));
                break;
            case "zipSymlink":
                name = Zip("link.zip", ("link", T("/etc"), 0xA1FF), ("link/passwd", T("evil"), null));
                break;
            case "bomb":
                // 64 MiB of zeros compress to about 64 KiB; the limit below is 1 MiB.
                name = Zip("bomb.zip", ("zeros.bin", new byte[64 << 20], null));
                break;
            default:
                name = kind + ".tar";
                await using (var file = File.Create(Path.Combine(_drive, name)))
                await using (var tar = new TarWriter(file, TarEntryFormat.Pax))
                {
                    tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "ok.txt") { DataStream = new MemoryStream(T("fine")) });
                    tar.WriteEntry(kind switch
                    {
                        "tarSymlink" => new PaxTarEntry(TarEntryType.SymbolicLink, "etc") { LinkName = "/etc" },
                        "tarHardlink" => new PaxTarEntry(TarEntryType.HardLink, "pw") { LinkName = "/etc/passwd" },
                        _ => new PaxTarEntry(TarEntryType.RegularFile, $"../{marker}") { DataStream = new MemoryStream(T("evil")) },
                    });
                }
                break;
        }
        var (daemon, runtime) = await StartAsync();
        await using (daemon)
        {
            var target = $"hostile-{Guid.NewGuid():N}/data";
            var answer = await daemon.RequestAsync("colab/drive/copyToRuntime", J(new { id = name, target, runtimeId = runtime, maxBytes = 1 << 20 }));
            Assert.Equal(-32065, TestClient.ErrorCode(answer));
            var message = answer.GetProperty("error").GetProperty("message").GetString()!;
            Assert.Contains(why, message, StringComparison.Ordinal);
            if (kind is "slip" or "absolute" or "tarSlip")
            {
                Assert.Contains(marker, message, StringComparison.Ordinal); // which entry
            }
            Assert.False(File.Exists(Path.Combine(jupyter.Root, target, ".colab-extracted")));
            Assert.Empty(Escaped(marker));
            Assert.False(File.Exists(Path.Combine("/tmp", marker)));
            Assert.False(File.Exists(Path.Combine(Path.GetDirectoryName(jupyter.Root)!, marker)));
            Assert.Empty(Directory.GetFiles(Path.Combine(jupyter.Root, target.Split('/')[0]), "colab-dataset-*"));
            if (kind == "bomb")
            {
                Assert.False(File.Exists(Path.Combine(jupyter.Root, target, "zeros.bin"))); // the declared size is refused before writing
            }
        }
    }

    [Fact]
    public async Task ALinkPlantedInTheTargetOnTheRuntime_IsNotFollowed()
    {
        var outside = Path.Combine(Path.GetDirectoryName(jupyter.Root)!, $"outside-{Guid.NewGuid():N}");
        Directory.CreateDirectory(outside);
        var target = $"planted-{Guid.NewGuid():N}";
        Directory.CreateDirectory(Path.Combine(jupyter.Root, target));
        Directory.CreateSymbolicLink(Path.Combine(jupyter.Root, target, "train"), outside);
        File.CreateSymbolicLink(Path.Combine(jupyter.Root, target, "labels.csv"), Path.Combine(outside, "labels.csv"));
        var name = Zip("plant.zip", ("train/0.txt", T("evil"), null));
        var (daemon, runtime) = await StartAsync();
        await using (daemon)
        {
            var answer = await daemon.RequestAsync("colab/drive/copyToRuntime", J(new { id = name, target, runtimeId = runtime }));
            Assert.Equal(-32065, TestClient.ErrorCode(answer));
            Assert.Contains("'train' in the target is a link", answer.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
            File.Delete(Path.Combine(_drive, name));
            Zip(name, ("labels.csv", T("evil"), null));
            var file = await daemon.RequestAsync("colab/drive/copyToRuntime", J(new { id = name, target, runtimeId = runtime }));
            Assert.Equal(-32065, TestClient.ErrorCode(file));
            Assert.Contains("'labels.csv' in the target is a link", file.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.Empty(Directory.GetFileSystemEntries(outside));
        }
        Directory.Delete(outside, true);
    }

    [Fact]
    public async Task BadRequests_SayWhatIsWrong()
    {
        Zip("d.zip", ("a.txt", T("a"), null));
        var (daemon, runtime) = await StartAsync();
        await using (daemon)
        {
            var gone = await daemon.RequestAsync("colab/drive/copyToRuntime", J(new { id = "d.zip", target = "x", runtimeId = "remote-nope" }));
            Assert.Equal(-32060, TestClient.ErrorCode(gone));
            Assert.Contains("not connected", gone.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
            foreach (var bad in new[] { "../up", "/abs", "a/../b", "" })
            {
                var answer = await daemon.RequestAsync("colab/drive/copyToRuntime", J(new { id = "d.zip", target = bad, runtimeId = runtime }));
                Assert.Equal(-32602, TestClient.ErrorCode(answer));
            }
            var notArchive = Path.Combine(_drive, "notes.txt");
            await File.WriteAllTextAsync(notArchive, "just text, not an archive");
            var invalid = await daemon.RequestAsync("colab/drive/copyToRuntime", J(new { id = "notes.txt", target = $"n-{Guid.NewGuid():N}", runtimeId = runtime }));
            Assert.Equal(-32602, TestClient.ErrorCode(invalid));
            Assert.Contains("neither a zip nor a readable tar", invalid.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        }
    }
}
