using Colab.Daemon.Runtimes;
using Microsoft.Extensions.Logging;

namespace Colab.Daemon.Gpu;

/// <summary>
/// While <see cref="GpuWatcher"/> polls (someone is looking), polls every connected runtime's
/// GPUs too, one loop per runtime so a slow runtime never delays another or the local item.
/// Stops a runtime's loop when it is disconnected and all loops when polling is switched off.
/// </summary>
public sealed partial class RuntimeGpuWatcher : IAsyncDisposable
{
    /// <summary>Runtime readings cost a round trip; they are taken at most this often.</summary>
    public static readonly TimeSpan MinimumInterval = TimeSpan.FromSeconds(1);

    private readonly RuntimeGpuService _service;
    private readonly RuntimeManager _runtimes;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, (CancellationTokenSource Stop, Task Loop)> _loops = new(StringComparer.Ordinal);
    private bool _enabled;
    private TimeSpan _interval = GpuWatcher.DefaultInterval;
    private bool _disposed;

    public RuntimeGpuWatcher(RuntimeGpuService service, RuntimeManager runtimes, GpuWatcher local, ILogger<RuntimeGpuWatcher> logger)
    {
        _service = service;
        _runtimes = runtimes;
        _logger = logger;
        local.Configured += (enabled, interval) =>
        {
            lock (_gate)
            {
                _enabled = enabled;
                _interval = interval < MinimumInterval ? MinimumInterval : interval;
                foreach (var id in _loops.Keys.ToList())
                {
                    Stop(id);
                }
            }
            Reconcile();
        };
        runtimes.Changed += Reconcile;
    }

    /// <summary>A runtime's reading that differs from its previous one (and its first).</summary>
    public event Action<string, GpuSnapshot>? Changed;

    /// <summary>Every runtime reading.</summary>
    public event Action<string, GpuSnapshot>? Sampled;

    /// <summary>A runtime was disconnected: its readings end.</summary>
    public event Action<string>? Removed;

    public IReadOnlyCollection<string> Watching
    {
        get
        {
            lock (_gate)
            {
                return [.. _loops.Keys];
            }
        }
    }

    private void Reconcile()
    {
        var live = _runtimes.List().Where(r => r.State == RuntimeStates.Connected).Select(r => r.Id).ToHashSet(StringComparer.Ordinal);
        var removed = new List<string>();
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
            foreach (var id in _loops.Keys.ToList())
            {
                if (!live.Contains(id) || !_enabled)
                {
                    Stop(id);
                    if (!live.Contains(id))
                    {
                        removed.Add(id);
                    }
                }
            }
            if (_enabled)
            {
                foreach (var id in live.Where(id => !_loops.ContainsKey(id)))
                {
                    var stop = new CancellationTokenSource();
                    var interval = _interval;
                    _loops[id] = (stop, Task.Run(() => RunAsync(id, interval, stop.Token)));
                }
            }
        }
        foreach (var id in removed)
        {
            Removed?.Invoke(id);
        }
    }

    private void Stop(string id)
    {
        if (_loops.Remove(id, out var loop))
        {
            loop.Stop.Cancel();
            _ = loop.Loop.ContinueWith(_ => loop.Stop.Dispose(), TaskScheduler.Default);
        }
    }

    private async Task RunAsync(string runtimeId, TimeSpan interval, CancellationToken cancellationToken)
    {
        try
        {
            GpuSnapshot? last = null;
            using var timer = new PeriodicTimer(interval);
            do
            {
                var snapshot = await _service.SnapshotAsync(runtimeId, cancellationToken).ConfigureAwait(false);
                Sampled?.Invoke(runtimeId, snapshot);
                if (!snapshot.SameReadingAs(last))
                {
                    last = snapshot;
                    Changed?.Invoke(runtimeId, snapshot);
                }
            }
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is JupyterException or ObjectDisposedException)
        {
            // Disconnected between the check and the reading: the runtime's Changed stops us.
            Log.RuntimeWatchEnded(_logger, runtimeId, ex.Message);
        }
        catch (Exception ex)
        {
            Log.RuntimeWatchEnded(_logger, runtimeId, ex.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        List<Task> loops;
        lock (_gate)
        {
            _disposed = true;
            loops = [.. _loops.Values.Select(l => l.Loop)];
            foreach (var id in _loops.Keys.ToList())
            {
                Stop(id);
            }
        }
        _runtimes.Changed -= Reconcile;
        await Task.WhenAll(loops).ConfigureAwait(false);
    }

    private static partial class Log
    {
        [LoggerMessage(3002, LogLevel.Information, "GPU polling of runtime {Runtime} ended: {Error}")]
        public static partial void RuntimeWatchEnded(ILogger logger, string runtime, string error);
    }
}
