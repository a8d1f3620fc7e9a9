using System.Text.Json;
using Colab.Daemon.Protocol;
using Colab.Daemon.Training;

namespace Colab.Daemon.Tests.Training;

/// <summary><see cref="TrainingWebhook"/> against a real local HTTP listener: delivery, templates, and every failure reported without the URL.</summary>
public sealed class WebhookTests
{
    private static readonly TrainProgress Final = new(120, 120, 7, 0.0421, 0.975, 5000, 0);

    private static TrainWebhookPayload Payload(string state = "succeeded")
        => new("job-1", state, 1, TrainingWebhook.Summary("job-1", state, 1, state == "failed" ? "worker exited with exit code 3" : null, Final),
            state == "failed" ? "worker exited with exit code 3" : null, Final);

    [Theory]
    [InlineData("")]
    [InlineData("file:///etc/passwd")]
    [InlineData("javascript:alert(1)")]
    [InlineData("ftp://example.com/x")]
    [InlineData("/relative/path")]
    [InlineData("http://")]
    [InlineData("https://exa mple.com/hook")]
    [InlineData("https://example.com/hook\nX-Injected: 1")]
    [InlineData("https://example.com/\u0000hook")]
    [InlineData("notaurl")]
    public void Validate_RefusesWhatIsNotAnHttpUrl_WithoutRepeatingIt(string url)
    {
        var e = Assert.Throws<TrainingException>(() => TrainingWebhook.Validate(url));
        Assert.StartsWith("Invalid params: the webhook URL", e.Message);
        if (url.Length > 8)
        {
            Assert.DoesNotContain(url, e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Validate_RefusesAnOverlongUrl()
    {
        var e = Assert.Throws<TrainingException>(() => TrainingWebhook.Validate("https://example.com/" + new string('a', 3000)));
        Assert.Contains("2048", e.Message);
    }

    [Theory]
    [InlineData("https://ntfy.sh/my-topic")]
    [InlineData("http://127.0.0.1:8080/hook?key=s3cret")]
    [InlineData("https://api.callmebot.com/whatsapp.php?phone=1&text={text}&apikey=123")]
    public void Validate_AcceptsHttpUrlsAndTemplates(string url) => TrainingWebhook.Validate(url);

    [Fact]
    public async Task Send_PostsTheJsonPayload_AndExpandsTheTemplateUrlEncoded()
    {
        using var server = new WebhookListener();
        using var http = TrainingWebhook.CreateClient();

        var line = await TrainingWebhook.SendAsync(http, server.Url + "hook/{jobId}?state={state}&text={text}&key=s3cret", Payload(), TimeSpan.FromSeconds(30), CancellationToken.None);

        Assert.Equal("webhook delivered (HTTP 200)", line);
        var hit = Assert.Single(server.Hits);
        Assert.Equal("POST", hit.Method);
        Assert.StartsWith("application/json", hit.ContentType);
        Assert.StartsWith("/hook/job-1?state=succeeded&text=Training%20job%20job-1%20succeeded%3A%20step%20120%2F120", hit.RawUrl);
        Assert.EndsWith("&key=s3cret", hit.RawUrl);
        using var doc = JsonDocument.Parse(hit.Body);
        var root = doc.RootElement;
        Assert.Equal("job-1", root.GetProperty("jobId").GetString());
        Assert.Equal("succeeded", root.GetProperty("state").GetString());
        Assert.Equal(1, root.GetProperty("restarts").GetInt32());
        Assert.Equal(0.975, root.GetProperty("metrics").GetProperty("accuracy").GetDouble());
        Assert.Equal(120, root.GetProperty("metrics").GetProperty("step").GetInt64());
        Assert.Contains("accuracy 0.975", root.GetProperty("text").GetString());
    }

    [Fact]
    public async Task Send_AFailedJob_CarriesTheLastError()
    {
        using var server = new WebhookListener(status: 204);
        using var http = TrainingWebhook.CreateClient();

        var line = await TrainingWebhook.SendAsync(http, server.Url, Payload("failed"), TimeSpan.FromSeconds(30), CancellationToken.None);

        Assert.Equal("webhook delivered (HTTP 204)", line);
        using var doc = JsonDocument.Parse(Assert.Single(server.Hits).Body);
        Assert.Equal("failed", doc.RootElement.GetProperty("state").GetString());
        Assert.Equal("worker exited with exit code 3", doc.RootElement.GetProperty("lastError").GetString());
        Assert.Contains("exit code 3", doc.RootElement.GetProperty("text").GetString());
    }

    [Theory]
    [InlineData(500)]
    [InlineData(404)]
    [InlineData(401)]
    public async Task Send_ANon2xxAnswer_IsReportedNotThrown_WithoutTheUrl(int status)
    {
        using var server = new WebhookListener(status: status);
        using var http = TrainingWebhook.CreateClient();
        var url = server.Url + "hook?key=s3cret-9f8e7d";

        var line = await TrainingWebhook.SendAsync(http, url, Payload(), TimeSpan.FromSeconds(30), CancellationToken.None);

        Assert.StartsWith($"webhook not delivered: the server answered HTTP {status}", line);
        Assert.DoesNotContain("s3cret", line);
        Assert.DoesNotContain(server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), line);
    }

    [Fact]
    public async Task Send_ARedirect_IsNotFollowed()
    {
        using var other = new WebhookListener();
        using var server = new WebhookListener(status: 302, location: other.Url + "stolen");
        using var http = TrainingWebhook.CreateClient();

        var line = await TrainingWebhook.SendAsync(http, server.Url, Payload(), TimeSpan.FromSeconds(30), CancellationToken.None);

        Assert.StartsWith("webhook not delivered: the server answered HTTP 302", line);
        Assert.Empty(other.Hits);
    }

    [Fact]
    public async Task Send_AServiceThatNeverAnswers_TimesOut()
    {
        using var server = new WebhookListener(delay: TimeSpan.FromMinutes(5));
        using var http = TrainingWebhook.CreateClient();

        var line = await TrainingWebhook.SendAsync(http, server.Url + "?key=s3cret", Payload(), TimeSpan.FromSeconds(1), CancellationToken.None);

        Assert.Equal("webhook not delivered: no answer within 1 s", line);
    }

    [Fact]
    public async Task Send_NobodyListening_SaysItCouldNotConnect_WithoutHostOrPort()
    {
        var port = WebhookListener.FreePort();
        using var http = TrainingWebhook.CreateClient();

        var line = await TrainingWebhook.SendAsync(http, $"http://127.0.0.1:{port}/hook?key=s3cret", Payload(), TimeSpan.FromSeconds(30), CancellationToken.None);

        Assert.Equal("webhook not delivered: could not connect", line);
    }

    [Fact]
    public async Task Send_AHostileUrl_IsNotSent()
    {
        using var http = TrainingWebhook.CreateClient();

        var line = await TrainingWebhook.SendAsync(http, "file:///etc/passwd", Payload(), TimeSpan.FromSeconds(5), CancellationToken.None);

        Assert.StartsWith("webhook not sent:", line);
        Assert.DoesNotContain("/etc/passwd", line);
    }
}
