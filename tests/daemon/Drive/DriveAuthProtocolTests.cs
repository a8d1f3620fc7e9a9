using System.Net;
using System.Text;
using System.Text.Json;
using Colab.Daemon.Tests.Infrastructure;

namespace Colab.Daemon.Tests.Drive;

/// <summary>Sign-in, the account's roots, refresh and sign-out over JSON-RPC with the built daemon.</summary>
public sealed class DriveAuthProtocolTests
{
    private static string J(object o) => JsonSerializer.Serialize(o, DriveTestJson.Options);

    [Fact]
    public async Task SignInUseAccountRefreshSignOut_OverJsonRpc_NoTokenEverReachesTheLog()
    {
        await using var drive = await DriveStandIn.StartAsync();
        using var http = new HttpClient();
        using var browser = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        await drive.AddFileAsync("notes.ipynb", "{}"u8.ToArray());
        using (var r = await http.PostAsync(drive.BaseUrl + "__control/drives", new StringContent("""[{"id":"0ATeam","name":"Team"}]""", Encoding.UTF8, "application/json")))
        {
            r.EnsureSuccessStatusCode();
        }
        var oauth = new
        {
            clientId = DriveOAuthTests.ClientId,
            clientSecret = DriveOAuthTests.ClientSecret,
            authorizeUrl = drive.BaseUrl + "o/oauth2/v2/auth",
            tokenUrl = drive.BaseUrl + "token",
            revokeUrl = drive.BaseUrl + "revoke",
        };
        await using var daemon = DaemonProcess.Start();
        await daemon.InitializeAsync();

        var noClient = await daemon.RequestAsync("colab/drive/signInBegin", J(new { oauth = new { clientId = "" } }));
        Assert.Equal(-32602, TestClient.ErrorCode(noClient));
        Assert.Contains("colab.drive.oauth.clientId", noClient.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);

        var begin = (await daemon.RequestAsync("colab/drive/signInBegin", J(new { oauth, access = "readWrite", timeoutSeconds = 120 }))).GetProperty("result");
        var flowId = begin.GetProperty("flowId").GetString()!;
        var finishing = daemon.RequestAsync("colab/drive/signInFinish", J(new { flowId }));
        var badPaste = await daemon.RequestAsync("colab/drive/signInPaste", J(new { flowId, text = "has spaces in it" }));
        Assert.Equal(-32602, TestClient.ErrorCode(badPaste));
        var (_, status, _) = await DriveOAuthTests.BrowseAsync(browser, begin.GetProperty("authorizeUrl").GetString()!);
        Assert.Equal(HttpStatusCode.OK, status);
        var tokens = (await finishing.WaitAsync(TestTimeouts.Default)).GetProperty("result");
        var access = tokens.GetProperty("accessToken").GetString()!;
        var refresh = tokens.GetProperty("refreshToken").GetString()!;

        var stale = await daemon.RequestAsync("colab/drive/signInFinish", J(new { flowId }));
        Assert.Equal(-32061, TestClient.ErrorCode(stale));

        var use = (await daemon.RequestAsync("colab/drive/useAccount", J(new { tokens, oauth, baseUrl = drive.BaseUrl }))).GetProperty("result");
        Assert.Equal("api", use.GetProperty("kind").GetString());
        var mine = (await daemon.RequestAsync("colab/drive/list", J(new { folderId = "root" }))).GetProperty("result");
        Assert.Equal("notes.ipynb", mine.GetProperty("items")[0].GetProperty("name").GetString());
        var drives = (await daemon.RequestAsync("colab/drive/list", J(new { folderId = ":sharedDrives" }))).GetProperty("result");
        Assert.Equal("0ATeam", drives.GetProperty("items")[0].GetProperty("driveId").GetString());
        var inTeam = await daemon.RequestAsync("colab/drive/list", J(new { folderId = "0ATeam", driveId = "0ATeam" }));
        Assert.Equal(0, inTeam.GetProperty("result").GetProperty("items").GetArrayLength());

        // Google expires the access token: the next call refreshes it and tells the client.
        using (var r = await http.PostAsync(drive.BaseUrl + "__control/oauth/expire", new StringContent("")))
        {
            r.EnsureSuccessStatusCode();
        }
        var mark = daemon.Client.MessageCount;
        Assert.Equal(1, (await daemon.RequestAsync("colab/drive/list", J(new { folderId = "root" }))).GetProperty("result").GetProperty("items").GetArrayLength());
        var note = await daemon.Client.WaitForAsync(m => TestClient.IsNotification(m, "colab/drive/tokensRefreshed"), "tokensRefreshed", (int)mark);
        var fresh = note.GetProperty("params");
        Assert.NotEqual(access, fresh.GetProperty("accessToken").GetString());
        Assert.Equal(refresh, fresh.GetProperty("refreshToken").GetString());

        var signOut = (await daemon.RequestAsync("colab/drive/signOut", J(new { token = refresh, revokeUrl = oauth.revokeUrl }))).GetProperty("result");
        Assert.True(signOut.GetProperty("revoked").GetBoolean());
        var after = await daemon.RequestAsync("colab/drive/list", J(new { folderId = "root" }));
        Assert.Equal(-32060, TestClient.ErrorCode(after));
        var again = (await daemon.RequestAsync("colab/drive/signOut", J(new { token = refresh, revokeUrl = oauth.revokeUrl }))).GetProperty("result");
        Assert.False(again.GetProperty("revoked").GetBoolean());

        var malformed = await daemon.RequestAsync("colab/drive/useAccount", J(new { tokens = new { accessToken = "a\nb", expiresAt = "2030-01-01T00:00:00Z" }, oauth }));
        Assert.Equal(-32602, TestClient.ErrorCode(malformed));

        Assert.Equal(0, await daemon.ShutdownAndExitAsync());
        foreach (var secret in new[] { access, refresh, fresh.GetProperty("accessToken").GetString()!, DriveOAuthTests.ClientSecret })
        {
            Assert.DoesNotContain(secret, daemon.Stderr, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task SignInFinish_IsCancellable_AndTheListenerClosesWithIt()
    {
        await using var drive = await DriveStandIn.StartAsync();
        await using var daemon = DaemonProcess.Start();
        await daemon.InitializeAsync();
        var begin = (await daemon.RequestAsync("colab/drive/signInBegin", J(new { oauth = new { clientId = DriveOAuthTests.ClientId, authorizeUrl = drive.BaseUrl + "o/oauth2/v2/auth", tokenUrl = drive.BaseUrl + "token" } }))).GetProperty("result");
        var loopback = new Uri(begin.GetProperty("loopbackUri").GetString()!);
        var id = daemon.NextId();
        var finishing = daemon.Client.RequestAsync(id, "colab/drive/signInFinish", J(new { flowId = begin.GetProperty("flowId").GetString() }));
        await Task.Delay(200);
        await daemon.Client.NotifyAsync("$/cancelRequest", J(new { id }));
        var answer = await finishing.WaitAsync(TestTimeouts.Default);
        Assert.True(answer.TryGetProperty("error", out _));
        var deadline = DateTime.UtcNow + TestTimeouts.Default;
        while (true)
        {
            using var probe = new System.Net.Sockets.TcpClient();
            try
            {
                await probe.ConnectAsync(IPAddress.Loopback, loopback.Port);
            }
            catch (System.Net.Sockets.SocketException)
            {
                break;
            }
            Assert.True(DateTime.UtcNow < deadline, "the listener stayed open after the cancel");
            await Task.Delay(50);
        }
        Assert.Equal(0, await daemon.ShutdownAndExitAsync());
    }
}
