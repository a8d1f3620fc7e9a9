using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Colab.Daemon.JsonRpc;

namespace Colab.Daemon.Runtimes;

/// <summary>
/// The Jupyter Server REST API (<c>/api</c>, kernels, sessions, kernel specs) for one server.
/// The token travels only in the <c>Authorization: token …</c> header: never in a URL, a
/// log line or an error message. Every answer is checked at the boundary: an HTML page,
/// a redirect, 401/403, a refused connection or JSON of the wrong shape each become a
/// <see cref="JupyterException"/> that says so in words.
/// </summary>
public sealed class JupyterClient : IDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Answers larger than this are not the Jupyter API.</summary>
    private const int MaxResponseBytes = 64 * 1024 * 1024;

    private readonly HttpClient _http;
    private readonly string? _token;

    public JupyterClient(JupyterEndpoint endpoint, string? token, TimeSpan? timeout = null, HttpMessageHandler? handler = null)
    {
        Endpoint = endpoint;
        _token = string.IsNullOrEmpty(token) ? null : token;
        Timeout = timeout ?? DefaultTimeout;
        handler ??= new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            ConnectTimeout = TimeSpan.FromSeconds(10),
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            // A proxy from the environment must not see a loopback server's token.
            UseProxy = !endpoint.IsLoopback,
        };
        _http = new HttpClient(handler, disposeHandler: true)
        {
            Timeout = System.Threading.Timeout.InfiniteTimeSpan,
            MaxResponseContentBufferSize = MaxResponseBytes,
        };
    }

    public JupyterEndpoint Endpoint { get; }

    public TimeSpan Timeout { get; }

    /// <summary>For the kernel channels WebSocket, which authenticates the same way.</summary>
    internal string? Token => _token;

    internal string? AuthorizationValue => _token is null ? null : $"token {_token}";

    // ---- server ------------------------------------------------------------------------

    public Task<JupyterApiVersion> GetVersionAsync(CancellationToken cancellationToken = default)
        => SendAsync(HttpMethod.Get, "api", null, RuntimeJson.Default.JupyterApiVersion, null, cancellationToken);

    public Task<JupyterServerStatus> GetStatusAsync(CancellationToken cancellationToken = default)
        => SendAsync(HttpMethod.Get, "api/status", null, RuntimeJson.Default.JupyterServerStatus, null, cancellationToken);

    public async Task<JupyterKernelSpecs> GetKernelSpecsAsync(CancellationToken cancellationToken = default)
    {
        var specs = await SendAsync(HttpMethod.Get, "api/kernelspecs", null, RuntimeJson.Default.JupyterKernelSpecs, null, cancellationToken).ConfigureAwait(false);
        return specs;
    }

    // ---- kernels -----------------------------------------------------------------------

    public async Task<IReadOnlyList<JupyterKernel>> ListKernelsAsync(CancellationToken cancellationToken = default)
        => await SendAsync(HttpMethod.Get, "api/kernels", null, RuntimeJson.Default.ListJupyterKernel, null, cancellationToken).ConfigureAwait(false);

    /// <summary>Starts a kernel (<paramref name="name"/>: a kernel spec, default the server's default; <paramref name="path"/>: its working directory, relative to the server's root).</summary>
    public async Task<JupyterKernel> StartKernelAsync(string? name = null, string? path = null, CancellationToken cancellationToken = default)
    {
        try
        {
            return await SendAsync(HttpMethod.Post, "api/kernels", Body(new StartKernelBody(name, path), RuntimeJson.Default.StartKernelBody),
                RuntimeJson.Default.JupyterKernel, name is null ? null : $"no kernel spec named '{name}' on {Endpoint.Display}", cancellationToken).ConfigureAwait(false);
        }
        catch (JupyterException e) when (e.Kind == JupyterErrorKind.HttpError && name is not null)
        {
            // jupyter-server 1.x answers an unknown kernel spec with a bare 500: say what it meant.
            var specs = await GetKernelSpecsAsync(cancellationToken).ConfigureAwait(false);
            if (specs.Kernelspecs.ContainsKey(name))
            {
                throw;
            }
            throw Error(JupyterErrorKind.NotFound,
                $"no kernel spec named '{name}' on {Endpoint.Display} (it has: {string.Join(", ", specs.Kernelspecs.Keys.Order(StringComparer.Ordinal))})", e.StatusCode);
        }
    }

    public Task<JupyterKernel> GetKernelAsync(string kernelId, CancellationToken cancellationToken = default)
        => SendAsync(HttpMethod.Get, KernelPath(kernelId), null, RuntimeJson.Default.JupyterKernel, NoKernel(kernelId), cancellationToken);

    public Task DeleteKernelAsync(string kernelId, CancellationToken cancellationToken = default)
        => SendAsync<object>(HttpMethod.Delete, KernelPath(kernelId), null, null, NoKernel(kernelId), cancellationToken);

    public Task InterruptKernelAsync(string kernelId, CancellationToken cancellationToken = default)
        => SendAsync<object>(HttpMethod.Post, KernelPath(kernelId) + "/interrupt", EmptyBody(), null, NoKernel(kernelId), cancellationToken);

    public Task<JupyterKernel> RestartKernelAsync(string kernelId, CancellationToken cancellationToken = default)
        => SendAsync(HttpMethod.Post, KernelPath(kernelId) + "/restart", EmptyBody(), RuntimeJson.Default.JupyterKernel, NoKernel(kernelId), cancellationToken);

    // ---- sessions ----------------------------------------------------------------------

    public async Task<IReadOnlyList<JupyterSession>> ListSessionsAsync(CancellationToken cancellationToken = default)
        => await SendAsync(HttpMethod.Get, "api/sessions", null, RuntimeJson.Default.ListJupyterSession, null, cancellationToken).ConfigureAwait(false);

    /// <summary>Creates a session for a notebook path with a new kernel of <paramref name="kernelName"/>, or binds it to the running kernel <paramref name="kernelId"/>.</summary>
    public Task<JupyterSession> CreateSessionAsync(string path, string? kernelName = null, string? kernelId = null, string type = "notebook", string? name = null, CancellationToken cancellationToken = default)
        => SendAsync(HttpMethod.Post, "api/sessions",
            Body(new CreateSessionBody(path, name ?? Path.GetFileName(path), type, new SessionKernelBody(kernelId is null ? kernelName : null, kernelId)), RuntimeJson.Default.CreateSessionBody),
            RuntimeJson.Default.JupyterSession, kernelId is null ? null : NoKernel(kernelId), cancellationToken);

    public Task DeleteSessionAsync(string sessionId, CancellationToken cancellationToken = default)
        => SendAsync<object>(HttpMethod.Delete, $"api/sessions/{Uri.EscapeDataString(sessionId)}", null, null,
            $"no session {sessionId} on {Endpoint.Display}", cancellationToken);

    public void Dispose() => _http.Dispose();

    /// <summary>Removes the token (and anything credential-shaped) from a text that is about to leave.</summary>
    internal string Scrub(string text)
    {
        if (_token is not null && text.Contains(_token, StringComparison.Ordinal))
        {
            text = text.Replace(_token, Redaction.Mask, StringComparison.Ordinal);
        }
        return Redaction.Redact(text);
    }

    internal JupyterException Error(JupyterErrorKind kind, string message, int? status = null, Exception? inner = null)
        => new(kind, Scrub(message), status, inner is null ? null : new ScrubbedException(inner.GetType().Name, Scrub(inner.Message)));

    // ---- the one send path ---------------------------------------------------------------

    private string KernelPath(string kernelId) => $"api/kernels/{Uri.EscapeDataString(kernelId)}";

    private string NoKernel(string kernelId) => $"no kernel {kernelId} on {Endpoint.Display} (it was shut down or never existed)";

    private static ByteArrayContent Body<T>(T value, JsonTypeInfo<T> type)
    {
        var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(value, type));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    private static ByteArrayContent EmptyBody()
    {
        var content = new ByteArrayContent("{}"u8.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    /// <param name="type">The answer's type; <c>null</c> when the answer's body does not matter (204).</param>
    /// <param name="notFound">The message for a JSON 404; <c>null</c> when a 404 means there is no Jupyter API here.</param>
    private async Task<T> SendAsync<T>(HttpMethod method, string path, HttpContent? body, JsonTypeInfo<T>? type, string? notFound, CancellationToken cancellationToken)
    {
        var what = $"{method.Method} {Endpoint.Display}{path}";
        using var request = new HttpRequestMessage(method, Endpoint.Resolve(path)) { Content = body };
        if (_token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("token", _token);
        }
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        HttpResponseMessage response;
        byte[] bytes;
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, timeout.Token).ConfigureAwait(false);
            bytes = await response.Content.ReadAsByteArrayAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw Error(JupyterErrorKind.Unreachable, $"no Jupyter server at {Endpoint.Display}: {what} got no answer within {Timeout.TotalSeconds:0} s");
        }
        catch (HttpRequestException e)
        {
            throw Error(JupyterErrorKind.Unreachable, $"no Jupyter server at {Endpoint.Display}: {Describe(e)}", inner: e);
        }
        using (response)
        {
            var status = (int)response.StatusCode;
            var statusText = $"HTTP {status} {response.ReasonPhrase}".TrimEnd();
            if (LooksLikeHtml(response, bytes))
            {
                throw Error(JupyterErrorKind.NotJupyter,
                    $"{Endpoint.Display} is not the Jupyter API: {what} answered {statusText} with an HTML page " +
                    "(a login page, a proxy, or another web service?)", status);
            }
            if (status is 401 or 403 && _token is null)
            {
                throw Error(JupyterErrorKind.TokenRejected,
                    $"the Jupyter server at {Endpoint.Display} needs a token ({statusText} to {method.Method} {path}); give the one it printed when it started", status);
            }
            if (status is 401 or 403)
            {
                throw Error(JupyterErrorKind.TokenRejected,
                    $"the token was rejected by the Jupyter server at {Endpoint.Display} ({statusText} to {method.Method} {path}); check the token", status);
            }
            if (status is >= 300 and < 400)
            {
                var location = response.Headers.Location is { } l ? new Uri(Endpoint.BaseUrl, l).GetLeftPart(UriPartial.Path) : "elsewhere";
                throw Error(JupyterErrorKind.NotJupyter,
                    $"{Endpoint.Display} is not the Jupyter API: {what} was redirected ({statusText}) to {location} " +
                    "(a login page or a proxy?)", status);
            }
            if (status == 404)
            {
                throw notFound is not null && IsJson(bytes)
                    ? Error(JupyterErrorKind.NotFound, notFound, status)
                    : Error(JupyterErrorKind.NotJupyter, $"{Endpoint.Display} has no Jupyter API: {what} answered {statusText}", status);
            }
            if (status is < 200 or >= 300)
            {
                var detail = JupyterMessage(bytes);
                throw Error(JupyterErrorKind.HttpError, $"{what} failed: {statusText}{(detail is null ? "" : $": {detail}")}", status);
            }
            if (type is null)
            {
                return default!;
            }
            T? value;
            try
            {
                value = JsonSerializer.Deserialize(bytes, type);
            }
            catch (JsonException e)
            {
                throw Error(JupyterErrorKind.BadResponse, $"{Endpoint.Display} did not answer like a Jupyter server: {what} returned JSON of an unexpected shape ({e.Message})", status);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or NotSupportedException)
            {
                throw Error(JupyterErrorKind.BadResponse, $"{Endpoint.Display} did not answer like a Jupyter server: {what} returned something that is not JSON ({e.Message})", status);
            }
            return value ?? throw Error(JupyterErrorKind.BadResponse, $"{Endpoint.Display} did not answer like a Jupyter server: {what} returned null", status);
        }
    }

    private static bool LooksLikeHtml(HttpResponseMessage response, byte[] bytes)
    {
        if (response.Content.Headers.ContentType?.MediaType is { } media
            && (media.Equals("text/html", StringComparison.OrdinalIgnoreCase) || media.Equals("application/xhtml+xml", StringComparison.OrdinalIgnoreCase)))
        {
            return true;
        }
        foreach (var b in bytes)
        {
            if (b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n' or 0xEF or 0xBB or 0xBF)
            {
                continue;
            }
            return b == (byte)'<';
        }
        return false;
    }

    private static bool IsJson(byte[] bytes)
    {
        try
        {
            using var _ = JsonDocument.Parse(bytes);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>Jupyter's <c>message</c> (or <c>reason</c>) from an error body, shortened; <c>null</c> when there is none.</summary>
    private static string? JupyterMessage(byte[] bytes)
    {
        try
        {
            var body = JsonSerializer.Deserialize(bytes, RuntimeJson.Default.JupyterErrorBody);
            var text = body?.Message ?? body?.Reason;
            return string.IsNullOrWhiteSpace(text) ? null : Shorten(text.Trim());
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException)
        {
            var text = Encoding.UTF8.GetString(bytes, 0, Math.Min(bytes.Length, 300)).Trim();
            return text.Length == 0 ? null : Shorten(text);
        }
    }

    private static string Shorten(string text) => text.Length > 300 ? text[..300] + "…" : text;

    internal static string Describe(Exception e)
    {
        for (var inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is SocketException socket)
            {
                return socket.SocketErrorCode switch
                {
                    SocketError.ConnectionRefused => "connection refused (nothing is listening on that port)",
                    SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain => "the host name does not resolve",
                    SocketError.TimedOut => "the connection timed out",
                    SocketError.NetworkUnreachable or SocketError.HostUnreachable => "the host is unreachable",
                    _ => socket.Message,
                };
            }
            if (inner is System.Security.Authentication.AuthenticationException)
            {
                return $"TLS failed: {inner.Message}";
            }
        }
        return e is HttpRequestException { HttpRequestError: HttpRequestError.ResponseEnded or HttpRequestError.InvalidResponse }
            ? "the server closed the connection or did not speak HTTP"
            : e.Message;
    }

    /// <summary>An inner exception that keeps only a scrubbed message (the original may carry a URL or header).</summary>
    private sealed class ScrubbedException(string type, string message) : Exception($"{type}: {message}");
}
