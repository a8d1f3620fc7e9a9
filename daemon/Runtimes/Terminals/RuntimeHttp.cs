using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Colab.Daemon.JsonRpc;

namespace Colab.Daemon.Runtimes.Terminals;

/// <summary>
/// HTTP and WebSocket access to one runtime's terminals and contents APIs, authenticating
/// like <see cref="JupyterClient"/> (the token only in the <c>Authorization</c> header) and
/// turning every failure into a <see cref="JupyterException"/> scrubbed of the token. It
/// streams (no 64 MiB answer buffer), which file transfers need.
/// </summary>
internal sealed class RuntimeHttp : IDisposable
{
    private readonly JupyterClient _client;
    private readonly HttpClient _http;

    public RuntimeHttp(JupyterClient client)
    {
        _client = client;
        _http = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            ConnectTimeout = TimeSpan.FromSeconds(10),
            UseProxy = !client.Endpoint.IsLoopback,
        }, disposeHandler: true)
        {
            Timeout = System.Threading.Timeout.InfiniteTimeSpan,
        };
    }

    public JupyterEndpoint Endpoint => _client.Endpoint;

    /// <summary>A request to <paramref name="path"/> (relative to the base URL) with the token header.</summary>
    public HttpRequestMessage Request(HttpMethod method, string path, HttpContent? body = null)
    {
        var request = new HttpRequestMessage(method, Endpoint.Resolve(path)) { Content = body };
        if (_client.AuthorizationValue is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("token", _client.Token);
        }
        return request;
    }

    /// <summary>Sends and checks the status; <paramref name="notFound"/> is the message for a 404 (null: 404 is returned as is).</summary>
    public async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, string? notFound, CancellationToken cancellationToken,
        HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead, TimeSpan? timeout = null)
    {
        var what = $"{request.Method.Method} {Endpoint.Display}{request.RequestUri!.AbsolutePath.TrimStart('/')}";
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout ?? _client.Timeout);
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, completion, limit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw _client.Error(JupyterErrorKind.Unreachable, $"no answer from the Jupyter server at {Endpoint.Display}: {what} timed out");
        }
        catch (HttpRequestException e)
        {
            throw _client.Error(JupyterErrorKind.Unreachable, $"no Jupyter server at {Endpoint.Display}: {e.Message}", inner: e);
        }
        var status = (int)response.StatusCode;
        if (status is >= 200 and < 300)
        {
            return response;
        }
        using (response)
        {
            var text = await ReadSomeAsync(response, cancellationToken).ConfigureAwait(false);
            var statusText = $"HTTP {status} {response.ReasonPhrase}".TrimEnd();
            if (status is 401 or 403)
            {
                var detail = JupyterMessage(text);
                // 403 with Jupyter's own JSON message (e.g. a hidden file) is a refusal, not a bad token.
                if (status == 403 && detail is not null && !detail.Contains("token", StringComparison.OrdinalIgnoreCase) && !detail.Contains("Forbidden", StringComparison.Ordinal))
                {
                    throw _client.Error(JupyterErrorKind.HttpError, $"{what} was refused: {detail}", status);
                }
                throw _client.Error(JupyterErrorKind.TokenRejected, $"the token was rejected by the Jupyter server at {Endpoint.Display} ({statusText} to {what})", status);
            }
            if (status == 404 && notFound is not null)
            {
                throw _client.Error(JupyterErrorKind.NotFound, notFound, status);
            }
            var message = JupyterMessage(text);
            throw _client.Error(JupyterErrorKind.HttpError, $"{what} failed: {statusText}{(message is null ? "" : $": {message}")}", status);
        }
    }

    /// <summary>Sends and parses a JSON answer.</summary>
    public async Task<JsonDocument> SendJsonAsync(HttpRequestMessage request, string? notFound, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(request, notFound, cancellationToken).ConfigureAwait(false);
        var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return LargeJson.Parse(bytes);
        }
        catch (JsonException)
        {
            throw _client.Error(JupyterErrorKind.NotJupyter, $"{Endpoint.Display} did not answer {request.Method.Method} {request.RequestUri!.AbsolutePath} with JSON (is it a Jupyter server?)");
        }
    }

    /// <summary>A WebSocket under the base URL (e.g. <c>terminals/websocket/1</c>), authenticated like the REST calls.</summary>
    public async Task<ClientWebSocket> ConnectWebSocketAsync(string path, CancellationToken cancellationToken)
    {
        var http = Endpoint.Resolve(path);
        var uri = new UriBuilder(http) { Scheme = http.Scheme == Uri.UriSchemeHttps ? "wss" : "ws" }.Uri;
        var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.FromSeconds(20);
        if (_client.AuthorizationValue is { } auth)
        {
            socket.Options.SetRequestHeader("Authorization", auth);
        }
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(TimeSpan.FromSeconds(20));
        try
        {
            await socket.ConnectAsync(uri, QuickAckSockets.For(Endpoint.IsLoopback), limit.Token).ConfigureAwait(false);
            return socket;
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw _client.Error(JupyterErrorKind.Unreachable, $"could not open the WebSocket {Endpoint.Display}{path}: {e.Message}");
        }
    }

    public JupyterException Error(JupyterErrorKind kind, string message, int? status = null) => _client.Error(kind, message, status);

    public void Dispose() => _http.Dispose();

    private static async Task<string> ReadSomeAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            return Encoding.UTF8.GetString(bytes, 0, Math.Min(bytes.Length, 4096));
        }
        catch (HttpRequestException)
        {
            return "";
        }
    }

    private static string? JupyterMessage(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            if (doc.RootElement.ValueKind == JsonValueKind.Object)
            {
                foreach (var key in new[] { "message", "reason" })
                {
                    if (doc.RootElement.TryGetProperty(key, out var m) && m.ValueKind == JsonValueKind.String && !string.IsNullOrWhiteSpace(m.GetString()))
                    {
                        var s = m.GetString()!.Trim();
                        return s.Length > 300 ? s[..300] + "…" : s;
                    }
                }
            }
        }
        catch (JsonException)
        {
        }
        return null;
    }
}
