using System.Diagnostics;
using System.Security.Cryptography;
using Colab.Daemon.Drive;

namespace Colab.Daemon.Tests.Drive;

/// <summary>The production Drive client against the v3 stand-in over real HTTP on loopback.</summary>
public sealed class DriveApiTests : IAsyncLifetime
{
    private static readonly DriveRetryPolicy Fast = new(MaxAttempts: 6, BaseDelay: TimeSpan.FromMilliseconds(5), MaxDelay: TimeSpan.FromSeconds(2));
    private readonly string _dir = Directory.CreateTempSubdirectory("colab-drive-api-").FullName;
    private readonly HttpClient _http = new() { Timeout = Timeout.InfiniteTimeSpan };
    private DriveStandIn _drive = null!;

    public async Task InitializeAsync() => _drive = await DriveStandIn.StartAsync();

    public async Task DisposeAsync()
    {
        await _drive.DisposeAsync();
        _http.Dispose();
        Directory.Delete(_dir, true);
    }

    private DriveApiBackend Client(IDriveTokenSource? tokens = null, int chunk = 256 * 1024) => new(_http, _drive.BaseUrl, tokens ?? new StaticDriveToken("test-token"), Fast, chunk);

    private static byte[] Bytes(int n, int seed = 1)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    [Fact]
    public async Task List_FolderOf2500_ComesInPagesOf1000_WithEveryItemOnce()
    {
        var folder = (await _drive.AddFilesAsync(new { name = "big", mimeType = DriveMime.Folder }))[0]!["id"]!.GetValue<string>();
        await _drive.BulkAsync(folder, 2500);
        var client = Client();
        var seen = new HashSet<string>();
        var pages = 0;
        string? token = null;
        do
        {
            var page = await client.ListAsync(new DriveListRequest(folder, PageToken: token), CancellationToken.None);
            Assert.True(page.Items.Count <= 1000);
            foreach (var i in page.Items)
            {
                Assert.True(seen.Add(i.Id));
            }
            token = page.NextPageToken;
            pages++;
        }
        while (token is not null);
        Assert.Equal(3, pages);
        Assert.Equal(2500, seen.Count);
    }

    [Fact]
    public async Task List_SearchAndSort_PutFoldersFirstAndFilterByName_IncludingQuotes()
    {
        await _drive.AddFilesAsync(
            new { name = "b data.csv", contentBase64 = Convert.ToBase64String(Bytes(30)) },
            new { name = "a Data", mimeType = DriveMime.Folder },
            new { name = "it's data.zip", contentBase64 = Convert.ToBase64String(Bytes(10)) },
            new { name = "notes.txt", contentBase64 = Convert.ToBase64String(Bytes(20)) },
            new { name = "trashed data", trashed = true, contentBase64 = "" });
        var client = Client();
        var found = await client.ListAsync(new DriveListRequest("root", NameContains: "data"), CancellationToken.None);
        Assert.Equal(["a Data", "b data.csv", "it's data.zip"], found.Items.Select(i => i.Name));
        Assert.True(found.Items[0].IsFolder);
        var quoted = await client.ListAsync(new DriveListRequest("root", NameContains: "it's"), CancellationToken.None);
        Assert.Equal("it's data.zip", Assert.Single(quoted.Items).Name);
        var bySize = await client.ListAsync(new DriveListRequest("root", Sort: DriveSort.Size, Descending: true), CancellationToken.None);
        Assert.Equal(["a Data", "b data.csv", "notes.txt", "it's data.zip"], bySize.Items.Select(i => i.Name));
        Assert.Equal(30, bySize.Items[1].Size);
    }

    [Fact]
    public async Task Download_ConnectionDroppedMidFile_ResumesWithRangeAndVerifiesSha256()
    {
        var content = Bytes(3_000_000);
        var id = await _drive.AddFileAsync("weights.bin", content);
        await _drive.FaultAsync(new { on = "media", fileId = id, dropAfterBytes = 1_000_000 });
        var target = Path.Combine(_dir, "weights.bin");
        var reported = new List<long>();
        var result = await Client().DownloadAsync(id, target, new SyncProgress(reported.Add), CancellationToken.None);
        Assert.Equal(content, await File.ReadAllBytesAsync(target));
        Assert.True(result.Verified);
        Assert.Equal(DriveChecksums.Sha256, result.VerifiedWith);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(content)), result.Sha256Checksum);
        Assert.Null(result.Md5Checksum); // Drive gave a sha256: no md5 pass
        var ranges = (await _drive.RequestsAsync()).Select(r => (string?)r!["range"]).Where(r => r is not null).ToList();
        var resumedAt = long.Parse(Assert.Single(ranges)!["bytes=".Length..].TrimEnd('-'), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(resumedAt, 1, 1_000_000);
        Assert.False(File.Exists(target + ".part"));
        Assert.Equal(content.Length, reported[^1]);
    }

    [Fact]
    public async Task Download_WrongMd5OfAnOldFile_IsAnIntegrityErrorAndLeavesNoFile()
    {
        var id = await _drive.AddFileAsync("model.pt", Bytes(500_000));
        await _drive.AddFilesAsync(); // no-op; keeps the stand-in warm
        // An old file (md5 only, no sha256) whose md5 does not match: upload and download both verify with md5.
        await _drive.FaultAsync(new { on = "upload", wrongMd5 = true, legacy = true });
        var up = Path.Combine(_dir, "up.bin");
        await File.WriteAllBytesAsync(up, Bytes(1000, 3));
        var e = await Assert.ThrowsAsync<DriveException>(() => Client().UploadAsync(up, "root", "up.bin", null, null, CancellationToken.None));
        Assert.Equal(DriveErrorKind.Integrity, e.Kind);
        // The stand-in now reports a wrong md5 for the uploaded file: downloading it must fail the same way.
        var listed = await Client().ListAsync(new DriveListRequest("root", NameContains: "up.bin"), CancellationToken.None);
        var target = Path.Combine(_dir, "down.bin");
        var e2 = await Assert.ThrowsAsync<DriveException>(() => Client().DownloadAsync(listed.Items[0].Id, target, null, CancellationToken.None));
        Assert.Equal(DriveErrorKind.Integrity, e2.Kind);
        Assert.Contains("failed verification", e2.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(target));
        Assert.False(File.Exists(target + ".part"));
        _ = id;
    }

    [Fact]
    public async Task Upload_InChunksWithDropAndLostSession_ResumesFromServerRangeAndVerifies()
    {
        var content = Bytes(5 * 256 * 1024 + 777, 7);
        var path = Path.Combine(_dir, "ckpt.bin");
        await File.WriteAllBytesAsync(path, content);
        // First chunk's connection drops after 300 KiB (the stand-in keeps 256 KiB of it); later, one 404 forces a new session.
        await _drive.FaultAsync(new { on = "upload", dropAfterBytes = 300 * 1024 });
        var client = Client(chunk: 2 * 256 * 1024);
        var result = await client.UploadAsync(path, "root", "ckpt.bin", null, null, CancellationToken.None);
        Assert.True(result.Verified);
        Assert.Equal(content, await _drive.ContentAsync(result.FileId));
        var requests = await _drive.RequestsAsync();
        Assert.Contains(requests, r => (string?)r!["contentRange"] == $"bytes */{content.Length}");
        Assert.Contains(requests, r => ((string?)r!["contentRange"])?.StartsWith("bytes 262144-", StringComparison.Ordinal) == true);

        await _drive.FaultAsync(new { on = "upload", status = 404 });
        var again = await client.UploadAsync(path, "root", "ckpt2.bin", null, null, CancellationToken.None);
        Assert.Equal(content, await _drive.ContentAsync(again.FileId));
        // One session for the first upload; two for the second (the 404 forced a new one).
        Assert.Equal(3, (await _drive.RequestsAsync()).Count(r => (string?)r!["method"] == "POST" && ((string)r!["url"]!).StartsWith("/upload/", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Upload_ReplacingAnExistingFile_KeepsItsIdAndNewContent()
    {
        var id = await _drive.AddFileAsync("nb.ipynb", "{}"u8.ToArray());
        var path = Path.Combine(_dir, "nb.ipynb");
        await File.WriteAllTextAsync(path, "{\"cells\":[]}");
        var result = await Client().UploadAsync(path, "root", "nb.ipynb", id, null, CancellationToken.None);
        Assert.Equal(id, result.FileId);
        Assert.Equal("{\"cells\":[]}", System.Text.Encoding.UTF8.GetString(await _drive.ContentAsync(id)));
    }

    [Fact]
    public async Task RateLimitsAnd5xx_AreRetriedWithBackoff_AndRetryAfterIsHonoured()
    {
        await _drive.AddFileAsync("x", [1]);
        await _drive.FaultAsync(
            new { on = "list", status = 403, reason = "rateLimitExceeded", domain = "usageLimits" },
            new { on = "list", status = 403, reason = "userRateLimitExceeded", domain = "usageLimits" },
            new { on = "list", status = 500 },
            new { on = "list", status = 503, malformed = true },
            new { on = "list", status = 429, retryAfter = 1 });
        var watch = Stopwatch.StartNew();
        var page = await Client().ListAsync(new DriveListRequest("root"), CancellationToken.None);
        Assert.Single(page.Items);
        // Retry-After: 1 means at least a second before the last try (a lower bound only).
        Assert.True(watch.Elapsed >= TimeSpan.FromSeconds(0.95), $"retried after {watch.Elapsed}");
        Assert.Equal(6, (await _drive.RequestsAsync()).Count(r => ((string)r!["url"]!).StartsWith("/drive/v3/files?", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task RateLimited_BeyondTheAttemptBudget_FailsWithAClearMessage()
    {
        await _drive.FaultAsync(new { on = "list", status = 429, times = 50 });
        var e = await Assert.ThrowsAsync<DriveException>(() => Client().ListAsync(new DriveListRequest("root"), CancellationToken.None));
        Assert.Equal(DriveErrorKind.RateLimited, e.Kind);
        Assert.Contains("gave up after 6 tries", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task QuotaErrors_AreNotRetried_AndSayWhatToDo()
    {
        var path = Path.Combine(_dir, "big.bin");
        await File.WriteAllBytesAsync(path, Bytes(1000));
        await _drive.FaultAsync(new { on = "quota" });
        var e = await Assert.ThrowsAsync<DriveException>(() => Client().UploadAsync(path, "root", "big.bin", null, null, CancellationToken.None));
        Assert.Equal(DriveErrorKind.Quota, e.Kind);
        Assert.Contains("storage is full", e.Message, StringComparison.Ordinal);
        Assert.Equal(1, (await _drive.RequestsAsync()).Count(r => (string?)r!["method"] == "PUT"));

        var id = await _drive.AddFileAsync("popular.zip", Bytes(100));
        await _drive.FaultAsync(new { on = "downloadQuota", fileId = id });
        var d = await Assert.ThrowsAsync<DriveException>(() => Client().DownloadAsync(id, Path.Combine(_dir, "p.zip"), null, CancellationToken.None));
        Assert.Equal(DriveErrorKind.Quota, d.Kind);
        Assert.Contains("download quota", d.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unauthorized_RefreshesOnce_ThenAsksToSignInAgain()
    {
        await _drive.TokensAsync("fresh");
        var tokens = new RotatingTokens("stale", "fresh");
        var page = await Client(tokens).ListAsync(new DriveListRequest("root"), CancellationToken.None);
        Assert.Empty(page.Items);
        Assert.Equal(1, tokens.Refreshes);

        var never = new RotatingTokens("stale", "also-stale");
        var e = await Assert.ThrowsAsync<DriveException>(() => Client(never).ListAsync(new DriveListRequest("root"), CancellationToken.None));
        Assert.Equal(DriveErrorKind.Auth, e.Kind);
        Assert.Contains("Sign in to Google Drive again", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("stale", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MalformedSuccessBody_IsABadResponse_NotACrash()
    {
        await _drive.FaultAsync(new { on = "list", status = 200, malformed = true });
        var e = await Assert.ThrowsAsync<DriveException>(() => Client().ListAsync(new DriveListRequest("root"), CancellationToken.None));
        Assert.Equal(DriveErrorKind.BadResponse, e.Kind);
    }

    [Theory]
    [InlineData("../etc")]
    [InlineData("a/b")]
    [InlineData("")]
    [InlineData("x' or name contains '")]
    public async Task HostileIds_AreRefusedBeforeAnyRequest(string id)
    {
        var e = await Assert.ThrowsAsync<DriveException>(() => Client().GetAsync(id, CancellationToken.None));
        Assert.Equal(DriveErrorKind.InvalidInput, e.Kind);
        Assert.Empty(await _drive.RequestsAsync());
    }

    [Fact]
    public async Task Export_GoogleDoc_WritesTheFormat_AndTheTenMegabyteCapIsAClearQuotaError()
    {
        var docs = await _drive.AddFilesAsync(
            new { name = "Report", mimeType = "application/vnd.google-apps.document", exportText = "Hello from Docs" },
            new { name = "Huge sheet", mimeType = "application/vnd.google-apps.spreadsheet", exportSize = 11 * 1024 * 1024 });
        var client = Client();
        var target = Path.Combine(_dir, "Report.txt");
        var t = await client.ExportAsync(docs[0]!["id"]!.GetValue<string>(), "text/plain", target, CancellationToken.None);
        Assert.Equal("Hello from Docs", await File.ReadAllTextAsync(target));
        Assert.False(t.Verified);
        var e = await Assert.ThrowsAsync<DriveException>(() => client.ExportAsync(docs[1]!["id"]!.GetValue<string>(), "text/csv", Path.Combine(_dir, "x.csv"), CancellationToken.None));
        Assert.Equal(DriveErrorKind.Quota, e.Kind);
        Assert.Contains("10 MB export limit", e.Message, StringComparison.Ordinal);
        var d = await Assert.ThrowsAsync<DriveException>(() => client.DownloadAsync(docs[0]!["id"]!.GetValue<string>(), Path.Combine(_dir, "r"), null, CancellationToken.None));
        Assert.Contains("export it instead", d.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cancel_StopsADownloadAndKeepsThePartForResume()
    {
        var id = await _drive.AddFileAsync("huge.bin", Bytes(8_000_000));
        var target = Path.Combine(_dir, "huge.bin");
        using var cts = new CancellationTokenSource();
        var progress = new SyncProgress(b =>
        {
            if (b > 1_000_000)
            {
                cts.Cancel();
            }
        });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Client().DownloadAsync(id, target, progress, cts.Token));
        Assert.True(File.Exists(target + ".part"));
        var result = await Client().DownloadAsync(id, target, null, CancellationToken.None);
        Assert.True(result.Verified);
        Assert.Contains(await _drive.RequestsAsync(), r => ((string?)r!["range"])?.StartsWith("bytes=", StringComparison.Ordinal) == true);
    }
}

/// <summary>IProgress that reports on the caller's thread (Progress&lt;T&gt; posts to the pool).</summary>
internal sealed class SyncProgress(Action<long> report) : IProgress<long>
{
    public void Report(long value) => report(value);
}
