namespace Colab.Daemon.Drive;

/// <summary>
/// Downloads by share link without signing in (the gdown use case): one HTTP client that follows
/// no redirect and keeps no cookie on its own (<see cref="DriveLinkDownloader"/> checks every hop
/// and keeps Drive's own cookies per download).
/// </summary>
public sealed class DriveLinkService : IDisposable
{
    // Created on first use (issue 8, idle RSS: the daemon builds every service at start).
    private HttpClient? _http;

    private static HttpClient CreateHttpClient() => new(new SocketsHttpHandler
    {
        AllowAutoRedirect = false,
        UseCookies = false,
        UseProxy = true,
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        ConnectTimeout = TimeSpan.FromSeconds(30),
    })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    /// <summary>
    /// Downloads what <paramref name="link"/> (a share link or file id) points at. <paramref name="baseUrl"/>
    /// replaces Drive's public hosts with one origin (a stand-in); null means the real Google hosts.
    /// </summary>
    public Task<DriveTransfer> DownloadAsync(string link, string? folder, string? localPath, string? format, string? baseUrl, IProgress<long>? progress, CancellationToken cancellationToken, DriveRetryPolicy? retry = null)
    {
        var parsed = DriveLinks.Parse(link);
        // COLAB_DRIVE_LINK_URL points the daemon at a stand-in (tests, benchmarks); unset means Google.
        baseUrl ??= Environment.GetEnvironmentVariable("COLAB_DRIVE_LINK_URL") is { Length: > 0 } env ? env : null;
        var hosts = baseUrl is null ? DriveLinkHosts.Google : DriveLinkHosts.At(baseUrl);
        return new DriveLinkDownloader(LazyInitializer.EnsureInitialized(ref _http, CreateHttpClient), hosts, retry).DownloadAsync(parsed, folder, localPath, format, progress, cancellationToken);
    }

    public void Dispose() => _http?.Dispose();
}
