using System.Runtime.InteropServices;

namespace Colab.Daemon.Gpu;

/// <summary>
/// Reads one snapshot through an initialised <see cref="NvmlLibrary"/>. Not thread-safe:
/// <see cref="GpuService"/> serialises calls. Names and UUIDs are cached per handle (they
/// do not change while NVML stays initialised) and the process buffer is reused, so a
/// reading every two seconds allocates little beyond the records it returns.
/// </summary>
internal sealed unsafe class NvmlReader(NvmlLibrary nvml, ProcessTable processes)
{
    private const int StringBufferSize = 96;     // NVML_DEVICE_NAME_V2_BUFFER_SIZE / UUID_V2
    private const int DriverBufferSize = 80;     // NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE
    private const uint MigDisabledId = 0xFFFFFFFF;

    private readonly Dictionary<nint, (string? Name, string? Uuid)> _identity = [];
    private byte[] _processBuffer = new byte[16 * NvmlLibrary.ProcessDetailSize];
    private string? _driverVersion;
    private string? _cudaVersion;
    private readonly List<string> _systemNotes = [];
    private bool _systemRead;

    public NvmlLibrary Library => nvml;

    public GpuSnapshot Read(DateTimeOffset takenAt)
    {
        var notes = new List<string>();
        foreach (var missing in nvml.Missing)
        {
            notes.Add($"{missing} is not exported by {nvml.Path}");
        }
        ReadSystem();
        notes.AddRange(_systemNotes);

        if (nvml.DeviceGetCount == null)
        {
            return new(GpuStates.Error, GpuSources.Nvml, $"{nvml.Path} has no nvmlDeviceGetCount_v2", takenAt, _driverVersion, _cudaVersion, [], notes);
        }
        uint count;
        var rc = nvml.DeviceGetCount(&count);
        if (rc != NvmlReturn.Success)
        {
            var (state, reason) = GpuService.DescribeInitFailure(rc, nvml.Error(rc), "nvmlDeviceGetCount");
            return new(state, GpuSources.Nvml, reason, takenAt, _driverVersion, _cudaVersion, [], notes);
        }
        if (count == 0)
        {
            return new(GpuStates.NoGpu, GpuSources.Nvml, "the NVIDIA driver reports no GPU", takenAt, _driverVersion, _cudaVersion, [], notes);
        }

        var devices = new GpuDevice[count];
        for (var i = 0u; i < count; i++)
        {
            devices[i] = ReadDevice(i);
        }
        return new(GpuStates.Ok, GpuSources.Nvml, null, takenAt, _driverVersion, _cudaVersion, devices, notes);
    }

    /// <summary>Driver and CUDA versions do not change while NVML is initialised: read once.</summary>
    private void ReadSystem()
    {
        var notes = _systemNotes;
        if (_systemRead)
        {
            return;
        }
        _systemRead = true;
        if (nvml.SystemGetDriverVersion != null)
        {
            var buffer = stackalloc byte[DriverBufferSize];
            var rc = nvml.SystemGetDriverVersion(buffer, DriverBufferSize);
            if (rc == NvmlReturn.Success)
            {
                _driverVersion = NvmlLibrary.CString(new ReadOnlySpan<byte>(buffer, DriverBufferSize));
            }
            else
            {
                notes.Add($"driver version: {nvml.Error(rc)}");
            }
        }
        if (nvml.SystemGetCudaDriverVersion != null)
        {
            int version;
            var rc = nvml.SystemGetCudaDriverVersion(&version);
            if (rc == NvmlReturn.Success)
            {
                _cudaVersion = FormatCudaVersion(version);
            }
            else
            {
                notes.Add($"CUDA driver version: {nvml.Error(rc)}");
            }
        }
    }

    /// <summary>NVML's integer CUDA version as people write it: 12040 → "12.4", 11080 → "11.8".</summary>
    public static string FormatCudaVersion(int version)
        => $"{version / 1000}.{version % 1000 / 10}";

    private GpuDevice ReadDevice(uint index)
    {
        var notes = new List<string>();
        nint handle = 0;
        var rc = nvml.DeviceGetHandleByIndex == null ? NvmlReturn.FunctionNotFound : nvml.DeviceGetHandleByIndex(index, &handle);
        if (rc != NvmlReturn.Success)
        {
            notes.Add($"device handle: {nvml.Error(rc)}");
            return new((int)index, null, null, null, null, null, null, null, null, null, null, [], null, notes);
        }

        var (name, uuid) = Identity(handle, notes);

        bool? migEnabled = null;
        if (nvml.DeviceGetMigMode != null)
        {
            uint current, pending;
            rc = nvml.DeviceGetMigMode(handle, &current, &pending);
            if (rc == NvmlReturn.Success)
            {
                migEnabled = current == 1;
            }
            else if (rc != NvmlReturn.NotSupported)
            {
                // Not Supported is the normal answer of a GPU without MIG: no note for it.
                notes.Add($"MIG mode: {nvml.Error(rc)}");
            }
        }

        int? utilGpu = null, utilMemory = null;
        if (migEnabled == true)
        {
            notes.Add("utilisation: not available while MIG is enabled (NVML reports none)");
        }
        else if (nvml.DeviceGetUtilizationRates != null)
        {
            NvmlUtilization utilization;
            rc = nvml.DeviceGetUtilizationRates(handle, &utilization);
            if (Ok(rc, "utilisation", notes))
            {
                utilGpu = (int)utilization.Gpu;
                utilMemory = (int)utilization.Memory;
            }
        }

        var (used, total) = Memory(handle, notes);
        int? temperature = Temperature(handle, notes);
        double? power = Milliwatts(nvml.DeviceGetPowerUsage, handle, "power draw", notes);
        double? limit = Milliwatts(nvml.DeviceGetEnforcedPowerLimit, handle, "power limit", notes);
        var procs = Processes(handle, notes);
        IReadOnlyList<MigDevice> migs = migEnabled == true ? MigDevices(handle, notes) : [];

        return new((int)index, name, uuid, utilGpu, utilMemory, used, total, temperature, power, limit, migEnabled, migs, procs, notes);
    }

    private List<MigDevice> MigDevices(nint parent, List<string> parentNotes)
    {
        var list = new List<MigDevice>();
        if (nvml.DeviceGetMaxMigDeviceCount == null || nvml.DeviceGetMigDeviceHandleByIndex == null)
        {
            parentNotes.Add("MIG devices: this driver cannot list them");
            return list;
        }
        uint max;
        var rc = nvml.DeviceGetMaxMigDeviceCount(parent, &max);
        if (!Ok(rc, "MIG devices", parentNotes))
        {
            return list;
        }
        for (var i = 0u; i < max; i++)
        {
            nint handle;
            rc = nvml.DeviceGetMigDeviceHandleByIndex(parent, i, &handle);
            if (rc == NvmlReturn.NotFound)
            {
                continue; // an unpopulated slot
            }
            if (rc != NvmlReturn.Success)
            {
                parentNotes.Add($"MIG device {i}: {nvml.Error(rc)}");
                continue;
            }
            var notes = new List<string> { "utilisation: not available on MIG devices (NVML reports none)" };
            var (name, uuid) = Identity(handle, notes);
            var (used, total) = Memory(handle, notes);
            var procs = Processes(handle, notes);
            list.Add(new((int)i, name, uuid, null, null, used, total, procs, notes));
        }
        return list;
    }

    private (string? Name, string? Uuid) Identity(nint handle, List<string> notes)
    {
        if (_identity.TryGetValue(handle, out var known))
        {
            return known;
        }
        var buffer = stackalloc byte[StringBufferSize];
        string? name = null, uuid = null;
        var complete = true;
        if (nvml.DeviceGetName != null)
        {
            var rc = nvml.DeviceGetName(handle, buffer, StringBufferSize);
            if (Ok(rc, "name", notes))
            {
                name = NvmlLibrary.CString(new ReadOnlySpan<byte>(buffer, StringBufferSize));
            }
            else
            {
                complete = false;
            }
        }
        if (nvml.DeviceGetUuid != null)
        {
            var rc = nvml.DeviceGetUuid(handle, buffer, StringBufferSize);
            if (Ok(rc, "UUID", notes))
            {
                uuid = NvmlLibrary.CString(new ReadOnlySpan<byte>(buffer, StringBufferSize));
            }
            else
            {
                complete = false;
            }
        }
        if (complete)
        {
            _identity[handle] = (name, uuid);
        }
        return (name, uuid);
    }

    private (ulong? Used, ulong? Total) Memory(nint handle, List<string> notes)
    {
        int rc;
        if (nvml.DeviceGetMemoryInfoV2 != null)
        {
            var v2 = new NvmlMemoryV2 { Version = NvmlMemoryV2.Version2 };
            rc = nvml.DeviceGetMemoryInfoV2(handle, &v2);
            if (rc == NvmlReturn.Success)
            {
                return (v2.Used, v2.Total);
            }
            if (nvml.DeviceGetMemoryInfo == null)
            {
                notes.Add($"memory: {nvml.Error(rc)}");
                return (null, null);
            }
            // Fall through to v1: some drivers export v2 but refuse it for some devices.
        }
        if (nvml.DeviceGetMemoryInfo == null)
        {
            return (null, null);
        }
        NvmlMemory v1;
        rc = nvml.DeviceGetMemoryInfo(handle, &v1);
        return Ok(rc, "memory", notes) ? (v1.Used, v1.Total) : (null, null);
    }

    private int? Temperature(nint handle, List<string> notes)
    {
        int rc;
        if (nvml.DeviceGetTemperatureV != null)
        {
            var t = new NvmlTemperature { Version = NvmlTemperature.Version1, SensorType = 0 };
            rc = nvml.DeviceGetTemperatureV(handle, &t);
            if (rc == NvmlReturn.Success)
            {
                return t.Temperature;
            }
            if (nvml.DeviceGetTemperature == null)
            {
                notes.Add($"temperature: {nvml.Error(rc)}");
                return null;
            }
        }
        if (nvml.DeviceGetTemperature == null)
        {
            return null;
        }
        uint celsius;
        rc = nvml.DeviceGetTemperature(handle, 0, &celsius);
        return Ok(rc, "temperature", notes) ? (int)celsius : null;
    }

    private double? Milliwatts(delegate* unmanaged<nint, uint*, int> call, nint handle, string field, List<string> notes)
    {
        if (call == null)
        {
            return null;
        }
        uint mw;
        var rc = call(handle, &mw);
        return Ok(rc, field, notes) ? mw / 1000.0 : null;
    }

    /// <summary>The two-call pattern: count 0 first (Success = none, Insufficient Size = the count), then count*2+5 entries.</summary>
    private List<GpuProcess>? Processes(nint handle, List<string> notes)
    {
        var call = nvml.DeviceGetComputeRunningProcesses;
        if (call == null)
        {
            return null;
        }
        uint count = 0;
        var rc = call(handle, &count, null);
        if (rc == NvmlReturn.Success)
        {
            return [];
        }
        var stride = nvml.ProcessStride;
        for (var attempt = 0; rc == NvmlReturn.InsufficientSize && attempt < 3; attempt++)
        {
            var capacity = count * 2 + 5;
            // Sized for the larger entry whatever the stride, so a driver that writes more than we expect stays in bounds.
            var bytes = checked((int)capacity * NvmlLibrary.ProcessDetailSize);
            if (_processBuffer.Length < bytes)
            {
                _processBuffer = new byte[bytes];
            }
            count = capacity;
            fixed (byte* buffer = _processBuffer)
            {
                rc = call(handle, &count, buffer);
            }
        }
        if (!Ok(rc, "processes", notes))
        {
            return null;
        }
        var list = new List<GpuProcess>((int)count);
        var span = _processBuffer.AsSpan();
        for (var i = 0; i < (int)count; i++)
        {
            var entry = span.Slice(i * stride, NvmlLibrary.ProcessInfoSize);
            var pid = (int)MemoryMarshal.Read<uint>(entry);
            var memory = MemoryMarshal.Read<ulong>(entry[8..]);
            var gi = MemoryMarshal.Read<uint>(entry[16..]);
            var ci = MemoryMarshal.Read<uint>(entry[20..]);
            var (procName, user) = processes.Describe(pid);
            list.Add(new GpuProcess(
                pid,
                memory == ulong.MaxValue ? null : memory,
                procName,
                user,
                gi == MigDisabledId ? null : gi,
                ci == MigDisabledId ? null : ci));
        }
        return list;
    }

    private bool Ok(int rc, string field, List<string> notes)
    {
        if (rc == NvmlReturn.Success)
        {
            return true;
        }
        notes.Add($"{field}: {nvml.Error(rc)}");
        return false;
    }
}
