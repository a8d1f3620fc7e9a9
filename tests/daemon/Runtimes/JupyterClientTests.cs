using Colab.Daemon.Runtimes;

namespace Colab.Daemon.Tests.Runtimes;

/// <summary>URL validation and the REST client's answers to things that are not a healthy Jupyter server (no real server needed).</summary>
public class JupyterClientTests
{
    private const string Token = "0123456789abcdef0123456789abcdef-stand-in-token";

    [Theory]
    [InlineData("http://127.0.0.1:8888/?token=abc", "http://127.0.0.1:8888/", "abc", false)]
    [InlineData("http://localhost:8888", "http://localhost:8888/", null, false)]
    [InlineData("http://[::1]:8888/", "http://[::1]:8888/", null, false)]
    [InlineData("http://10.0.0.5:8888/lab/tree/x.ipynb?token=t%2Bu", "http://10.0.0.5:8888/", "t+u", true)]
    [InlineData("https://hub.example.org/user/me/lab?token=x", "https://hub.example.org/user/me/", "x", false)]
    [InlineData("https://hub.example.org/user/me", "https://hub.example.org/user/me/", null, false)]
    [InlineData("  http://gpu-box:8888/api/kernels  ", "http://gpu-box:8888/", null, true)]
    public void Urls_are_normalised_and_plain_http_to_another_host_is_flagged(string url, string expectedBase, string? expectedToken, bool insecure)
    {
        var endpoint = JupyterEndpoint.Parse(url, out var token);
        Assert.Equal(expectedBase, endpoint.Display);
        Assert.Equal(expectedToken, token);
        Assert.Equal(insecure, endpoint.InsecureRemote);
    }

    [Theory]
    [InlineData("", "no Jupyter server URL")]
    [InlineData("127.0.0.1:8888", "http:// or https://")]
    [InlineData("not a url", "not an absolute URL")]
    [InlineData("ftp://host/", "http:// or https://")]
    [InlineData("ws://host:8888/", "http:// or https://")]
    [InlineData("file:///etc/passwd", "http:// or https://")]
    [InlineData("http://user:secretpw@host:8888/", "user name or password")]
    public void Bad_urls_are_refused_in_words(string url, string reason)
    {
        var e = Assert.Throws<JupyterException>(() => JupyterEndpoint.Parse(url));
        Assert.Equal(JupyterErrorKind.InvalidUrl, e.Kind);
        Assert.Contains(reason, e.Message);
        Assert.DoesNotContain("secretpw", e.Message);
    }

    [Fact]
    public void Channel_urls_use_ws_or_wss_and_carry_only_the_session_id()
    {
        Assert.Equal("ws://127.0.0.1:8888/api/kernels/k-1/channels?session_id=s-1",
            JupyterEndpoint.Parse("http://127.0.0.1:8888/?token=abc").Channels("k-1", "s-1").ToString());
        Assert.Equal("wss://hub.example.org/user/me/api/kernels/k/channels?session_id=s",
            JupyterEndpoint.Parse("https://hub.example.org/user/me/").Channels("k", "s").ToString());
    }

    [Fact]
    public async Task Nothing_listening_is_no_jupyter_server_at_the_url()
    {
        var port = StandInServer.FreePort();
        using var client = new JupyterClient(JupyterEndpoint.Parse($"http://127.0.0.1:{port}/"), Token);
        var e = await Assert.ThrowsAsync<JupyterException>(() => client.GetStatusAsync());
        Assert.Equal(JupyterErrorKind.Unreachable, e.Kind);
        Assert.Contains($"no Jupyter server at http://127.0.0.1:{port}/", e.Message);
        Assert.Contains("connection refused", e.Message);
        AssertNoToken(e);
    }

    [Fact]
    public async Task An_html_page_is_not_the_jupyter_api()
    {
        using var server = new StandInServer(_ => (200, "text/html; charset=utf-8", "<!DOCTYPE html><html><body>Please log in</body></html>", null));
        using var client = new JupyterClient(JupyterEndpoint.Parse(server.Url), Token);
        var e = await Assert.ThrowsAsync<JupyterException>(() => client.GetStatusAsync());
        Assert.Equal(JupyterErrorKind.NotJupyter, e.Kind);
        Assert.Contains("HTML page", e.Message);
        Assert.Contains(server.Url, e.Message);
        AssertNoToken(e);

        // The token went in the header only.
        var (url, authorization) = Assert.Single(server.Requests);
        Assert.Equal("/api/status", url);
        Assert.Equal($"token {Token}", authorization);
    }

    [Fact]
    public async Task Html_without_an_html_content_type_is_still_recognised()
    {
        using var server = new StandInServer(_ => (403, "text/plain", "\n  <html><h1>403 Forbidden</h1></html>", null));
        using var client = new JupyterClient(JupyterEndpoint.Parse(server.Url), Token);
        var e = await Assert.ThrowsAsync<JupyterException>(() => client.ListKernelsAsync());
        Assert.Equal(JupyterErrorKind.NotJupyter, e.Kind);
        Assert.Contains("HTTP 403", e.Message);
    }

    [Fact]
    public async Task A_redirect_to_a_login_page_is_named_without_its_query()
    {
        using var server = new StandInServer(r => (302, "text/plain", "", $"/login?next={Uri.EscapeDataString(r.RawUrl!)}&token={Token}"));
        using var client = new JupyterClient(JupyterEndpoint.Parse(server.Url), Token);
        var e = await Assert.ThrowsAsync<JupyterException>(() => client.GetStatusAsync());
        Assert.Equal(JupyterErrorKind.NotJupyter, e.Kind);
        Assert.Contains("redirected", e.Message);
        Assert.Contains("/login", e.Message);
        Assert.DoesNotContain("next=", e.Message);
        AssertNoToken(e);
    }

    [Fact]
    public async Task Forbidden_json_is_token_rejected()
    {
        using var server = new StandInServer(_ => (403, "application/json", """{"message": "Forbidden", "reason": null}""", null));
        using var client = new JupyterClient(JupyterEndpoint.Parse(server.Url), Token);
        var e = await Assert.ThrowsAsync<JupyterException>(() => client.GetStatusAsync());
        Assert.Equal(JupyterErrorKind.TokenRejected, e.Kind);
        Assert.StartsWith("the token was rejected", e.Message);
        Assert.Equal(403, e.StatusCode);
        AssertNoToken(e);
    }

    [Theory]
    [InlineData("api", """{"name": "some other api"}""", "version")]
    [InlineData("api", """[1, 2]""", "unexpected shape")]
    [InlineData("api", """{"version": null}""", "version")]
    [InlineData("api/kernels", """[{"name": "python3"}]""", "id")]
    [InlineData("api/kernels", """{"kernels": []}""", "unexpected shape")]
    [InlineData("api/status", """not json at all""", "unexpected shape")]
    public async Task Json_of_the_wrong_shape_is_refused_at_the_boundary(string path, string body, string mentions)
    {
        using var server = new StandInServer(_ => (200, "application/json", body, null));
        using var client = new JupyterClient(JupyterEndpoint.Parse(server.Url), Token);
        Task call = path switch
        {
            "api" => client.GetVersionAsync(),
            "api/kernels" => client.ListKernelsAsync(),
            _ => client.GetStatusAsync(),
        };
        var e = await Assert.ThrowsAsync<JupyterException>(() => call);
        Assert.Equal(JupyterErrorKind.BadResponse, e.Kind);
        Assert.Contains("did not answer like a Jupyter server", e.Message);
        Assert.Contains(mentions, e.Message);
    }

    [Fact]
    public async Task Server_errors_carry_jupyters_message_with_the_token_masked()
    {
        using var server = new StandInServer(_ => (500, "application/json", $$"""{"message": "kernel failed to start with token {{Token}}"}""", null));
        using var client = new JupyterClient(JupyterEndpoint.Parse(server.Url), Token);
        var e = await Assert.ThrowsAsync<JupyterException>(() => client.StartKernelAsync());
        Assert.Equal(JupyterErrorKind.HttpError, e.Kind);
        Assert.Contains("HTTP 500", e.Message);
        Assert.Contains("kernel failed to start", e.Message);
        AssertNoToken(e);
    }

    [Fact]
    public async Task A_json_404_for_a_kernel_is_not_found_and_an_html_404_is_not_jupyter()
    {
        using (var server = new StandInServer(_ => (404, "application/json", """{"message": "Kernel does not exist: k"}""", null)))
        using (var client = new JupyterClient(JupyterEndpoint.Parse(server.Url), Token))
        {
            var e = await Assert.ThrowsAsync<JupyterException>(() => client.GetKernelAsync("k"));
            Assert.Equal(JupyterErrorKind.NotFound, e.Kind);
            Assert.Contains("no kernel k", e.Message);
        }
        using (var server = new StandInServer(_ => (404, "text/plain", "nothing here", null)))
        using (var client = new JupyterClient(JupyterEndpoint.Parse(server.Url), Token))
        {
            var e = await Assert.ThrowsAsync<JupyterException>(() => client.GetStatusAsync());
            Assert.Equal(JupyterErrorKind.NotJupyter, e.Kind);
            Assert.Contains("has no Jupyter API", e.Message);
        }
    }

    private static void AssertNoToken(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            Assert.DoesNotContain(Token, x.Message);
            Assert.DoesNotContain(Token, x.ToString());
        }
    }
}
