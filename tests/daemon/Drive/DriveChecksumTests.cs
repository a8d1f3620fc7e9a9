using System.IO.Compression;
using System.Security.Cryptography;
using Colab.Daemon.Drive;
using Microsoft.Extensions.Logging.Abstractions;

namespace Colab.Daemon.Tests.Drive;

/// <summary>
/// Which checksum verifies a transfer: SHA-256 when Drive gives <c>sha256Checksum</c>, md5 only when it
/// does not (old files), and malformed checksums refused — the production client against the v3 stand-in.
/// </summary>
public sealed class DriveChecksumTests : IAsyncLifetime
{
    private static readonly DriveRetryPolicy Fast = new(MaxAttempts: 4, BaseDelay: TimeSpan.FromMilliseconds(5), MaxDelay: TimeSpan.FromSeconds(1));
    private readonly string _dir = Directory.CreateTempSubdirectory("colab-drive-sum-").FullName;
    private readonly HttpClient _http = new() { Timeout = Timeout.InfiniteTimeSpan };
    private DriveStandIn _drive = null!;

    public async Task InitializeAsync() => _drive = await DriveStandIn.StartAsync();

    public async Task DisposeAsync()
    {
        await _drive.DisposeAsync();
        _http.Dispose();
        Directory.Delete(_dir, true);
    }

    private DriveApiBackend Client() => new(_http, _drive.BaseUrl, new StaticDriveToken("test-token"), Fast, 256 * 1024);

    private static byte[] Bytes(int n, int seed = 1)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    private static string Sha256(byte[] b) => Convert.ToHexStringLower(SHA256.HashData(b));

    private static string Md5(byte[] b) => Convert.ToHexStringLower(MD5.HashData(b));

    private async Task<string> AddAsync(string name, byte[] content, params (string Key, object Value)[] switches)
    {
        var spec = new Dictionary<string, object?> { ["name"] = name, ["contentBase64"] = Convert.ToBase64String(content), ["parents"] = new[] { "root" } };
        foreach (var (key, value) in switches)
        {
            spec[key] = value;
        }
        return (await _drive.AddFilesAsync(spec))[0]!["id"]!.GetValue<string>();
    }

    private bool MediaWasRequested(System.Text.Json.Nodes.JsonArray requests) =>
        requests.Any(r => ((string)r!["url"]!).Contains("alt=media", StringComparison.Ordinal));

    [Fact]
    public async Task Metadata_CarriesSha256_AndListingAsksForIt()
    {
        var content = Bytes(1000);
        var id = await AddAsync("a.bin", content);
        var client = Client();
        var item = await client.GetAsync(id, CancellationToken.None);
        Assert.Equal(Sha256(content), item.Sha256Checksum);
        Assert.Equal(Md5(content), item.Md5Checksum);
        var listed = Assert.Single((await client.ListAsync(new DriveListRequest("root"), CancellationToken.None)).Items);
        Assert.Equal(Sha256(content), listed.Sha256Checksum);
        var urls = (await _drive.RequestsAsync()).Select(r => Uri.UnescapeDataString((string)r!["url"]!)).ToList();
        Assert.All(urls, u => Assert.Contains("sha256Checksum", u, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Download_WithSha256_VerifiesWithSha256_AndAWrongOneIsAnIntegrityError_EvenWhenTheMd5IsRight()
    {
        var content = Bytes(700_000, 2);
        var good = await AddAsync("good.bin", content);
        var t = await Client().DownloadAsync(good, Path.Combine(_dir, "good.bin"), null, CancellationToken.None);
        Assert.True(t.Verified);
        Assert.Equal(DriveChecksums.Sha256, t.VerifiedWith);
        Assert.Equal(Sha256(content), t.Sha256Checksum);
        Assert.Null(t.Md5Checksum);
        Assert.Equal(content, await File.ReadAllBytesAsync(t.LocalPath));

        var bad = await AddAsync("bad.bin", content, ("wrongSha256", true));
        var target = Path.Combine(_dir, "bad.bin");
        var e = await Assert.ThrowsAsync<DriveException>(() => Client().DownloadAsync(bad, target, null, CancellationToken.None));
        Assert.Equal(DriveErrorKind.Integrity, e.Kind);
        Assert.Contains($"its sha256 is {Sha256(content)}, Drive says {new string('0', 64)}", e.Message, StringComparison.Ordinal);
        Assert.Contains("discarded", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(target));
        Assert.False(File.Exists(target + ".part"));
    }

    [Fact]
    public async Task Download_OfAnOldFileWithoutSha256_VerifiesWithMd5_AlsoWhenResumingAPart()
    {
        var content = Bytes(3_000_000, 3);
        var id = await AddAsync("old.bin", content, ("legacy", true));
        var item = await Client().GetAsync(id, CancellationToken.None);
        Assert.Null(item.Sha256Checksum);
        Assert.Equal(Md5(content), item.Md5Checksum);
        // A .part from an interrupted run is hashed with md5 too, then the rest is asked for with a Range.
        var target = Path.Combine(_dir, "old.bin");
        await File.WriteAllBytesAsync(target + ".part", content.AsSpan(0, 1_234_567).ToArray());
        var t = await Client().DownloadAsync(id, target, null, CancellationToken.None);
        Assert.True(t.Verified);
        Assert.Equal(DriveChecksums.Md5, t.VerifiedWith);
        Assert.Equal(Md5(content), t.Md5Checksum);
        Assert.Null(t.Sha256Checksum);
        Assert.Equal(content, await File.ReadAllBytesAsync(target));
        Assert.Contains(await _drive.RequestsAsync(), r => (string?)r!["range"] == "bytes=1234567-");

        var wrong = await AddAsync("old-wrong.bin", content, ("legacy", true), ("wrongMd5", true));
        var e = await Assert.ThrowsAsync<DriveException>(() => Client().DownloadAsync(wrong, Path.Combine(_dir, "w.bin"), null, CancellationToken.None));
        Assert.Equal(DriveErrorKind.Integrity, e.Kind);
        Assert.Contains($"its md5 is {Md5(content)}, Drive says {new string('0', 32)}", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_dir, "w.bin")));
    }

    [Fact]
    public async Task Download_WithoutAnyChecksum_IsNotVerified_ButHasItsSha256()
    {
        var content = Bytes(10_000, 4);
        var id = await AddAsync("none.bin", content, ("noChecksums", true));
        var t = await Client().DownloadAsync(id, Path.Combine(_dir, "none.bin"), null, CancellationToken.None);
        Assert.False(t.Verified);
        Assert.Null(t.VerifiedWith);
        Assert.Equal(Sha256(content), t.Sha256Checksum);
        Assert.Equal(content, await File.ReadAllBytesAsync(t.LocalPath));
    }

    [Fact]
    public async Task UpperCaseHex_IsAccepted_AndNormalised()
    {
        var content = Bytes(5000, 5);
        var id = await AddAsync("upper.bin", content, ("checksums", new Dictionary<string, string> { ["sha256Checksum"] = Sha256(content).ToUpperInvariant() }));
        var t = await Client().DownloadAsync(id, Path.Combine(_dir, "upper.bin"), null, CancellationToken.None);
        Assert.True(t.Verified);
        Assert.Equal(Sha256(content), (await Client().GetAsync(id, CancellationToken.None)).Sha256Checksum);
    }

    public static TheoryData<string> HostileSha256 => new()
    {
        new string('a', 63),
        new string('a', 65),
        new string('g', 64),
        "",
        new string('a', 62) + "\u0660\u0661", // Arabic-Indic digits are digits, not hex
        new string('a', 63) + "\n",
        "../../etc/passwd" + new string('0', 48),
        new string('a', 10_000),
    };

    [Theory]
    [MemberData(nameof(HostileSha256))]
    public async Task MalformedSha256_IsRefusedAsABadResponse_AndNothingIsDownloaded(string value)
    {
        var id = await AddAsync("h.bin", Bytes(100, 6), ("checksums", new Dictionary<string, string> { ["sha256Checksum"] = value }));
        var target = Path.Combine(_dir, "h.bin");
        var e = await Assert.ThrowsAsync<DriveException>(() => Client().DownloadAsync(id, target, null, CancellationToken.None));
        Assert.Equal(DriveErrorKind.BadResponse, e.Kind);
        Assert.Contains("sha256Checksum that is not 64 hex digits for 'h.bin'", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(value.Length > 0 ? value : "\0", e.Message, StringComparison.Ordinal); // the value itself is not echoed
        Assert.False(File.Exists(target));
        Assert.False(File.Exists(target + ".part"));
        Assert.False(MediaWasRequested(await _drive.RequestsAsync()));
        var list = await Assert.ThrowsAsync<DriveException>(() => Client().ListAsync(new DriveListRequest("root"), CancellationToken.None));
        Assert.Equal(DriveErrorKind.BadResponse, list.Kind);
    }

    [Fact]
    public async Task Sha256OfTheWrongJsonType_IsABadResponse()
    {
        var id = await AddAsync("n.bin", Bytes(100, 7), ("checksums", new Dictionary<string, object> { ["sha256Checksum"] = 12345 }));
        var e = await Assert.ThrowsAsync<DriveException>(() => Client().GetAsync(id, CancellationToken.None));
        Assert.Equal(DriveErrorKind.BadResponse, e.Kind);
    }

    [Fact]
    public async Task Upload_IsVerifiedWithSha256_AndAWrongSha256IsAnIntegrityError()
    {
        var content = Bytes(3 * 256 * 1024 + 11, 8);
        var path = Path.Combine(_dir, "up.bin");
        await File.WriteAllBytesAsync(path, content);
        var t = await Client().UploadAsync(path, "root", "up.bin", null, null, CancellationToken.None);
        Assert.True(t.Verified);
        Assert.Equal(DriveChecksums.Sha256, t.VerifiedWith);
        Assert.Equal(Sha256(content), t.Sha256Checksum);
        Assert.Null(t.Md5Checksum);
        Assert.Equal(content, await _drive.ContentAsync(t.FileId));

        var small = Path.Combine(_dir, "small.bin");
        await File.WriteAllBytesAsync(small, Bytes(1000, 9));
        await _drive.FaultAsync(new { on = "upload", wrongSha256 = true });
        var e = await Assert.ThrowsAsync<DriveException>(() => Client().UploadAsync(small, "root", "small.bin", null, null, CancellationToken.None));
        Assert.Equal(DriveErrorKind.Integrity, e.Kind);
        Assert.Contains("the local sha256 is", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Upload_WhenDriveGivesNoSha256_FallsBackToMd5_AndWithNoChecksumAtAllIsNotCalledVerified()
    {
        var content = Bytes(2 * 256 * 1024 + 5, 10);
        var path = Path.Combine(_dir, "old.bin");
        await File.WriteAllBytesAsync(path, content);
        await _drive.FaultAsync(new { on = "upload", legacy = true });
        var t = await Client().UploadAsync(path, "root", "old.bin", null, null, CancellationToken.None);
        Assert.True(t.Verified);
        Assert.Equal(DriveChecksums.Md5, t.VerifiedWith);
        Assert.Equal(Md5(content), t.Md5Checksum);

        await _drive.FaultAsync(new { on = "upload", legacy = true, wrongMd5 = true });
        var e = await Assert.ThrowsAsync<DriveException>(() => Client().UploadAsync(path, "root", "old2.bin", null, null, CancellationToken.None));
        Assert.Equal(DriveErrorKind.Integrity, e.Kind);
        Assert.Contains("the local md5 is", e.Message, StringComparison.Ordinal);

        await _drive.FaultAsync(new { on = "upload", noChecksums = true });
        var none = await Assert.ThrowsAsync<DriveException>(() => Client().UploadAsync(path, "root", "old3.bin", null, null, CancellationToken.None));
        Assert.Equal(DriveErrorKind.Integrity, none.Kind);
        Assert.Contains("neither a sha256 nor an md5", none.Message, StringComparison.Ordinal);

        await _drive.FaultAsync(new { on = "upload", checksums = new Dictionary<string, string> { ["sha256Checksum"] = "not-hex" } });
        var hostile = await Assert.ThrowsAsync<DriveException>(() => Client().UploadAsync(path, "root", "old4.bin", null, null, CancellationToken.None));
        Assert.Equal(DriveErrorKind.BadResponse, hostile.Kind);
    }

    [Fact]
    public async Task CopyToRuntime_KeysTheMarkerBySha256_AndSkipsWithoutDownloading_OldFilesByMd5()
    {
        byte[] zip;
        using (var ms = new MemoryStream())
        {
            using (var a = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
            {
                using var w = new StreamWriter(a.CreateEntry("train/0.txt").Open());
                w.Write("zero");
            }
            zip = ms.ToArray();
        }
        var id = await AddAsync("data.zip", zip);
        var old = await AddAsync("old.zip", zip, ("legacy", true));
        var service = new DriveService(NullLogger<DriveService>.Instance);
        service.UseApi(_drive.BaseUrl, new StaticDriveToken("test-token"), Fast);

        var target = Path.Combine(_dir, "ds");
        var first = await service.CopyToRuntimeAsync(id, target, null, null, CancellationToken.None);
        Assert.False(first.Skipped);
        Assert.Equal("zero", await File.ReadAllTextAsync(Path.Combine(target, "train", "0.txt")));
        Assert.StartsWith(Sha256(zip) + " ", await File.ReadAllTextAsync(Path.Combine(target, ArchiveExtractor.MarkerName)), StringComparison.Ordinal);
        var before = (await _drive.RequestsAsync()).Count(r => ((string)r!["url"]!).Contains("alt=media", StringComparison.Ordinal));
        Assert.True((await service.CopyToRuntimeAsync(id, target, null, null, CancellationToken.None)).Skipped);
        Assert.Equal(before, (await _drive.RequestsAsync()).Count(r => ((string)r!["url"]!).Contains("alt=media", StringComparison.Ordinal)));

        var oldTarget = Path.Combine(_dir, "ds-old");
        Assert.False((await service.CopyToRuntimeAsync(old, oldTarget, null, null, CancellationToken.None)).Skipped);
        Assert.StartsWith(Md5(zip) + " ", await File.ReadAllTextAsync(Path.Combine(oldTarget, ArchiveExtractor.MarkerName)), StringComparison.Ordinal);
        Assert.True((await service.CopyToRuntimeAsync(old, oldTarget, null, null, CancellationToken.None)).Skipped);
    }
}
