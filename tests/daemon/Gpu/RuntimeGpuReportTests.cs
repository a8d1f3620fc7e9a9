using Colab.Daemon.Gpu;

namespace Colab.Daemon.Tests.Gpu;

/// <summary>The runtime probe's output is untrusted: every field is checked before it becomes a snapshot.</summary>
public sealed class RuntimeGpuReportTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 21, 22, 0, 0, TimeSpan.Zero);

    private static GpuSnapshot Parse(string json, string before = "") => RuntimeGpuReport.Parse(before + RuntimeGpuScript.Marker + json + "\n", At);

    [Fact]
    public void Parse_NvmlReport_BecomesTheSameSnapshotFields()
    {
        var s = Parse("""{"v":1,"nvml":{"error":null,"driver":"550.54.15","cuda":12040,"devices":[{"index":0,"name":"NVIDIA A100-SXM4-40GB","uuid":"GPU-1","utilGpu":45,"utilMem":3,"memUsed":1073741824,"memTotal":42949672960,"temp":54,"powerMw":123000,"powerLimitMw":400000,"notes":[],"procs":[{"pid":42,"mem":18446744073709551615,"name":"python","user":"alice"}]}]},"smi":null}""",
            before: "some other output\n");

        Assert.Equal(GpuStates.Ok, s.State);
        Assert.Equal(GpuSources.Nvml, s.Source);
        Assert.Equal("550.54.15", s.DriverVersion);
        Assert.Equal("12.4", s.CudaDriverVersion);
        var d = Assert.Single(s.Devices);
        Assert.Equal("NVIDIA A100-SXM4-40GB", d.Name);
        Assert.Equal(45, d.UtilizationGpuPercent);
        Assert.Equal(40UL << 30, d.MemoryTotalBytes);
        Assert.Equal(123.0, d.PowerDrawWatts);
        var p = Assert.Single(d.Processes!);
        Assert.Equal(42, p.Pid);
        Assert.Null(p.UsedMemoryBytes); // NVML's "not available"
        Assert.Equal("alice", p.User);
    }

    [Theory]
    [InlineData("")]
    [InlineData("no marker here")]
    public void Parse_NoMarkedLine_IsAnErrorState(string stdout)
    {
        var s = RuntimeGpuReport.Parse(stdout, At);
        Assert.Equal(GpuStates.Error, s.State);
        Assert.Contains("no report", s.Reason);
    }

    [Theory]
    [InlineData("{not json", "not JSON")]
    [InlineData("[1,2]", "unknown shape")]
    [InlineData("""{"v":2,"nvml":{}}""", "unknown shape")]
    [InlineData("""{"v":"1"}""", "unknown shape")]
    public void Parse_Malformed_SaysWhatIsWrong(string json, string expected)
    {
        var s = Parse(json);
        Assert.Equal(GpuStates.Error, s.State);
        Assert.Contains(expected, s.Reason);
    }

    [Fact]
    public void Parse_DeeplyNested_IsRefusedNotACrash()
    {
        var s = Parse("""{"v":1,"nvml":""" + new string('[', 5000) + new string(']', 5000) + "}");
        Assert.Equal(GpuStates.Error, s.State);
    }

    [Fact]
    public void Parse_HostileValues_BecomeUnknownAndStringsAreCut()
    {
        var longName = new string('x', 10_000);
        var s = Parse($$$"""{"v":1,"nvml":{"error":null,"driver":"1\u0007\u001b[2J","cuda":"12","devices":[{"index":0,"name":"{{{longName}}}","utilGpu":250,"utilMem":-1,"memUsed":-5,"memTotal":"lots","temp":100000,"powerMw":1e30,"procs":[{"pid":-1},{"pid":"7"},{"pid":9,"mem":1.5}]},{"index":"1"},{"name":"no index"}]}}""");

        Assert.Equal(GpuStates.Ok, s.State);
        Assert.Equal("1[2J", s.DriverVersion); // control characters removed
        Assert.Null(s.CudaDriverVersion);
        var d = Assert.Single(s.Devices);
        Assert.Equal(RuntimeGpuReport.MaxString, d.Name!.Length);
        Assert.Null(d.UtilizationGpuPercent);
        Assert.Null(d.UtilizationMemoryPercent);
        Assert.Null(d.MemoryUsedBytes);
        Assert.Null(d.MemoryTotalBytes);
        Assert.Null(d.TemperatureCelsius);
        Assert.Null(d.PowerDrawWatts);
        var p = Assert.Single(d.Processes!);
        Assert.Equal(9, p.Pid);
        Assert.Null(p.UsedMemoryBytes);
        Assert.Equal(2, s.Notes.Count(n => n.Contains("without a valid index")));
    }

    [Fact]
    public void Parse_TooManyGpus_KeepsTheFirst64WithANote()
    {
        var devices = string.Join(",", Enumerable.Range(0, 100).Select(i => $$$"""{"index":{{{i}}}}"""));
        var s = Parse($$$"""{"v":1,"nvml":{"error":null,"devices":[{{{devices}}}]}}""");
        Assert.Equal(RuntimeGpuReport.MaxDevices, s.Devices.Count);
        Assert.Contains(s.Notes, n => n.Contains("more than 64 GPUs"));
    }

    [Fact]
    public void Parse_NvmlWithoutDevices_IsNoGpu()
    {
        var s = Parse("""{"v":1,"nvml":{"error":null,"driver":"550","devices":[]}}""");
        Assert.Equal(GpuStates.NoGpu, s.State);
    }

    [Fact]
    public void Parse_DriverNotLoaded_IsNoDriverWithTheReason()
    {
        var s = Parse("""{"v":1,"nvml":{"error":"nvmlInit: Driver Not Loaded (9)","code":9},"smi":null}""");
        Assert.Equal(GpuStates.NoDriver, s.State);
        Assert.Contains("kernel module", s.Reason);
    }

    [Fact]
    public void Parse_NvidiaSmiFallback_UsesTheCsvParser()
    {
        var gpus = File.ReadAllText(Path.Combine(RepoPaths.Fixtures, "smi-gpus.csv"));
        var json = System.Text.Json.JsonSerializer.Serialize(gpus, GpuJson.Default.String);
        var s = Parse($$$"""{"v":1,"nvml":{"error":"load: libnvidia-ml.so.1: cannot open shared object file"},"smi":{"error":null,"gpus":{{{json}}},"gpusExit":0,"apps":"","appsExit":0}}""");
        Assert.Equal(GpuStates.Ok, s.State);
        Assert.Equal(GpuSources.NvidiaSmi, s.Source);
        Assert.NotEmpty(s.Devices);
        Assert.Contains(s.Notes, n => n.Contains("nvidia-smi on the runtime"));
    }

    [Fact]
    public void Parse_NoNvmlAndNoNvidiaSmi_IsNoDriver()
    {
        var s = Parse("""{"v":1,"nvml":{"error":"load: libnvidia-ml.so.1: cannot open shared object file"},"smi":{"error":"nvidia-smi is not on PATH"}}""");
        Assert.Equal(GpuStates.NoDriver, s.State);
        Assert.Contains("not on PATH", s.Reason);
    }

    [Fact]
    public void Parse_NvidiaSmiHung_IsTimedOut()
    {
        var s = Parse("""{"v":1,"nvml":{"error":"load: x"},"smi":{"error":null,"gpusTimedOut":true}}""");
        Assert.Equal(GpuStates.TimedOut, s.State);
    }
}

public sealed class GpuCheckTests
{
    [Theory]
    [InlineData("NVIDIA A100-SXM4-40GB", "A100", true)]
    [InlineData("NVIDIA A100-SXM4-40GB", "a100", true)]
    [InlineData("NVIDIA H100 80GB HBM3", "H100", true)]
    [InlineData("Tesla T4", "T4", true)]
    [InlineData("NVIDIA L40S", "L4", false)]
    [InlineData("NVIDIA L4", "L4", true)]
    [InlineData("NVIDIA GeForce RTX 4090", "T4", false)]
    [InlineData("NVIDIA A10G", "A10", true)]
    [InlineData("NVIDIA A100-SXM4-40GB", "A10", false)]
    [InlineData("NVIDIA H100 80GB HBM3", "  ", false)]
    [InlineData("NVIDIA H100 (x", "(x", true)] // regex characters are literal
    public void NameMatches_ModelNumbersAreWholeWords(string name, string required, bool expected)
        => Assert.Equal(expected, GpuCheck.NameMatches(name, required));

    [Fact]
    public void ValidateRequired_RefusesHostileLists()
    {
        Assert.Empty(GpuCheck.ValidateRequired(null));
        Assert.Equal(["A100", "H100"], GpuCheck.ValidateRequired([" A100 ", "H100"]));
        Assert.Throws<ArgumentException>(() => GpuCheck.ValidateRequired([""]));
        Assert.Throws<ArgumentException>(() => GpuCheck.ValidateRequired(["A100\n"]));
        Assert.Throws<ArgumentException>(() => GpuCheck.ValidateRequired([new string('A', 65)]));
        Assert.Throws<ArgumentException>(() => GpuCheck.ValidateRequired([.. Enumerable.Repeat("A100", 33)]));
    }

    private static GpuSnapshot T4() => new(GpuStates.Ok, GpuSources.Nvml, null, DateTimeOffset.UnixEpoch, "550.54.15", "12.4",
        [new GpuDevice(0, "Tesla T4", "GPU-1", 37, 5, 12_400UL << 20, 15_360UL << 20, 61, 27.5, 70, null, [], [new GpuProcess(4242, 1UL << 30, "python3", "ada")], [])], []);

    [Fact]
    public void Check_WrongGpu_SaysSoAndTheReportHasTheTable()
    {
        var r = GpuCheck.Check("remote-1", "runtime remote-1", T4(), ["A100", "H100"]);

        Assert.False(r.Matches);
        Assert.Equal("runtime remote-1 has Tesla T4, but A100 or H100 is required.", r.Message);
        Assert.Contains("Driver Version: 550.54.15", r.Text);
        Assert.Contains("CUDA Version: 12.4", r.Text);
        Assert.Matches(@"\|\s+0 \| Tesla T4\s+\|\s+61C \|\s+28W / 70W \|\s+12.1 GB / 15 GB \|\s+37% \|\s+5% \|", r.Text);
        Assert.Matches(@"\|\s+0 \| 4242 \| ada\s+\| python3\s+\|\s+1 GB \|", r.Text);
        Assert.Contains("Match: NO", r.Text);
    }

    [Fact]
    public void Check_NoGpu_DoesNotMatchAndGivesTheReason()
    {
        var none = new GpuSnapshot(GpuStates.NoDriver, GpuSources.None, "no NVIDIA driver found", DateTimeOffset.UnixEpoch, null, null, [], []);
        var r = GpuCheck.Check("local", "this machine", none, ["A100"]);
        Assert.False(r.Matches);
        Assert.Contains("no GPU (no NVIDIA driver found)", r.Message);
        Assert.Contains("No GPU: no NVIDIA driver found", r.Text);
    }

    [Fact]
    public void Check_NothingRequired_MatchesIsNull()
    {
        var r = GpuCheck.Check("local", "this machine", T4(), []);
        Assert.Null(r.Matches);
        Assert.Contains("Match: -", r.Text);
    }

    [Fact]
    public void Size_UsesHumanizerUnits()
    {
        Assert.Equal("80 GB", GpuCheck.Size(80UL << 30));
        Assert.Equal("12.4 GB", GpuCheck.Size((ulong)(12.4 * (1UL << 30))));
        Assert.Equal("512 MB", GpuCheck.Size(512UL << 20));
        Assert.Equal("-", GpuCheck.Size(null));
    }
}

public sealed class GpuHistoryTests
{
    [Fact]
    public void History_KeepsTheWindowAndGroupsPerGpu()
    {
        var h = new GpuHistory();
        var t0 = new DateTimeOffset(2026, 11, 21, 22, 0, 0, TimeSpan.Zero);
        for (var i = 0; i < 20; i++)
        {
            var at = t0 + TimeSpan.FromMinutes(i);
            h.Add(GpuHistory.Local, new GpuSnapshot(GpuStates.Ok, GpuSources.Nvml, null, at, null, null,
                [new GpuDevice(0, "A", null, i, null, (ulong)i, 100, null, null, null, null, [], null, []),
                 new GpuDevice(1, "B", null, 100 - i, null, null, null, null, null, null, null, [], null, [])], []));
        }
        h.Add("remote-1", new GpuSnapshot(GpuStates.NoGpu, GpuSources.Nvml, "none", t0 + TimeSpan.FromMinutes(19), null, null, [], []));

        var all = h.Read(DateTimeOffset.MinValue);
        Assert.Equal(["local", "remote-1"], all.Select(s => s.Source));
        var local = all[0];
        Assert.Equal(2, local.Gpus.Count);
        // 15 minutes kept: readings 4..19 (the one exactly 15 minutes old stays).
        Assert.Equal(16, local.Gpus[0].Samples.Count);
        Assert.Equal(19, local.Gpus[0].Samples[^1].UtilizationGpuPercent);
        Assert.Equal(81, local.Gpus[1].Samples[^1].UtilizationGpuPercent);
        Assert.Equal("none", all[1].Reason);
        Assert.Empty(all[1].Gpus);

        var recent = h.Read(t0 + TimeSpan.FromMinutes(18));
        Assert.Equal(2, recent[0].Gpus[0].Samples.Count);
    }
}
