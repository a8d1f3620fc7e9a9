using Colab.Daemon.Drive;
using Colab.Daemon.JsonRpc;
using Colab.Daemon.Protocol;
using Microsoft.Extensions.Logging;

namespace Colab.Daemon.Hosting;

/// <summary>
/// Google Drive sign-in: the daemon runs OAuth for installed apps (PKCE S256, state, a
/// one-shot loopback listener), exchanges the code, and hands the tokens back to the client,
/// which keeps them in SecretStorage and passes them in <c>colab/drive/useAccount</c>. A refresh
/// is announced with <c>colab/drive/tokensRefreshed</c>. Params carry tokens: never logged.
/// </summary>
internal sealed class DriveAuthMethods(DriveService drive, ILogger<DriveAuthMethods> logger) : IMethodGroup
{
    private static readonly HttpClient Http = new(new SocketsHttpHandler { AllowAutoRedirect = false, PooledConnectionLifetime = TimeSpan.FromMinutes(5) }) { Timeout = TimeSpan.FromSeconds(60) };
    private readonly Lock _lock = new();
    private OAuthSignIn? _flow;
    private IDriveBackend? _accountBackend;

    public void Register(JsonRpcConnection connection)
    {
        var json = DriveAuthJson.Default;

        connection.OnRequest(Methods.DriveSignInBegin, () => json.DriveSignInBeginParams, () => json.DriveSignInBeginResult, (p, _) => Guard(async () =>
        {
            var access = p.Access switch
            {
                "read" => DriveAccess.Read,
                null or "readWrite" => DriveAccess.ReadWrite,
                "full" => DriveAccess.Full,
                _ => throw new JsonRpcException(ErrorCodes.InvalidParams, "Invalid params: access must be \"read\", \"readWrite\" or \"full\"."),
            };
            if (p.TimeoutSeconds is < 5 or > 1800)
            {
                throw new JsonRpcException(ErrorCodes.InvalidParams, "Invalid params: timeoutSeconds must be between 5 and 1800.");
            }
            var client = new OAuthClient(Http, Config(p.OAuth));
            var flow = OAuthSignIn.Start(client, access, TimeSpan.FromSeconds(p.TimeoutSeconds ?? 300));
            OAuthSignIn? previous;
            lock (_lock)
            {
                previous = _flow;
                _flow = flow;
            }
            // One sign-in at a time: a new one closes the old listener.
            if (previous is not null)
            {
                await previous.DisposeAsync().ConfigureAwait(false);
            }
            logger.LogInformation("Drive sign-in started ({Access}); listening on {Loopback}", access, flow.LoopbackUri);
            return new DriveSignInBeginResult(flow.Id.ToString("N"), flow.LoopbackUri, flow.AuthorizeUrl);
        }));

        connection.OnRequest(Methods.DriveSignInRedirect, () => json.DriveSignInRedirectParams, () => json.DriveSignInBeginResult, (p, _) => Guard(() =>
        {
            var flow = Flow(p.FlowId);
            flow.UseRedirect(p.RedirectUri);
            return Task.FromResult(new DriveSignInBeginResult(p.FlowId, flow.LoopbackUri, flow.AuthorizeUrl));
        }));

        connection.OnRequest(Methods.DriveSignInPaste, () => json.DriveSignInPasteParams, () => json.EmptyParams, (p, _) => Guard(() =>
        {
            Flow(p.FlowId).Paste(p.Text);
            return Task.FromResult(new EmptyParams());
        }));

        connection.OnRequest(Methods.DriveSignInFinish, () => json.DriveSignInFlowParams, () => json.DriveAccountTokens, (p, ctx) => Guard(async () =>
        {
            var flow = Flow(p.FlowId);
            try
            {
                var t = await flow.CompleteAsync(ctx.CancellationToken).ConfigureAwait(false);
                logger.LogInformation("Drive sign-in completed; granted scopes: {Scope}", t.Scope ?? "(not listed)");
                return new DriveAccountTokens(t.AccessToken, t.RefreshToken, t.ExpiresAt, t.Scope);
            }
            finally
            {
                lock (_lock)
                {
                    if (ReferenceEquals(_flow, flow))
                    {
                        _flow = null;
                    }
                }
            }
        }));

        connection.OnRequest(Methods.DriveUseAccount, () => json.DriveUseAccountParams, () => json.DriveStatusResult, (p, _) => Guard(() =>
        {
            var t = p.Tokens;
            if (!OAuthClient.IsTokenText(t.AccessToken) || (t.RefreshToken is not null && !OAuthClient.IsTokenText(t.RefreshToken)))
            {
                throw new JsonRpcException(ErrorCodes.InvalidParams, "Invalid params: the tokens are empty, too long or have unusual characters; sign in again.");
            }
            var source = new OAuthTokenSource(new OAuthClient(Http, Config(p.OAuth)), new OAuthTokens(t.AccessToken, t.RefreshToken, t.ExpiresAt, t.Scope));
            source.Refreshed += fresh =>
            {
                logger.LogInformation("Drive access token refreshed; valid until {ExpiresAt:O}", fresh.ExpiresAt);
                connection.Notify(Methods.DriveTokensRefreshed, new DriveAccountTokens(fresh.AccessToken, fresh.RefreshToken, fresh.ExpiresAt, fresh.Scope), json.DriveAccountTokens);
            };
            drive.UseApi(p.BaseUrl ?? DriveApiBackend.DefaultBaseUrl, source);
            _accountBackend = drive.Backend;
            return Task.FromResult(new DriveStatusResult(drive.Backend?.Kind, null, drive.PendingUploads));
        }));

        connection.OnRequest(Methods.DriveSignOut, () => json.DriveSignOutParams, () => json.DriveSignOutResult, (p, ctx) => Guard(async () =>
        {
            // Forget first: whatever Google answers, this daemon holds no token afterwards.
            if (_accountBackend is not null && ReferenceEquals(drive.Backend, _accountBackend))
            {
                drive.Forget();
            }
            _accountBackend = null;
            if (string.IsNullOrEmpty(p.Token))
            {
                return new DriveSignOutResult(false, "There was no token to revoke.");
            }
            if (!OAuthClient.IsTokenText(p.Token))
            {
                return new DriveSignOutResult(false, "The stored token was malformed, so it was forgotten without revoking it.");
            }
            var client = new OAuthClient(Http, OAuthClientConfig.Create("sign-out", null, null, null, p.RevokeUrl));
            try
            {
                var revoked = await client.RevokeAsync(p.Token, ctx.CancellationToken).ConfigureAwait(false);
                return revoked ? new DriveSignOutResult(true) : new DriveSignOutResult(false, "Google says the sign-in was already revoked or expired.");
            }
            catch (DriveException e)
            {
                return new DriveSignOutResult(false, e.Message);
            }
        }));
    }

    private static OAuthClientConfig Config(DriveOAuthSettings? s)
        => OAuthClientConfig.Create(s?.ClientId, s?.ClientSecret, s?.AuthorizeUrl, s?.TokenUrl, s?.RevokeUrl);

    private OAuthSignIn Flow(string flowId)
    {
        lock (_lock)
        {
            return _flow is { } f && f.Id.ToString("N") == flowId
                ? f
                : throw new DriveException(DriveErrorKind.Auth, "That Google sign-in is no longer open (it finished, timed out or a newer one started). Sign in again.");
        }
    }

    private static async Task<T> Guard<T>(Func<Task<T>> action)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (DriveException e)
        {
            var code = e.Kind switch
            {
                DriveErrorKind.InvalidInput => ErrorCodes.InvalidParams,
                DriveErrorKind.Auth => ErrorCodes.DriveAuth,
                _ => ErrorCodes.RequestFailed,
            };
            throw new JsonRpcException(code, code == ErrorCodes.InvalidParams ? $"Invalid params: {e.Message}" : e.Message);
        }
    }
}
