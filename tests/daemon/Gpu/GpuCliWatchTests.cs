using System.Diagnostics;
using System.Runtime.InteropServices;
using Colab.Daemon.Tests.Infrastructure;

namespace Colab.Daemon.Tests.Gpu;

/// <summary><c>colab gpu --watch</c> and <c>colab gpu check</c>: the built executable against the fake library.</summary>
[Collection(FakeNvmlCollection.Name)]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class GpuCliWatchTests(FakeNvmlFixture fake)
{
    private Dictionary<string, string> T4() => new()
    {
        ["COLAB_NVMLLIBRARY"] = fake.Library(),
        ["FAKE_NVML_GPU0_NAME"] = "Tesla T4",
        ["FAKE_NVML_GPU0_UTIL_GPU"] = "12",
    };

    [Fact]
    public async Task GpuCheck_RequiredModelMissing_PrintsTheReportAndExitsOne()
    {
        var (code, stdout, stderr) = await RepoLayout.RunColabAsync(T4(), "gpu", "check", "--require", "A100", "--require", "H100");
        Assert.True(code == 1, $"exit {code}; stderr: {stderr}");
        Assert.Contains("Driver Version: 550.54.15", stdout);
        Assert.Contains("Tesla T4", stdout);
        Assert.Contains("Match: NO", stdout);
        Assert.Contains("this machine has Tesla T4, but A100 or H100 is required.", stdout);

        var ok = await RepoLayout.RunColabAsync(T4(), "gpu", "check", "--require", "t4");
        Assert.Equal(0, ok.Code);
        Assert.Contains("Match: yes", ok.Stdout);

        var bad = await RepoLayout.RunColabAsync(T4(), "gpu", "check", "--require", "");
        Assert.Equal(1, bad.Code);
        Assert.Contains("printable characters", bad.Stderr);
    }

    [Fact]
    public async Task GpuWatch_PrintsALineThenStopsOnCtrlCWithExitCode130()
    {
        var start = RepoLayout.DaemonStartInfo("gpu", "--watch", "--interval", "0.5");
        foreach (var (k, v) in T4())
        {
            start.Environment[k] = v;
        }
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var line = await process.StandardOutput.ReadLineAsync(timeout.Token);
        Assert.NotNull(line);
        Assert.Matches(@"^\d\d:\d\d:\d\d  GPU0 Tesla T4 12% 1 GB/16 GB 40C 50W$", line);

        Assert.Equal(0, kill(process.Id, 2)); // SIGINT, as Ctrl+C sends
        await process.WaitForExitAsync(timeout.Token);
        // 128 + SIGINT, the shell's convention for "stopped by Ctrl+C" (System.CommandLine sets it).
        Assert.True(process.ExitCode == 130, $"exit {process.ExitCode}; stderr: {await stderr}");
    }

    [Fact]
    public async Task GpuWatch_IntervalOutOfRange_ExitsOneWithTheLimit()
    {
        var (code, _, stderr) = await RepoLayout.RunColabAsync(T4(), "gpu", "--watch", "--interval", "0.01");
        Assert.Equal(1, code);
        Assert.Contains("between 0.25 and 600 seconds", stderr);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
