using Colab.Daemon.Gpu;

namespace Colab.Daemon.Tests.Gpu;

/// <summary>nvidia-smi CSV parsing, with no process spawned.</summary>
public sealed class NvidiaSmiCsvTests
{
    private const ulong MiB = 1UL << 20;

    [Fact]
    public void ParseGpus_FullRow_ConvertsMebibytesAndWatts()
    {
        var t = NvidiaSmiCsv.ParseGpus("0, GPU-1, NVIDIA H100 80GB HBM3, 97, 40, 70000, 81559, 66, 650.12, 700.00, 560.35.03\n");

        var d = Assert.Single(t.Devices);
        Assert.Equal("560.35.03", t.DriverVersion);
        Assert.Empty(t.Notes);
        Assert.Equal(0, d.Index);
        Assert.Equal("GPU-1", d.Uuid);
        Assert.Equal("NVIDIA H100 80GB HBM3", d.Name);
        Assert.Equal(97, d.UtilizationGpuPercent);
        Assert.Equal(40, d.UtilizationMemoryPercent);
        Assert.Equal(70000 * MiB, d.MemoryUsedBytes);
        Assert.Equal(81559 * MiB, d.MemoryTotalBytes);
        Assert.Equal(66, d.TemperatureCelsius);
        Assert.Equal(650.12, d.PowerDrawWatts);
        Assert.Equal(700.0, d.PowerLimitWatts);
        Assert.Null(d.MigEnabled);
        Assert.Empty(d.MigDevices);
        Assert.Null(d.Processes);
        Assert.Empty(d.Notes);
    }

    [Fact]
    public void ParseGpus_NaAndNotSupportedCells_BecomeNullWithNotes()
    {
        var t = NvidiaSmiCsv.ParseGpus("1, GPU-2, Tesla T4, [N/A], [N/A], 0, 15360, [N/A], [Not Supported], [Not Supported], 550.54.15\r\n");

        var d = Assert.Single(t.Devices);
        Assert.Null(d.UtilizationGpuPercent);
        Assert.Null(d.UtilizationMemoryPercent);
        Assert.Null(d.TemperatureCelsius);
        Assert.Null(d.PowerDrawWatts);
        Assert.Null(d.PowerLimitWatts);
        Assert.Equal(0UL, d.MemoryUsedBytes);
        Assert.Equal(15360 * MiB, d.MemoryTotalBytes);
        Assert.Contains("utilisation: N/A", d.Notes);
        Assert.Contains("temperature: N/A", d.Notes);
        Assert.Contains("power draw: Not Supported", d.Notes);
        Assert.Contains("power limit: Not Supported", d.Notes);
    }

    [Fact]
    public void ParseGpus_EmptyCells_BecomeNullWithoutNotes()
    {
        var t = NvidiaSmiCsv.ParseGpus("0, GPU-1, X, , , , , , , , \n");

        var d = Assert.Single(t.Devices);
        Assert.Null(d.UtilizationGpuPercent);
        Assert.Null(d.MemoryUsedBytes);
        Assert.Null(d.PowerDrawWatts);
        Assert.Null(t.DriverVersion);
        Assert.Empty(d.Notes);
    }

    [Fact]
    public void ParseGpus_CommaInName_KeepsTheWholeName()
    {
        var t = NvidiaSmiCsv.ParseGpus("0, GPU-1, Quadro RTX 8000, Rev B, 1, 2, 3, 4, 5, 6.5, 7, 535.1\n");

        var d = Assert.Single(t.Devices);
        Assert.Equal("Quadro RTX 8000, Rev B", d.Name);
        Assert.Equal(1, d.UtilizationGpuPercent);
        Assert.Equal(6.5, d.PowerDrawWatts);
        Assert.Equal("535.1", t.DriverVersion);
    }

    [Fact]
    public void ParseGpus_ShortOrIndexlessLines_AreSkippedWithNotes()
    {
        var t = NvidiaSmiCsv.ParseGpus("garbage\n[N/A], GPU-1, X, 1, 2, 3, 4, 5, 6, 7, 8\n0, GPU-2, Y, 1, 2, 3, 4, 5, 6, 7, 8\n");

        var d = Assert.Single(t.Devices);
        Assert.Equal("Y", d.Name);
        Assert.Equal(2, t.Notes.Count);
    }

    [Fact]
    public void ParseGpus_EmptyOutput_HasNoDevices()
    {
        var t = NvidiaSmiCsv.ParseGpus("\n\n");

        Assert.Empty(t.Devices);
        Assert.Empty(t.Notes);
        Assert.Null(t.DriverVersion);
    }

    [Fact]
    public void ParseGpus_FixtureFile_ReadsBothGpus()
    {
        var t = NvidiaSmiCsv.ParseGpus(File.ReadAllText(Path.Combine(RepoPaths.Fixtures, "smi-gpus.csv")));

        Assert.Equal([0, 1], t.Devices.Select(d => d.Index));
        Assert.Equal(["NVIDIA A100-SXM4-40GB", "Tesla T4"], t.Devices.Select(d => d.Name));
    }

    [Fact]
    public void ParseApps_NaMemory_IsNull()
    {
        var apps = NvidiaSmiCsv.ParseApps("GPU-1, 10, 500\nGPU-1, 11, [N/A]\nGPU-2, [N/A], 5\nbad\n");

        Assert.Equal(2, apps.Count);
        Assert.Equal(new NvidiaSmiApp("GPU-1", 10, 500 * MiB), apps[0]);
        Assert.Equal(new NvidiaSmiApp("GPU-1", 11, null), apps[1]);
    }

    [Theory]
    [InlineData("Failed to initialize NVML: Driver/library version mismatch", GpuStates.DriverMismatch)]
    [InlineData("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.", GpuStates.NoDriver)]
    [InlineData("No devices were found", GpuStates.NoGpu)]
    [InlineData("Segmentation fault", GpuStates.Error)]
    [InlineData("", GpuStates.Error)]
    public void ClassifyFailure_KnownMessages_MapToStates(string output, string expected)
    {
        var (state, reason) = NvidiaSmiCsv.ClassifyFailure(9, output);

        Assert.Equal(expected, state);
        Assert.False(string.IsNullOrWhiteSpace(reason));
    }

    [Fact]
    public void SplitRow_QuotedCell_KeepsItsComma()
    {
        Assert.Equal(["0", "a, b", "c \"d\""], NvidiaSmiCsv.SplitRow("0, \"a, b\", \"c \"\"d\"\"\""));
    }
}
