using Microsoft.Extensions.Logging;

namespace Colab.Daemon.Gpu;

/// <summary>
/// Polls the GPUs only while someone listens: <see cref="Configure"/> with
/// <c>enabled: true</c> starts one loop (first reading at once, then only changes);
/// <c>false</c> stops it, so an unfocused editor costs nothing.
/// </summary>
public sealed partial class GpuWatcher(GpuService gpu, ILogger<GpuWatcher> logger) : IAsyncDisposable
{
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(2);
    public static readonly TimeSpan MinimumInterval = TimeSpan.FromMilliseconds(250);
    public static readonly TimeSpan MaximumInterval = TimeSpan.FromMinutes(10);

    private readonly Lock _gate = new();
    private CancellationTokenSource? _loop;
    private Task _running = Task.CompletedTask;

    /// <summary>Raised with each reading that differs from the one before (and the first after enabling).</summary>
    public event Action<GpuSnapshot>? Changed;

    /// <summary>Raised with every reading, changed or not (the history keeps them).</summary>
    public event Action<GpuSnapshot>? Sampled;

    /// <summary>Raised after polling is switched on or off, or its interval changes.</summary>
    public event Action<bool, TimeSpan>? Configured;

    public bool Enabled { get; private set; }
    public TimeSpan Interval { get; private set; } = DefaultInterval;

    /// <summary>Starts, restarts (new interval) or stops the polling loop. The interval is clamped to 250 ms … 10 min.</summary>
    public (bool Enabled, TimeSpan Interval) Configure(bool enabled, TimeSpan? interval)
    {
        lock (_gate)
        {
            var next = Clamp(interval ?? Interval);
            if (enabled == Enabled && next == Interval && (!enabled || !_running.IsCompleted))
            {
                return (Enabled, Interval);
            }
            _loop?.Cancel();
            _loop?.Dispose();
            _loop = null;
            Enabled = enabled;
            Interval = next;
            if (enabled)
            {
                var cts = new CancellationTokenSource();
                _loop = cts;
                _running = Task.Run(() => RunAsync(next, cts.Token));
            }
        }
        try
        {
            Configured?.Invoke(enabled, Interval);
        }
        catch (Exception ex)
        {
            Log.WatchFailed(logger, ex.Message);
        }
        return (Enabled, Interval);
    }

    private async Task RunAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        try
        {
            GpuSnapshot? last = null;
            using var timer = new PeriodicTimer(interval);
            do
            {
                var snapshot = await gpu.SnapshotAsync(cancellationToken).ConfigureAwait(false);
                Sampled?.Invoke(snapshot);
                if (!snapshot.SameReadingAs(last))
                {
                    last = snapshot;
                    Changed?.Invoke(snapshot);
                }
            }
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            Log.WatchFailed(logger, ex.Message);
        }
    }

    public static TimeSpan Clamp(TimeSpan interval)
        => interval < MinimumInterval ? MinimumInterval : interval > MaximumInterval ? MaximumInterval : interval;

    public async ValueTask DisposeAsync()
    {
        Task running;
        lock (_gate)
        {
            _loop?.Cancel();
            running = _running;
        }
        await running.ConfigureAwait(false);
        lock (_gate)
        {
            _loop?.Dispose();
            _loop = null;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(3001, LogLevel.Warning, "GPU polling stopped: {Error}")]
        public static partial void WatchFailed(ILogger logger, string error);
    }
}
