using System.Runtime.Versioning;
using Colab.Daemon.Gpu;

namespace Colab.Daemon.Tests.Gpu;

/// <summary><see cref="GpuService"/> reading the fake libnvidia-ml through NVML.</summary>
[SupportedOSPlatform("linux")]
[Collection(FakeNvmlCollection.Name)]
public sealed class NvmlSnapshotTests(FakeNvmlFixture fake)
{
    private const ulong GiB = 1UL << 30;
    private const ulong MiB = 1UL << 20;

    private static readonly Dictionary<string, string> TwoGpus = new()
    {
        ["FAKE_NVML_DEVICE_COUNT"] = "2",
        ["FAKE_NVML_DRIVER_VERSION"] = "550.54.15",
        ["FAKE_NVML_CUDA_VERSION"] = "12040",
        ["FAKE_NVML_GPU0_NAME"] = "NVIDIA A100-SXM4-40GB",
        ["FAKE_NVML_GPU0_UUID"] = "GPU-aaaaaaaa-0000-0000-0000-000000000000",
        ["FAKE_NVML_GPU0_UTIL_GPU"] = "45",
        ["FAKE_NVML_GPU0_UTIL_MEM"] = "12",
        ["FAKE_NVML_GPU0_MEM_TOTAL"] = (40 * GiB).ToString(),
        ["FAKE_NVML_GPU0_MEM_USED"] = (3 * GiB).ToString(),
        ["FAKE_NVML_GPU0_MEM_RESERVED"] = (512 * MiB).ToString(),
        ["FAKE_NVML_GPU0_TEMP"] = "54",
        ["FAKE_NVML_GPU0_POWER_MW"] = "123450",
        ["FAKE_NVML_GPU0_POWER_LIMIT_MW"] = "400000",
        ["FAKE_NVML_GPU0_PROCS"] = $"{Environment.ProcessId}:{2 * GiB}",
        ["FAKE_NVML_GPU1_NAME"] = "Tesla T4",
        ["FAKE_NVML_GPU1_UUID"] = "GPU-bbbbbbbb-0000-0000-0000-000000000000",
        ["FAKE_NVML_GPU1_UTIL_GPU"] = "0",
        ["FAKE_NVML_GPU1_UTIL_MEM"] = "1",
        ["FAKE_NVML_GPU1_MEM_TOTAL"] = (15 * GiB).ToString(),
        ["FAKE_NVML_GPU1_MEM_USED"] = (100 * MiB).ToString(),
        ["FAKE_NVML_GPU1_TEMP"] = "38",
        ["FAKE_NVML_GPU1_POWER_MW"] = "27000",
        ["FAKE_NVML_GPU1_POWER_LIMIT_MW"] = "70000",
    };

    private async Task<GpuSnapshot> SnapshotAsync(string variant, IReadOnlyDictionary<string, string> environment)
    {
        using var env = new FakeNvmlEnvironment(environment);
        using var service = RepoPaths.Service(fake.Library(variant));
        return await service.SnapshotAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Snapshot_TwoGpusWithEveryField_ReportsEveryField()
    {
        var s = await SnapshotAsync("default", TwoGpus);

        Assert.Equal(GpuStates.Ok, s.State);
        Assert.Equal(GpuSources.Nvml, s.Source);
        Assert.Null(s.Reason);
        Assert.Equal("550.54.15", s.DriverVersion);
        Assert.Equal("12.4", s.CudaDriverVersion);
        Assert.Empty(s.Notes);
        Assert.Equal(2, s.Devices.Count);

        var a = s.Devices[0];
        Assert.Equal(0, a.Index);
        Assert.Equal("NVIDIA A100-SXM4-40GB", a.Name);
        Assert.Equal("GPU-aaaaaaaa-0000-0000-0000-000000000000", a.Uuid);
        Assert.Equal(45, a.UtilizationGpuPercent);
        Assert.Equal(12, a.UtilizationMemoryPercent);
        Assert.Equal(3 * GiB, a.MemoryUsedBytes); // v2 "used": allocated, without the reserved 512 MiB
        Assert.Equal(40 * GiB, a.MemoryTotalBytes);
        Assert.Equal(54, a.TemperatureCelsius);
        Assert.Equal(123.45, a.PowerDrawWatts);
        Assert.Equal(400.0, a.PowerLimitWatts);
        Assert.Null(a.MigEnabled); // the default build answers Not Supported for MIG: no note for that
        Assert.Empty(a.MigDevices);
        Assert.Empty(a.Notes);
        var p = Assert.Single(a.Processes!);
        Assert.Equal(Environment.ProcessId, p.Pid);
        Assert.Equal(2 * GiB, p.UsedMemoryBytes);
        Assert.Equal(File.ReadAllText($"/proc/{Environment.ProcessId}/comm").Trim(), p.Name);
        Assert.Equal(Environment.UserName, p.User);
        Assert.Null(p.GpuInstanceId);
        Assert.Null(p.ComputeInstanceId);

        var b = s.Devices[1];
        Assert.Equal(1, b.Index);
        Assert.Equal("Tesla T4", b.Name);
        Assert.Equal("GPU-bbbbbbbb-0000-0000-0000-000000000000", b.Uuid);
        Assert.Equal(0, b.UtilizationGpuPercent);
        Assert.Equal(1, b.UtilizationMemoryPercent);
        Assert.Equal(100 * MiB, b.MemoryUsedBytes);
        Assert.Equal(15 * GiB, b.MemoryTotalBytes);
        Assert.Equal(38, b.TemperatureCelsius);
        Assert.Equal(27.0, b.PowerDrawWatts);
        Assert.Equal(70.0, b.PowerLimitWatts);
        Assert.NotNull(b.Processes);
        Assert.Empty(b.Processes);
        Assert.Empty(b.Notes);
    }

    [Fact]
    public async Task Snapshot_OldDriverWithoutVersionedExports_FallsBackToV1MemoryV2ProcessesAndGetTemperature()
    {
        var s = await SnapshotAsync("old-driver", TwoGpus);

        Assert.Equal(GpuStates.Ok, s.State);
        Assert.Equal("12.4", s.CudaDriverVersion); // nvmlSystemGetCudaDriverVersion without _v2
        Assert.Empty(s.Notes); // every missing export had a fallback
        var a = s.Devices[0];
        Assert.Equal(3 * GiB + 512 * MiB, a.MemoryUsedBytes); // v1 "used" includes reserved memory
        Assert.Equal(40 * GiB, a.MemoryTotalBytes);
        Assert.Equal(54, a.TemperatureCelsius);
        Assert.Equal(45, a.UtilizationGpuPercent);
        var p = Assert.Single(a.Processes!);
        Assert.Equal(Environment.ProcessId, p.Pid);
        Assert.Equal(2 * GiB, p.UsedMemoryBytes);
        Assert.Empty(a.Notes);
    }

    [Fact]
    public async Task Snapshot_PowerNotSupported_ReportsNullPowerWithNote()
    {
        var s = await SnapshotAsync("power-not-supported", TwoGpus);

        Assert.Equal(GpuStates.Ok, s.State);
        foreach (var d in s.Devices)
        {
            Assert.Null(d.PowerDrawWatts);
            Assert.Null(d.PowerLimitWatts);
            Assert.Contains("power draw: Not Supported", d.Notes);
            Assert.Contains("power limit: Not Supported", d.Notes);
            Assert.NotNull(d.TemperatureCelsius); // the rest is still read
            Assert.NotNull(d.MemoryUsedBytes);
        }
    }

    [Fact]
    public async Task Snapshot_MigEnabledGpu_ListsMigDevicesAndReportsUtilisationUnknown()
    {
        var s = await SnapshotAsync("mig", new Dictionary<string, string>(TwoGpus) { ["FAKE_NVML_GPU0_MIG_COUNT"] = "3" });

        Assert.Equal(GpuStates.Ok, s.State);
        var parent = s.Devices[0];
        Assert.True(parent.MigEnabled);
        Assert.Null(parent.UtilizationGpuPercent);
        Assert.Null(parent.UtilizationMemoryPercent);
        Assert.Contains(parent.Notes, n => n.StartsWith("utilisation: not available while MIG is enabled", StringComparison.Ordinal));
        Assert.Equal(40 * GiB, parent.MemoryTotalBytes);

        Assert.Equal([0, 1, 2], parent.MigDevices.Select(m => m.Index));
        foreach (var mig in parent.MigDevices)
        {
            Assert.Equal("NVIDIA A100-SXM4-40GB MIG 1g.5gb", mig.Name);
            Assert.StartsWith("MIG-", mig.Uuid);
            Assert.Null(mig.UtilizationGpuPercent);
            Assert.Null(mig.UtilizationMemoryPercent);
            Assert.Equal(5 * GiB, mig.MemoryTotalBytes);
            Assert.Equal((ulong)(mig.Index + 1) * MiB, mig.MemoryUsedBytes);
            Assert.Contains(mig.Notes, n => n.StartsWith("utilisation: not available on MIG devices", StringComparison.Ordinal));
        }
        var migProcess = Assert.Single(parent.MigDevices[0].Processes!);
        Assert.Equal(Environment.ProcessId, migProcess.Pid);
        Assert.Equal(1u, migProcess.GpuInstanceId);
        Assert.Equal(0u, migProcess.ComputeInstanceId);

        var other = s.Devices[1]; // MIG supported but off
        Assert.False(other.MigEnabled);
        Assert.Empty(other.MigDevices);
        Assert.Equal(0, other.UtilizationGpuPercent);
    }

    [Fact]
    public async Task Snapshot_InitFailsWithDriverNotLoaded_ReportsNoDriverWithReason()
    {
        var s = await SnapshotAsync("init-driver-not-loaded", TwoGpus);

        Assert.Equal(GpuStates.NoDriver, s.State);
        Assert.Equal(GpuSources.Nvml, s.Source);
        Assert.Contains("driver is not loaded", s.Reason);
        Assert.Empty(s.Devices);
    }

    [Fact]
    public async Task Snapshot_InitFailsWithVersionMismatch_ReportsDriverMismatchWithReason()
    {
        var s = await SnapshotAsync("init-version-mismatch", TwoGpus);

        Assert.Equal(GpuStates.DriverMismatch, s.State);
        Assert.Equal(GpuSources.Nvml, s.Source);
        Assert.Equal("driver/library version mismatch: the NVIDIA kernel module and libnvidia-ml differ (reboot or reload the driver)", s.Reason);
        Assert.Empty(s.Devices);
    }

    [Fact]
    public async Task Snapshot_ZeroGpus_ReportsNoGpu()
    {
        var s = await SnapshotAsync("default", new Dictionary<string, string> { ["FAKE_NVML_DEVICE_COUNT"] = "0" });

        Assert.Equal(GpuStates.NoGpu, s.State);
        Assert.Equal(GpuSources.Nvml, s.Source);
        Assert.NotNull(s.Reason);
        Assert.Equal("550.54.15", s.DriverVersion);
        Assert.Empty(s.Devices);
    }

    [Fact]
    public async Task Snapshot_ProcessWithUllongMaxMemory_ReportsMemoryUnknown()
    {
        var s = await SnapshotAsync("default", new Dictionary<string, string>
        {
            ["FAKE_NVML_GPU0_PROCS"] = $"{Environment.ProcessId}:{ulong.MaxValue},1:4096",
        });

        var processes = s.Devices[0].Processes!;
        Assert.Equal(2, processes.Count);
        Assert.Null(processes[0].UsedMemoryBytes);
        Assert.Equal(4096UL, processes[1].UsedMemoryBytes);
    }

    [Fact]
    public async Task Snapshot_ManyProcesses_ReadsEveryEntryOfTheTwoCallPattern()
    {
        var procs = string.Join(',', Enumerable.Range(1, 12).Select(i => $"{100000 + i}:{i * 1024}"));
        var s = await SnapshotAsync("default", new Dictionary<string, string> { ["FAKE_NVML_GPU0_PROCS"] = procs });

        var processes = s.Devices[0].Processes!;
        Assert.Equal(Enumerable.Range(1, 12).Select(i => 100000 + i), processes.Select(p => p.Pid));
        Assert.Equal(Enumerable.Range(1, 12).Select(i => (ulong?)(ulong)(i * 1024)), processes.Select(p => p.UsedMemoryBytes));
    }

    [Fact]
    public async Task Snapshot_Driver535ProcessStruct_ReadsThirtyTwoByteEntries()
    {
        var s = await SnapshotAsync("cc-process-struct", new Dictionary<string, string>
        {
            ["FAKE_NVML_GPU0_PROCS"] = "1001:1024,1002:2048,1003:3072",
        });

        var processes = s.Devices[0].Processes!;
        Assert.Equal([1001, 1002, 1003], processes.Select(p => p.Pid));
        Assert.Equal([1024UL, 2048UL, 3072UL], processes.Select(p => p.UsedMemoryBytes!.Value));
    }

    [Fact]
    public async Task Snapshot_CalledRepeatedly_InitialisesNvmlOnceAndShutsDownOnDispose()
    {
        var library = fake.Library();
        using var counters = new FakeNvmlCounters(library);
        using var env = new FakeNvmlEnvironment(TwoGpus);
        var before = counters.Read();
        var service = RepoPaths.Service(library);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(GpuStates.Ok, (await service.SnapshotAsync(CancellationToken.None)).State);
        }
        var during = counters.Read();
        service.Dispose();
        var after = counters.Read();

        Assert.Equal(1, during.Inits - before.Inits);
        Assert.Equal(0, during.Shutdowns - before.Shutdowns);
        Assert.Equal(1, after.Shutdowns - before.Shutdowns);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => service.SnapshotAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Snapshot_GpuLostAfterInit_ReportsErrorAndStartsAFreshNvmlSession()
    {
        var library = fake.Library();
        using var counters = new FakeNvmlCounters(library);
        using var env = new FakeNvmlEnvironment(new Dictionary<string, string> { ["FAKE_NVML_COUNT_RESULT"] = "15" });
        using var service = RepoPaths.Service(library);
        var before = counters.Read();

        var first = await service.SnapshotAsync(CancellationToken.None);
        var afterFirst = counters.Read();
        await service.SnapshotAsync(CancellationToken.None);
        var afterSecond = counters.Read();

        Assert.Equal(GpuStates.Error, first.State);
        Assert.Contains("GPU is lost", first.Reason);
        Assert.Equal((1, 1), (afterFirst.Inits - before.Inits, afterFirst.Shutdowns - before.Shutdowns));
        Assert.Equal((2, 2), (afterSecond.Inits - before.Inits, afterSecond.Shutdowns - before.Shutdowns));
    }

    [Fact]
    public async Task Snapshot_ConcurrentCallers_AllGetTheSameReading()
    {
        using var env = new FakeNvmlEnvironment(TwoGpus);
        using var service = RepoPaths.Service(fake.Library());

        var snapshots = await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => Task.Run(() => service.SnapshotAsync(CancellationToken.None))));

        Assert.All(snapshots, s => Assert.True(s.SameReadingAs(snapshots[0])));
        Assert.Equal(2, snapshots[0].Devices.Count);
    }

    [Fact]
    public async Task WatchAsync_UnchangingGpus_YieldsOnlyTheFirstReading()
    {
        using var env = new FakeNvmlEnvironment(TwoGpus);
        using var service = RepoPaths.Service(fake.Library());
        using var stop = new CancellationTokenSource(TimeSpan.FromMilliseconds(400));
        var seen = new List<GpuSnapshot>();

        try
        {
            await foreach (var s in service.WatchAsync(TimeSpan.FromMilliseconds(40), stop.Token))
            {
                seen.Add(s);
            }
        }
        catch (OperationCanceledException)
        {
        }

        var only = Assert.Single(seen);
        Assert.Equal(GpuStates.Ok, only.State);
    }

    [Fact]
    public async Task Snapshot_LibraryNotFound_FallsBackToNvidiaSmi()
    {
        using var smi = new FakeNvidiaSmi().AnswerFromFixture("gpu", "smi-gpus.csv").AnswerFromFixture("apps", "smi-apps.csv");
        using var service = RepoPaths.Service("/nonexistent/colab-tests/libnvidia-ml.so.1", smi.Path);

        var s = await service.SnapshotAsync(CancellationToken.None);

        Assert.Equal(GpuStates.Ok, s.State);
        Assert.Equal(GpuSources.NvidiaSmi, s.Source);
        Assert.Equal(2, s.Devices.Count);
        Assert.Contains(s.Notes, n => n.Contains("could not be loaded", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Snapshot_LibraryAndNvidiaSmiMissing_ReportsNoDriverWithReason()
    {
        using var service = RepoPaths.Service("/nonexistent/colab-tests/libnvidia-ml.so.1", "/nonexistent/colab-tests/nvidia-smi");

        var s = await service.SnapshotAsync(CancellationToken.None);

        Assert.Equal(GpuStates.NoDriver, s.State);
        Assert.Equal(GpuSources.None, s.Source);
        Assert.Contains("libnvidia-ml.so.1 could not be loaded", s.Reason);
        Assert.Contains("nvidia-smi", s.Reason);
        Assert.Empty(s.Devices);
    }
}
