using System.IO.Compression;
using Colab.Daemon.Drive;

namespace Colab.Daemon.Tests.Drive;

/// <summary>The fast zip path's file creation: planted file links, files over folders, re-extraction over older files.</summary>
public sealed class DriveExtractTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("colab-drive-extract-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string Zip(string name, params (string Entry, string Text)[] entries)
    {
        var path = Path.Combine(_dir, name);
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var (entry, text) in entries)
        {
            using var w = new StreamWriter(zip.CreateEntry(entry).Open());
            w.Write(text);
        }
        return path;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)] // a dangling link: O_CREAT alone would create the file it points to
    public async Task Extract_APlantedFileLinkInTheTarget_IsRefused_AndItsTargetUntouched(bool targetExists)
    {
        var target = Directory.CreateDirectory(Path.Combine(_dir, "out", "train")).Parent!.FullName;
        var outside = Path.Combine(_dir, "secret.txt");
        if (targetExists)
        {
            await File.WriteAllTextAsync(outside, "keep");
        }
        File.CreateSymbolicLink(Path.Combine(target, "train", "0.txt"), outside);
        var zip = Zip("plant.zip", ("train/0.txt", "evil"), ("train/1.txt", "fine"));
        var e = await Assert.ThrowsAsync<DriveException>(() => ArchiveExtractor.ExtractAsync(zip, target, null, null, null, CancellationToken.None));
        Assert.Equal(DriveErrorKind.Unsafe, e.Kind);
        Assert.Contains("link", e.Message, StringComparison.Ordinal);
        Assert.Equal(targetExists ? "keep" : null, File.Exists(outside) ? await File.ReadAllTextAsync(outside) : null);
        Assert.False(File.Exists(Path.Combine(target, ArchiveExtractor.MarkerName)));
    }

    [Fact]
    public async Task Extract_ANewArchiveOverAnOlderExtraction_ReplacesTheFiles()
    {
        var target = Path.Combine(_dir, "out");
        var first = Zip("v1.zip", ("a/x.txt", "one, longer text"), ("b.txt", "b1"));
        Assert.Equal(2, (await ArchiveExtractor.ExtractAsync(first, target, null, null, null, CancellationToken.None)).Files);
        var second = Zip("v2.zip", ("a/x.txt", "two"), ("b.txt", "b2"));
        var r = await ArchiveExtractor.ExtractAsync(second, target, null, null, null, CancellationToken.None);
        Assert.False(r.Skipped);
        Assert.Equal("two", await File.ReadAllTextAsync(Path.Combine(target, "a", "x.txt")));
        Assert.Equal("b2", await File.ReadAllTextAsync(Path.Combine(target, "b.txt")));
        Assert.True((await ArchiveExtractor.ExtractAsync(second, target, null, null, null, CancellationToken.None)).Skipped);
    }

    [Fact]
    public async Task Extract_AFileWhereTheTargetHasAFolder_IsRefused()
    {
        var target = Directory.CreateDirectory(Path.Combine(_dir, "out", "model.bin")).Parent!.FullName;
        var zip = Zip("clash.zip", ("model.bin", "weights"));
        var e = await Assert.ThrowsAsync<DriveException>(() => ArchiveExtractor.ExtractAsync(zip, target, null, null, null, CancellationToken.None));
        Assert.Equal(DriveErrorKind.Unsafe, e.Kind);
    }

    [Fact]
    public async Task Extract_ManyFilesAcrossWorkers_AllArriveIntact()
    {
        var entries = Enumerable.Range(0, 3000).Select(i => ($"d{i % 37}/f{i}.txt", new string((char)('a' + (i % 26)), i % 500))).ToArray();
        var zip = Zip("many.zip", entries);
        var target = Path.Combine(_dir, "out");
        var r = await ArchiveExtractor.ExtractAsync(zip, target, null, null, null, CancellationToken.None);
        Assert.Equal(3000, r.Files);
        foreach (var (entry, text) in entries)
        {
            Assert.Equal(text, await File.ReadAllTextAsync(Path.Combine(target, entry)));
        }
    }

    [Fact]
    public async Task Extract_AnEntryLongerThanItsHeaderSays_NeverLandsWithMoreBytes()
    {
        // The size limit counts inflated bytes; a header that lies must not let more through than it
        // declares (.NET's entry stream stops at the declared size; the extractor also refuses more).
        var zip = Zip("liar.zip", ("a.txt", new string('x', 5000)), ("b.txt", "fine"));
        var bytes = await File.ReadAllBytesAsync(zip);
        var patched = 0;
        for (var i = 0; i + 46 < bytes.Length; i++)
        {
            var sig = BitConverter.ToUInt32(bytes, i);
            if (sig == 0x04034b50 && bytes[i + 30] == (byte)'a')
            {
                BitConverter.TryWriteBytes(bytes.AsSpan(i + 22, 4), 10u);
                patched++;
            }
            else if (sig == 0x02014b50 && bytes[i + 46] == (byte)'a')
            {
                BitConverter.TryWriteBytes(bytes.AsSpan(i + 24, 4), 10u);
                patched++;
            }
        }
        Assert.Equal(2, patched);
        await File.WriteAllBytesAsync(zip, bytes);
        var target = Path.Combine(_dir, "out");
        try
        {
            var r = await ArchiveExtractor.ExtractAsync(zip, target, null, null, null, CancellationToken.None);
            Assert.Equal(10 + 4, r.Bytes);
            Assert.Equal(new string('x', 10), await File.ReadAllTextAsync(Path.Combine(target, "a.txt")));
        }
        catch (DriveException e)
        {
            Assert.True(e.Kind is DriveErrorKind.Unsafe or DriveErrorKind.InvalidInput, e.Message);
            Assert.False(File.Exists(Path.Combine(target, ArchiveExtractor.MarkerName)));
        }
    }

    [Fact]
    public async Task Extract_LargeAndSmallEntriesMixed_AllArriveIntact()
    {
        // Entries over the batch size go to a writer whole (with a reader of its own); the rest are batched.
        var big = string.Concat(Enumerable.Range(0, 40_000).Select(i => $"{i:D8},"));
        var entries = new List<(string, string)> { ("big/first.csv", big) };
        entries.AddRange(Enumerable.Range(0, 300).Select(i => ($"s/{i}.txt", new string('k', i * 7))));
        entries.Add(("big/second.csv", big[..(big.Length / 2)] + "tail"));
        var zip = Zip("mixed.zip", [.. entries]);
        var target = Path.Combine(_dir, "out");
        var r = await ArchiveExtractor.ExtractAsync(zip, target, null, null, null, CancellationToken.None);
        Assert.Equal(entries.Count, r.Files);
        Assert.Equal(entries.Sum(e => (long)e.Item2.Length), r.Bytes);
        foreach (var (entry, text) in entries)
        {
            Assert.Equal(text, await File.ReadAllTextAsync(Path.Combine(target, entry)));
        }
    }
}
