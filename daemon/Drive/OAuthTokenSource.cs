namespace Colab.Daemon.Drive;

/// <summary>
/// The signed-in account's tokens, in memory only (the extension keeps them in SecretStorage
/// and hands them over). An expired access token, or a 401, is refreshed at the token endpoint
/// once at a time; <see cref="Refreshed"/> tells the client so it can store the new ones.
/// </summary>
public sealed class OAuthTokenSource(OAuthClient client, OAuthTokens tokens, TimeProvider? time = null) : IDriveTokenSource
{
    private static readonly TimeSpan Margin = TimeSpan.FromSeconds(60);
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private OAuthTokens _tokens = tokens;

    /// <summary>Raised after a refresh with the new tokens (the refresh token kept when Google sent none).</summary>
    public event Action<OAuthTokens>? Refreshed;

    public OAuthClient Client => client;

    public OAuthTokens Current => _tokens;

    public async Task<string?> GetTokenAsync(bool refresh, CancellationToken cancellationToken)
    {
        var seen = _tokens;
        if (!refresh && seen.ExpiresAt - Margin > _time.GetUtcNow())
        {
            return seen.AccessToken;
        }
        if (seen.RefreshToken is null)
        {
            return refresh ? null : seen.AccessToken;
        }
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Another caller may have refreshed while this one waited.
            if (!ReferenceEquals(seen, _tokens))
            {
                return _tokens.AccessToken;
            }
            var fresh = await client.RefreshAsync(seen.RefreshToken, cancellationToken).ConfigureAwait(false);
            _tokens = fresh with { RefreshToken = fresh.RefreshToken ?? seen.RefreshToken };
            Refreshed?.Invoke(_tokens);
            return _tokens.AccessToken;
        }
        finally
        {
            _gate.Release();
        }
    }

    public override string ToString() => "OAuthTokenSource";
}
