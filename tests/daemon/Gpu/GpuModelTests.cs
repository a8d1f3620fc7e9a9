using Colab.Daemon.Gpu;

namespace Colab.Daemon.Tests.Gpu;

/// <summary>The records' change test, the CUDA version format and the human table.</summary>
public sealed class GpuModelTests
{
    private static GpuSnapshot Sample(int utilisation = 45, DateTimeOffset? at = null) => new(
        GpuStates.Ok, GpuSources.Nvml, null, at ?? DateTimeOffset.UnixEpoch, "550.54.15", "12.4",
        [
            new GpuDevice(0, "NVIDIA A100", "GPU-1", utilisation, 12, 1UL << 30, 40UL << 30, 54, 123.4, 400, true,
                [new MigDevice(0, "MIG 1g.5gb", "MIG-1", null, null, 1UL << 20, 5UL << 30, [], ["utilisation: not available on MIG devices"])],
                [new GpuProcess(42, null, "python", "alice")],
                ["power limit: Not Supported"]),
            new GpuDevice(1, null, null, null, null, null, null, null, null, null, null, [], null, []),
        ],
        []);

    [Fact]
    public void SameReadingAs_EqualContentAtDifferentTimes_IsTrue()
    {
        Assert.True(Sample(at: DateTimeOffset.UnixEpoch).SameReadingAs(Sample(at: DateTimeOffset.UnixEpoch.AddSeconds(2))));
    }

    [Fact]
    public void SameReadingAs_ChangedUtilisation_IsFalse()
    {
        Assert.False(Sample(45).SameReadingAs(Sample(46)));
        Assert.False(Sample().SameReadingAs(null));
    }

    [Theory]
    [InlineData(12040, "12.4")]
    [InlineData(11080, "11.8")]
    [InlineData(13000, "13.0")]
    [InlineData(12090, "12.9")]
    public void FormatCudaVersion_NvmlInteger_IsMajorDotMinor(int version, string expected)
    {
        Assert.Equal(expected, NvmlReader.FormatCudaVersion(version));
    }

    [Fact]
    public void Format_SnapshotWithUnknowns_PrintsDashesProcessesAndNotes()
    {
        var text = GpuText.Format(Sample());

        Assert.Contains("driver 550.54.15, CUDA 12.4 (via nvml)", text);
        Assert.Contains("NVIDIA A100", text);
        Assert.Contains("45%", text);
        Assert.Contains("1 GB / 40 GB", text);
        Assert.Contains("54C", text);
        Assert.Contains("123W / 400W", text);
        Assert.Contains("0/0", text);
        Assert.Contains("- / -", text); // GPU 1: nothing known
        Assert.Matches(@"0\s+42\s+alice\s+python\s+-", text);
        Assert.Contains("GPU 0: power limit: Not Supported", text);
        Assert.Contains("GPU 0 MIG 0: utilisation: not available on MIG devices", text);
    }

    [Fact]
    public void Format_NoDriver_PrintsStateAndReason()
    {
        var s = new GpuSnapshot(GpuStates.NoDriver, GpuSources.None, "no NVIDIA driver found", DateTimeOffset.UnixEpoch, null, null, [], []);

        var text = GpuText.Format(s);

        Assert.Contains("noDriver: no NVIDIA driver found", text);
        Assert.DoesNotContain("Processes", text);
    }
}
