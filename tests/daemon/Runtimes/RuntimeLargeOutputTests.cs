using System.Diagnostics;
using Colab.Daemon.Protocol;
using Colab.Daemon.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Colab.Daemon.Tests.Runtimes;

/// <summary>A real Jupyter server without the IOPub rate limit (by default jupyter-server replaces output beyond 1 MB/s with "IOPub data rate exceeded").</summary>
public sealed class UnlimitedOutputServerFixture : JupyterServerFixture
{
    protected override IReadOnlyList<string> ExtraArguments => ["--ServerApp.iopub_data_rate_limit=0", "--ServerApp.iopub_msg_rate_limit=0"];
}

/// <summary>
/// A cell that prints 100 MB reaches the client in full, and the daemon's growth stays under a
/// (loose) bound. Known gap: there is no backpressure from the client to the kernel socket yet,
/// so output the client has not read yet is queued in the daemon — measured peak ≈ 9× the
/// output (930–1,070 MiB RSS for 100 MiB) with this test's client; the bound catches worse.
/// </summary>
public sealed class RuntimeLargeOutputTests(UnlimitedOutputServerFixture server, ITestOutputHelper log) : IClassFixture<UnlimitedOutputServerFixture>
{
    private static long RssBytes(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
            }
        }
        return 0;
    }

    [Fact]
    public async Task A_cell_printing_100_MB_reaches_the_client_in_full_and_the_daemon_stays_under_a_loose_bound()
    {
        Assert.True(OperatingSystem.IsLinux(), "reads /proc");
        var python = await DebianPython.RequireAsync();
        using var workspace = new TempWorkspace();
        await using var d = DaemonProcess.Start(retainMessages: false, environment: new Dictionary<string, string>
        {
            ["COLAB_PYTHON"] = python,
            ["COLAB_WORKSPACE"] = workspace.Path,
            ["COLAB_LOGLEVEL"] = "Warning",
        });
        await d.InitializeAsync();
        var runtime = RuntimeProtocolTests.Result(await d.RequestAsync(Methods.RuntimeConnect,
            $$"""{"kind":"remote","url":"{{server.Client.Endpoint.Display}}","token":"{{server.Client.Token}}"}"""));
        var runtimeId = runtime.GetProperty("id").GetString()!;
        var kernelId = RuntimeProtocolTests.Result(await d.RequestAsync(Methods.KernelStart, $$"""{"runtimeId":"{{runtimeId}}"}""")).GetProperty("id").GetString()!;
        await d.RequestAsync(Methods.KernelExecute, $$"""{"runtimeId":"{{runtimeId}}","kernelId":"{{kernelId}}","code":"1","executionId":"warm"}""");
        var before = RssBytes(d.Pid);
        var bytesBefore = d.Client.BytesReceived;

        var peak = before;
        using var stop = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                peak = Math.Max(peak, RssBytes(d.Pid));
                await Task.Delay(50);
            }
        });
        var clock = Stopwatch.StartNew();
        const string Code = "import sys\\nchunk = 'x' * 1023 + '\\\\n'\\nfor _ in range(100 * 1024):\\n    sys.stdout.write(chunk)";
        var answer = await d.RequestAsync(Methods.KernelExecute, $$"""{"runtimeId":"{{runtimeId}}","kernelId":"{{kernelId}}","code":"{{Code}}","executionId":"big"}""");
        clock.Stop();
        await stop.CancelAsync();
        await sampler;

        Assert.Equal("ok", RuntimeProtocolTests.Result(answer).GetProperty("status").GetString());
        var received = d.Client.BytesReceived - bytesBefore;
        log.WriteLine($"{received / 1048576.0:0.0} MiB of notifications in {clock.Elapsed.TotalSeconds:0.0} s ({received / 1048576.0 / clock.Elapsed.TotalSeconds:0.0} MiB/s); daemon RSS {before / 1048576.0:0} MiB before, peak {peak / 1048576.0:0} MiB");
        Assert.True(received >= 100L * 1024 * 1024, $"only {received} bytes of output reached the client");
        Assert.True(peak - before < 2048L * 1024 * 1024, $"the daemon grew by {(peak - before) / 1048576.0:0} MiB while streaming 100 MiB");
    }
}
