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
        // Through env(1) with SIGINT reset to its default: a child inherits an ignored SIGINT (a test
        // run started in the background or under nohup has one), and a process that ignores SIGINT
        // rightly ignores Ctrl+C too, so the test would wait for nothing.
        var colab = RepoLayout.DaemonStartInfo("gpu", "--watch", "--interval", "0.5");
        var start = new ProcessStartInfo("env")
        {
            RedirectStandardInput = colab.RedirectStandardInput,
            RedirectStandardOutput = colab.RedirectStandardOutput,
            RedirectStandardError = colab.RedirectStandardError,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("--default-signal=INT");
        start.ArgumentList.Add(colab.FileName);
        foreach (var a in colab.ArgumentList)
        {
            start.ArgumentList.Add(a);
        }
        start.Environment.Clear();
        foreach (var (k, v) in colab.Environment)
        {
            start.Environment[k] = v;
        }
        foreach (var (k, v) in T4())
        {
            start.Environment[k] = v;
        }
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            // Generous limits: on a loaded machine the start alone can take many seconds.
            using (var firstLine = new CancellationTokenSource(TimeSpan.FromMinutes(3)))
            {
                var line = await process.StandardOutput.ReadLineAsync(firstLine.Token);
                Assert.NotNull(line);
                Assert.Matches(@"^\d\d:\d\d:\d\d  GPU0 Tesla T4 12% 1 GB/16 GB 40C 50W$", line);
            }
            // Keep reading, so a full pipe can never hold the process up.
            var rest = process.StandardOutput.ReadToEndAsync();

            Assert.Equal(0, kill(process.Id, 2)); // SIGINT, as Ctrl+C sends
            using var exit = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            await process.WaitForExitAsync(exit.Token);
            await rest;
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"colab gpu --watch did not print or did not stop in time; stderr: {await stderr}");
        }
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
