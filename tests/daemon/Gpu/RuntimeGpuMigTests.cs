using System.Diagnostics;
using System.Runtime.Versioning;
using Colab.Daemon.Gpu;
using Colab.Daemon.Tests.Runtimes;

namespace Colab.Daemon.Tests.Gpu;

/// <summary>
/// The runtime probe's Python run for real (Debian's interpreter, ctypes) against the fake
/// libnvidia-ml built with MIG: the runtime's snapshot has the same MIG fields as the local
/// NVML reader's.
/// </summary>
[SupportedOSPlatform("linux")]
[Collection(FakeNvmlCollection.Name)]
public sealed class RuntimeGpuMigTests(FakeNvmlFixture fake)
{
    private const ulong GiB = 1UL << 30;
    private const ulong MiB = 1UL << 20;

    private static readonly Dictionary<string, string> MigGpus = new()
    {
        ["FAKE_NVML_DEVICE_COUNT"] = "2",
        ["FAKE_NVML_GPU0_NAME"] = "NVIDIA A100-SXM4-40GB",
        ["FAKE_NVML_GPU0_UTIL_GPU"] = "45",
        ["FAKE_NVML_GPU0_MEM_TOTAL"] = (40 * GiB).ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["FAKE_NVML_GPU0_MIG_COUNT"] = "3",
        ["FAKE_NVML_GPU1_NAME"] = "Tesla T4",
        ["FAKE_NVML_GPU1_UTIL_GPU"] = "7",
    };

    private async Task<GpuSnapshot> ProbeAsync(string variant, Dictionary<string, string> environment)
    {
        var python = await DebianPython.RequireAsync();
        var start = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(RuntimeGpuScript.Build(fake.Library(variant), "/nonexistent/nvidia-smi", TimeSpan.FromSeconds(5)));
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("FAKE_NVML_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }
        foreach (var (k, v) in environment)
        {
            start.Environment[k] = v;
        }
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = await process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"probe exit {process.ExitCode}: {await stderr}");
        return RuntimeGpuReport.Parse(stdout, DateTimeOffset.UtcNow);
    }

    [Fact]
    public async Task The_probe_on_a_runtime_lists_MIG_devices_and_reports_their_utilisation_unknown()
    {
        var s = await ProbeAsync("mig", MigGpus);

        Assert.Equal(GpuStates.Ok, s.State);
        var parent = s.Devices[0];
        Assert.True(parent.MigEnabled);
        Assert.Null(parent.UtilizationGpuPercent);
        Assert.Contains(parent.Notes, n => n.StartsWith("utilisation: not available while MIG is enabled", StringComparison.Ordinal));
        Assert.Equal([0, 1, 2], parent.MigDevices.Select(m => m.Index));
        foreach (var mig in parent.MigDevices)
        {
            Assert.Equal("NVIDIA A100-SXM4-40GB MIG 1g.5gb", mig.Name);
            Assert.StartsWith("MIG-", mig.Uuid);
            Assert.Null(mig.UtilizationGpuPercent);
            Assert.Equal(5 * GiB, mig.MemoryTotalBytes);
            Assert.Equal((ulong)(mig.Index + 1) * MiB, mig.MemoryUsedBytes);
            Assert.Contains(mig.Notes, n => n.StartsWith("utilisation: not available on MIG devices", StringComparison.Ordinal));
        }
        var other = s.Devices[1]; // MIG supported but off: utilisation as usual
        Assert.False(other.MigEnabled);
        Assert.Empty(other.MigDevices);
        Assert.Equal(7, other.UtilizationGpuPercent);

        // The same reading as the local NVML reader gives for the same library.
        GpuSnapshot local;
        using (new FakeNvmlEnvironment(MigGpus))
        {
            using var service = RepoPaths.Service(fake.Library("mig"));
            local = await service.SnapshotAsync(CancellationToken.None);
        }
        Assert.Equal(local.Devices.Select(d => (d.MigEnabled, d.MigDevices.Count)), s.Devices.Select(d => (d.MigEnabled, d.MigDevices.Count)));
        Assert.Equal(local.Devices[0].MigDevices.Select(m => (m.Name, m.Uuid, m.MemoryTotalBytes)), parent.MigDevices.Select(m => (m.Name, m.Uuid, m.MemoryTotalBytes)));
    }

    [Fact]
    public async Task Without_MIG_support_the_probe_says_nothing_about_MIG()
    {
        var s = await ProbeAsync("default", new Dictionary<string, string> { ["FAKE_NVML_GPU0_NAME"] = "Tesla T4", ["FAKE_NVML_GPU0_UTIL_GPU"] = "12" });
        var d = Assert.Single(s.Devices);
        Assert.Null(d.MigEnabled);
        Assert.Empty(d.MigDevices);
        Assert.Equal(12, d.UtilizationGpuPercent);
        Assert.DoesNotContain(d.Notes, n => n.Contains("MIG", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("""{"index":0,"mig":true,"migs":[{"index":"x"},{"index":-1},{"index":2,"name":"ok","memTotal":-5,"notes":"nope"}],"notes":[]}""", 1)]
    [InlineData("""{"index":0,"mig":"yes","migs":{"0":1},"notes":[]}""", 0)]
    public void Hostile_MIG_fields_become_unknown_or_are_left_out(string device, int migs)
    {
        var s = RuntimeGpuReport.Parse(RuntimeGpuScript.Marker + $$"""{"v":1,"nvml":{"error":null,"devices":[{{device}}]},"smi":null}""" + "\n", DateTimeOffset.UtcNow);
        var d = Assert.Single(s.Devices);
        Assert.Equal(migs, d.MigDevices.Count);
        if (migs == 1)
        {
            Assert.True(d.MigEnabled);
            Assert.Equal(2, d.MigDevices[0].Index);
            Assert.Null(d.MigDevices[0].MemoryTotalBytes);
            Assert.Contains(d.Notes, n => n.Contains("without a valid index", StringComparison.Ordinal));
        }
        else
        {
            Assert.Null(d.MigEnabled);
        }
    }
}
