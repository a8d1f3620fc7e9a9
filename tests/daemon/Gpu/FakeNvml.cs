using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using Colab.Daemon.Gpu;
using Microsoft.Extensions.Configuration;

namespace Colab.Daemon.Tests.Gpu;

/// <summary>
/// The builds of <c>tests/fixtures/fake-nvml/fake_nvml.c</c> the GPU tests load, compiled
/// with gcc once per test run into a temp directory.
/// </summary>
public sealed class FakeNvmlFixture : IDisposable
{
    public static readonly IReadOnlyDictionary<string, string> Variants = new Dictionary<string, string>
    {
        ["default"] = "",
        ["old-driver"] = "-DFAKE_OLD_DRIVER",
        ["mig"] = "-DFAKE_MIG",
        ["init-driver-not-loaded"] = "-DFAKE_INIT_RESULT=9",
        ["init-version-mismatch"] = "-DFAKE_INIT_RESULT=18",
        ["power-not-supported"] = "-DFAKE_POWER_NOT_SUPPORTED",
        ["cc-process-struct"] = "-DFAKE_CC_PROCESS_STRUCT",
    };

    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"colab-fake-nvml-{Environment.ProcessId}-{Guid.NewGuid():N}");

    public FakeNvmlFixture()
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("the fake NVML library is a Linux shared object; the GPU tests run on Linux");
        }
        var gcc = RepoPaths.FindOnPath("gcc")
            ?? throw new InvalidOperationException("gcc is not on PATH: the GPU tests compile a fake libnvidia-ml with it. Install it with: apt-get install build-essential");
        var source = Path.Combine(RepoPaths.Root, "tests", "fixtures", "fake-nvml", "fake_nvml.c");
        Directory.CreateDirectory(_directory);
        var builds = Variants.Select(v => Task.Run(() => Compile(gcc, source, v.Key, v.Value))).ToArray();
        Task.WaitAll(builds);
    }

    /// <summary>Path of the <c>libnvidia-ml.so.1</c> built with the given variant's switches.</summary>
    public string Library(string variant = "default") => Path.Combine(_directory, variant, "libnvidia-ml.so.1");

    private void Compile(string gcc, string source, string variant, string defines)
    {
        var output = Library(variant);
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        var start = new ProcessStartInfo(gcc) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "-shared", "-fPIC", "-O1", "-Wall", "-Wextra", "-Werror", "-o", output, source })
        {
            start.ArgumentList.Add(a);
        }
        if (defines.Length > 0)
        {
            start.ArgumentList.Add(defines);
        }
        using var gccProcess = Process.Start(start)!;
        var stderr = gccProcess.StandardError.ReadToEndAsync();
        _ = gccProcess.StandardOutput.ReadToEndAsync();
        if (!gccProcess.WaitForExit(60_000))
        {
            gccProcess.Kill(true);
            throw new InvalidOperationException($"gcc did not finish compiling the fake NVML ({variant}) within 60 s");
        }
        if (gccProcess.ExitCode != 0)
        {
            throw new InvalidOperationException($"gcc failed to compile the fake NVML ({variant} {defines}): {stderr.Result}");
        }
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>
/// Tests that load the fake library into this process. The fake reads its answers from the
/// native environment at <c>nvmlInit_v2</c>, which is process-wide: these run one at a
/// time and never alongside other collections.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FakeNvmlCollection : ICollectionFixture<FakeNvmlFixture>
{
    public const string Name = "Fake NVML";
}

/// <summary>
/// Sets the fake's <c>FAKE_NVML_*</c> variables in the native environment (what the fake's
/// <c>getenv</c> sees; <see cref="Environment.SetEnvironmentVariable(string, string?)"/>
/// does not reach it on Unix) and clears them again on dispose.
/// </summary>
public sealed class FakeNvmlEnvironment : IDisposable
{
    private readonly List<string> _names = [];

    public FakeNvmlEnvironment(IReadOnlyDictionary<string, string> values)
    {
        foreach (var (name, value) in values)
        {
            Assert.StartsWith("FAKE_NVML_", name);
            Assert.Equal(0, setenv(name, value, 1));
            _names.Add(name);
        }
    }

    public void Dispose()
    {
        foreach (var name in _names)
        {
            unsetenv(name);
        }
    }

    [DllImport("libc", CharSet = CharSet.Ansi)]
    private static extern int setenv(string name, string value, int overwrite);

    [DllImport("libc", CharSet = CharSet.Ansi)]
    private static extern int unsetenv(string name);
}

/// <summary>The fake's test hook: how often nvmlInit_v2 / nvmlShutdown / device calls ran.</summary>
public sealed class FakeNvmlCounters : IDisposable
{
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void CountersFn(out int inits, out int shutdowns, out int deviceCalls);

    private readonly nint _handle;
    private readonly CountersFn _read;

    public FakeNvmlCounters(string library)
    {
        _handle = NativeLibrary.Load(library);
        _read = Marshal.GetDelegateForFunctionPointer<CountersFn>(NativeLibrary.GetExport(_handle, "fake_nvml_counters"));
    }

    public (int Inits, int Shutdowns, int DeviceCalls) Read()
    {
        _read(out var inits, out var shutdowns, out var calls);
        return (inits, shutdowns, calls);
    }

    public void Dispose() => NativeLibrary.Free(_handle);
}

/// <summary>A copy of <c>tests/fixtures/fake-nvml/nvidia-smi</c> in its own temp directory, with its answers beside it.</summary>
[SupportedOSPlatform("linux")]
public sealed class FakeNvidiaSmi : IDisposable
{
    public FakeNvidiaSmi()
    {
        Directory = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"colab-fake-smi-{Guid.NewGuid():N}");
        System.IO.Directory.CreateDirectory(Directory);
        Path = System.IO.Path.Combine(Directory, "nvidia-smi");
        File.Copy(System.IO.Path.Combine(RepoPaths.Fixtures, "nvidia-smi"), Path);
        File.SetUnixFileMode(Path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    public string Directory { get; }

    public string Path { get; }

    public FakeNvidiaSmi Answer(string kind, string stdout, string stderr = "", int exitCode = 0)
    {
        File.WriteAllText(System.IO.Path.Combine(Directory, $"{kind}.csv"), stdout);
        File.WriteAllText(System.IO.Path.Combine(Directory, $"{kind}.stderr"), stderr);
        File.WriteAllText(System.IO.Path.Combine(Directory, $"{kind}.exit"), exitCode.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return this;
    }

    public FakeNvidiaSmi AnswerFromFixture(string kind, string fixture)
        => Answer(kind, File.ReadAllText(System.IO.Path.Combine(RepoPaths.Fixtures, fixture)));

    public FakeNvidiaSmi Hang()
    {
        File.WriteAllText(System.IO.Path.Combine(Directory, "hang"), "");
        return this;
    }

    public IReadOnlyList<string> Calls
    {
        get
        {
            var log = System.IO.Path.Combine(Directory, "calls.log");
            return File.Exists(log) ? File.ReadAllLines(log) : [];
        }
    }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

internal static class RepoPaths
{
    private static readonly Lazy<string> RootPath = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ColabDaemon.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException($"no ColabDaemon.sln above {AppContext.BaseDirectory}");
    });

    public static string Root => RootPath.Value;

    public static string Fixtures => Path.Combine(Root, "tests", "fixtures", "fake-nvml");

    public static string? FindOnPath(string name)
        => (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, name))
            .FirstOrDefault(File.Exists);

    /// <summary>A <see cref="GpuService"/> configured the way the daemon reads <c>COLAB_*</c> settings.</summary>
    public static GpuService Service(string? nvmlLibrary, string? nvidiaSmi = null, double? timeoutSeconds = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["NvmlLibrary"] = nvmlLibrary ?? "/nonexistent/colab-tests/libnvidia-ml.so.1",
            ["NvidiaSmi"] = nvidiaSmi ?? "/nonexistent/colab-tests/nvidia-smi",
        };
        if (timeoutSeconds is { } t)
        {
            settings["NvidiaSmiTimeoutSeconds"] = t.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        return new GpuService(configuration, TimeProvider.System);
    }
}
