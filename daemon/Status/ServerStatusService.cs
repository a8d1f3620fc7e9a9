using System.Reflection;
using System.Runtime.InteropServices;
using Colab.Daemon.Python;
using Microsoft.Extensions.Configuration;

namespace Colab.Daemon.Status;

/// <summary>One capability of this host: probing, available or unavailable, and why.</summary>
public sealed record CapabilityStatus(string Name, string State, string Detail);

/// <summary>The daemon's health, as <c>colab/serverStatus</c> answers and pushes it.</summary>
public sealed record ServerStatus(
    string Health,
    string Version,
    DateTimeOffset StartedAt,
    double UptimeSeconds,
    int Pid,
    string Platform,
    string Runtime,
    IReadOnlyList<CapabilityStatus> Capabilities);

/// <summary>
/// Knows how the daemon is doing and what this host can do. The host probes (GPU driver,
/// Python and its modules) run once in the background after start; every change raises
/// <see cref="Changed"/> so the client sees it without asking.
/// </summary>
public sealed class ServerStatusService(PythonLocator python, IConfiguration configuration, TimeProvider time)
{
    public const string Probing = "probing";
    public const string Available = "available";
    public const string Unavailable = "unavailable";

    private readonly DateTimeOffset _startedAt = time.GetUtcNow();
    private readonly Lock _gate = new();
    private IReadOnlyList<CapabilityStatus> _capabilities =
        [new("gpu", Probing, ""), new("python", Probing, ""), new("localRuntime", Probing, ""), new("torch", Probing, "")];
    private string _health = "starting";
    private Task? _probe;

    public event Action<ServerStatus>? Changed;

    public static string Version { get; } =
        typeof(ServerStatusService).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    public ServerStatus Current()
    {
        lock (_gate)
        {
            var now = time.GetUtcNow();
            return new ServerStatus(
                _health,
                Version,
                _startedAt,
                Math.Round((now - _startedAt).TotalSeconds, 3),
                Environment.ProcessId,
                RuntimeInformation.RuntimeIdentifier,
                RuntimeInformation.FrameworkDescription,
                _capabilities);
        }
    }

    /// <summary>Marks the daemon ready to take work.</summary>
    public void MarkReady() => Update(health: "ready");

    /// <summary>Starts the host probes once; later calls return the same task.</summary>
    public Task ProbeAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return _probe ??= Task.Run(() => RunProbesAsync(cancellationToken), cancellationToken);
        }
    }

    private async Task RunProbesAsync(CancellationToken cancellationToken)
    {
        var gpu = ProbeGpu();
        var py = await python.LocateAsync(cancellationToken).ConfigureAwait(false);
        var list = new List<CapabilityStatus> { gpu };
        if (py is null)
        {
            list.Add(new("python", Unavailable, "no Python interpreter found (set colab.python, or install python3)"));
            list.Add(new("localRuntime", Unavailable, "needs Python with jupyter-server and python3-ipykernel"));
            list.Add(new("torch", Unavailable, "needs Python with torch"));
        }
        else if (!py.Usable)
        {
            list.Add(new("python", Unavailable, $"{py.Path}: {py.Error}"));
            list.Add(new("localRuntime", Unavailable, "needs a working Python with jupyter-server and python3-ipykernel"));
            list.Add(new("torch", Unavailable, "needs a working Python with torch"));
        }
        else
        {
            list.Add(new("python", Available, $"{py.Path} (Python {py.Version})"));
            var missing = py.Missing(PythonLocator.RuntimeModules).ToList();
            list.Add(missing.Count == 0
                ? new("localRuntime", Available, $"jupyter-server and ipykernel in {py.Path}")
                : new("localRuntime", Unavailable, $"{py.Path} lacks {string.Join(", ", missing)} (Debian: apt-get install {string.Join(' ', missing)})"));
            list.Add(py.Modules.GetValueOrDefault("torch")
                ? new("torch", Available, $"torch in {py.Path}")
                : new("torch", Unavailable, $"{py.Path} lacks torch (Debian: apt-get install python3-torch)"));
        }
        Update(capabilities: list);
    }

    private CapabilityStatus ProbeGpu()
    {
        var library = configuration["NvmlLibrary"] ?? configuration["Colab:NvmlLibrary"]
            ?? (OperatingSystem.IsWindows() ? "nvml.dll" : "libnvidia-ml.so.1");
        if (NativeLibrary.TryLoad(library, out var handle))
        {
            NativeLibrary.Free(handle);
            return new("gpu", Available, $"NVIDIA driver library {library}");
        }
        var smi = FindOnPath(OperatingSystem.IsWindows() ? "nvidia-smi.exe" : "nvidia-smi");
        return smi is not null
            ? new("gpu", Available, $"{smi} ({library} could not be loaded)")
            : new("gpu", Unavailable, $"no NVIDIA driver: {library} not loadable and nvidia-smi not on PATH");
    }

    private static string? FindOnPath(string name)
        => (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, name))
            .FirstOrDefault(File.Exists);

    private void Update(string? health = null, IReadOnlyList<CapabilityStatus>? capabilities = null)
    {
        ServerStatus snapshot;
        lock (_gate)
        {
            var changed = (health is not null && health != _health) || (capabilities is not null && !capabilities.SequenceEqual(_capabilities));
            if (!changed)
            {
                return;
            }
            _health = health ?? _health;
            _capabilities = capabilities ?? _capabilities;
            snapshot = Current();
        }
        Changed?.Invoke(snapshot);
    }
}
