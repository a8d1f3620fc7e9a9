using System.Runtime.CompilerServices;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Colab.Daemon.Gpu;

/// <summary>
/// This host's NVIDIA GPUs, read through NVML (<c>libnvidia-ml</c>, loaded once and
/// initialised once, <c>nvmlShutdown</c> on dispose) or, when the library cannot be
/// loaded, through nvidia-smi's CSV output. Thread-safe: readings are serialised.
/// Cheap enough to call every two seconds.
/// </summary>
/// <remarks>
/// Configuration: <c>NvmlLibrary</c> (<c>COLAB_NVMLLIBRARY</c>) — the library's name or
/// path; <c>NvidiaSmi</c> (<c>COLAB_NVIDIASMI</c>) — nvidia-smi's path (default: PATH);
/// <c>NvidiaSmiTimeoutSeconds</c> — its time limit (default 5).
/// </remarks>
public sealed class GpuService : IDisposable
{
    public const string MismatchReason =
        "driver/library version mismatch: the NVIDIA kernel module and libnvidia-ml differ (reboot or reload the driver)";

    public static readonly TimeSpan DefaultNvidiaSmiTimeout = TimeSpan.FromSeconds(5);

    /// <summary>A failed <c>nvmlInit_v2</c> is tried again after this long (a driver can be loaded later).</summary>
    public static readonly TimeSpan InitRetryInterval = TimeSpan.FromSeconds(30);

    private readonly IConfiguration _configuration;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ProcessTable _processes = new();
    private readonly SemaphoreSlim _gate = new(1, 1);

    private bool _loadTried;
    private string? _loadError;
    private NvmlLibrary? _library;
    private NvmlReader? _reader;
    private (int Code, string Text, DateTimeOffset At)? _initFailure;
    private bool _disposed;

    public GpuService(IConfiguration configuration, TimeProvider time, ILogger<GpuService>? logger = null)
    {
        _configuration = configuration;
        _time = time;
        _logger = logger ?? (ILogger)NullLogger.Instance;
    }

    /// <summary>The configured library name or path (<c>NvmlLibrary</c>), else the OS default.</summary>
    public string LibraryName
        => Setting("NvmlLibrary") ?? NvmlLibrary.DefaultName;

    /// <summary>Takes one reading. Never throws for a driver problem: that is a state in the snapshot.</summary>
    public async Task<GpuSnapshot> SnapshotAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var now = _time.GetUtcNow();
            EnsureLoaded();
            if (_library is not null)
            {
                if (_reader is not null || TryInit(now))
                {
                    try
                    {
                        var snapshot = _reader!.Read(now);
                        if (snapshot.State is not (GpuStates.Ok or GpuStates.NoGpu))
                        {
                            // The session went bad (driver reloaded, GPU lost): start a fresh one next time.
                            ResetNvml();
                        }
                        return snapshot;
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        _logger.LogWarning(e, "reading NVML failed");
                        return new(GpuStates.Error, GpuSources.Nvml, $"reading NVML failed: {e.Message}", now, null, null, [], []);
                    }
                }
                if (_initFailure is { } failure && failure.Code != NvmlReturn.FunctionNotFound)
                {
                    // nvidia-smi goes through the same library and would fail the same way: say what NVML said.
                    var (state, reason) = DescribeInitFailure(failure.Code, failure.Text, "nvmlInit");
                    return new(state, GpuSources.Nvml, reason, now, null, null, [], []);
                }
            }
            return await FallbackAsync(now, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// A reading now, then one every <paramref name="interval"/> that differs from the last one
    /// yielded (<see cref="GpuSnapshot.SameReadingAs"/>): what a change notification needs.
    /// </summary>
    public async IAsyncEnumerable<GpuSnapshot> WatchAsync(TimeSpan interval, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var last = await SnapshotAsync(cancellationToken).ConfigureAwait(false);
        yield return last;
        using var timer = new PeriodicTimer(interval, _time);
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            var next = await SnapshotAsync(cancellationToken).ConfigureAwait(false);
            if (!next.SameReadingAs(last))
            {
                last = next;
                yield return next;
            }
        }
    }

    /// <summary>State and reason for a failed <c>nvmlInit_v2</c> (or a later call failing the same way).</summary>
    internal static (string State, string Reason) DescribeInitFailure(int code, string text, string call) => code switch
    {
        NvmlReturn.DriverNotLoaded => (GpuStates.NoDriver,
            "the NVIDIA driver is not loaded: libnvidia-ml is installed but the kernel module is not running (load it with modprobe nvidia, or reboot)"),
        NvmlReturn.LibRmVersionMismatch => (GpuStates.DriverMismatch, MismatchReason),
        NvmlReturn.LibraryNotFound => (GpuStates.NoDriver, $"{call}: {text}: the NVIDIA driver's libraries are not installed"),
        NvmlReturn.NoPermission => (GpuStates.Error, $"{call}: {text}: this user may not open the NVIDIA device nodes (/dev/nvidia*)"),
        NvmlReturn.GpuIsLost => (GpuStates.Error, $"{call}: {text}: a GPU fell off the bus; the host needs a reset or reboot"),
        _ => (GpuStates.Error, $"{call} failed: {text} (NVML error {code})"),
    };

    private void EnsureLoaded()
    {
        if (_loadTried)
        {
            return;
        }
        _loadTried = true;
        var name = LibraryName;
        _library = NvmlLibrary.TryLoad(name, out _loadError);
        if (_library is null)
        {
            _logger.LogDebug("NVML not loadable ({Library}): {Error}", name, _loadError);
        }
    }

    private bool TryInit(DateTimeOffset now)
    {
        var library = _library!;
        if (_initFailure is { } earlier && now - earlier.At < InitRetryInterval)
        {
            return false;
        }
        int rc;
        unsafe
        {
            rc = library.Init == null ? NvmlReturn.FunctionNotFound : library.Init();
        }
        if (rc != NvmlReturn.Success)
        {
            var text = rc == NvmlReturn.FunctionNotFound ? $"{library.Path} has no nvmlInit_v2" : library.Error(rc);
            _initFailure = (rc, text, now);
            _logger.LogDebug("nvmlInit_v2 failed: {Code} {Text}", rc, text);
            return false;
        }
        _initFailure = null;
        _reader = new NvmlReader(library, _processes);
        return true;
    }

    private void ResetNvml()
    {
        if (_reader is null || _library is null)
        {
            return;
        }
        unsafe
        {
            if (_library.Shutdown != null)
            {
                _library.Shutdown();
            }
        }
        _reader = null;
    }

    private async Task<GpuSnapshot> FallbackAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var why = _library is null
            ? $"{LibraryName} could not be loaded"
            : $"{LibraryName} has no nvmlInit_v2";
        var smiPath = Setting("NvidiaSmi") ?? FindOnPath(OperatingSystem.IsWindows() ? "nvidia-smi.exe" : "nvidia-smi");
        if (smiPath is null || (Path.IsPathRooted(smiPath) && !File.Exists(smiPath)))
        {
            var reason = $"no NVIDIA driver found: {why}, and nvidia-smi is " +
                         (smiPath is null ? "not on PATH" : $"not at {smiPath}");
            return new(GpuStates.NoDriver, GpuSources.None, reason, now, null, null, [], []);
        }
        var smi = new NvidiaSmi(smiPath, Timeout());
        return await smi.SnapshotAsync(_processes, now, [$"read through nvidia-smi: {why}"], cancellationToken).ConfigureAwait(false);
    }

    private TimeSpan Timeout()
        => double.TryParse(Setting("NvidiaSmiTimeoutSeconds"), System.Globalization.NumberStyles.Float,
               System.Globalization.CultureInfo.InvariantCulture, out var s) && s > 0 && double.IsFinite(s)
            ? TimeSpan.FromSeconds(s)
            : DefaultNvidiaSmiTimeout;

    private string? Setting(string key)
    {
        var value = _configuration[key] ?? _configuration["Colab:" + key];
        return string.IsNullOrWhiteSpace(value) ? null : value;
    }

    private static string? FindOnPath(string name)
        => (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, name))
            .FirstOrDefault(File.Exists);

    public void Dispose()
    {
        _gate.Wait();
        try
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            ResetNvml();
            _library?.Dispose();
            _library = null;
        }
        finally
        {
            _gate.Release();
        }
    }
}
