using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Colab.Daemon.Drive;

/// <summary>
/// One sign-in: PKCE verifier and state, and a loopback listener on 127.0.0.1 (a random port)
/// that takes exactly one answer — the browser's redirect or a pasted code / redirect URL —
/// then closes. Anything else that reaches the port (a favicon request, a wrong path, a
/// malformed request) is answered and ignored; an answer with the wrong state, an error or no
/// code ends the sign-in with a clear message. The listener also closes at the time-out.
/// </summary>
public sealed class OAuthSignIn : IAsyncDisposable
{
    public const string CallbackPath = "/oauth2callback";
    private const int MaxRequestBytes = 8 * 1024;

    private readonly OAuthClient _client;
    private readonly TcpListener _listener;
    private readonly string _verifier;
    private readonly string _challenge;
    private readonly string _scopes;
    private readonly TaskCompletionSource<string> _code = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _life;
    private readonly CancellationTokenSource _stopAccepting = new();
    private readonly Task _accepting;

    private OAuthSignIn(OAuthClient client, DriveAccess access, TimeSpan timeout)
    {
        _client = client;
        (_verifier, _challenge) = OAuthClient.NewPkce();
        State = OAuthClient.NewState();
        _scopes = OAuthClientConfig.ScopesFor(access);
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start(8);
        LoopbackUri = $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}{CallbackPath}";
        RedirectUri = LoopbackUri;
        _life = new CancellationTokenSource(timeout);
        _life.Token.Register(() => _code.TrySetException(new DriveException(DriveErrorKind.Auth, $"The Google sign-in timed out after {OAuthClient.Seconds(timeout.TotalSeconds)} s without an answer from the browser; the sign-in was closed. Try again, or paste the code.")));
        // Whatever ends the sign-in (an answer, a paste, cancel, the time-out) closes the port.
        _code.Task.ContinueWith(_ => _stopAccepting.Cancel(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        _accepting = AcceptLoopAsync();
    }

    public static OAuthSignIn Start(OAuthClient client, DriveAccess access, TimeSpan timeout) => new(client, access, timeout);

    public Guid Id { get; } = Guid.NewGuid();

    public string State { get; }

    /// <summary>Where the listener waits: <c>http://127.0.0.1:PORT/oauth2callback</c>.</summary>
    public string LoopbackUri { get; }

    /// <summary>The redirect URI sent to Google: the loopback one, or the forwarded one the editor gave (remote workspaces).</summary>
    public string RedirectUri { get; private set; }

    public bool IsListening => !_accepting.IsCompleted;

    public string AuthorizeUrl => _client.AuthorizeUrl(RedirectUri, State, _challenge, _scopes);

    /// <summary>
    /// Uses the address the editor forwarded the loopback port to (<c>asExternalUri</c>): only
    /// http(s), no user info or fragment. Its path must end with the callback path so the
    /// forwarded request still reaches the listener.
    /// </summary>
    public void UseRedirect(string redirectUri)
    {
        if (!Uri.TryCreate(redirectUri, UriKind.Absolute, out var u) || (u.Scheme != Uri.UriSchemeHttp && u.Scheme != Uri.UriSchemeHttps)
            || !string.IsNullOrEmpty(u.UserInfo) || !string.IsNullOrEmpty(u.Fragment) || !string.IsNullOrEmpty(u.Query) || redirectUri.Length > 2000
            || !u.AbsolutePath.EndsWith(CallbackPath, StringComparison.Ordinal))
        {
            throw new DriveException(DriveErrorKind.InvalidInput, $"The forwarded redirect address must be an http(s) URL ending in {CallbackPath}, without user info, query or fragment.");
        }
        RedirectUri = u.AbsoluteUri;
    }

    /// <summary>Waits for the code (browser or paste), exchanges it with the verifier, and closes the listener.</summary>
    public async Task<OAuthTokens> CompleteAsync(CancellationToken cancellationToken)
    {
        try
        {
            var code = await _code.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            return await _client.ExchangeCodeAsync(code, _verifier, RedirectUri, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The paste fallback: the whole address the browser ended on (its query is checked like
    /// the loopback one, state included), or the bare code Google shows.
    /// </summary>
    public void Paste(string text)
    {
        text = text.Trim();
        if (text.Length == 0 || text.Length > MaxRequestBytes)
        {
            throw new DriveException(DriveErrorKind.InvalidInput, "Paste the code Google showed, or the whole address the browser ended on.");
        }
        if (text.Contains("://", StringComparison.Ordinal))
        {
            if (!Uri.TryCreate(text, UriKind.Absolute, out var u))
            {
                throw new DriveException(DriveErrorKind.InvalidInput, "That pasted address is not a URL.");
            }
            var outcome = Judge(u.Query);
            if (outcome.Fail is { } fail)
            {
                _code.TrySetException(fail);
                return;
            }
            text = outcome.Code!;
        }
        else if (!IsCodeText(text))
        {
            throw new DriveException(DriveErrorKind.InvalidInput, "That does not look like a sign-in code (it has spaces or unusual characters).");
        }
        _code.TrySetResult(text);
    }

    /// <summary>Ends the sign-in: the listener closes and a waiting <see cref="CompleteAsync"/> fails.</summary>
    public void Cancel() => _code.TrySetException(new DriveException(DriveErrorKind.Auth, "The Google sign-in was cancelled."));

    private static bool IsCodeText(string s) => s.Length is > 0 and <= 2048 && s.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '-' or '_' or '.' or '~' or '*');

    private record struct Outcome(string? Code, DriveException? Fail);

    /// <summary>Reads a redirect's query: exactly one of each parameter, the state must match, then an error or a code.</summary>
    private Outcome Judge(string query)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=');
            string key, value;
            try
            {
                key = Uri.UnescapeDataString((eq < 0 ? pair : pair[..eq]).Replace('+', ' '));
                value = eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..].Replace('+', ' '));
            }
            catch (UriFormatException)
            {
                return new(null, new DriveException(DriveErrorKind.Auth, "The sign-in answer was malformed; nothing was stored. Try again."));
            }
            if (key is "code" or "state" or "error" && !values.TryAdd(key, value))
            {
                return new(null, new DriveException(DriveErrorKind.Auth, $"The sign-in answer carried '{key}' twice, which Google never does; it was refused and nothing was stored."));
            }
        }
        if (!values.TryGetValue("state", out var state) || !CryptographicEquals(state, State))
        {
            return new(null, new DriveException(DriveErrorKind.Auth, "The sign-in answer did not belong to this sign-in (state mismatch); it was refused and nothing was stored. Try again."));
        }
        if (values.TryGetValue("error", out var error))
        {
            return new(null, error == "access_denied"
                ? new DriveException(DriveErrorKind.Auth, "Access to Google Drive was declined in the browser; nothing was stored. Sign in again to allow it.")
                : new DriveException(DriveErrorKind.Auth, $"Google refused the sign-in: {OAuthClient.Safe(error, 64)}."));
        }
        if (!values.TryGetValue("code", out var code) || !IsCodeText(code))
        {
            return new(null, new DriveException(DriveErrorKind.Auth, "The sign-in answer had no usable code; nothing was stored. Try again."));
        }
        return new(code, null);
    }

    private static bool CryptographicEquals(string a, string b)
        => System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(a), Encoding.UTF8.GetBytes(b));

    private async Task AcceptLoopAsync()
    {
        await Task.Yield();
        try
        {
            while (!_code.Task.IsCompleted)
            {
                Socket socket;
                try
                {
                    socket = await _listener.AcceptSocketAsync(_stopAccepting.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    return;
                }
                // Browsers open spare connections that never send a request: each connection is
                // served on its own (at most 16 at once, 10 s each) so an idle one blocks nothing.
                if (Interlocked.Increment(ref _serving) > 16)
                {
                    Interlocked.Decrement(ref _serving);
                    socket.Dispose();
                    continue;
                }
                _ = Task.Run(async () =>
                {
                    using (socket)
                    {
                        await ServeAsync(socket).ConfigureAwait(false);
                    }
                    Interlocked.Decrement(ref _serving);
                });
            }
        }
        finally
        {
            _listener.Stop();
        }
    }

    private int _serving;

    /// <summary>One connection: reads a request head (bounded in size and time), answers with a short page.</summary>
    private async Task ServeAsync(Socket socket)
    {
        using var perRequest = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var buffer = new byte[MaxRequestBytes];
        var have = 0;
        try
        {
            int end;
            while ((end = IndexOfHeadEnd(buffer, have)) < 0)
            {
                if (have == buffer.Length)
                {
                    await ReplyAsync(socket, 431, "Request too large", "This address only takes the Google sign-in answer.", perRequest.Token).ConfigureAwait(false);
                    return;
                }
                var n = await socket.ReceiveAsync(buffer.AsMemory(have), SocketFlags.None, perRequest.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    return;
                }
                have += n;
            }
            var head = Encoding.ASCII.GetString(buffer, 0, end);
            var line = head.Split("\r\n", 2)[0];
            var parts = line.Split(' ');
            if (parts.Length != 3 || !parts[2].StartsWith("HTTP/1.", StringComparison.Ordinal))
            {
                await ReplyAsync(socket, 400, "Bad request", "This address only takes the Google sign-in answer.", perRequest.Token).ConfigureAwait(false);
                return;
            }
            if (parts[0] != "GET")
            {
                await ReplyAsync(socket, 405, "Method not allowed", "This address only takes the Google sign-in answer.", perRequest.Token).ConfigureAwait(false);
                return;
            }
            var target = parts[1];
            var q = target.IndexOf('?');
            var path = q < 0 ? target : target[..q];
            if (path != CallbackPath)
            {
                await ReplyAsync(socket, 404, "Not found", "This address only takes the Google sign-in answer.", perRequest.Token).ConfigureAwait(false);
                return;
            }
            var outcome = Judge(q < 0 ? "" : target[(q + 1)..]);
            if (outcome.Fail is { } fail)
            {
                _code.TrySetException(fail);
                await ReplyAsync(socket, 400, "Sign-in not completed", fail.Message + " You can close this tab.", perRequest.Token).ConfigureAwait(false);
                return;
            }
            _code.TrySetResult(outcome.Code!);
            await ReplyAsync(socket, 200, "Signed in to Google Drive", "You can close this tab and return to VS Code.", perRequest.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
        {
            // A slow or broken connection is dropped; the sign-in goes on waiting.
        }
    }

    private static int IndexOfHeadEnd(byte[] buffer, int count)
    {
        var i = buffer.AsSpan(0, count).IndexOf("\r\n\r\n"u8);
        return i;
    }

    private static async Task ReplyAsync(Socket socket, int status, string title, string text, CancellationToken cancellationToken)
    {
        var body = Encoding.UTF8.GetBytes($"<!doctype html><meta charset=\"utf-8\"><title>{WebUtility.HtmlEncode(title)}</title><h1>{WebUtility.HtmlEncode(title)}</h1><p>{WebUtility.HtmlEncode(text)}</p>");
        var head = Encoding.ASCII.GetBytes($"HTTP/1.1 {status} {(status == 200 ? "OK" : "Error")}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {body.Length}\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n");
        await socket.SendAsync(head, SocketFlags.None, cancellationToken).ConfigureAwait(false);
        await socket.SendAsync(body, SocketFlags.None, cancellationToken).ConfigureAwait(false);
        socket.Shutdown(SocketShutdown.Both);
    }

    public async ValueTask DisposeAsync()
    {
        Cancel();
        try
        {
            await _accepting.ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
        _life.Dispose();
    }
}
