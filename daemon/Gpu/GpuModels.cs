namespace Colab.Daemon.Gpu;

/// <summary>What a <see cref="GpuSnapshot"/> says about the host as a whole.</summary>
public static class GpuStates
{
    /// <summary>The driver answered; <see cref="GpuSnapshot.Devices"/> has at least one GPU.</summary>
    public const string Ok = "ok";

    /// <summary>No usable NVIDIA driver: no libnvidia-ml and no nvidia-smi, or the kernel module is not loaded.</summary>
    public const string NoDriver = "noDriver";

    /// <summary>The driver answered and reports zero GPUs.</summary>
    public const string NoGpu = "noGpu";

    /// <summary>The NVIDIA kernel module and the user-space library differ (driver upgraded without a reboot).</summary>
    public const string DriverMismatch = "driverMismatch";

    /// <summary>nvidia-smi did not answer within its time limit and was killed.</summary>
    public const string TimedOut = "timedOut";

    /// <summary>Anything else; <see cref="GpuSnapshot.Reason"/> says what.</summary>
    public const string Error = "error";
}

/// <summary>Where a <see cref="GpuSnapshot"/> was read from.</summary>
public static class GpuSources
{
    public const string Nvml = "nvml";
    public const string NvidiaSmi = "nvidia-smi";
    public const string None = "none";
}

/// <summary>
/// One reading of this host's NVIDIA GPUs. Every value a driver call could not provide is
/// <c>null</c> ("unknown"); why is in the device's or the snapshot's <c>Notes</c>.
/// </summary>
/// <param name="State">One of <see cref="GpuStates"/>.</param>
/// <param name="Source">One of <see cref="GpuSources"/>.</param>
/// <param name="Reason">Why the state is not <c>ok</c>, for people; null when it is.</param>
/// <param name="TakenAt">When the reading was taken.</param>
/// <param name="DriverVersion">e.g. <c>550.54.15</c>.</param>
/// <param name="CudaDriverVersion">The CUDA version the driver supports, e.g. <c>12.4</c> (NVML only).</param>
/// <param name="Devices">The physical GPUs, by index.</param>
/// <param name="Notes">System-level notes (a missing system call, the nvidia-smi fallback, …).</param>
public sealed record GpuSnapshot(
    string State,
    string Source,
    string? Reason,
    DateTimeOffset TakenAt,
    string? DriverVersion,
    string? CudaDriverVersion,
    IReadOnlyList<GpuDevice> Devices,
    IReadOnlyList<string> Notes)
{
    /// <summary>True when both readings say the same thing, ignoring <see cref="TakenAt"/>: the test for a change notification.</summary>
    public bool SameReadingAs(GpuSnapshot? other)
        => other is not null
           && State == other.State && Source == other.Source && Reason == other.Reason
           && DriverVersion == other.DriverVersion && CudaDriverVersion == other.CudaDriverVersion
           && Notes.SequenceEqual(other.Notes)
           && Same(Devices, other.Devices, static (a, b) => a.SameReadingAs(b));

    internal static bool Same<T>(IReadOnlyList<T>? a, IReadOnlyList<T>? b, Func<T, T, bool> same)
    {
        if (a is null || b is null)
        {
            return a is null && b is null;
        }
        if (a.Count != b.Count)
        {
            return false;
        }
        for (var i = 0; i < a.Count; i++)
        {
            if (!same(a[i], b[i]))
            {
                return false;
            }
        }
        return true;
    }
}

/// <summary>One physical GPU.</summary>
/// <param name="Index">NVML / nvidia-smi index.</param>
/// <param name="UtilizationGpuPercent">% of time a kernel ran over the last sample period; null on MIG-enabled GPUs.</param>
/// <param name="UtilizationMemoryPercent">% of time device memory was read or written.</param>
/// <param name="MemoryUsedBytes">Allocated memory (NVML v2 "used"; v1 and nvidia-smi include reserved memory).</param>
/// <param name="PowerDrawWatts">Current draw (a 1 s average on Ampere and newer).</param>
/// <param name="PowerLimitWatts">The enforced power limit.</param>
/// <param name="MigEnabled">Current MIG mode; null where MIG is not supported or not known.</param>
/// <param name="MigDevices">The MIG devices under this GPU when MIG is enabled, else empty.</param>
/// <param name="Processes">Compute processes; null when the list could not be read.</param>
/// <param name="Notes">Per-field notes: "power draw: Not Supported", …</param>
public sealed record GpuDevice(
    int Index,
    string? Name,
    string? Uuid,
    int? UtilizationGpuPercent,
    int? UtilizationMemoryPercent,
    ulong? MemoryUsedBytes,
    ulong? MemoryTotalBytes,
    int? TemperatureCelsius,
    double? PowerDrawWatts,
    double? PowerLimitWatts,
    bool? MigEnabled,
    IReadOnlyList<MigDevice> MigDevices,
    IReadOnlyList<GpuProcess>? Processes,
    IReadOnlyList<string> Notes)
{
    internal bool SameReadingAs(GpuDevice o)
        => Index == o.Index && Name == o.Name && Uuid == o.Uuid
           && UtilizationGpuPercent == o.UtilizationGpuPercent && UtilizationMemoryPercent == o.UtilizationMemoryPercent
           && MemoryUsedBytes == o.MemoryUsedBytes && MemoryTotalBytes == o.MemoryTotalBytes
           && TemperatureCelsius == o.TemperatureCelsius
           && PowerDrawWatts == o.PowerDrawWatts && PowerLimitWatts == o.PowerLimitWatts
           && MigEnabled == o.MigEnabled
           && Notes.SequenceEqual(o.Notes)
           && GpuSnapshot.Same(MigDevices, o.MigDevices, static (a, b) => a.SameReadingAs(b))
           && GpuSnapshot.Same(Processes, o.Processes, static (a, b) => a == b);
}

/// <summary>A MIG device (GPU instance slice) under its parent GPU. NVML reports no utilisation for MIG devices.</summary>
/// <param name="Index">MIG index under the parent.</param>
public sealed record MigDevice(
    int Index,
    string? Name,
    string? Uuid,
    int? UtilizationGpuPercent,
    int? UtilizationMemoryPercent,
    ulong? MemoryUsedBytes,
    ulong? MemoryTotalBytes,
    IReadOnlyList<GpuProcess>? Processes,
    IReadOnlyList<string> Notes)
{
    internal bool SameReadingAs(MigDevice o)
        => Index == o.Index && Name == o.Name && Uuid == o.Uuid
           && UtilizationGpuPercent == o.UtilizationGpuPercent && UtilizationMemoryPercent == o.UtilizationMemoryPercent
           && MemoryUsedBytes == o.MemoryUsedBytes && MemoryTotalBytes == o.MemoryTotalBytes
           && Notes.SequenceEqual(o.Notes)
           && GpuSnapshot.Same(Processes, o.Processes, static (a, b) => a == b);
}

/// <summary>A compute process on a GPU.</summary>
/// <param name="Pid">Process id as the driver sees it (the host's pid namespace).</param>
/// <param name="UsedMemoryBytes">GPU memory the process uses; null when the driver cannot say (e.g. WDDM).</param>
/// <param name="Name">Short name from <c>/proc/&lt;pid&gt;/comm</c> when readable.</param>
/// <param name="User">Owner's user name (from <c>/proc/&lt;pid&gt;/status</c> and <c>/etc/passwd</c>) when readable.</param>
/// <param name="GpuInstanceId">MIG GPU instance; null when MIG is off.</param>
/// <param name="ComputeInstanceId">MIG compute instance; null when MIG is off.</param>
public sealed record GpuProcess(
    int Pid,
    ulong? UsedMemoryBytes,
    string? Name,
    string? User,
    uint? GpuInstanceId = null,
    uint? ComputeInstanceId = null);
