using System.Collections.Concurrent;
using Colab.Daemon.Runtimes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Colab.Daemon.Gpu;

/// <summary>
/// The GPUs of connected runtimes, read on the runtime by a hidden probe kernel of their
/// own (one per runtime, started on first use through the Jupyter REST API with this
/// daemon's own client), so a busy training cell in the user's kernel never delays a
/// reading. Each reading is time-bounded: a probe that does not answer is interrupted and
/// the reading says "timedOut". When a runtime is disconnected its probe kernel is shut down.
/// </summary>
/// <remarks>
/// Configuration: <c>RuntimeGpuTimeoutSeconds</c> (a reading, default 15), <c>RuntimeGpuStartTimeoutSeconds</c>
/// (starting the probe kernel, default 60). For a local runtime (same host) the probe uses the
/// daemon's <c>NvmlLibrary</c> and <c>NvidiaSmi</c> settings.
/// </remarks>
public sealed class RuntimeGpuService : IAsyncDisposable
{
    private readonly RuntimeManager _runtimes;
    private readonly IConfiguration _configuration;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, Probe> _probes = new(StringComparer.Ordinal);
    private int _disposed;

    public RuntimeGpuService(RuntimeManager runtimes, IConfiguration configuration, TimeProvider? time = null, ILogger<RuntimeGpuService>? logger = null)
    {
        _runtimes = runtimes;
        _configuration = configuration;
        _time = time ?? TimeProvider.System;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _runtimes.Changed += OnRuntimesChanged;
    }

    public TimeSpan ReadTimeout => Seconds("RuntimeGpuTimeoutSeconds", 15);

    public TimeSpan StartTimeout => Seconds("RuntimeGpuStartTimeoutSeconds", 60);

    /// <summary>True when <paramref name="kernelId"/> is a GPU probe kernel of this daemon (views should hide it).</summary>
    public bool IsProbeKernel(string runtimeId, string kernelId)
        => _probes.TryGetValue(runtimeId, out var probe) && probe.KernelId == kernelId;

    /// <summary>One reading of the runtime's GPUs. Throws <see cref="JupyterException"/> (NotFound) for an unknown runtime; a runtime that cannot be read is a state.</summary>
    public async Task<GpuSnapshot> SnapshotAsync(string runtimeId, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var info = _runtimes.Get(runtimeId);
        if (info.State != RuntimeStates.Connected)
        {
            return new(GpuStates.Error, GpuSources.None, $"runtime {runtimeId} is {info.State}: {info.Detail}", _time.GetUtcNow(), null, null, [], []);
        }
        Probe probe;
        lock (_probes)
        {
            // Under a lock: GetOrAdd's factory may run twice, and each run makes an HTTP client.
            if (!_probes.TryGetValue(runtimeId, out probe!))
            {
                var source = _runtimes.Client(runtimeId);
                probe = _probes[runtimeId] = new Probe(runtimeId, new JupyterClient(source.Endpoint, source.Token));
            }
        }
        var readTimeout = ReadTimeout;
        if (!await probe.Gate.WaitAsync(readTimeout, cancellationToken).ConfigureAwait(false))
        {
            return TimedOut(runtimeId, "the previous reading is still running");
        }
        try
        {
            if (probe.Disposed)
            {
                throw new JupyterException(JupyterErrorKind.NotFound, $"no runtime {runtimeId} (it was disconnected)");
            }
            var local = info.Kind == RuntimeKinds.Local;
            var code = RuntimeGpuScript.Build(local ? Setting("NvmlLibrary") : null, local ? Setting("NvidiaSmi") : null, TimeSpan.FromSeconds(Math.Max(1, readTimeout.TotalSeconds / 3)));
            using var start = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            start.CancelAfter(StartTimeout);
            KernelConnection connection;
            try
            {
                connection = await probe.EnsureStartedAsync(_logger, _time, start.Token).ConfigureAwait(false);
                if (probe.KernelId is { } probeKernel)
                {
                    _runtimes.HideKernel(runtimeId, probeKernel);
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                await probe.ResetAsync(_logger).ConfigureAwait(false);
                return TimedOut(runtimeId, $"its GPU probe kernel did not start within {StartTimeout.TotalSeconds:0} s");
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                await probe.ResetAsync(_logger).ConfigureAwait(false);
                return new(GpuStates.Error, GpuSources.None, $"the GPU probe kernel could not be started on runtime {runtimeId}: {e.Message}", _time.GetUtcNow(), null, null, [], []);
            }

            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(readTimeout);
            try
            {
                var execution = await connection.ExecuteAsync(code, new ExecuteOptions { Silent = false, StoreHistory = false }, limit.Token).ConfigureAwait(false);
                var result = await execution.CollectAsync(limit.Token).ConfigureAwait(false);
                if (result.Reply.Status != "ok")
                {
                    return new(GpuStates.Error, GpuSources.None, $"the GPU probe failed on runtime {runtimeId}: {result.Reply.Ename}: {result.Reply.Evalue}", _time.GetUtcNow(), null, null, [], []);
                }
                var snapshot = RuntimeGpuReport.Parse(result.Stdout, _time.GetUtcNow());
                return snapshot with { Notes = [.. snapshot.Notes, $"read on runtime {runtimeId} by a probe kernel"] };
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // A hung driver call: interrupt the probe (never the user's kernel) so the next reading can run.
                try
                {
                    using var interrupt = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                    await connection.InterruptAsync(interrupt.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is JupyterException or OperationCanceledException)
                {
                    await probe.ResetAsync(_logger).ConfigureAwait(false);
                }
                return TimedOut(runtimeId, $"its GPU probe did not answer within {readTimeout.TotalSeconds:0.#} s (the NVIDIA driver may be hung)");
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                await probe.ResetAsync(_logger).ConfigureAwait(false);
                return new(GpuStates.Error, GpuSources.None, $"the GPU probe on runtime {runtimeId} failed: {e.Message}", _time.GetUtcNow(), null, null, [], []);
            }
        }
        finally
        {
            probe.Gate.Release();
        }
    }

    private GpuSnapshot TimedOut(string runtimeId, string why)
        => new(GpuStates.TimedOut, GpuSources.None, $"runtime {runtimeId}: {why}", _time.GetUtcNow(), null, null, [], []);

    private void OnRuntimesChanged()
    {
        var live = _runtimes.List().Select(r => r.Id).ToHashSet(StringComparer.Ordinal);
        foreach (var id in _probes.Keys)
        {
            if (!live.Contains(id) && _probes.TryRemove(id, out var probe))
            {
                _ = probe.DisposeAsync(_logger);
            }
        }
    }

    private TimeSpan Seconds(string key, double fallback)
        => double.TryParse(Setting(key), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var s) && s > 0 && double.IsFinite(s)
            ? TimeSpan.FromSeconds(Math.Min(s, 3600))
            : TimeSpan.FromSeconds(fallback);

    private string? Setting(string key)
    {
        var value = _configuration[key] ?? _configuration["Colab:" + key];
        return string.IsNullOrWhiteSpace(value) ? null : value;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _runtimes.Changed -= OnRuntimesChanged;
        var all = _probes.Values.ToList();
        _probes.Clear();
        await Task.WhenAll(all.Select(p => p.DisposeAsync(_logger))).ConfigureAwait(false);
    }

    /// <summary>One runtime's probe kernel, with this daemon's own REST client for it (so it can still be shut down after the runtime's client is gone).</summary>
    private sealed class Probe(string runtimeId, JupyterClient client)
    {
        private KernelConnection? _connection;

        public SemaphoreSlim Gate { get; } = new(1, 1);

        public volatile string? KernelId;

        public volatile bool Disposed;

        public async Task<KernelConnection> EnsureStartedAsync(ILogger logger, TimeProvider time, CancellationToken cancellationToken)
        {
            if (_connection is { State: not KernelConnectionState.Closed } open)
            {
                return open;
            }
            if (_connection is not null)
            {
                await ResetAsync(logger).ConfigureAwait(false);
            }
            var kernel = await client.StartKernelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            KernelId = kernel.Id;
            logger.LogInformation("runtime {Runtime}: GPU probe kernel {Kernel} started", runtimeId, kernel.Id);
            _connection = await KernelConnection.ConnectAsync(client, kernel.Id, logger: logger, time: time, cancellationToken: cancellationToken).ConfigureAwait(false);
            return _connection;
        }

        /// <summary>Closes the channels and shuts the probe kernel down (best effort, bounded).</summary>
        public async Task ResetAsync(ILogger logger)
        {
            var connection = _connection;
            _connection = null;
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
            var kernelId = KernelId;
            KernelId = null;
            if (kernelId is not null)
            {
                try
                {
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                    await client.DeleteKernelAsync(kernelId, timeout.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is JupyterException or OperationCanceledException)
                {
                    logger.LogDebug("runtime {Runtime}: GPU probe kernel {Kernel} not shut down: {Error}", runtimeId, kernelId, e.Message);
                }
            }
        }

        public async Task DisposeAsync(ILogger logger)
        {
            Disposed = true;
            await Gate.WaitAsync(TimeSpan.FromSeconds(20)).ConfigureAwait(false);
            try
            {
                await ResetAsync(logger).ConfigureAwait(false);
                client.Dispose();
            }
            finally
            {
                Gate.Release();
            }
        }
    }
}
