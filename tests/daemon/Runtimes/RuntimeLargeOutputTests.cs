using System.Diagnostics;
using System.Text;
using System.Text.Json;
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
/// Huge outputs stream through the daemon with bounded memory: a cell that prints 100 MiB
/// (which ipykernel sends as ONE 100 MB stream message) reaches the client in full and in
/// order, and a client that stops reading makes the daemon stop reading the kernel socket
/// instead of growing.
/// </summary>
public sealed class RuntimeLargeOutputTests(UnlimitedOutputServerFixture server, ITestOutputHelper log) : IClassFixture<UnlimitedOutputServerFixture>
{
    private const long MiB = 1024 * 1024;

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

    /// <summary>Checks that the stdout of one execution is exactly lines "NNNNNNN" + x… of 1,024 bytes, numbered from 0, in order.</summary>
    private sealed class LineChecker(string executionId)
    {
        private readonly StringBuilder _carry = new();
        private readonly Lock _gate = new();

        public long Lines { get; private set; }

        public string? Problem { get; private set; }

        public long Notifications { get; private set; }

        public void Observe(JsonElement message)
        {
            if (!TestClient.IsNotification(message, Methods.KernelOutput))
            {
                return;
            }
            var p = message.GetProperty("params");
            if (p.GetProperty("executionId").GetString() != executionId)
            {
                return;
            }
            var output = p.GetProperty("output");
            if (output.GetProperty("type").GetString() != "stream")
            {
                return;
            }
            lock (_gate)
            {
                Notifications++;
                _carry.Append(output.GetProperty("text").GetString());
                var text = _carry.ToString();
                var start = 0;
                for (int nl; Problem is null && (nl = text.IndexOf('\n', start)) >= 0; start = nl + 1)
                {
                    var line = text.AsSpan(start, nl - start);
                    if (line.Length != 1023 || !long.TryParse(line[..7], System.Globalization.CultureInfo.InvariantCulture, out var n) || n != Lines)
                    {
                        Problem = $"line {Lines} is '{line[..Math.Min(line.Length, 20)]}…' ({line.Length} chars)";
                    }
                    Lines++;
                }
                _carry.Clear().Append(text.AsSpan(start));
            }
        }
    }

    private static string Code(int lines, bool flushEvery256)
        => "import sys\\nfor i in range(" + lines + "):\\n    sys.stdout.write('%07d' % i + 'x' * 1016 + '\\\\n')"
           + (flushEvery256 ? "\\n    if i % 256 == 255: sys.stdout.flush()" : "");

    private async Task<(DaemonProcess Daemon, string RuntimeId, string KernelId)> StartAsync(TempWorkspace workspace)
    {
        var python = await DebianPython.RequireAsync();
        var d = DaemonProcess.Start(retainMessages: false, environment: new Dictionary<string, string>
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
        return (d, runtimeId, kernelId);
    }

    private sealed class PeakSampler : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private long _peak;

        public PeakSampler(int pid)
        {
            _peak = RssBytes(pid);
            _loop = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    try
                    {
                        Interlocked.Exchange(ref _peak, Math.Max(Interlocked.Read(ref _peak), RssBytes(pid)));
                    }
                    catch (IOException)
                    {
                        return;
                    }
                    await Task.Delay(20);
                }
            });
        }

        public long Peak => Interlocked.Read(ref _peak);

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _loop;
            _stop.Dispose();
        }
    }

    /// <summary>
    /// The bound: ipykernel sends this print as one ~100 MB message, which the daemon receives
    /// whole (the WebSocket frame buffer, doubling to 128 MiB) and decodes once (a copy of the
    /// content); everything after that is chunked and bounded (4 MiB per execution, 4 MiB of
    /// outgoing frames). Measured +250–338 MiB (the high end with other test classes running in
    /// parallel); the bound is 4× the largest message. Before backpressure the peak was ≈ 9× the
    /// output (+870–1,000 MiB).
    /// </summary>
    [Fact]
    public async Task A_cell_printing_100_MiB_reaches_the_client_in_full_and_in_order_with_bounded_daemon_memory()
    {
        Assert.True(OperatingSystem.IsLinux(), "reads /proc");
        using var workspace = new TempWorkspace();
        var (d, runtimeId, kernelId) = await StartAsync(workspace);
        await using var _ = d;
        var checker = new LineChecker("big");
        d.Client.OnMessage = checker.Observe;
        var before = RssBytes(d.Pid);
        var bytesBefore = d.Client.BytesReceived;

        var clock = Stopwatch.StartNew();
        long peak;
        JsonElement answer;
        await using (var sampler = new PeakSampler(d.Pid))
        {
            answer = await d.RequestAsync(Methods.KernelExecute, $$"""{"runtimeId":"{{runtimeId}}","kernelId":"{{kernelId}}","code":"{{Code(100 * 1024, false)}}","executionId":"big"}""");
            clock.Stop();
            peak = sampler.Peak;
        }

        Assert.Equal("ok", RuntimeProtocolTests.Result(answer).GetProperty("status").GetString());
        var received = d.Client.BytesReceived - bytesBefore;
        log.WriteLine($"{received / (double)MiB:0.0} MiB in {checker.Notifications} notifications in {clock.Elapsed.TotalSeconds:0.0} s ({received / (double)MiB / clock.Elapsed.TotalSeconds:0.0} MiB/s); daemon RSS {before / MiB} MiB before, peak {peak / MiB} MiB (+{(peak - before) / MiB} MiB)");
        Assert.Null(checker.Problem);
        Assert.Equal(100 * 1024, checker.Lines);
        Assert.True(peak - before < 400 * MiB, $"the daemon grew by {(peak - before) / MiB} MiB while streaming 100 MiB");
    }

    /// <summary>
    /// A client that stops reading for a while: the daemon's queues fill to their bounds and it
    /// stops reading the kernel socket (the Jupyter server holds the rest), then everything
    /// arrives in order once the client reads again. The output comes as ~256 KiB messages (a
    /// flush per line batch), so without backpressure the daemon would hold all of it. Not
    /// smaller: ZeroMQ drops iopub messages past its high-water mark (1,000 messages) when the
    /// Jupyter server falls behind on a loaded machine, which no client can get back.
    /// </summary>
    [Fact]
    public async Task A_client_that_pauses_reading_does_not_make_the_daemon_grow()
    {
        Assert.True(OperatingSystem.IsLinux(), "reads /proc");
        using var workspace = new TempWorkspace();
        var (d, runtimeId, kernelId) = await StartAsync(workspace);
        await using var _ = d;
        var checker = new LineChecker("paused");
        var firstOutput = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var resume = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        d.Client.OnMessage = m =>
        {
            checker.Observe(m);
            if (checker.Notifications > 0 && firstOutput.TrySetResult())
            {
                d.Client.Paused = resume.Task;
            }
        };
        var before = RssBytes(d.Pid);
        const int Lines = 64 * 1024; // 64 MiB
        long peakPaused;
        var execute = d.RequestAsync(Methods.KernelExecute, $$"""{"runtimeId":"{{runtimeId}}","kernelId":"{{kernelId}}","code":"{{Code(Lines, true)}}","executionId":"paused"}""");
        await firstOutput.Task.WaitAsync(TimeSpan.FromMinutes(3));
        await using (var sampler = new PeakSampler(d.Pid))
        {
            // Long enough for the kernel to produce all 64 MiB (it prints far faster than this).
            await Task.Delay(TimeSpan.FromSeconds(8));
            peakPaused = sampler.Peak;
        }
        resume.SetResult();
        var answer = await execute.WaitAsync(TimeSpan.FromMinutes(3));

        Assert.Equal("ok", RuntimeProtocolTests.Result(answer).GetProperty("status").GetString());
        log.WriteLine($"daemon RSS {before / MiB} MiB before, peak while the client paused {peakPaused / MiB} MiB (+{(peakPaused - before) / MiB} MiB); {checker.Notifications} notifications");
        Assert.Null(checker.Problem);
        Assert.Equal(Lines, checker.Lines);
        Assert.True(peakPaused - before < 64 * MiB, $"the daemon grew by {(peakPaused - before) / MiB} MiB while its client did not read");
    }
}
