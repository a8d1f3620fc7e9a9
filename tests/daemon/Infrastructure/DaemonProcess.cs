using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace Colab.Daemon.Tests.Infrastructure;

/// <summary>
/// The built daemon as the editor starts it (<c>colab daemon --stdio</c>), driven over its
/// real stdin and stdout by a <see cref="TestClient"/>, with stderr collected. Disposal
/// ends the session with shutdown and exit when the test did not, and kills the process
/// only when that fails.
/// </summary>
internal sealed class DaemonProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stderr = new();
    private readonly Task _stderrDone;
    private readonly FakePython _python = new();
    private int _nextId;

    private DaemonProcess(bool retainMessages, IReadOnlyDictionary<string, string>? environment, string[] args)
    {
        var start = RepoLayout.DaemonStartInfo(["daemon", "--stdio", .. args]);
        // A fake interpreter answers the Python probe at once, and no NVML is loaded.
        start.Environment["COLAB_PYTHON"] = _python.Complete();
        start.Environment["COLAB_NVMLLIBRARY"] = Path.Combine(_python.Directory, "no-libnvidia-ml.so");
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[k] = v;
        }
        _process = Process.Start(start) ?? throw new InvalidOperationException("the daemon did not start");
        Client = new TestClient(_process.StandardInput.BaseStream, _process.StandardOutput.BaseStream, retainMessages).Start();
        _stderrDone = Task.Run(async () =>
        {
            var buffer = new char[4096];
            int n;
            while ((n = await _process.StandardError.ReadAsync(buffer)) > 0)
            {
                lock (_stderr)
                {
                    _stderr.Append(buffer, 0, n);
                }
            }
        });
    }

    public static DaemonProcess Start(bool retainMessages = true, IReadOnlyDictionary<string, string>? environment = null, params string[] args)
        => new(retainMessages, environment, args);

    public TestClient Client { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Everything the daemon wrote to stderr so far (complete once it has exited).</summary>
    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    public string NextId() => $"t{Interlocked.Increment(ref _nextId)}";

    public Task<JsonElement> RequestAsync(string method, string? paramsJson = null) => Client.RequestAsync(NextId(), method, paramsJson);

    /// <summary>initialize, then initialized; returns the initialize result.</summary>
    public async Task<JsonElement> InitializeAsync()
    {
        var answer = await RequestAsync("initialize", """{"processId":null,"clientInfo":{"name":"tests"},"capabilities":{}}""");
        Assert.True(answer.TryGetProperty("result", out var result), $"initialize failed: {answer.GetRawText()}");
        await Client.NotifyAsync("initialized", "{}");
        return result;
    }

    /// <summary>shutdown (waiting for its answer), then exit; returns the exit code.</summary>
    public async Task<int> ShutdownAndExitAsync()
    {
        var answer = await RequestAsync("shutdown");
        Assert.True(answer.TryGetProperty("result", out var r) && r.ValueKind == JsonValueKind.Null, $"shutdown was not answered with null: {answer.GetRawText()}");
        await Client.NotifyAsync("exit");
        return await WaitForExitAsync();
    }

    public void CloseStdin() => _process.StandardInput.Close();

    /// <summary>Waits for the process to exit and for its stdout and stderr to end; returns the exit code.</summary>
    public async Task<int> WaitForExitAsync()
    {
        await _process.WaitForExitAsync().Within($"the daemon (pid {_process.Id}) to exit; stderr:\n{Stderr}");
        await Client.Completion.Within("the daemon's stdout to end");
        await _stderrDone.Within("the daemon's stderr to end");
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                // Every session ends as the editor ends it.
                try
                {
                    await Client.RequestAsync("dispose-shutdown", "shutdown").Within("shutdown at disposal");
                    await Client.NotifyAsync("exit");
                    await _process.WaitForExitAsync().Within("exit at disposal");
                }
                catch (Exception ex) when (ex is TimeoutException or IOException or InvalidOperationException)
                {
                    // Broken or stuck: fall through to the kill below.
                }
            }
        }
        finally
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
            _process.Dispose();
            _python.Dispose();
        }
    }
}
