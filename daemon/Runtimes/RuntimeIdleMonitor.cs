using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Colab.Daemon.Runtimes;

/// <summary>What the idle monitor does, set by the client (<c>colab/runtime/setIdleTimeout</c>) or configuration.</summary>
/// <param name="Timeout">Disconnect a runtime idle this long; <see cref="TimeSpan.Zero"/> = never.</param>
/// <param name="Warning">Warn this long before the disconnect.</param>
public sealed record IdlePolicy(TimeSpan Timeout, TimeSpan Warning)
{
    public static readonly IdlePolicy Default = new(TimeSpan.FromMinutes(60), TimeSpan.FromSeconds(60));
}

/// <summary>
/// Keep-alive and idle shutdown. While a runtime is held busy (<see cref="RuntimeManager.HoldBusy"/>:
/// a cell running through this daemon, a training job) it pokes the server's REST API now and
/// then so the server's own idle culler (<c>shutdown_no_activity_timeout</c>) sees activity — the
/// kernel WebSockets already send pings (<see cref="KernelConnectionOptions.KeepAliveInterval"/>).
/// When a runtime has been idle for the policy's timeout it is disconnected, after a warning
/// (<see cref="IdleWarning"/>) that the user can answer by using the runtime (<see cref="RuntimeManager.Touch"/>).
/// </summary>
/// <remarks>Configuration: <c>IdleTimeoutMinutes</c> (0 = never), <c>IdleWarningSeconds</c>, <c>IdleCheckSeconds</c> (how often runtimes are checked, default 5).</remarks>
public sealed class RuntimeIdleMonitor : IDisposable
{
    private readonly RuntimeManager _runtimes;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TimeSpan _pokeInterval;
    private readonly ITimer _timer;
    private readonly TimeSpan _tick;
    private readonly Lock _armGate = new();
    private bool _armed;
    private readonly Dictionary<string, DateTimeOffset> _warnedFor = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _lastPoke = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private IdlePolicy _policy;
    private int _ticking;

    public RuntimeIdleMonitor(RuntimeManager runtimes, IConfiguration configuration, ILogger<RuntimeIdleMonitor>? logger = null, TimeProvider? time = null)
        : this(runtimes, FromConfiguration(configuration), CheckInterval(configuration), TimeSpan.FromSeconds(60), logger, time)
    {
    }

    /// <param name="tick">How often runtimes are checked.</param>
    /// <param name="pokeInterval">How often a busy runtime's server is poked.</param>
    internal RuntimeIdleMonitor(RuntimeManager runtimes, IdlePolicy policy, TimeSpan tick, TimeSpan pokeInterval, ILogger? logger = null, TimeProvider? time = null)
    {
        _runtimes = runtimes;
        _policy = policy;
        _pokeInterval = pokeInterval;
        _logger = logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
        _tick = tick;
        // The timer runs only while there is a runtime to watch: a thread-pool tick every 5 s
        // with nothing to check cost more CPU than all of a watched GPU (docs/benchmarks.md, GPU).
        _timer = _time.CreateTimer(_ => _ = TickAsync(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _runtimes.Changed += Arm;
        Arm();
    }

    /// <summary>Starts the timer when the first runtime appears, stops it when the last one is gone.</summary>
    private void Arm()
    {
        lock (_armGate)
        {
            var any = _runtimes.List().Count > 0;
            if (any != _armed)
            {
                _armed = any;
                // Only on a change: re-arming on every event would keep postponing the next tick.
                _timer.Change(any ? _tick : Timeout.InfiniteTimeSpan, any ? _tick : Timeout.InfiniteTimeSpan);
            }
        }
    }

    /// <summary>A runtime will be disconnected for idleness in <c>secondsLeft</c> unless it is used (raised once per idle stretch).</summary>
    public event Action<string, double>? IdleWarning;

    /// <summary>A runtime was disconnected for idleness (after <c>idleSeconds</c>).</summary>
    public event Action<string, double>? IdleDisconnected;

    /// <summary>Busy runtimes' servers poked (for tests and the log).</summary>
    public int Pokes { get; private set; }

    public IdlePolicy Policy
    {
        get { lock (_lock) { return _policy; } }
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            if (value.Timeout < TimeSpan.Zero || value.Warning < TimeSpan.Zero)
            {
                throw new ArgumentOutOfRangeException(nameof(value), "the idle timeout and warning cannot be negative");
            }
            lock (_lock)
            {
                _policy = value;
                _warnedFor.Clear();
            }
        }
    }

    /// <summary>One check of every runtime (the timer calls it; tests may too).</summary>
    public async Task TickAsync()
    {
        if (Interlocked.Exchange(ref _ticking, 1) != 0)
        {
            return;
        }
        try
        {
            var policy = Policy;
            var now = _time.GetUtcNow();
            foreach (var runtime in _runtimes.List())
            {
                if (runtime.State != RuntimeStates.Connected)
                {
                    continue;
                }
                (bool Busy, DateTimeOffset LastUsed) activity;
                try
                {
                    activity = _runtimes.Activity(runtime.Id);
                }
                catch (JupyterException)
                {
                    continue; // disconnected meanwhile
                }
                if (activity.Busy)
                {
                    await PokeAsync(runtime.Id, now).ConfigureAwait(false);
                    lock (_lock)
                    {
                        _warnedFor.Remove(runtime.Id);
                    }
                    continue;
                }
                if (policy.Timeout <= TimeSpan.Zero)
                {
                    continue;
                }
                var idle = now - activity.LastUsed;
                var left = policy.Timeout - idle;
                if (left <= TimeSpan.Zero)
                {
                    await DisconnectIdleAsync(runtime.Id, idle).ConfigureAwait(false);
                    continue;
                }
                if (left <= policy.Warning)
                {
                    bool warn;
                    lock (_lock)
                    {
                        // One warning per idle stretch: a later use moves LastUsed and allows the next one.
                        warn = !_warnedFor.TryGetValue(runtime.Id, out var warnedAt) || warnedAt != activity.LastUsed;
                        _warnedFor[runtime.Id] = activity.LastUsed;
                    }
                    if (warn)
                    {
                        _logger.LogInformation("runtime {Id} idle for {Idle:F0} s: disconnecting in {Left:F0} s unless used", runtime.Id, idle.TotalSeconds, left.TotalSeconds);
                        Raise(IdleWarning, runtime.Id, Math.Ceiling(left.TotalSeconds));
                    }
                }
            }
        }
        catch (Exception e)
        {
            _logger.LogWarning("the idle check failed: {Error}", e.Message);
        }
        finally
        {
            Volatile.Write(ref _ticking, 0);
        }
    }

    public void Dispose()
    {
        _runtimes.Changed -= Arm;
        _timer.Dispose();
    }

    private async Task PokeAsync(string runtimeId, DateTimeOffset now)
    {
        lock (_lock)
        {
            if (_lastPoke.TryGetValue(runtimeId, out var last) && now - last < _pokeInterval)
            {
                return;
            }
            _lastPoke[runtimeId] = now;
        }
        try
        {
            // Any authenticated API request counts as activity for jupyter-server's idle shutdown.
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _runtimes.Client(runtimeId).ListKernelsAsync(timeout.Token).ConfigureAwait(false);
            Pokes++;
        }
        catch (Exception e) when (e is JupyterException or OperationCanceledException)
        {
            _logger.LogInformation("runtime {Id}: keep-alive request failed: {Error}", runtimeId, e.Message);
        }
    }

    private async Task DisconnectIdleAsync(string runtimeId, TimeSpan idle)
    {
        _logger.LogInformation("runtime {Id} idle for {Idle:F0} s: disconnecting it", runtimeId, idle.TotalSeconds);
        lock (_lock)
        {
            _warnedFor.Remove(runtimeId);
            _lastPoke.Remove(runtimeId);
        }
        try
        {
            await _runtimes.DisconnectAsync(runtimeId).ConfigureAwait(false);
        }
        catch (JupyterException e)
        {
            _logger.LogInformation("runtime {Id}: idle disconnect failed: {Error}", runtimeId, e.Message);
            return;
        }
        Raise(IdleDisconnected, runtimeId, Math.Round(idle.TotalSeconds));
    }

    private void Raise(Action<string, double>? handler, string runtimeId, double seconds)
    {
        try
        {
            handler?.Invoke(runtimeId, seconds);
        }
        catch (Exception e)
        {
            _logger.LogWarning("an idle handler failed: {Error}", e.Message);
        }
    }

    private static TimeSpan CheckInterval(IConfiguration configuration)
        => double.TryParse(configuration["IdleCheckSeconds"], System.Globalization.CultureInfo.InvariantCulture, out var seconds) && seconds is >= 0.05 and <= 3600
            ? TimeSpan.FromSeconds(seconds)
            : TimeSpan.FromSeconds(5);

    private static IdlePolicy FromConfiguration(IConfiguration configuration)
    {
        var policy = IdlePolicy.Default;
        if (double.TryParse(configuration["IdleTimeoutMinutes"], System.Globalization.CultureInfo.InvariantCulture, out var minutes) && minutes >= 0)
        {
            policy = policy with { Timeout = TimeSpan.FromMinutes(minutes) };
        }
        if (double.TryParse(configuration["IdleWarningSeconds"], System.Globalization.CultureInfo.InvariantCulture, out var seconds) && seconds >= 0)
        {
            policy = policy with { Warning = TimeSpan.FromSeconds(seconds) };
        }
        return policy;
    }
}
