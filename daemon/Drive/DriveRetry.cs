namespace Colab.Daemon.Drive;

/// <summary>
/// Exponential backoff with full jitter for rate limits (403 rateLimitExceeded /
/// userRateLimitExceeded, 429) and 5xx, honouring Retry-After. Quota errors never come here.
/// </summary>
public sealed record DriveRetryPolicy(int MaxAttempts = 7, TimeSpan? BaseDelay = null, TimeSpan? MaxDelay = null)
{
    public TimeSpan Base => BaseDelay ?? TimeSpan.FromSeconds(1);

    public TimeSpan Cap => MaxDelay ?? TimeSpan.FromSeconds(64);

    public TimeSpan DelayFor(int attempt, TimeSpan? retryAfter)
    {
        if (retryAfter is { } ra)
        {
            return ra > Cap ? Cap : ra;
        }
        var exp = Base.TotalMilliseconds * Math.Pow(2, Math.Min(attempt, 16));
        var capped = Math.Min(exp, Cap.TotalMilliseconds);
        // Half fixed, half random: spreads retries of parallel transfers without ever waiting zero.
        return TimeSpan.FromMilliseconds(capped / 2 + Random.Shared.NextDouble() * capped / 2);
    }
}
