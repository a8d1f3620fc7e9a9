using Colab.Daemon.Tests.Infrastructure;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace Colab.Daemon.Tests.Gpu;

/// <summary><c>colab gpu [--json]</c>: the built daemon executable against the fake library.</summary>
[Collection(FakeNvmlCollection.Name)]
public sealed class GpuCliTests(FakeNvmlFixture fake)
{
    private static readonly Dictionary<string, string> TwoGpus = new()
    {
        ["FAKE_NVML_DEVICE_COUNT"] = "2",
        ["FAKE_NVML_GPU0_NAME"] = "NVIDIA A100-SXM4-40GB",
        ["FAKE_NVML_GPU0_UTIL_GPU"] = "45",
        ["FAKE_NVML_GPU0_TEMP"] = "54",
        ["FAKE_NVML_GPU0_PROCS"] = "1:18446744073709551615",
        ["FAKE_NVML_GPU1_NAME"] = "Tesla T4",
    };

    [Fact]
    public async Task GpuCommand_JsonAgainstFakeLibrary_PrintsTheSnapshot()
    {
        var (code, stdout, stderr) = await RunColabAsync(["gpu", "--json"], new(TwoGpus) { ["COLAB_NVMLLIBRARY"] = fake.Library() });

        Assert.True(code == 0, $"exit {code}; stderr: {stderr}");
        using var json = JsonDocument.Parse(stdout);
        var root = json.RootElement;
        Assert.Equal("ok", root.GetProperty("state").GetString());
        Assert.Equal("nvml", root.GetProperty("source").GetString());
        Assert.Equal("12.4", root.GetProperty("cudaDriverVersion").GetString());
        var devices = root.GetProperty("devices");
        Assert.Equal(2, devices.GetArrayLength());
        var a = devices[0];
        Assert.Equal("NVIDIA A100-SXM4-40GB", a.GetProperty("name").GetString());
        Assert.Equal(45, a.GetProperty("utilizationGpuPercent").GetInt32());
        Assert.Equal(54, a.GetProperty("temperatureCelsius").GetInt32());
        Assert.Equal(50.0, a.GetProperty("powerDrawWatts").GetDouble());
        Assert.Equal(JsonValueKind.Null, a.GetProperty("migEnabled").ValueKind);
        var p = a.GetProperty("processes")[0];
        Assert.Equal(1, p.GetProperty("pid").GetInt32());
        Assert.Equal(JsonValueKind.Null, p.GetProperty("usedMemoryBytes").ValueKind);
        Assert.Equal("Tesla T4", devices[1].GetProperty("name").GetString());
    }

    [Fact]
    public async Task GpuCommand_TableAgainstFakeLibrary_PrintsTheEssentials()
    {
        var (code, stdout, stderr) = await RunColabAsync(["gpu"], new(TwoGpus) { ["COLAB_NVMLLIBRARY"] = fake.Library() });

        Assert.True(code == 0, $"exit {code}; stderr: {stderr}");
        Assert.Contains("driver 550.54.15, CUDA 12.4 (via nvml)", stdout);
        Assert.Matches(@"0\s+NVIDIA A100-SXM4-40GB\s+45%\s+0%\s+1 GB / 16 GB\s+54C\s+50W / 300W", stdout);
        Assert.Matches(@"1\s+Tesla T4", stdout);
        Assert.Contains("Processes:", stdout);
    }

    [Fact]
    public async Task GpuCommand_NoDriverAnywhere_ExitsOneWithTheReason()
    {
        var (code, stdout, _) = await RunColabAsync(["gpu", "--json"], new()
        {
            ["COLAB_NVMLLIBRARY"] = "/nonexistent/colab-tests/libnvidia-ml.so.1",
            ["COLAB_NVIDIASMI"] = "/nonexistent/colab-tests/nvidia-smi",
        });

        Assert.Equal(1, code);
        using var json = JsonDocument.Parse(stdout);
        Assert.Equal("noDriver", json.RootElement.GetProperty("state").GetString());
        Assert.Equal("none", json.RootElement.GetProperty("source").GetString());
        Assert.Contains("could not be loaded", json.RootElement.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task GpuCommand_VersionMismatch_ExitsOneAndSaysReloadTheDriver()
    {
        var (code, stdout, _) = await RunColabAsync(["gpu"], new() { ["COLAB_NVMLLIBRARY"] = fake.Library("init-version-mismatch") });

        Assert.Equal(1, code);
        Assert.Contains("driverMismatch: driver/library version mismatch", stdout);
    }

    private static Task<(int Code, string Stdout, string Stderr)> RunColabAsync(string[] args, Dictionary<string, string> environment)
        => RepoLayout.RunColabAsync(environment, args);
}
