using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Colab.Daemon.Drive;
using Colab.Daemon.Tests.Infrastructure;

namespace Colab.Daemon.Tests.Drive;

/// <summary>
/// Google sign-in (OAuth for installed apps, PKCE, loopback redirect) against the OAuth
/// stand-in over real HTTP; the "browser" is an HttpClient that follows the authorize page's
/// redirect to the daemon's loopback listener.
/// </summary>
public sealed class DriveOAuthTests : IAsyncLifetime
{
    internal const string ClientId = "test-client.apps.googleusercontent.com";
    internal const string ClientSecret = "test-installed-app-secret";
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(60) };
    private readonly HttpClient _browser = new(new HttpClientHandler { AllowAutoRedirect = false }) { Timeout = TimeSpan.FromSeconds(60) };
    private DriveStandIn _drive = null!;

    public async Task InitializeAsync() => _drive = await DriveStandIn.StartAsync();

    public async Task DisposeAsync()
    {
        await _drive.DisposeAsync();
        _http.Dispose();
        _browser.Dispose();
    }

    private OAuthClient Client(string? secret = ClientSecret) => new(_http, OAuthClientConfig.Create(ClientId, secret, _drive.BaseUrl + "o/oauth2/v2/auth", _drive.BaseUrl + "token", _drive.BaseUrl + "revoke"));

    private async Task ControlAsync(string path, string json = "{}")
    {
        using var r = await _http.PostAsync(_drive.BaseUrl + path, new StringContent(json, Encoding.UTF8, "application/json"));
        r.EnsureSuccessStatusCode();
    }

    private async Task<JsonNode> OAuthStateAsync() => JsonNode.Parse(await _http.GetStringAsync(_drive.BaseUrl + "__control/oauth/state"))!;

    /// <summary>What a browser does: open the consent page, follow its redirect to the loopback listener.</summary>
    internal static async Task<(Uri Redirect, HttpStatusCode Status, string Page)> BrowseAsync(HttpClient browser, string authorizeUrl)
    {
        using var consent = await browser.GetAsync(authorizeUrl);
        Assert.Equal(HttpStatusCode.Found, consent.StatusCode);
        var to = consent.Headers.Location!;
        using var landing = await browser.GetAsync(to);
        return (to, landing.StatusCode, await landing.Content.ReadAsStringAsync());
    }

    private static async Task AssertClosedAsync(string loopbackUri)
    {
        var port = new Uri(loopbackUri).Port;
        var deadline = DateTime.UtcNow + TestTimeouts.Default;
        while (true)
        {
            using var probe = new TcpClient();
            try
            {
                await probe.ConnectAsync(IPAddress.Loopback, port);
            }
            catch (SocketException)
            {
                return;
            }
            Assert.True(DateTime.UtcNow < deadline, $"the loopback listener on port {port} is still open");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task SignIn_HappyPath_ExchangesTheCodeWithPkce_ThenTheListenerIsClosed()
    {
        await using var flow = OAuthSignIn.Start(Client(), DriveAccess.ReadWrite, TimeSpan.FromMinutes(2));
        Assert.StartsWith("http://127.0.0.1:", flow.LoopbackUri, StringComparison.Ordinal);
        var url = new Uri(flow.AuthorizeUrl);
        var q = System.Web.HttpUtility.ParseQueryString(url.Query);
        Assert.Equal("S256", q["code_challenge_method"]);
        Assert.Equal(43, q["code_challenge"]!.Length);
        Assert.Equal(flow.LoopbackUri, q["redirect_uri"]);
        Assert.Equal("https://www.googleapis.com/auth/drive.readonly https://www.googleapis.com/auth/drive.file", q["scope"]);
        Assert.Equal(flow.State, q["state"]);

        var (redirect, status, page) = await BrowseAsync(_browser, flow.AuthorizeUrl);
        Assert.StartsWith(flow.LoopbackUri + "?", redirect.AbsoluteUri, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("You can close this tab", page, StringComparison.Ordinal);

        var tokens = await flow.CompleteAsync(CancellationToken.None).WaitAsync(TestTimeouts.Default);
        Assert.StartsWith("ya29.", tokens.AccessToken, StringComparison.Ordinal);
        Assert.NotNull(tokens.RefreshToken);
        Assert.Contains("drive.file", tokens.Scope, StringComparison.Ordinal);
        Assert.True(tokens.ExpiresAt > DateTimeOffset.UtcNow.AddMinutes(50));
        Assert.DoesNotContain(tokens.AccessToken, tokens.ToString(), StringComparison.Ordinal);
        var log = (await OAuthStateAsync())["log"]!.AsArray();
        Assert.Contains(log, e => e!["endpoint"]!.GetValue<string>() == "token" && e["hasVerifier"]!.GetValue<bool>());
        await AssertClosedAsync(flow.LoopbackUri);

        // The account's token reads Drive.
        var api = new DriveApiBackend(_http, _drive.BaseUrl, new OAuthTokenSource(Client(), tokens));
        await _drive.AddFileAsync("hello.txt", "hi"u8.ToArray());
        var listed = await api.ListAsync(new DriveListRequest("root"), CancellationToken.None);
        Assert.Contains(listed.Items, i => i.Name == "hello.txt");
    }

    [Theory]
    [InlineData(DriveAccess.Read, "https://www.googleapis.com/auth/drive.readonly")]
    [InlineData(DriveAccess.Full, "https://www.googleapis.com/auth/drive")]
    public async Task SignIn_AsksOnlyForTheScopesTheAccessSettingNames(DriveAccess access, string scope)
    {
        await using var flow = OAuthSignIn.Start(Client(), access, TimeSpan.FromMinutes(1));
        Assert.Equal(scope, System.Web.HttpUtility.ParseQueryString(new Uri(flow.AuthorizeUrl).Query)["scope"]);
    }

    [Fact]
    public async Task SignIn_WithAWrongState_IsRefused_NothingIsExchanged_AndTheListenerCloses()
    {
        await using var flow = OAuthSignIn.Start(Client(), DriveAccess.ReadWrite, TimeSpan.FromMinutes(2));
        using var r = await _browser.GetAsync(flow.LoopbackUri + "?code=4/stolen&state=not-the-state");
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        var e = await Assert.ThrowsAsync<DriveException>(() => flow.CompleteAsync(CancellationToken.None).WaitAsync(TestTimeouts.Default));
        Assert.Equal(DriveErrorKind.Auth, e.Kind);
        Assert.Contains("state mismatch", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("stolen", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain((await OAuthStateAsync())["log"]!.AsArray(), x => x!["endpoint"]!.GetValue<string>() == "token");
        await AssertClosedAsync(flow.LoopbackUri);
    }

    [Fact]
    public async Task SignIn_WhenConsentIsDeclined_SaysSo_AndStoresNothing()
    {
        await ControlAsync("__control/oauth", """{"consent":"deny"}""");
        await using var flow = OAuthSignIn.Start(Client(), DriveAccess.ReadWrite, TimeSpan.FromMinutes(2));
        var (redirect, status, page) = await BrowseAsync(_browser, flow.AuthorizeUrl);
        Assert.Contains("error=access_denied", redirect.Query, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("declined", page, StringComparison.Ordinal);
        var e = await Assert.ThrowsAsync<DriveException>(() => flow.CompleteAsync(CancellationToken.None).WaitAsync(TestTimeouts.Default));
        Assert.Contains("declined", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, (await OAuthStateAsync())["refreshTokens"]!.GetValue<int>());
    }

    [Fact]
    public async Task SignIn_WithACodeGoogleNeverIssued_FailsWithAClearMessage()
    {
        await using var flow = OAuthSignIn.Start(Client(), DriveAccess.ReadWrite, TimeSpan.FromMinutes(2));
        using var r = await _browser.GetAsync($"{flow.LoopbackUri}?code=4%2Fforged-code&state={Uri.EscapeDataString(flow.State)}");
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var e = await Assert.ThrowsAsync<DriveException>(() => flow.CompleteAsync(CancellationToken.None).WaitAsync(TestTimeouts.Default));
        Assert.Equal(DriveErrorKind.Auth, e.Kind);
        Assert.Contains("rejected the sign-in code", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("forged", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SignIn_WithAWrongClientSecret_NamesTheSettingsToCheck()
    {
        await using var flow = OAuthSignIn.Start(Client("wrong-secret"), DriveAccess.ReadWrite, TimeSpan.FromMinutes(2));
        await BrowseAsync(_browser, flow.AuthorizeUrl);
        var e = await Assert.ThrowsAsync<DriveException>(() => flow.CompleteAsync(CancellationToken.None).WaitAsync(TestTimeouts.Default));
        Assert.Contains("colab.drive.oauth.clientSecret", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-secret", e.Message, StringComparison.Ordinal);
    }

    private static async Task<string> RawAsync(string loopbackUri, string request)
    {
        var u = new Uri(loopbackUri);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, u.Port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        using var reader = new StreamReader(stream, Encoding.ASCII);
        return (await reader.ReadLineAsync().WaitAsync(TestTimeouts.Default)) ?? "";
    }

    [Fact]
    public async Task Listener_AnswersAndIgnoresNoise_IdleConnectionsBlockNothing_ThenTakesTheRealAnswer()
    {
        await using var flow = OAuthSignIn.Start(Client(), DriveAccess.ReadWrite, TimeSpan.FromMinutes(2));
        // A browser's spare connection that never sends a request.
        using var idle = new TcpClient();
        await idle.ConnectAsync(IPAddress.Loopback, new Uri(flow.LoopbackUri).Port);

        Assert.Contains(" 404 ", await RawAsync(flow.LoopbackUri, "GET /favicon.ico HTTP/1.1\r\nHost: x\r\n\r\n"), StringComparison.Ordinal);
        Assert.Contains(" 405 ", await RawAsync(flow.LoopbackUri, $"POST {OAuthSignIn.CallbackPath}?code=a&state={flow.State} HTTP/1.1\r\nHost: x\r\n\r\n"), StringComparison.Ordinal);
        Assert.Contains(" 400 ", await RawAsync(flow.LoopbackUri, "\u0001\u0002 garbage\r\n\r\n"), StringComparison.Ordinal);
        Assert.Contains(" 431 ", await RawAsync(flow.LoopbackUri, "GET /" + new string('a', 9000) + " HTTP/1.1\r\n"), StringComparison.Ordinal);
        Assert.True(flow.IsListening);

        var (_, status, _) = await BrowseAsync(_browser, flow.AuthorizeUrl);
        Assert.Equal(HttpStatusCode.OK, status);
        var tokens = await flow.CompleteAsync(CancellationToken.None).WaitAsync(TestTimeouts.Default);
        Assert.NotNull(tokens.RefreshToken);
    }

    [Theory]
    [InlineData("code=a&code=b&state={state}", "twice")]
    [InlineData("code=a&state={state}&state={state}", "twice")]
    [InlineData("state={state}", "no usable code")]
    [InlineData("code=%3Cscript%3E&state={state}", "no usable code")]
    [InlineData("code=a", "state mismatch")]
    [InlineData("error=server_error%3Cb%3E&state={state}", "Google refused the sign-in: server_error?b?")]
    public async Task Listener_HostileRedirectQueries_EndTheSignInWithoutAnExchange(string query, string expected)
    {
        await using var flow = OAuthSignIn.Start(Client(), DriveAccess.ReadWrite, TimeSpan.FromMinutes(2));
        using var r = await _browser.GetAsync($"{flow.LoopbackUri}?{query.Replace("{state}", Uri.EscapeDataString(flow.State), StringComparison.Ordinal)}");
        var page = await r.Content.ReadAsStringAsync();
        Assert.DoesNotContain("<script", page, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<b>", page, StringComparison.Ordinal);
        var e = await Assert.ThrowsAsync<DriveException>(() => flow.CompleteAsync(CancellationToken.None).WaitAsync(TestTimeouts.Default));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain((await OAuthStateAsync())["log"]!.AsArray(), x => x!["endpoint"]!.GetValue<string>() == "token");
        await AssertClosedAsync(flow.LoopbackUri);
    }

    [Fact]
    public async Task Listener_TimesOut_WithAMessage_AndClosesThePort()
    {
        await using var flow = OAuthSignIn.Start(Client(), DriveAccess.ReadWrite, TimeSpan.FromSeconds(1));
        var e = await Assert.ThrowsAsync<DriveException>(() => flow.CompleteAsync(CancellationToken.None).WaitAsync(TestTimeouts.Default));
        Assert.Contains("timed out", e.Message, StringComparison.Ordinal);
        await AssertClosedAsync(flow.LoopbackUri);
    }

    [Fact]
    public async Task Paste_TheRedirectAddressOrTheBareCode_CompletesTheSignIn_AndAWrongStateDoesNot()
    {
        // The loopback redirect cannot arrive (e.g. a remote workspace without forwarding): read the code off the address bar.
        await using (var flow = OAuthSignIn.Start(Client(), DriveAccess.ReadWrite, TimeSpan.FromMinutes(2)))
        {
            using var consent = await _browser.GetAsync(flow.AuthorizeUrl);
            Assert.Throws<DriveException>(() => flow.Paste("not a code <at all>"));
            flow.Paste(consent.Headers.Location!.AbsoluteUri);
            Assert.NotNull((await flow.CompleteAsync(CancellationToken.None).WaitAsync(TestTimeouts.Default)).RefreshToken);
        }
        await using (var flow = OAuthSignIn.Start(Client(), DriveAccess.ReadWrite, TimeSpan.FromMinutes(2)))
        {
            using var consent = await _browser.GetAsync(flow.AuthorizeUrl);
            var code = System.Web.HttpUtility.ParseQueryString(consent.Headers.Location!.Query)["code"]!;
            flow.Paste("  " + code + "\n");
            Assert.NotNull((await flow.CompleteAsync(CancellationToken.None).WaitAsync(TestTimeouts.Default)).AccessToken);
        }
        await using (var flow = OAuthSignIn.Start(Client(), DriveAccess.ReadWrite, TimeSpan.FromMinutes(2)))
        {
            flow.Paste($"http://127.0.0.1:1/oauth2callback?code=4/x&state=other");
            var e = await Assert.ThrowsAsync<DriveException>(() => flow.CompleteAsync(CancellationToken.None).WaitAsync(TestTimeouts.Default));
            Assert.Contains("state mismatch", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ForwardedRedirect_IsUsedForTheConsentAndTheExchange_AndHostileOnesAreRefused()
    {
        await using var flow = OAuthSignIn.Start(Client(), DriveAccess.ReadWrite, TimeSpan.FromMinutes(2));
        foreach (var bad in new[] { "javascript:alert(1)//oauth2callback", "https://user:pw@host/oauth2callback", "https://host/oauth2callback#x", "https://host/oauth2callback?x=1", "https://host/elsewhere", "not a url" })
        {
            Assert.Equal(DriveErrorKind.InvalidInput, Assert.Throws<DriveException>(() => flow.UseRedirect(bad)).Kind);
        }
        // Remote-SSH forwards the port to another local one: the browser lands there, the listener gets the request.
        var forwarded = flow.LoopbackUri.Replace("127.0.0.1", "localhost", StringComparison.Ordinal);
        flow.UseRedirect(forwarded);
        Assert.Equal(forwarded, System.Web.HttpUtility.ParseQueryString(new Uri(flow.AuthorizeUrl).Query)["redirect_uri"]);
        var (redirect, status, _) = await BrowseAsync(_browser, flow.AuthorizeUrl);
        Assert.Equal("localhost", redirect.Host);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.NotNull((await flow.CompleteAsync(CancellationToken.None).WaitAsync(TestTimeouts.Default)).RefreshToken);
    }

    private async Task<OAuthTokens> SignInAsync()
    {
        await using var flow = OAuthSignIn.Start(Client(), DriveAccess.ReadWrite, TimeSpan.FromMinutes(2));
        await BrowseAsync(_browser, flow.AuthorizeUrl);
        return await flow.CompleteAsync(CancellationToken.None).WaitAsync(TestTimeouts.Default);
    }

    [Fact]
    public async Task Refresh_AnExpiredToken_IsRefreshedBeforeUse_AndA401IsHealedByARefresh()
    {
        var tokens = await SignInAsync();
        await _drive.AddFileAsync("a.txt", "a"u8.ToArray());
        var refreshed = new List<OAuthTokens>();
        var source = new OAuthTokenSource(Client(), tokens with { ExpiresAt = DateTimeOffset.UtcNow.AddMinutes(-1) });
        source.Refreshed += refreshed.Add;
        var api = new DriveApiBackend(_http, _drive.BaseUrl, source);
        Assert.Single((await api.ListAsync(new DriveListRequest("root"), CancellationToken.None)).Items);
        Assert.Single(refreshed);
        Assert.NotEqual(tokens.AccessToken, refreshed[0].AccessToken);
        Assert.Equal(tokens.RefreshToken, refreshed[0].RefreshToken);

        // Google expires the access token early: Drive answers 401, one refresh heals it.
        await ControlAsync("__control/oauth/expire");
        Assert.Single((await api.ListAsync(new DriveListRequest("root"), CancellationToken.None)).Items);
        Assert.Equal(2, refreshed.Count);
    }

    [Fact]
    public async Task Revoke_EndsTheAccount_RefreshThenAsksToSignInAgain_AndASecondRevokeSaysAlreadyRevoked()
    {
        var tokens = await SignInAsync();
        var client = Client();
        Assert.True(await client.RevokeAsync(tokens.RefreshToken!, CancellationToken.None));
        var e = await Assert.ThrowsAsync<DriveException>(() => client.RefreshAsync(tokens.RefreshToken!, CancellationToken.None));
        Assert.Contains("Sign in to Google Drive again", e.Message, StringComparison.Ordinal);
        var api = new DriveApiBackend(_http, _drive.BaseUrl, new OAuthTokenSource(client, tokens));
        var denied = await Assert.ThrowsAsync<DriveException>(() => api.ListAsync(new DriveListRequest("root"), CancellationToken.None));
        Assert.Equal(DriveErrorKind.Auth, denied.Kind);
        Assert.False(await client.RevokeAsync(tokens.RefreshToken!, CancellationToken.None));
    }

    [Fact]
    public void Config_WithoutAClientId_SaysWhatToConfigure_AndRefusesPlainHttpOffLoopback()
    {
        var e = Assert.Throws<DriveException>(() => OAuthClientConfig.Create("", null, null, null, null));
        Assert.Contains("colab.drive.oauth.clientId", e.Message, StringComparison.Ordinal);
        Assert.Throws<DriveException>(() => OAuthClientConfig.Create("id", null, "http://evil.example/auth", null, null));
        Assert.Throws<DriveException>(() => OAuthClientConfig.Create("id with space", null, null, null, null));
        var google = OAuthClientConfig.Create("id", "s3cr3t", null, null, null);
        Assert.Equal(OAuthClientConfig.GoogleToken, google.TokenEndpoint.AbsoluteUri);
        Assert.DoesNotContain("s3cr3t", google.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(200, "not json", "not the JSON")]
    [InlineData(200, "{\"expires_in\":3600}", "without a usable access token")]
    [InlineData(200, "{\"access_token\":\"a\\u0000b\"}", "without a usable access token")]
    [InlineData(200, "{\"access_token\":\"abc\",\"token_type\":\"MAC\"}", "other than Bearer")]
    [InlineData(500, "<html>oops</html>", "HTTP 500")]
    [InlineData(400, "{\"error\":\"invalid_request\",\"error_description\":\"<script>x</script>\"}", "invalid_request, ?script?x??script?")]
    public async Task TokenEndpoint_HostileAnswers_BecomeClearErrors(int status, string body, string expected)
    {
        using var server = new HttpListener();
        var port = FreePort();
        server.Prefixes.Add($"http://127.0.0.1:{port}/");
        server.Start();
        var serving = Task.Run(async () =>
        {
            var ctx = await server.GetContextAsync();
            ctx.Response.StatusCode = status;
            var bytes = Encoding.UTF8.GetBytes(body);
            await ctx.Response.OutputStream.WriteAsync(bytes);
            ctx.Response.Close();
        });
        var client = new OAuthClient(_http, OAuthClientConfig.Create(ClientId, null, null, $"http://127.0.0.1:{port}/token", null));
        var e = await Assert.ThrowsAsync<DriveException>(() => client.RefreshAsync("1//refresh", CancellationToken.None));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("1//refresh", e.Message, StringComparison.Ordinal);
        await serving.WaitAsync(TestTimeouts.Default);
    }

    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }
}
