using System.Runtime.InteropServices;
using System.Text;

namespace Colab.Daemon.Gpu;

/// <summary>NVML return codes the daemon tells apart (<c>nvmlReturn_t</c>).</summary>
internal static class NvmlReturn
{
    public const int Success = 0;
    public const int Uninitialized = 1;
    public const int InvalidArgument = 2;
    public const int NotSupported = 3;
    public const int NoPermission = 4;
    public const int NotFound = 6;
    public const int InsufficientSize = 7;
    public const int DriverNotLoaded = 9;
    public const int LibraryNotFound = 12;
    public const int FunctionNotFound = 13;
    public const int GpuIsLost = 15;
    public const int LibRmVersionMismatch = 18;
    public const int Unknown = 999;

    /// <summary>Our own wording, for when <c>nvmlErrorString</c> is missing.</summary>
    public static string Describe(int code) => code switch
    {
        Success => "Success",
        Uninitialized => "Uninitialized",
        InvalidArgument => "Invalid Argument",
        NotSupported => "Not Supported",
        NoPermission => "Insufficient Permissions",
        NotFound => "Not Found",
        InsufficientSize => "Insufficient Size",
        DriverNotLoaded => "Driver Not Loaded",
        LibraryNotFound => "NVML Shared Library Not Found",
        FunctionNotFound => "Function Not Found",
        GpuIsLost => "GPU is lost",
        LibRmVersionMismatch => "Driver/library version mismatch",
        _ => $"Unknown Error {code}",
    };
}

[StructLayout(LayoutKind.Sequential)]
internal struct NvmlMemory
{
    public ulong Total;
    public ulong Free;
    public ulong Used;
}

[StructLayout(LayoutKind.Sequential)]
internal struct NvmlMemoryV2
{
    public const uint Version2 = 40 | (2u << 24); // nvmlMemory_v2: sizeof | 2 << 24

    public uint Version;
    public ulong Total;
    public ulong Reserved;
    public ulong Free;
    public ulong Used;
}

[StructLayout(LayoutKind.Sequential)]
internal struct NvmlUtilization
{
    public uint Gpu;
    public uint Memory;
}

[StructLayout(LayoutKind.Sequential)]
internal struct NvmlTemperature
{
    public const uint Version1 = 12 | (1u << 24); // nvmlTemperature_v1

    public uint Version;
    public int SensorType; // 0 = NVML_TEMPERATURE_GPU
    public int Temperature;
}

/// <summary>
/// <c>libnvidia-ml</c> bound through <see cref="NativeLibrary"/>: every export is probed on
/// its own, so a driver that lacks one (older) or renamed one (newer) loses that field only.
/// Unversioned names in <c>nvml.h</c> are macros onto versioned exports, so the versioned
/// names are bound, with the older export as a fallback where one exists.
/// </summary>
internal sealed unsafe class NvmlLibrary : IDisposable
{
    /// <summary>Byte size of one process entry: nvmlProcessInfo_v2_t, or the 535.x "v3" struct with usedGpuCcProtectedMemory.</summary>
    public const int ProcessInfoSize = 24;
    public const int ProcessDetailSize = 32;

    private nint _handle;

    public string Path { get; }

    public delegate* unmanaged<int> Init { get; }
    public delegate* unmanaged<int> Shutdown { get; }
    public delegate* unmanaged<int, byte*> ErrorString { get; }
    public delegate* unmanaged<byte*, uint, int> SystemGetDriverVersion { get; }
    public delegate* unmanaged<int*, int> SystemGetCudaDriverVersion { get; }
    public delegate* unmanaged<uint*, int> DeviceGetCount { get; }
    public delegate* unmanaged<uint, nint*, int> DeviceGetHandleByIndex { get; }
    public delegate* unmanaged<nint, byte*, uint, int> DeviceGetName { get; }
    public delegate* unmanaged<nint, byte*, uint, int> DeviceGetUuid { get; }
    public delegate* unmanaged<nint, NvmlMemoryV2*, int> DeviceGetMemoryInfoV2 { get; }
    public delegate* unmanaged<nint, NvmlMemory*, int> DeviceGetMemoryInfo { get; }
    public delegate* unmanaged<nint, NvmlUtilization*, int> DeviceGetUtilizationRates { get; }
    public delegate* unmanaged<nint, NvmlTemperature*, int> DeviceGetTemperatureV { get; }
    public delegate* unmanaged<nint, int, uint*, int> DeviceGetTemperature { get; }
    public delegate* unmanaged<nint, uint*, int> DeviceGetPowerUsage { get; }
    public delegate* unmanaged<nint, uint*, int> DeviceGetEnforcedPowerLimit { get; }

    /// <summary><c>..._v3</c> or <c>..._v2</c>; entries are <see cref="ProcessStride"/> bytes apart.</summary>
    public delegate* unmanaged<nint, uint*, byte*, int> DeviceGetComputeRunningProcesses { get; }
    public int ProcessStride { get; }
    public string? ProcessesExport { get; }

    public delegate* unmanaged<nint, uint*, uint*, int> DeviceGetMigMode { get; }
    public delegate* unmanaged<nint, uint*, int> DeviceGetMaxMigDeviceCount { get; }
    public delegate* unmanaged<nint, uint, nint*, int> DeviceGetMigDeviceHandleByIndex { get; }

    /// <summary>Exports this library lacks, for the notes (only those with no fallback that was found).</summary>
    public IReadOnlyList<string> Missing { get; }

    private NvmlLibrary(string path, nint handle)
    {
        Path = path;
        _handle = handle;
        var missing = new List<string>();

        nint Find(string name)
            => NativeLibrary.TryGetExport(handle, name, out var address) ? address : 0;

        nint Need(string name)
        {
            var address = Find(name);
            if (address == 0)
            {
                missing.Add(name);
            }
            return address;
        }

        nint First(params string[] names)
        {
            foreach (var name in names)
            {
                var address = Find(name);
                if (address != 0)
                {
                    return address;
                }
            }
            missing.Add(names[0]);
            return 0;
        }

        Init = (delegate* unmanaged<int>)Need("nvmlInit_v2");
        Shutdown = (delegate* unmanaged<int>)Need("nvmlShutdown");
        ErrorString = (delegate* unmanaged<int, byte*>)Need("nvmlErrorString");
        SystemGetDriverVersion = (delegate* unmanaged<byte*, uint, int>)Need("nvmlSystemGetDriverVersion");
        SystemGetCudaDriverVersion = (delegate* unmanaged<int*, int>)First("nvmlSystemGetCudaDriverVersion_v2", "nvmlSystemGetCudaDriverVersion");
        DeviceGetCount = (delegate* unmanaged<uint*, int>)Need("nvmlDeviceGetCount_v2");
        DeviceGetHandleByIndex = (delegate* unmanaged<uint, nint*, int>)Need("nvmlDeviceGetHandleByIndex_v2");
        DeviceGetName = (delegate* unmanaged<nint, byte*, uint, int>)Need("nvmlDeviceGetName");
        DeviceGetUuid = (delegate* unmanaged<nint, byte*, uint, int>)Need("nvmlDeviceGetUUID");
        DeviceGetMemoryInfoV2 = (delegate* unmanaged<nint, NvmlMemoryV2*, int>)Find("nvmlDeviceGetMemoryInfo_v2");
        DeviceGetMemoryInfo = (delegate* unmanaged<nint, NvmlMemory*, int>)Find("nvmlDeviceGetMemoryInfo");
        if (DeviceGetMemoryInfoV2 == null && DeviceGetMemoryInfo == null)
        {
            missing.Add("nvmlDeviceGetMemoryInfo_v2");
        }
        DeviceGetUtilizationRates = (delegate* unmanaged<nint, NvmlUtilization*, int>)Need("nvmlDeviceGetUtilizationRates");
        DeviceGetTemperatureV = (delegate* unmanaged<nint, NvmlTemperature*, int>)Find("nvmlDeviceGetTemperatureV");
        DeviceGetTemperature = (delegate* unmanaged<nint, int, uint*, int>)Find("nvmlDeviceGetTemperature");
        if (DeviceGetTemperatureV == null && DeviceGetTemperature == null)
        {
            missing.Add("nvmlDeviceGetTemperatureV");
        }
        DeviceGetPowerUsage = (delegate* unmanaged<nint, uint*, int>)Need("nvmlDeviceGetPowerUsage");
        DeviceGetEnforcedPowerLimit = (delegate* unmanaged<nint, uint*, int>)Need("nvmlDeviceGetEnforcedPowerLimit");

        // Processes: _v3, else _v2. The 535.x drivers filled 32-byte entries from _v3 (they export
        // nvmlDeviceGetConfComputeMemSizeInfo but not yet nvmlDeviceGetRunningProcessDetailList);
        // every other driver fills the 24-byte nvmlProcessInfo_v2_t (nvitop's rule).
        var v3 = Find("nvmlDeviceGetComputeRunningProcesses_v3");
        if (v3 != 0)
        {
            DeviceGetComputeRunningProcesses = (delegate* unmanaged<nint, uint*, byte*, int>)v3;
            ProcessesExport = "nvmlDeviceGetComputeRunningProcesses_v3";
            ProcessStride = Find("nvmlDeviceGetConfComputeMemSizeInfo") != 0 && Find("nvmlDeviceGetRunningProcessDetailList") == 0
                ? ProcessDetailSize
                : ProcessInfoSize;
        }
        else if (Find("nvmlDeviceGetComputeRunningProcesses_v2") is var v2 && v2 != 0)
        {
            DeviceGetComputeRunningProcesses = (delegate* unmanaged<nint, uint*, byte*, int>)v2;
            ProcessesExport = "nvmlDeviceGetComputeRunningProcesses_v2";
            ProcessStride = ProcessInfoSize;
        }
        else
        {
            missing.Add("nvmlDeviceGetComputeRunningProcesses_v3");
        }

        DeviceGetMigMode = (delegate* unmanaged<nint, uint*, uint*, int>)Find("nvmlDeviceGetMigMode");
        DeviceGetMaxMigDeviceCount = (delegate* unmanaged<nint, uint*, int>)Find("nvmlDeviceGetMaxMigDeviceCount");
        DeviceGetMigDeviceHandleByIndex = (delegate* unmanaged<nint, uint, nint*, int>)Find("nvmlDeviceGetMigDeviceHandleByIndex");
        Missing = missing;
    }

    /// <summary>The library's file name for this OS.</summary>
    public static string DefaultName => OperatingSystem.IsWindows() ? "nvml.dll" : "libnvidia-ml.so.1";

    /// <summary>Loads the library (a file name searched the usual way, or a path); null with the loader's message when it cannot.</summary>
    public static NvmlLibrary? TryLoad(string nameOrPath, out string? error)
    {
        try
        {
            var handle = NativeLibrary.Load(nameOrPath);
            error = null;
            return new NvmlLibrary(nameOrPath, handle);
        }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException or ArgumentException)
        {
            error = e.Message;
            return null;
        }
    }

    /// <summary><c>nvmlErrorString</c>, or our own wording when the export is missing.</summary>
    public string Error(int code)
    {
        if (ErrorString != null)
        {
            var text = ErrorString(code);
            if (text != null)
            {
                return Marshal.PtrToStringUTF8((nint)text) ?? NvmlReturn.Describe(code);
            }
        }
        return NvmlReturn.Describe(code);
    }

    /// <summary>Decodes a NUL-terminated buffer an NVML call filled.</summary>
    public static string CString(ReadOnlySpan<byte> buffer)
    {
        var end = buffer.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? buffer : buffer[..end]);
    }

    public void Dispose()
    {
        if (_handle != 0)
        {
            NativeLibrary.Free(_handle);
            _handle = 0;
        }
    }
}
