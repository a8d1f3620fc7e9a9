using System.Text.Json;
using Colab.Daemon.Tests.Infrastructure;

namespace Colab.Daemon.Tests.Gpu;

/// <summary><c>colab/gpu/snapshot</c>, <c>colab/gpu/watch</c> and <c>colab/gpu/changed</c> through the real daemon process and the fake NVML.</summary>
[Collection(FakeNvmlCollection.Name)]
public sealed class GpuProtocolTests(FakeNvmlFixture fake)
{
    private Dictionary<string, string> Environment() => new()
    {
        ["COLAB_NVMLLIBRARY"] = fake.Library(),
        ["FAKE_NVML_DEVICE_COUNT"] = "1",
        ["FAKE_NVML_GPU0_NAME"] = "NVIDIA H100 80GB HBM3",
        ["FAKE_NVML_GPU0_UTIL_GPU"] = "37",
        ["FAKE_NVML_GPU0_TEMP"] = "61",
    };

    [Fact]
    public async Task GpuSnapshot_FakeH100_AnswersTheReadingOverJsonRpc()
    {
        await using var daemon = DaemonProcess.Start(environment: Environment());
        await daemon.InitializeAsync();

        var answer = await daemon.RequestAsync("colab/gpu/snapshot");

        var result = answer.GetProperty("result");
        Assert.Equal("ok", result.GetProperty("state").GetString());
        Assert.Equal("nvml", result.GetProperty("source").GetString());
        var gpu = result.GetProperty("devices")[0];
        Assert.Equal("NVIDIA H100 80GB HBM3", gpu.GetProperty("name").GetString());
        Assert.Equal(37, gpu.GetProperty("utilizationGpuPercent").GetInt32());
        Assert.Equal(61, gpu.GetProperty("temperatureCelsius").GetInt32());
        Assert.Equal(0, await daemon.ShutdownAndExitAsync());
    }

    [Fact]
    public async Task GpuWatch_Enabled_PushesAReadingAndDisablingStopsPolling()
    {
        await using var daemon = DaemonProcess.Start(environment: Environment());
        await daemon.InitializeAsync();
        var mark = daemon.Client.Messages.Count;

        var on = (await daemon.RequestAsync("colab/gpu/watch", """{"enabled":true,"intervalMs":10}""")).GetProperty("result");
        Assert.True(on.GetProperty("enabled").GetBoolean());
        Assert.Equal(250, on.GetProperty("intervalMs").GetInt32()); // clamped to the minimum

        var pushed = await daemon.Client.WaitForAsync(m => TestClient.IsNotification(m, "colab/gpu/changed"), "a colab/gpu/changed notification", mark);
        Assert.Equal("NVIDIA H100 80GB HBM3", pushed.GetProperty("params").GetProperty("devices")[0].GetProperty("name").GetString());

        var off = (await daemon.RequestAsync("colab/gpu/watch", """{"enabled":false}""")).GetProperty("result");
        Assert.False(off.GetProperty("enabled").GetBoolean());
        Assert.Equal(0, await daemon.ShutdownAndExitAsync());
    }

    [Fact]
    public async Task GpuSnapshot_NoDriver_AnswersTheReasonNotAnError()
    {
        await using var daemon = DaemonProcess.Start(environment: new Dictionary<string, string>
        {
            ["COLAB_NVMLLIBRARY"] = "/nonexistent/libnvidia-ml.so.1",
            ["COLAB_NVIDIASMI"] = "/nonexistent/nvidia-smi",
        });
        await daemon.InitializeAsync();

        var result = (await daemon.RequestAsync("colab/gpu/snapshot")).GetProperty("result");

        Assert.Equal("noDriver", result.GetProperty("state").GetString());
        Assert.False(string.IsNullOrEmpty(result.GetProperty("reason").GetString()));
        Assert.Equal(0, result.GetProperty("devices").GetArrayLength());
        Assert.Equal(0, await daemon.ShutdownAndExitAsync());
    }
}
