using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Colab.Daemon.Protocol;

namespace Colab.Daemon.Training;

/// <summary>What a job's webhook receives when it ends: <c>POST</c>, <c>Content-Type: application/json</c>.</summary>
/// <param name="Text">One line for chat services (Slack's <c>text</c>; ntfy shows the body).</param>
public sealed record TrainWebhookPayload(string JobId, string State, int Restarts, string Text, string? LastError, TrainProgress? Metrics);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(TrainWebhookPayload))]
internal sealed partial class WebhookJson : JsonSerializerContext;

/// <summary>
/// The webhook a job calls when it ends (succeeded or failed). The URL is a secret (it often holds
/// an API key): the editor keeps it in SecretStorage and passes it in <c>colab/train/start</c>; the
/// daemon hands it to the detached supervisor through a pipe; it lives only in that process's
/// memory — never in <c>job.json</c>, <c>status.json</c>, a log line or an error message. The URL may be a
/// template: <c>{jobId}</c>, <c>{state}</c> and <c>{text}</c> are replaced (URL-encoded), for services such as
/// CallMeBot that take the message in the query. A timeout, an unreachable host or a non-2xx
/// answer is reported (without the URL) and never fails the job.
/// </summary>
public static class TrainingWebhook
{
    public const int MaxUrlLength = 2048;
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Checks a webhook URL (template) before a job starts; the message never repeats the URL.</summary>
    public static void Validate(string url)
    {
        if (url.Length is 0 or > MaxUrlLength || url.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)))
        {
            throw new TrainingException($"Invalid params: the webhook URL must be 1 to {MaxUrlLength} characters without spaces or control characters");
        }
        if (!Uri.TryCreate(Expand(url, "job", "succeeded", "done"), UriKind.Absolute, out var uri)
            || uri.Scheme is not ("http" or "https") || string.IsNullOrEmpty(uri.Host))
        {
            throw new TrainingException("Invalid params: the webhook URL must be an absolute http:// or https:// URL");
        }
    }

    /// <summary>The URL with the template's placeholders replaced (each value URL-encoded).</summary>
    public static string Expand(string template, string jobId, string state, string text)
        => template.Replace("{jobId}", Uri.EscapeDataString(jobId), StringComparison.Ordinal)
            .Replace("{state}", Uri.EscapeDataString(state), StringComparison.Ordinal)
            .Replace("{text}", Uri.EscapeDataString(text), StringComparison.Ordinal);

    public static string Summary(string jobId, string state, int restarts, string? lastError, TrainProgress? m)
    {
        var b = new StringBuilder($"Training job {jobId} {state}");
        var figures = new List<string>();
        if (m?.Step is { } step)
        {
            figures.Add(m.TotalSteps is { } total ? $"step {step}/{total}" : $"step {step}");
        }
        if (m?.Loss is { } loss)
        {
            figures.Add(FormattableString.Invariant($"loss {loss:0.####}"));
        }
        if (m?.Accuracy is { } acc)
        {
            figures.Add(FormattableString.Invariant($"accuracy {acc:0.####}"));
        }
        if (restarts > 0)
        {
            figures.Add($"{restarts} restart(s)");
        }
        if (figures.Count > 0)
        {
            b.Append(": ").AppendJoin(", ", figures);
        }
        if (state != TrainingStates.Succeeded && lastError is { Length: > 0 })
        {
            b.Append(" — ").Append(lastError.Length > 300 ? lastError[..300] + "…" : lastError);
        }
        return b.ToString();
    }

    /// <summary>
    /// Sends the payload; returns one line for the job's log saying what happened. Never throws for
    /// a network or HTTP failure, and no line contains the URL (nor its host, which may be private).
    /// </summary>
    public static async Task<string> SendAsync(HttpMessageInvoker http, string urlTemplate, TrainWebhookPayload payload, TimeSpan timeout, CancellationToken cancellationToken)
    {
        string url;
        try
        {
            Validate(urlTemplate);
            url = Expand(urlTemplate, payload.JobId, payload.State, payload.Text);
        }
        catch (TrainingException e)
        {
            return $"webhook not sent: {e.Message.Replace("Invalid params: ", "", StringComparison.Ordinal)}";
        }
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(timeout);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, url)
            {
                Content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(payload, WebhookJson.Default.TrainWebhookPayload)),
            };
            request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            request.Headers.UserAgent.ParseAdd("colab-vscode-training/1");
            using var response = await http.SendAsync(request, timeoutSource.Token).ConfigureAwait(false);
            var code = (int)response.StatusCode;
            return response.IsSuccessStatusCode
                ? $"webhook delivered (HTTP {code})"
                : $"webhook not delivered: the server answered HTTP {code} {Reason(response.StatusCode)}".TrimEnd();
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return $"webhook not delivered: no answer within {timeout.TotalSeconds:0.#} s";
        }
        catch (HttpRequestException e)
        {
            // The exception's message names host and port; say only what kind of failure it was.
            return $"webhook not delivered: {Describe(e.HttpRequestError)}";
        }
    }

    private static string Reason(HttpStatusCode code) => Enum.IsDefined(code) ? $"({code})" : "";

    private static string Describe(HttpRequestError error) => error switch
    {
        HttpRequestError.NameResolutionError => "the host name did not resolve",
        HttpRequestError.ConnectionError => "could not connect",
        HttpRequestError.SecureConnectionError => "the TLS handshake failed",
        HttpRequestError.InvalidResponse => "the server's answer was not valid HTTP",
        HttpRequestError.ResponseEnded => "the server closed the connection before answering",
        HttpRequestError.ProxyTunnelError => "the proxy refused the connection",
        _ => "the request failed",
    };

    /// <summary>The handler the supervisor uses: no redirects (a redirect would carry the secret URL's answer elsewhere), no cookies.</summary>
    public static HttpMessageInvoker CreateClient()
        => new(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false, ConnectTimeout = DefaultTimeout }, disposeHandler: true);
}
