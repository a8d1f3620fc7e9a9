using System.Diagnostics;
using System.Runtime.Versioning;
using Colab.Daemon.Gpu;

namespace Colab.Daemon.Tests.Gpu;

/// <summary>The nvidia-smi fallback against the fake script (each test has its own copy, so these run in parallel).</summary>
[SupportedOSPlatform("linux")]
public sealed class NvidiaSmiFallbackTests
{
    private const ulong MiB = 1UL << 20;

    [Fact]
    public async Task Fallback_NvidiaSmiWithNaAndNotSupportedCells_ReportsNullsAndProcesses()
    {
        using var smi = new FakeNvidiaSmi().AnswerFromFixture("gpu", "smi-gpus.csv").AnswerFromFixture("apps", "smi-apps.csv");
        using var service = RepoPaths.Service(null, smi.Path);

        var s = await service.SnapshotAsync(CancellationToken.None);

        Assert.Equal(GpuStates.Ok, s.State);
        Assert.Equal(GpuSources.NvidiaSmi, s.Source);
        Assert.Equal("550.54.15", s.DriverVersion);
        Assert.Null(s.CudaDriverVersion);

        var a = s.Devices[0];
        Assert.Equal("NVIDIA A100-SXM4-40GB", a.Name);
        Assert.Equal(45, a.UtilizationGpuPercent);
        Assert.Equal(1024 * MiB, a.MemoryUsedBytes);
        Assert.Equal(40960 * MiB, a.MemoryTotalBytes);
        Assert.Equal(123.45, a.PowerDrawWatts);
        Assert.Equal(2, a.Processes!.Count);
        Assert.Equal(4242, a.Processes[0].Pid);
        Assert.Equal(1000 * MiB, a.Processes[0].UsedMemoryBytes);
        Assert.Null(a.Processes[1].UsedMemoryBytes);

        var b = s.Devices[1];
        Assert.Equal("Tesla T4", b.Name);
        Assert.Null(b.UtilizationGpuPercent);
        Assert.Null(b.TemperatureCelsius);
        Assert.Null(b.PowerDrawWatts);
        Assert.Null(b.PowerLimitWatts);
        Assert.Equal(0UL, b.MemoryUsedBytes);
        Assert.Contains("power draw: Not Supported", b.Notes);
        Assert.Empty(b.Processes!);

        Assert.Equal(2, smi.Calls.Count);
        Assert.Contains("--query-gpu=index,uuid,name,utilization.gpu,utilization.memory,memory.used,memory.total,temperature.gpu,power.draw,power.limit,driver_version", smi.Calls[0]);
        Assert.Contains("--query-compute-apps=gpu_uuid,pid,used_memory", smi.Calls[1]);
    }

    [Fact]
    public async Task Fallback_NvidiaSmiHangs_ReportsTimedOutInsteadOfHanging()
    {
        using var smi = new FakeNvidiaSmi().AnswerFromFixture("gpu", "smi-gpus.csv").Hang();
        using var service = RepoPaths.Service(null, smi.Path, timeoutSeconds: 0.5);
        var clock = Stopwatch.StartNew();

        var s = await service.SnapshotAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        Assert.Equal(GpuStates.TimedOut, s.State);
        Assert.Equal(GpuSources.NvidiaSmi, s.Source);
        Assert.Contains("did not answer within 500 ms", s.Reason);
        Assert.Empty(s.Devices);
    }

    [Fact]
    public async Task Fallback_CallerCancelsWhileNvidiaSmiHangs_ThrowsOperationCanceled()
    {
        using var smi = new FakeNvidiaSmi().Hang();
        using var service = RepoPaths.Service(null, smi.Path, timeoutSeconds: 60);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => service.SnapshotAsync(cancel.Token).WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Fallback_NvidiaSmiReportsVersionMismatch_ReportsDriverMismatch()
    {
        using var smi = new FakeNvidiaSmi().Answer("gpu", "Failed to initialize NVML: Driver/library version mismatch\n", "", 18);
        using var service = RepoPaths.Service(null, smi.Path);

        var s = await service.SnapshotAsync(CancellationToken.None);

        Assert.Equal(GpuStates.DriverMismatch, s.State);
        Assert.Equal(GpuService.MismatchReason, s.Reason);
    }

    [Fact]
    public async Task Fallback_NvidiaSmiCannotReachDriver_ReportsNoDriver()
    {
        using var smi = new FakeNvidiaSmi().Answer("gpu",
            "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.\n",
            "", 9);
        using var service = RepoPaths.Service(null, smi.Path);

        var s = await service.SnapshotAsync(CancellationToken.None);

        Assert.Equal(GpuStates.NoDriver, s.State);
        Assert.Contains("not loaded", s.Reason);
    }

    [Fact]
    public async Task Fallback_NvidiaSmiFindsNoDevices_ReportsNoGpu()
    {
        using var smi = new FakeNvidiaSmi().Answer("gpu", "No devices were found\n", "", 6);
        using var service = RepoPaths.Service(null, smi.Path);

        var s = await service.SnapshotAsync(CancellationToken.None);

        Assert.Equal(GpuStates.NoGpu, s.State);
        Assert.Equal(GpuSources.NvidiaSmi, s.Source);
    }

    [Fact]
    public async Task Fallback_NvidiaSmiPrintsNothing_ReportsNoGpu()
    {
        using var smi = new FakeNvidiaSmi().Answer("gpu", "");
        using var service = RepoPaths.Service(null, smi.Path);

        var s = await service.SnapshotAsync(CancellationToken.None);

        Assert.Equal(GpuStates.NoGpu, s.State);
        Assert.Single(smi.Calls); // no process query without a GPU
    }

    [Fact]
    public async Task Fallback_ProcessQueryFails_KeepsGpusWithUnknownProcessesAndNote()
    {
        using var smi = new FakeNvidiaSmi().AnswerFromFixture("gpu", "smi-gpus.csv").Answer("apps", "", "boom", 3);
        using var service = RepoPaths.Service(null, smi.Path);

        var s = await service.SnapshotAsync(CancellationToken.None);

        Assert.Equal(GpuStates.Ok, s.State);
        Assert.All(s.Devices, d => Assert.Null(d.Processes));
        Assert.Contains(s.Notes, n => n.StartsWith("processes:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Fallback_NvidiaSmiFailsWithUnknownMessage_ReportsErrorWithItsFirstLine()
    {
        using var smi = new FakeNvidiaSmi().Answer("gpu", "", "Unable to determine the device handle for GPU 0000:3B:00.0: Unknown Error\nmore\n", 15);
        using var service = RepoPaths.Service(null, smi.Path);

        var s = await service.SnapshotAsync(CancellationToken.None);

        Assert.Equal(GpuStates.Error, s.State);
        Assert.Equal("nvidia-smi exited with code 15: Unable to determine the device handle for GPU 0000:3B:00.0: Unknown Error", s.Reason);
    }

    [Fact]
    public async Task Fallback_NvidiaSmiNotExecutable_ReportsErrorNotException()
    {
        using var smi = new FakeNvidiaSmi();
        File.SetUnixFileMode(smi.Path, UnixFileMode.UserRead);
        using var service = RepoPaths.Service(null, smi.Path);

        var s = await service.SnapshotAsync(CancellationToken.None);

        Assert.Equal(GpuStates.Error, s.State);
        Assert.Contains("could not be started", s.Reason);
    }
}
