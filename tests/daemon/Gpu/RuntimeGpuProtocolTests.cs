using System.Text.Json;
using Colab.Daemon.Protocol;
using Colab.Daemon.Tests.Infrastructure;
using Colab.Daemon.Tests.Runtimes;

namespace Colab.Daemon.Tests.Gpu;

/// <summary>
/// The runtime's GPUs through the real daemon, a real local Jupyter server and the fake NVML
/// (the kernels inherit the daemon's FAKE_NVML_* environment; a local runtime's probe uses
/// the daemon's COLAB_NVMLLIBRARY).
/// </summary>
[Collection(FakeNvmlCollection.Name)]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class RuntimeGpuProtocolTests(FakeNvmlFixture fake)
{
    private static JsonElement Result(JsonElement answer) => RuntimeProtocolTests.Result(answer);

    private async Task<(DaemonProcess Daemon, string RuntimeId, TempWorkspace Workspace)> StartAsync(Dictionary<string, string> environment)
    {
        var python = await DebianPython.RequireAsync();
        var workspace = new TempWorkspace();
        environment["COLAB_PYTHON"] = python;
        environment["COLAB_WORKSPACE"] = workspace.Path;
        var d = DaemonProcess.Start(environment: environment);
        await d.InitializeAsync();
        var runtime = Result(await d.RequestAsync(Methods.RuntimeConnect, $$"""{"kind":"local","root":{{Frames.Str(workspace.Path)}}}"""));
        return (d, runtime.GetProperty("id").GetString()!, workspace);
    }

    [Fact]
    public async Task RuntimeSnapshot_ReadsTheFakeGpuOnTheRuntimeWhileTheUsersKernelIsBusy()
    {
        var (d, runtimeId, workspace) = await StartAsync(new()
        {
            ["COLAB_NVMLLIBRARY"] = fake.Library(),
            ["FAKE_NVML_DEVICE_COUNT"] = "2",
            ["FAKE_NVML_GPU0_NAME"] = "NVIDIA H100 80GB HBM3",
            ["FAKE_NVML_GPU0_UTIL_GPU"] = "37",
            ["FAKE_NVML_GPU0_PROCS"] = "4242:1073741824",
            ["FAKE_NVML_GPU1_NAME"] = "Tesla T4",
        });
        await using var daemonScope = d;
        using var workspaceScope = workspace;

        // The user's kernel is busy for a long time: the reading must not wait for it.
        var kernel = Result(await d.RequestAsync(Methods.KernelStart, $$"""{"runtimeId":"{{runtimeId}}"}""")).GetProperty("id").GetString()!;
        var busyId = d.NextId();
        await d.Client.SendAsync(Frames.Request(busyId, Methods.KernelExecute,
            $$"""{"runtimeId":"{{runtimeId}}","kernelId":"{{kernel}}","code":"import time\nprint('busy', flush=True)\ntime.sleep(120)","executionId":"busy"}"""));
        await d.Client.WaitForAsync(m => TestClient.IsNotification(m, Methods.KernelOutput) && m.GetRawText().Contains("busy"), "the busy cell's first output");

        var snapshot = Result(await d.RequestAsync(Methods.GpuRuntimeSnapshot, $$"""{"runtimeId":"{{runtimeId}}"}"""));

        Assert.Equal("ok", snapshot.GetProperty("state").GetString());
        Assert.Equal("nvml", snapshot.GetProperty("source").GetString());
        Assert.Equal("550.54.15", snapshot.GetProperty("driverVersion").GetString());
        Assert.Equal("12.4", snapshot.GetProperty("cudaDriverVersion").GetString());
        var devices = snapshot.GetProperty("devices");
        Assert.Equal(2, devices.GetArrayLength());
        Assert.Equal("NVIDIA H100 80GB HBM3", devices[0].GetProperty("name").GetString());
        Assert.Equal(37, devices[0].GetProperty("utilizationGpuPercent").GetInt32());
        Assert.Equal(16L << 30, devices[0].GetProperty("memoryTotalBytes").GetInt64());
        Assert.Equal(4242, devices[0].GetProperty("processes")[0].GetProperty("pid").GetInt32());
        Assert.Equal("Tesla T4", devices[1].GetProperty("name").GetString());
        Assert.Contains(snapshot.GetProperty("notes").EnumerateArray(), n => n.GetString()!.Contains("probe kernel"));
        // The busy cell is still running: the reading did not go through the user's kernel.
        Assert.DoesNotContain(d.Client.Messages.ToArray(), m => TestClient.IsResponse(m) && m.GetProperty("id").GetString() == busyId);

        // Required-GPU check on the runtime.
        var check = Result(await d.RequestAsync(Methods.GpuCheck, $$"""{"runtimeId":"{{runtimeId}}","required":["A100"]}"""));
        Assert.False(check.GetProperty("matches").GetBoolean());
        Assert.Contains("NVIDIA H100 80GB HBM3, Tesla T4, but A100 is required", check.GetProperty("message").GetString());
        Assert.Contains("Match: NO", check.GetProperty("text").GetString());
        var ok = Result(await d.RequestAsync(Methods.GpuCheck, $$"""{"runtimeId":"{{runtimeId}}","required":["t4"]}"""));
        Assert.True(ok.GetProperty("matches").GetBoolean());

        await d.RequestAsync(Methods.KernelInterrupt, $$"""{"runtimeId":"{{runtimeId}}","kernelId":"{{kernel}}"}""");
        Assert.Equal(0, await d.ShutdownAndExitAsync());
    }

    [Fact]
    public async Task Watch_PushesRuntimeReadingsAndTheEndOnDisconnect_HistoryHasThem()
    {
        var (d, runtimeId, workspace) = await StartAsync(new()
        {
            ["COLAB_NVMLLIBRARY"] = fake.Library(),
            ["FAKE_NVML_GPU0_NAME"] = "NVIDIA L4",
        });
        await using var daemonScope = d;
        using var workspaceScope = workspace;
        var mark = d.Client.Messages.Count;

        Result(await d.RequestAsync(Methods.GpuWatch, """{"enabled":true,"intervalMs":1000}"""));
        var pushed = await d.Client.WaitForAsync(m => TestClient.IsNotification(m, Methods.GpuRuntimeChanged), "a colab/gpu/runtimeChanged notification", mark);
        var p = pushed.GetProperty("params");
        Assert.Equal(runtimeId, p.GetProperty("runtimeId").GetString());
        Assert.Equal("NVIDIA L4", p.GetProperty("snapshot").GetProperty("devices")[0].GetProperty("name").GetString());

        var history = Result(await d.RequestAsync(Methods.GpuHistory, """{"minutes":5}"""));
        var sources = history.GetProperty("sources").EnumerateArray().Select(s => s.GetProperty("source").GetString()).ToList();
        Assert.Contains("local", sources);
        Assert.Contains(runtimeId, sources);

        var before = d.Client.Messages.Count;
        Result(await d.RequestAsync(Methods.RuntimeDisconnect, $$"""{"runtimeId":"{{runtimeId}}"}"""));
        var gone = await d.Client.WaitForAsync(m => TestClient.IsNotification(m, Methods.GpuRuntimeChanged)
            && !m.GetProperty("params").TryGetProperty("snapshot", out _), "the runtime's end", before);
        Assert.Equal(runtimeId, gone.GetProperty("params").GetProperty("runtimeId").GetString());

        Assert.Equal(0, await d.ShutdownAndExitAsync());
    }

    [Fact]
    public async Task RuntimeSnapshot_NvidiaSmiFallbackOnTheRuntime_AndBadParams()
    {
        using var smi = new FakeNvidiaSmi();
        smi.AnswerFromFixture("gpu", "smi-gpus.csv").AnswerFromFixture("apps", "smi-apps.csv");
        var (d, runtimeId, workspace) = await StartAsync(new()
        {
            ["COLAB_NVMLLIBRARY"] = "/nonexistent/libnvidia-ml.so.1",
            ["COLAB_NVIDIASMI"] = smi.Path,
        });
        await using var daemonScope = d;
        using var workspaceScope = workspace;

        var snapshot = Result(await d.RequestAsync(Methods.GpuRuntimeSnapshot, $$"""{"runtimeId":"{{runtimeId}}"}"""));
        Assert.Equal("nvidia-smi", snapshot.GetProperty("source").GetString());
        Assert.Equal("ok", snapshot.GetProperty("state").GetString());
        Assert.True(snapshot.GetProperty("devices").GetArrayLength() > 0);
        Assert.Contains(smi.Calls, c => c.Contains("--query-gpu="));

        foreach (var bad in new[] { """{"runtimeId":"remote-nope"}""", """{"runtimeId":""}""", """{}""", """{"runtimeId":"x\u0000"}""" })
        {
            var answer = await d.RequestAsync(Methods.GpuRuntimeSnapshot, bad);
            Assert.Equal(-32602, answer.GetProperty("error").GetProperty("code").GetInt32());
        }
        foreach (var bad in new[] { """{"required":[""]}""", """{"required":["A100\n"]}""", """{"required":"A100"}""" })
        {
            var answer = await d.RequestAsync(Methods.GpuCheck, bad);
            Assert.Equal(-32602, answer.GetProperty("error").GetProperty("code").GetInt32());
        }
        var history = await d.RequestAsync(Methods.GpuHistory, """{"minutes":0}""");
        Assert.Equal(-32602, history.GetProperty("error").GetProperty("code").GetInt32());
        Assert.Equal(0, await d.ShutdownAndExitAsync());
    }

    [Fact]
    public async Task Benchmark_OnALocalRuntimeWithoutGpu_MeasuresCpuAndDisk()
    {
        var (d, runtimeId, workspace) = await StartAsync(new() { ["COLAB_NVMLLIBRARY"] = "/nonexistent/libnvidia-ml.so.1", ["COLAB_NVIDIASMI"] = "/nonexistent/nvidia-smi" });
        await using var daemonScope = d;
        using var workspaceScope = workspace;

        var answer = await d.RequestAsync(Methods.GpuBenchmark, $$"""{"runtimeId":"{{runtimeId}}","diskMegabytes":32}""");
        var r = Result(answer);

        Assert.True(r.GetProperty("cpuMatmulGflops").GetDouble() > 0);
        Assert.StartsWith("torch", r.GetProperty("cpuLibrary").GetString());
        Assert.True(r.GetProperty("diskWriteMBps").GetDouble() > 0);
        Assert.True(r.GetProperty("diskReadMBps").GetDouble() > 0);
        Assert.False(r.TryGetProperty("gpuMatmulFp32Tflops", out _));
        Assert.Contains(r.GetProperty("notes").EnumerateArray(), n => n.GetString()!.Contains("no CUDA device"));
        Assert.Contains("CPU matmul fp32 (torch", r.GetProperty("text").GetString());
        // The benchmark's kernel is gone afterwards.
        var kernels = Result(await d.RequestAsync(Methods.KernelList, $$"""{"runtimeId":"{{runtimeId}}"}""")).GetProperty("kernels");
        Assert.Equal(0, kernels.GetArrayLength());

        var bad = await d.RequestAsync(Methods.GpuBenchmark, $$"""{"runtimeId":"{{runtimeId}}","diskMegabytes":1000000}""");
        Assert.Equal(-32602, bad.GetProperty("error").GetProperty("code").GetInt32());
        Assert.Equal(0, await d.ShutdownAndExitAsync());
    }
}
