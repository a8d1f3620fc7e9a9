namespace Colab.Daemon.Drive;

/// <summary>
/// Where the API backend gets its access token. The daemon keeps tokens in memory only: the
/// extension hands them over from SecretStorage, the CLI reads them from the environment.
/// </summary>
public interface IDriveTokenSource
{
    /// <summary>The current access token; with <paramref name="refresh"/> a new one (after a 401), or null when none can be had.</summary>
    Task<string?> GetTokenAsync(bool refresh, CancellationToken cancellationToken);
}

/// <summary>A fixed token: a 401 cannot be healed, so the user is asked to sign in again.</summary>
public sealed class StaticDriveToken(string token) : IDriveTokenSource
{
    public Task<string?> GetTokenAsync(bool refresh, CancellationToken cancellationToken) => Task.FromResult(refresh ? null : token);

    public override string ToString() => "StaticDriveToken";
}
