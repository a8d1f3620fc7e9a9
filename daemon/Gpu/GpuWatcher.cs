using System.Diagnostics;
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
            // The loop's thread disposes its own token source when it ends (after taking it out of _loop).
            _loop?.Cancel();
            _loop = null;
            Enabled = enabled;
            Interval = next;
            if (enabled)
            {
                var cts = new CancellationTokenSource();
                var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _loop = cts;
                _running = done.Task;
                new Thread(() =>
                {
                    try
                    {
                        Run(next, cts.Token);
                    }
                    finally
                    {
                        lock (_gate)
                        {
                            if (_loop == cts)
                            {
                                _loop = null;
                            }
                        }
                        cts.Dispose();
                        done.TrySetResult();
                    }
                })
                { IsBackground = true, Name = "colab gpu poll" }.Start();
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

    /// <summary>
    /// The polling loop, on its own thread that sleeps between readings: a reading through NVML
    /// is synchronous, and a thread-pool timer and work item per tick cost ~2 ms of CPU each time
    /// in the pool's spin-waiting alone (docs/benchmarks.md, GPU). Nothing here touches the
    /// thread pool unless a reading changed (the notification is written by the connection's
    /// writer) or nvidia-smi has to be run.
    /// </summary>
    private void Run(TimeSpan interval, CancellationToken cancellationToken)
    {
        try
        {
            GpuSnapshot? last = null;
            var wake = cancellationToken.WaitHandle;
            var due = Stopwatch.GetTimestamp();
            var period = (long)(interval.TotalSeconds * Stopwatch.Frequency);
            do
            {
                var snapshot = gpu.SnapshotAsync(cancellationToken).GetAwaiter().GetResult();
                Sampled?.Invoke(snapshot);
                if (!snapshot.SameReadingAs(last))
                {
                    last = snapshot;
                    Changed?.Invoke(snapshot);
                }
                // Fixed rate like PeriodicTimer: the next reading one period after the last one was
                // due; ticks missed while a reading was slow are skipped, not caught up.
                var now = Stopwatch.GetTimestamp();
                due += period;
                if (due <= now)
                {
                    due = now + period - (now - due) % period;
                }
            }
            while (!wake.WaitOne(Until(due)));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            Log.WatchFailed(logger, ex.Message);
        }
    }

    /// <summary>The time left until a Stopwatch timestamp; zero when it has passed (WaitOne refuses a negative wait).</summary>
    internal static TimeSpan Until(long timestamp)
    {
        var left = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), timestamp);
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }

    public static TimeSpan Clamp(TimeSpan interval)
        => interval < MinimumInterval ? MinimumInterval : interval > MaximumInterval ? MaximumInterval : interval;

    public async ValueTask DisposeAsync()
    {
        Task running;
        lock (_gate)
        {
            _loop?.Cancel();
            _loop = null;
            running = _running;
        }
        await running.ConfigureAwait(false);
    }

    private static partial class Log
    {
        [LoggerMessage(3001, LogLevel.Warning, "GPU polling stopped: {Error}")]
        public static partial void WatchFailed(ILogger logger, string error);
    }
}
