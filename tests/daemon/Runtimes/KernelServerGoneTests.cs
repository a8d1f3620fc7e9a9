using System.Diagnostics;
using Colab.Daemon.Runtimes;
using Colab.Daemon.Tests.Infrastructure;

namespace Colab.Daemon.Tests.Runtimes;

/// <summary>A real Jupyter server killed (SIGKILL) while a cell runs: the cell fails at once with a clear message instead of waiting out the reconnect attempts.</summary>
public class KernelServerGoneTests
{
    [Fact]
    public async Task A_server_killed_mid_execution_fails_the_running_cell_quickly_with_a_clear_message()
    {
        await DebianPython.RequireAsync();
        using var workspace = new TempWorkspace();
        await using var server = await LocalJupyterServerTests.StartAsync(workspace.Path);
        var client = server.CreateClient();
        var kernel = await client.StartKernelAsync();
        var states = new List<KernelConnectionState>();
        await using var connection = await KernelConnection.ConnectAsync(client, kernel.Id);
        connection.StateChanged += s =>
        {
            lock (states)
            {
                states.Add(s);
            }
        };
        var execution = await connection.ExecuteAsync("import time\nprint('sleeping', flush=True)\ntime.sleep(120)");
        var outputs = execution.ReadOutputsAsync().GetAsyncEnumerator();
        while (await outputs.MoveNextAsync() && outputs.Current is not StreamOutput)
        {
        }

        var clock = Stopwatch.StartNew();
        using (var process = Process.GetProcessById(server.ServerProcessId!.Value))
        {
            process.Kill(entireProcessTree: true);
        }
        var error = await Assert.ThrowsAsync<JupyterException>(() => execution.Completion.WaitAsync(TimeSpan.FromSeconds(30)));
        clock.Stop();

        Assert.Equal(JupyterErrorKind.Disconnected, error.Kind);
        Assert.Contains("stopped answering", error.Message, StringComparison.Ordinal);
        Assert.Contains("Connect the runtime again", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(client.Token ?? "\u0000never", error.Message, StringComparison.Ordinal);
        // The reconnect attempts alone would take over a minute; the probe decides within seconds (generous for a loaded machine).
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the cell failed only after {clock.Elapsed}");
        Assert.Equal(KernelConnectionState.Closed, connection.State);
        await Assert.ThrowsAsync<JupyterException>(async () => await outputs.MoveNextAsync());
        await outputs.DisposeAsync();
    }

    [Fact]
    public async Task A_remote_runtime_whose_server_is_killed_mid_execution_is_shown_disconnected()
    {
        await DebianPython.RequireAsync();
        using var workspace = new TempWorkspace();
        await using var server = await LocalJupyterServerTests.StartAsync(workspace.Path);
        await using var manager = new RuntimeManager(DebianPython.Locator(), DebianPython.Configuration());
        var runtime = await manager.ConnectRemoteAsync(server.CreateClient().Endpoint.Display, server.CreateClient().Token);
        var kernel = await manager.StartKernelAsync(runtime.Id);
        var connection = await manager.OpenKernelAsync(runtime.Id, kernel.Id);
        var disconnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        manager.Changed += () =>
        {
            if (manager.List().Single(r => r.Id == runtime.Id).State == RuntimeStates.Disconnected)
            {
                disconnected.TrySetResult();
            }
        };
        var execution = await connection.ExecuteAsync("import time\nprint('sleeping', flush=True)\ntime.sleep(120)");
        await foreach (var output in execution.ReadOutputsAsync())
        {
            if (output is StreamOutput)
            {
                break;
            }
        }

        var clock = Stopwatch.StartNew();
        using (var process = Process.GetProcessById(server.ServerProcessId!.Value))
        {
            process.Kill(entireProcessTree: true);
        }
        await disconnected.Task.WaitAsync(TimeSpan.FromSeconds(30));
        clock.Stop();
        var info = manager.List().Single(r => r.Id == runtime.Id);
        Assert.Contains("stopped answering", info.Detail, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"shown disconnected only after {clock.Elapsed}");
        await Assert.ThrowsAsync<JupyterException>(() => execution.Completion);

        // A later request fails with a clear error rather than hanging, and leaves the runtime disconnected.
        var later = await Assert.ThrowsAsync<JupyterException>(() => manager.OpenKernelAsync(runtime.Id, kernel.Id).WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal(JupyterErrorKind.Unreachable, later.Kind);
        Assert.Equal(RuntimeStates.Disconnected, manager.List().Single(r => r.Id == runtime.Id).State);

        // A server listens on that URL again (same port and token): the next request works and the runtime is connected again.
        // (A plain jupyter-server started by hand, since LocalJupyterServer picks its own port; a throwaway test token in argv.)
        using var again = Process.Start(new ProcessStartInfo(DebianPython.Path,
            ["-m", "jupyter_server", "--no-browser", "--allow-root", "--ip=127.0.0.1", $"--port={server.Port}", "--ServerApp.port_retries=0",
             $"--ServerApp.token={server.Token}", $"--ServerApp.root_dir={workspace.Path}"])
        { RedirectStandardOutput = true, RedirectStandardError = true })!;
        again.OutputDataReceived += (_, _) => { };
        again.ErrorDataReceived += (_, _) => { };
        again.BeginOutputReadLine();
        again.BeginErrorReadLine();
        try
        {
            await WaitAnswersAsync(manager.Client(runtime.Id));
            var fresh = await manager.StartKernelAsync(runtime.Id);
            var reopened = await manager.OpenKernelAsync(runtime.Id, fresh.Id);
            var result = await (await reopened.ExecuteAsync("print(6*7)")).CollectAsync().WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal("42\n", result.Stdout);
            Assert.Equal(RuntimeStates.Connected, manager.List().Single(r => r.Id == runtime.Id).State);
            await manager.DisconnectAsync(runtime.Id);
        }
        finally
        {
            again.Kill(entireProcessTree: true);
            await again.WaitForExitAsync();
        }
    }

    private static async Task WaitAnswersAsync(JupyterClient client)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            try
            {
                await client.GetStatusAsync();
                return;
            }
            catch (JupyterException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }
        }
    }
}
