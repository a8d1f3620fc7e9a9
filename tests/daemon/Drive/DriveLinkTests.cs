using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Colab.Daemon.Drive;
using Colab.Daemon.Tests.Infrastructure;

namespace Colab.Daemon.Tests.Drive;

/// <summary>Share links: parsing (every form, hostile links) and the public pages Drive answers.</summary>
public sealed class DriveLinkParseTests
{
    private const string Id = "1AbCdEfGhIjKlMnOp_-x";

    [Theory]
    [InlineData("https://drive.google.com/file/d/" + Id + "/view?usp=sharing", DriveLinkKind.File)]
    [InlineData("https://drive.google.com/file/d/" + Id, DriveLinkKind.File)]
    [InlineData("https://drive.google.com/file/d/" + Id + "/edit", DriveLinkKind.File)]
    [InlineData("https://drive.google.com/file/u/1/d/" + Id + "/view", DriveLinkKind.File)]
    [InlineData("drive.google.com/file/d/" + Id + "/view", DriveLinkKind.File)]
    [InlineData("  https://drive.google.com/open?id=" + Id + "  ", DriveLinkKind.File)]
    [InlineData("https://drive.google.com/uc?id=" + Id + "&export=download", DriveLinkKind.File)]
    [InlineData("https://drive.google.com/uc?export=download&id=" + Id, DriveLinkKind.File)]
    [InlineData("https://docs.google.com/uc?export=download&id=" + Id, DriveLinkKind.File)]
    [InlineData("https://drive.usercontent.google.com/download?id=" + Id + "&export=download&authuser=0", DriveLinkKind.File)]
    [InlineData("https://drive.usercontent.google.com/u/0/uc?id=" + Id + "&export=download", DriveLinkKind.File)]
    [InlineData("https://docs.google.com/document/d/" + Id + "/edit?usp=sharing", DriveLinkKind.Document)]
    [InlineData("https://docs.google.com/spreadsheets/d/" + Id + "/edit#gid=0", DriveLinkKind.Spreadsheet)]
    [InlineData("https://docs.google.com/presentation/d/" + Id + "/edit", DriveLinkKind.Presentation)]
    [InlineData("https://drive.google.com/drive/folders/" + Id + "?usp=sharing", DriveLinkKind.Folder)]
    [InlineData("https://drive.google.com/drive/u/0/folders/" + Id, DriveLinkKind.Folder)]
    [InlineData(Id, DriveLinkKind.File)]
    public void Parse_EveryShareLinkForm_GivesTheIdAndKind(string link, DriveLinkKind kind)
    {
        var parsed = DriveLinks.Parse(link);
        Assert.Equal(Id, parsed.Id);
        Assert.Equal(kind, parsed.Kind);
    }

    [Fact]
    public void Parse_ResourceKey_IsKept_AndAnOddOneRefused()
    {
        Assert.Equal("0-AbC_d", DriveLinks.Parse($"https://drive.google.com/file/d/{Id}/view?usp=sharing&resourcekey=0-AbC_d").ResourceKey);
        Assert.Throws<DriveException>(() => DriveLinks.Parse($"https://drive.google.com/file/d/{Id}/view?resourcekey=%3Cscript%3E"));
    }

    [Theory]
    [InlineData("https://evil.example/file/d/" + Id + "/view")]
    [InlineData("https://drive.google.com.evil.example/file/d/" + Id + "/view")]
    [InlineData("https://user:pw@drive.google.com/file/d/" + Id + "/view")]
    [InlineData("https://@drive.google.com/file/d/" + Id + "/view")]
    [InlineData("https://drive.google.com@evil.example/file/d/" + Id + "/view")]
    [InlineData("https://evil.example\\@drive.google.com/file/d/" + Id)]
    [InlineData("https://drive.google.com:8443/file/d/" + Id + "/view")]
    [InlineData("https://drive.google.com:443@evil.example/file/d/" + Id)]
    [InlineData("http://169.254.169.254/latest/meta-data?id=" + Id)]
    [InlineData("http://127.0.0.1/uc?id=" + Id)]
    [InlineData("ftp://drive.google.com/file/d/" + Id)]
    [InlineData("file:///etc/passwd")]
    [InlineData("javascript:alert(1)")]
    [InlineData("https://drivе.google.com/file/d/" + Id)] // a Cyrillic "е"
    [InlineData("https://drive.google.com/file/d/../../view")]
    [InlineData("https://drive.google.com/file/d/short/view")]
    [InlineData("https://drive.google.com/uc?id=" + Id + "&id=2ZyXwVuTsRqPoNmLk_-y")]
    [InlineData("https://drive.google.com/uc?export=download")]
    [InlineData("https://drive.usercontent.google.com/file/d/" + Id)]
    [InlineData("https://drive.google.com/download?id=" + Id)]
    [InlineData("https://drive.google.com/file/d/" + Id + "/view\nHost: evil")]
    [InlineData("https://drive.google.com/file/d/" + Id + "/view with spaces")]
    [InlineData("not a link")]
    [InlineData("")]
    public void Parse_HostileAndMalformedLinks_AreRefusedWithAMessage(string link)
    {
        var e = Assert.Throws<DriveException>(() => DriveLinks.Parse(link));
        Assert.Equal(DriveErrorKind.InvalidInput, e.Kind);
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Parse_AVeryLongLink_IsRefused()
        => Assert.Throws<DriveException>(() => DriveLinks.Parse("https://drive.google.com/file/d/" + Id + "/view?x=" + new string('a', 5000)));

    private static readonly DriveLinkHosts Hosts = DriveLinkHosts.Google;

    private static string ScanPage(string action = "https://drive.usercontent.google.com/download", string id = Id, string confirm = "t", string method = "get", string extra = "") =>
        "<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title></head><body><div class=\"uc-main\"><div id=\"uc-text\">"
        + "<p class=\"uc-warning-caption\">Google Drive can't scan this file for viruses.</p>"
        + $"<form id=\"download-form\" action=\"{action}\" method=\"{method}\"><input type=\"submit\" id=\"uc-download-link\" class=\"goog-inline-block jfk-button jfk-button-action\" value=\"Download anyway\"/>"
        + $"<input type=\"hidden\" name=\"id\" value=\"{id}\"><input type=\"hidden\" name=\"export\" value=\"download\"><input type=\"hidden\" name=\"confirm\" value=\"{confirm}\"><input type=\"hidden\" name=\"uuid\" value=\"5a2c0b1e-7d7b-4a7e-9a53-2f3f2f3f2f3f\">{extra}</form></div></div></body></html>";

    [Fact]
    public void Page_TodaysVirusScanWarning_GivesTheFormToGet()
    {
        var page = Assert.IsType<DriveLinkPage.Confirm>(DriveLinkPages.Read(ScanPage(), Id, null, Hosts));
        Assert.Equal("https://drive.usercontent.google.com/download", page.Action.AbsoluteUri);
        Assert.Equal(["id", "export", "confirm", "uuid"], page.Fields.Select(f => f.Key));
        Assert.Equal("t", page.Fields.Single(f => f.Key == "confirm").Value);
    }

    [Theory]
    [InlineData("http://169.254.169.254/download")]
    [InlineData("https://evil.example/download")]
    [InlineData("https://drive.usercontent.google.com.evil.example/download")]
    [InlineData("https://user@drive.usercontent.google.com/download")]
    [InlineData("https://drive.usercontent.google.com:8443/download")]
    [InlineData("https://drive.usercontent.google.com/other")]
    [InlineData("https://drive.usercontent.google.com/download?id=other")]
    [InlineData("javascript:alert(1)")]
    public void Page_AFormPointingElsewhere_IsUnsafe(string action)
        => Assert.Equal(DriveErrorKind.Unsafe, Assert.Throws<DriveException>(() => DriveLinkPages.Read(ScanPage(action: action), Id, null, Hosts)).Kind);

    [Fact]
    public void Page_AFormForAnotherFile_IsUnsafe()
        => Assert.Equal(DriveErrorKind.Unsafe, Assert.Throws<DriveException>(() => DriveLinkPages.Read(ScanPage(id: "2ZyXwVuTsRqPoNmLk_-y"), Id, null, Hosts)).Kind);

    [Theory]
    [InlineData("t&quot;&gt;&lt;script&gt;", "get", "")]
    [InlineData("t%0d%0aSet-Cookie", "get", "")]
    [InlineData("", "get", "")]
    [InlineData("t", "post", "")]
    [InlineData("t", "get", "<input type=\"hidden\" name=\"Next-URL\" value=\"x\">")]
    [InlineData("t", "get", "<input type=\"hidden\" name=\"next\" value=\"http://evil.example/\">")]
    public void Page_OddTokensFieldsOrMethods_AreRefused(string confirm, string method, string extra)
        => Assert.Equal(DriveErrorKind.BadResponse, Assert.Throws<DriveException>(() => DriveLinkPages.Read(ScanPage(confirm: confirm, method: method, extra: extra), Id, null, Hosts)).Kind);

    [Fact]
    public void Page_TheOlderWarning_GivesTheConfirmToken_FromTheLinkOrTheCookie()
    {
        var html = $"<html><body><a id=\"uc-download-link\" href=\"/uc?export=download&amp;confirm=Ab_9&amp;id={Id}\">Download anyway</a></body></html>";
        Assert.Equal("Ab_9", Assert.IsType<DriveLinkPage.LegacyConfirm>(DriveLinkPages.Read(html, Id, null, Hosts)).Token);
        Assert.Equal("Zz", Assert.IsType<DriveLinkPage.LegacyConfirm>(DriveLinkPages.Read("<html><title>Google Drive - Virus scan warning</title></html>", Id, "Zz", Hosts)).Token);
        var odd = $"<a href=\"/uc?export=download&amp;confirm=a%22b&amp;id={Id}\">x</a>";
        Assert.Equal(DriveErrorKind.BadResponse, Assert.Throws<DriveException>(() => DriveLinkPages.Read(odd, Id, null, Hosts)).Kind);
    }

    [Fact]
    public void Page_QuotaSignInExportAndUnknownPages_GiveClearErrors()
    {
        var quota = DriveLinkPages.Read("<html><head><title>Google Drive - Quota exceeded</title></head><body><p class=\"uc-error-caption\">Sorry, you can&#39;t view or download this file at this time.</p><p class=\"uc-error-subcaption\">Too many users have viewed or downloaded this file recently.</p></body></html>", Id, null, Hosts);
        var q = Assert.IsType<DriveLinkPage.Error>(quota);
        Assert.Equal(DriveErrorKind.Quota, q.Kind);
        Assert.Contains("Too many users", q.Message, StringComparison.Ordinal);
        Assert.Equal(DriveErrorKind.Auth, Assert.IsType<DriveLinkPage.Error>(DriveLinkPages.Read("<html><title>Sign in - Google Accounts</title></html>", Id, null, Hosts)).Kind);
        Assert.Equal(DriveErrorKind.Quota, Assert.IsType<DriveLinkPage.Error>(DriveLinkPages.Read("<p class=\"uc-error-caption\">This file is too large to be exported.</p>", Id, null, Hosts)).Kind);
        Assert.Equal(DriveErrorKind.BadResponse, Assert.IsType<DriveLinkPage.Error>(DriveLinkPages.Read("<html><body>hello</body></html>", Id, null, Hosts)).Kind);
        var scripted = Assert.IsType<DriveLinkPage.Error>(DriveLinkPages.Read("<p class=\"uc-error-caption\">Nope\u0007<script>x</script> &lt;b&gt;</p>", Id, null, Hosts));
        Assert.DoesNotContain('\u0007', scripted.Message);
        Assert.DoesNotContain("<script>", scripted.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://drive.google.com/uc", true)]
    [InlineData("https://drive.usercontent.google.com/download", true)]
    [InlineData("https://doc-0s-8c-docs.googleusercontent.com/docs/x", true)]
    [InlineData("http://doc-0s-8c-docs.googleusercontent.com/docs/x", false)]
    [InlineData("https://doc.googleusercontent.com:444/x", false)]
    [InlineData("https://googleusercontent.com.evil.example/x", false)]
    [InlineData("https://accounts.google.com/ServiceLogin", false)]
    [InlineData("http://drive.google.com/uc", false)]
    [InlineData("https://evil.example/", false)]
    public void Hosts_OnlyDrivesOwnAddresses_AreFetched(string url, bool allowed) => Assert.Equal(allowed, Hosts.IsAllowed(new Uri(url)));

    [Fact]
    public void Hosts_AStandInOrigin_AllowsOnlyThatOrigin()
    {
        var h = DriveLinkHosts.At("http://127.0.0.1:5000/");
        Assert.True(h.IsAllowed(new Uri("http://127.0.0.1:5000/download?id=x")));
        Assert.False(h.IsAllowed(new Uri("http://127.0.0.1:5001/download")));
        Assert.False(h.IsAllowed(new Uri("https://x.googleusercontent.com/")));
        Assert.Throws<DriveException>(() => DriveLinkHosts.At("http://u:p@127.0.0.1:5000/"));
        Assert.Throws<DriveException>(() => DriveLinkHosts.At("file:///tmp/"));
        Assert.Throws<DriveException>(() => DriveLinkHosts.At("http://127.0.0.1:5000/sub/"));
    }
}

/// <summary>By-link downloads without sign-in against the stand-in's public pages, over real HTTP.</summary>
public sealed class DriveLinkDownloadTests : IAsyncLifetime
{
    private static readonly DriveRetryPolicy Fast = new(MaxAttempts: 5, BaseDelay: TimeSpan.FromMilliseconds(5), MaxDelay: TimeSpan.FromMilliseconds(200));
    private readonly string _dir = Directory.CreateTempSubdirectory("colab-drive-link-").FullName;
    private readonly DriveLinkService _links = new();
    private readonly HttpClient _control = new();
    private DriveStandIn _drive = null!;

    public async Task InitializeAsync() => _drive = await DriveStandIn.StartAsync();

    public async Task DisposeAsync()
    {
        await _drive.DisposeAsync();
        _links.Dispose();
        _control.Dispose();
        Directory.Delete(_dir, true);
    }

    private async Task LinkAsync(object spec)
    {
        using var r = await _control.PostAsync(_drive.BaseUrl + "__control/link", new StringContent(JsonSerializer.Serialize(spec, DriveTestJson.Options), Encoding.UTF8, "application/json"));
        r.EnsureSuccessStatusCode();
    }

    private async Task<string> PublicFileAsync(string name, byte[] content, string? mode = null)
    {
        var id = await _drive.AddFileAsync(name, content);
        await LinkAsync(new { id, @public = true, mode });
        return id;
    }

    private Task<DriveTransfer> GetAsync(string link, string? format = null) => _links.DownloadAsync(link, _dir, null, format, _drive.BaseUrl, null, CancellationToken.None, Fast);

    private static byte[] Bytes(int n)
    {
        var b = new byte[n];
        new Random(n).NextBytes(b);
        return b;
    }

    private string[] Saved() => Directory.GetFileSystemEntries(_dir).Select(Path.GetFileName).ToArray()!;

    [Fact]
    public async Task SmallPublicFile_ByShareLink_ArrivesUnderDrivesName_ThroughTheUsercontentRedirect()
    {
        var content = Bytes(300_000);
        var id = await PublicFileAsync("weights v2.bin", content);
        var t = await GetAsync($"https://drive.google.com/file/d/{id}/view?usp=sharing");
        Assert.Equal(Path.Combine(_dir, "weights v2.bin"), t.LocalPath);
        Assert.Equal(content, await File.ReadAllBytesAsync(t.LocalPath));
        Assert.Equal(Convert.ToHexStringLower(MD5.HashData(content)), t.Md5Checksum);
        Assert.False(t.Verified);
        var urls = (await _drive.RequestsAsync()).Select(r => r!["url"]!.GetValue<string>()).ToList();
        Assert.StartsWith("/uc?export=download&id=", urls[0], StringComparison.Ordinal);
        Assert.StartsWith("/download?id=", urls[1], StringComparison.Ordinal);

        var again = await GetAsync(id);
        Assert.Equal(Path.Combine(_dir, "weights v2 (1).bin"), again.LocalPath);
    }

    [Fact]
    public async Task LargeFile_VirusScanWarning_IsConfirmedWithTheFormsHiddenFields_AndThePageIsNeverSaved()
    {
        await LinkAsync(new { scanThreshold = 1000 });
        var content = Bytes(2_000_000);
        var id = await PublicFileAsync("big.zip", content);
        var t = await GetAsync($"https://drive.usercontent.google.com/download?id={id}&export=download");
        Assert.Equal(content, await File.ReadAllBytesAsync(t.LocalPath));
        Assert.Equal(["big.zip"], Saved());
        var urls = (await _drive.RequestsAsync()).Select(r => r!["url"]!.GetValue<string>()).ToList();
        Assert.Contains(urls, u => u.StartsWith("/download?", StringComparison.Ordinal) && u.Contains("confirm=t", StringComparison.Ordinal) && u.Contains("uuid=", StringComparison.Ordinal));
    }

    [Fact]
    public async Task LargeFile_OlderWarning_IsConfirmedWithTheDownloadWarningCookieAndToken()
    {
        var content = Bytes(500_000);
        var id = await PublicFileAsync("old.tar", content, "legacy");
        var t = await GetAsync($"https://drive.google.com/uc?id={id}&export=download");
        Assert.Equal(content, await File.ReadAllBytesAsync(t.LocalPath));
        Assert.Equal(["old.tar"], Saved());
    }

    [Fact]
    public async Task DroppedConnection_IsResumedWithARange()
    {
        var content = Bytes(3_000_000);
        var id = await PublicFileAsync("ckpt.pt", content);
        await _drive.FaultAsync(new { on = "link", fileId = id, dropAfterBytes = 1_000_000 });
        var t = await GetAsync(id);
        Assert.Equal(content, await File.ReadAllBytesAsync(t.LocalPath));
        Assert.Contains(await _drive.RequestsAsync(), r => r!["range"]?.GetValue<string>() is { } range && range.StartsWith("bytes=", StringComparison.Ordinal) && range != "bytes=0-");
    }

    [Fact]
    public async Task DocsLinks_AreExported_InTheDefaultOrAChosenFormat_AndAWrongFormatIsRefused()
    {
        var doc = (await _drive.AddFilesAsync(new { name = "Notes", mimeType = "application/vnd.google-apps.document", exportText = "hello doc" }))[0]!["id"]!.GetValue<string>();
        await LinkAsync(new { id = doc, @public = true });
        var t = await GetAsync($"https://docs.google.com/document/d/{doc}/edit?usp=sharing");
        Assert.Equal("Notes.docx", Path.GetFileName(t.LocalPath));
        Assert.Equal("hello doc", await File.ReadAllTextAsync(t.LocalPath));
        var pdf = await GetAsync($"https://docs.google.com/document/d/{doc}/edit", "pdf");
        Assert.Equal("Notes.pdf", Path.GetFileName(pdf.LocalPath));
        Assert.Equal(DriveErrorKind.InvalidInput, (await Assert.ThrowsAsync<DriveException>(() => GetAsync($"https://docs.google.com/document/d/{doc}/edit", "exe"))).Kind);
        Assert.Equal(DriveErrorKind.InvalidInput, (await Assert.ThrowsAsync<DriveException>(() => GetAsync(doc, "pdf"))).Kind);
    }

    [Fact]
    public async Task FolderLinks_SayFoldersNeedSignIn_WithoutFetchingAnything()
    {
        var e = await Assert.ThrowsAsync<DriveException>(() => GetAsync("https://drive.google.com/drive/folders/1AbCdEfGhIjKlMnOp_-x?usp=sharing"));
        Assert.Equal(DriveErrorKind.Auth, e.Kind);
        Assert.Contains("folders need sign-in", e.Message, StringComparison.Ordinal);
        Assert.Empty(await _drive.RequestsAsync());
    }

    [Theory]
    [InlineData(null, DriveErrorKind.Auth, "Anyone with the link")] // private: Drive redirects to accounts.google.com
    [InlineData("quota", DriveErrorKind.Quota, "Too many users")]
    [InlineData("redirectElsewhere", DriveErrorKind.Unsafe, "not a Google Drive address")]
    [InlineData("formOtherHost", DriveErrorKind.Unsafe, "not Drive's download address")]
    [InlineData("formOtherId", DriveErrorKind.Unsafe, "different file")]
    [InlineData("formOddToken", DriveErrorKind.BadResponse, "does not trust")]
    [InlineData("alwaysWarn", DriveErrorKind.BadResponse, "again")]
    [InlineData("hugePage", DriveErrorKind.BadResponse, "large web page")]
    [InlineData("unknownPage", DriveErrorKind.BadResponse, "web page instead of the file")]
    public async Task PrivateQuotaAndHostilePages_GiveClearErrors_AndNothingIsSaved(string? mode, DriveErrorKind kind, string phrase)
    {
        var id = await _drive.AddFileAsync("data.bin", Bytes(10_000));
        await LinkAsync(new { id, @public = mode is not null, mode });
        var e = await Assert.ThrowsAsync<DriveException>(() => GetAsync(id));
        Assert.Equal(kind, e.Kind);
        Assert.Contains(phrase, e.Message, StringComparison.Ordinal);
        Assert.Empty(Saved());
    }

    [Fact]
    public async Task MissingFile_IsNotFound_AndAHostileNameStaysInTheFolder()
    {
        Assert.Equal(DriveErrorKind.NotFound, (await Assert.ThrowsAsync<DriveException>(() => GetAsync("ThisIdDoesNotExist123"))).Kind);
        var id = await PublicFileAsync("../../evil\u0007.sh", [1, 2, 3]);
        var t = await GetAsync(id);
        Assert.Equal(_dir, Path.GetDirectoryName(t.LocalPath));
        Assert.Equal([1, 2, 3], await File.ReadAllBytesAsync(t.LocalPath));
    }

    [Fact]
    public async Task GetLink_OverJsonRpc_AndTheCli()
    {
        var content = Bytes(70_000);
        var id = await PublicFileAsync("model.bin", content);
        await using var daemon = DaemonProcess.Start();
        await daemon.InitializeAsync();
        var info = (await daemon.RequestAsync("colab/drive/parseLink", JsonSerializer.Serialize(new { link = "https://docs.google.com/spreadsheets/d/1AbCdEfGhIjKlMnOp_-x/edit" }, DriveTestJson.Options))).GetProperty("result");
        Assert.Equal("spreadsheet", info.GetProperty("kind").GetString());
        Assert.Equal("xlsx", info.GetProperty("formats")[0].GetString());
        var bad = await daemon.RequestAsync("colab/drive/parseLink", JsonSerializer.Serialize(new { link = "https://user@drive.google.com/file/d/1AbCdEfGhIjKlMnOp_-x" }, DriveTestJson.Options));
        Assert.Equal(-32602, TestClient.ErrorCode(bad));
        var got = (await daemon.RequestAsync("colab/drive/getLink", JsonSerializer.Serialize(new { link = $"https://drive.google.com/open?id={id}", folder = _dir, baseUrl = _drive.BaseUrl }, DriveTestJson.Options))).GetProperty("result");
        Assert.Equal(content, await File.ReadAllBytesAsync(got.GetProperty("localPath").GetString()!));
        var folder = await daemon.RequestAsync("colab/drive/getLink", JsonSerializer.Serialize(new { link = "https://drive.google.com/drive/folders/1AbCdEfGhIjKlMnOp_-x", folder = _dir }, DriveTestJson.Options));
        Assert.Equal(-32061, TestClient.ErrorCode(folder));
        var nowhere = await daemon.RequestAsync("colab/drive/getLink", JsonSerializer.Serialize(new { link = id }, DriveTestJson.Options));
        Assert.Equal(-32602, TestClient.ErrorCode(nowhere));
        Assert.Equal(0, await daemon.ShutdownAndExitAsync());

        var dest = Path.Combine(_dir, "cli.bin");
        var (code, stdout, stderr) = await RepoLayout.RunColabAsync(new Dictionary<string, string>(), "drive", "get", "--link-url", _drive.BaseUrl, $"https://drive.google.com/file/d/{id}/view?usp=sharing", dest);
        Assert.True(code == 0, stderr);
        Assert.Contains("size checked", stdout, StringComparison.Ordinal);
        Assert.Equal(content, await File.ReadAllBytesAsync(dest));
        (code, _, stderr) = await RepoLayout.RunColabAsync(new Dictionary<string, string>(), "drive", "get", "https://evil.example/file/d/1AbCdEfGhIjKlMnOp_-x/view", _dir);
        Assert.Equal(1, code);
        Assert.Contains("not a Google Drive", stderr, StringComparison.Ordinal);
    }
}
