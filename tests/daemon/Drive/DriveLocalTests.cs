using System.Formats.Tar;
using System.IO.Compression;
using Colab.Daemon.Drive;

namespace Colab.Daemon.Tests.Drive;

/// <summary>The mounted-folder backend, safe names and archive extraction, on real files.</summary>
public sealed class DriveLocalTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("colab-drive-local-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string Sub(string name)
    {
        var p = Path.Combine(_dir, name);
        Directory.CreateDirectory(p);
        return p;
    }

    [Fact]
    public async Task Folder_ListsFoldersFirst_PagesAndSearches()
    {
        var root = Sub("drive");
        Directory.CreateDirectory(Path.Combine(root, "zeta"));
        for (var i = 0; i < 1500; i++)
        {
            await File.WriteAllTextAsync(Path.Combine(root, $"f{i:0000}.txt"), "x");
        }
        await File.WriteAllTextAsync(Path.Combine(root, "Train.ipynb"), "{}");
        var backend = new FolderBackend(root);
        var first = await backend.ListAsync(new DriveListRequest(""), CancellationToken.None);
        Assert.Equal(1000, first.Items.Count);
        Assert.Equal("zeta", first.Items[0].Name);
        Assert.True(first.Items[0].IsFolder);
        var second = await backend.ListAsync(new DriveListRequest("", PageToken: first.NextPageToken), CancellationToken.None);
        Assert.Equal(502, second.Items.Count);
        Assert.Null(second.NextPageToken);
        var search = await backend.ListAsync(new DriveListRequest("", NameContains: "train"), CancellationToken.None);
        Assert.Equal("Train.ipynb", Assert.Single(search.Items).Id);
        await Assert.ThrowsAsync<DriveException>(() => backend.ListAsync(new DriveListRequest("", PageToken: "junk"), CancellationToken.None));
    }

    [Theory]
    [InlineData("../outside.txt")]
    [InlineData("/etc/passwd")]
    [InlineData("a/../../x")]
    public async Task Folder_RefusesPathsThatLeaveTheRoot(string id)
    {
        var backend = new FolderBackend(Sub("drive"));
        var e = await Assert.ThrowsAsync<DriveException>(() => backend.GetAsync(id, CancellationToken.None));
        Assert.Equal(DriveErrorKind.Unsafe, e.Kind);
    }

    [Fact]
    public async Task Folder_RefusesASymlinkThatLeadsOut_ButCopiesAndVerifiesRealFiles()
    {
        var root = Sub("drive");
        var secret = Path.Combine(Sub("elsewhere"), "secret.txt");
        await File.WriteAllTextAsync(secret, "s");
        File.CreateSymbolicLink(Path.Combine(root, "link.txt"), secret);
        var backend = new FolderBackend(root);
        var e = await Assert.ThrowsAsync<DriveException>(() => backend.DownloadAsync("link.txt", Path.Combine(_dir, "got.txt"), null, CancellationToken.None));
        Assert.Equal(DriveErrorKind.Unsafe, e.Kind);

        var local = Path.Combine(_dir, "model.bin");
        await File.WriteAllBytesAsync(local, new byte[300_000]);
        var up = await backend.UploadAsync(local, "", "model.bin", null, null, CancellationToken.None);
        Assert.Equal("model.bin", up.FileId);
        Assert.True(up.Verified);
        var down = await backend.DownloadAsync("model.bin", Path.Combine(_dir, "back.bin"), null, CancellationToken.None);
        Assert.Equal(up.Md5Checksum, down.Md5Checksum);
    }

    [Theory]
    [InlineData("https://drive.google.com/file/d/1AbCdEfGhIjKlMnOp_-x/view?usp=sharing", "1AbCdEfGhIjKlMnOp_-x")]
    [InlineData("https://drive.google.com/open?id=1AbCdEfGhIjKlMnOp_-x", "1AbCdEfGhIjKlMnOp_-x")]
    [InlineData("https://drive.google.com/uc?export=download&id=1AbCdEfGhIjKlMnOp_-x", "1AbCdEfGhIjKlMnOp_-x")]
    [InlineData("https://drive.google.com/drive/u/0/folders/1AbCdEfGhIjKlMnOp_-x", "1AbCdEfGhIjKlMnOp_-x")]
    [InlineData("1AbCdEfGhIjKlMnOp_-x", "1AbCdEfGhIjKlMnOp_-x")]
    [InlineData("datasets/train.zip", "datasets/train.zip")]
    public void Links_ShareLinksAndIds_GiveTheFileId(string input, string id) => Assert.Equal(id, DriveLinks.Normalize(input));

    [Theory]
    [InlineData("https://evil.example/file/d/1AbCdEfGhIjKlMnOp_-x/view")]
    [InlineData("https://drive.google.com.evil.example/file/d/1AbCdEfGhIjKlMnOp_-x/view")]
    [InlineData("https://drive.google.com/file/d/../../view")]
    public void Links_OtherHostsAndMalformedLinks_AreRefused(string input)
        => Assert.Equal(DriveErrorKind.InvalidInput, Assert.Throws<DriveException>(() => DriveLinks.Normalize(input)).Kind);

    [Theory]
    [InlineData("a/b.txt", "a_b.txt")]
    [InlineData("..", "_..")]
    [InlineData("bell\u0007.txt", "bell_.txt")]
    [InlineData("  ", "_")]
    public void SafeNames_NeutraliseSeparatorsDotsAndControls(string name, string expected) => Assert.Equal(expected, SafeNames.Sanitize(name));

    [Fact]
    public async Task SafeNames_Duplicates_GetNumbered_AndNothingIsOverwritten()
    {
        var dir = Sub("dl");
        await File.WriteAllTextAsync(Path.Combine(dir, "data.csv"), "keep me");
        Assert.Equal("data (1).csv", SafeNames.Unique(dir, "data.csv"));
        var taken = new HashSet<string> { "data (1).csv" };
        Assert.Equal("data (2).csv", SafeNames.Unique(dir, "data.csv", taken));
        Assert.Equal("keep me", await File.ReadAllTextAsync(Path.Combine(dir, "data.csv")));
    }

    private string Zip(string name, params (string Entry, string Content)[] entries)
    {
        var path = Path.Combine(_dir, name);
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var (entry, content) in entries)
        {
            using var w = new StreamWriter(zip.CreateEntry(entry).Open());
            w.Write(content);
        }
        return path;
    }

    [Fact]
    public async Task Extract_Zip_WritesFiles_AndSkipsTheSecondTime()
    {
        var zip = Zip("ds.zip", ("train/a.txt", "1"), ("train/b/c.txt", "22"), ("README", "r"));
        var target = Path.Combine(_dir, "out");
        var first = await ArchiveExtractor.ExtractAsync(zip, target, null, null, null, CancellationToken.None);
        Assert.False(first.Skipped);
        Assert.Equal(3, first.Files);
        Assert.Equal("22", await File.ReadAllTextAsync(Path.Combine(target, "train", "b", "c.txt")));
        var second = await ArchiveExtractor.ExtractAsync(zip, target, null, null, null, CancellationToken.None);
        Assert.True(second.Skipped);
    }

    [Fact]
    public async Task Extract_DuplicateEntries_TheLastWins_WithoutARace()
    {
        var zip = Zip("dup.zip", ("a.txt", "first"), ("b.txt", "b"), ("a.txt", "second"));
        var target = Path.Combine(_dir, "out");
        var r = await ArchiveExtractor.ExtractAsync(zip, target, null, null, null, CancellationToken.None);
        Assert.Equal(2, r.Files);
        Assert.Equal("second", await File.ReadAllTextAsync(Path.Combine(target, "a.txt")));
    }

    [Theory]
    [InlineData("../evil.txt")]
    [InlineData("/tmp/evil.txt")]
    [InlineData("a/../../evil.txt")]
    [InlineData("C:/evil.txt")]
    [InlineData("..\\evil.txt")]
    public async Task Extract_ZipSlip_IsRefused_AndNothingLandsOutside(string entry)
    {
        var zip = Zip("slip.zip", ("ok.txt", "fine"), (entry, "evil"));
        var target = Path.Combine(_dir, "out");
        var e = await Assert.ThrowsAsync<DriveException>(() => ArchiveExtractor.ExtractAsync(zip, target, null, null, null, CancellationToken.None));
        Assert.Equal(DriveErrorKind.Unsafe, e.Kind);
        Assert.False(File.Exists(Path.Combine(_dir, "evil.txt")));
        Assert.False(File.Exists(Path.Combine(target, ArchiveExtractor.MarkerName)));
    }

    [Fact]
    public async Task Extract_ZipSymlinkEntry_IsRefused()
    {
        var path = Path.Combine(_dir, "link.zip");
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
        {
            var e = zip.CreateEntry("passwd");
            e.ExternalAttributes = unchecked((int)(0xA1FFu << 16));
            using var w = new StreamWriter(e.Open());
            w.Write("/etc/passwd");
        }
        var ex = await Assert.ThrowsAsync<DriveException>(() => ArchiveExtractor.ExtractAsync(path, Path.Combine(_dir, "out"), null, null, null, CancellationToken.None));
        Assert.Contains("symbolic link", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Extract_APlantedLinkInTheTarget_IsNotFollowed()
    {
        var target = Sub("out");
        var outside = Sub("outside");
        Directory.CreateSymbolicLink(Path.Combine(target, "data"), outside);
        var zip = Zip("plant.zip", ("data/x.txt", "escaped"));
        await Assert.ThrowsAsync<DriveException>(() => ArchiveExtractor.ExtractAsync(zip, target, null, null, null, CancellationToken.None));
        Assert.False(File.Exists(Path.Combine(outside, "x.txt")));
    }

    [Fact]
    public async Task Extract_Bomb_StopsAtTheByteLimit_AndEntryLimit()
    {
        var path = Path.Combine(_dir, "bomb.zip");
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
        {
            using var s = zip.CreateEntry("zeros", CompressionLevel.SmallestSize).Open();
            var block = new byte[1 << 20];
            for (var i = 0; i < 64; i++)
            {
                s.Write(block);
            }
        }
        Assert.True(new FileInfo(path).Length < 1 << 20);
        var e = await Assert.ThrowsAsync<DriveException>(() => ArchiveExtractor.ExtractAsync(path, Path.Combine(_dir, "out"), null, new ExtractLimits(MaxBytes: 8 << 20), null, CancellationToken.None));
        Assert.Contains("more than", e.Message, StringComparison.Ordinal);
        var many = Zip("many.zip", ("1", ""), ("2", ""), ("3", ""));
        var e2 = await Assert.ThrowsAsync<DriveException>(() => ArchiveExtractor.ExtractAsync(many, Path.Combine(_dir, "out2"), null, new ExtractLimits(MaxEntries: 2), null, CancellationToken.None));
        Assert.Contains("entries", e2.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Extract_TarGz_Works_AndRefusesLinksAndEscapes()
    {
        var good = Path.Combine(_dir, "ds.tar.gz");
        await using (var f = File.Create(good))
        await using (var gz = new GZipStream(f, CompressionLevel.Fastest))
        await using (var tar = new TarWriter(gz))
        {
            var e = new PaxTarEntry(TarEntryType.RegularFile, "imgs/1.png") { DataStream = new MemoryStream([1, 2, 3]) };
            await tar.WriteEntryAsync(e);
        }
        var r = await ArchiveExtractor.ExtractAsync(good, Path.Combine(_dir, "t1"), null, null, null, CancellationToken.None);
        Assert.Equal(1, r.Files);
        Assert.Equal(new byte[] { 1, 2, 3 }, await File.ReadAllBytesAsync(Path.Combine(_dir, "t1", "imgs", "1.png")));

        var bad = Path.Combine(_dir, "bad.tar");
        await using (var f = File.Create(bad))
        await using (var tar = new TarWriter(f))
        {
            await tar.WriteEntryAsync(new PaxTarEntry(TarEntryType.SymbolicLink, "etc") { LinkName = "/etc" });
        }
        await Assert.ThrowsAsync<DriveException>(() => ArchiveExtractor.ExtractAsync(bad, Path.Combine(_dir, "t2"), null, null, null, CancellationToken.None));

        var junk = Path.Combine(_dir, "junk.bin");
        await File.WriteAllBytesAsync(junk, new byte[1000].Select((_, i) => (byte)(i * 7)).ToArray());
        var j = await Assert.ThrowsAsync<DriveException>(() => ArchiveExtractor.ExtractAsync(junk, Path.Combine(_dir, "t3"), null, null, null, CancellationToken.None));
        Assert.Equal(DriveErrorKind.InvalidInput, j.Kind);
    }
}
