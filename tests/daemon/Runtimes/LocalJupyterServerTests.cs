using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Colab.Daemon.Python;
using Colab.Daemon.Runtimes;
using Colab.Daemon.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;

namespace Colab.Daemon.Tests.Runtimes;

/// <summary>Starting and stopping our own Jupyter server: the token stays private, and nothing outlives the daemon.</summary>
public class LocalJupyterServerTests
{
    [Fact]
    public async Task Dispose_stops_the_server_and_its_kernels_and_closes_the_port()
    {
        await DebianPython.RequireAsync();
        using var workspace = new TempWorkspace();
        var log = new ListLogger();
        var server = await StartAsync(workspace.Path, log);
        int kernelPid;
        string privateDir;
        using (var client = server.CreateClient())
        {
            var model = await client.StartKernelAsync();
            await using var kernel = await KernelConnection.ConnectAsync(client, model.Id);
            var result = await kernel.RunAsync("import os, json\nprint(json.dumps([os.getpid(), os.getcwd(), os.environ.get('JUPYTER_RUNTIME_DIR')]))");
            var facts = System.Text.Json.JsonDocument.Parse(result.Stdout).RootElement;
            kernelPid = facts[0].GetInt32();
            Assert.Equal(workspace.Path, facts[1].GetString());
            privateDir = Path.GetDirectoryName(facts[2].GetString()!)!;

            // The token is on no command line and in no environment: not the wrapper's, the server's or the kernel's.
            foreach (var pid in new[] { server.ProcessId, server.ServerProcessId!.Value, kernelPid })
            {
                Assert.True(IsAlive(pid), $"process {pid} should be running");
                Assert.DoesNotContain(server.Token, File.ReadAllText($"/proc/{pid}/cmdline"));
                Assert.DoesNotContain(server.Token, File.ReadAllText($"/proc/{pid}/environ"));
            }
            // The config file that carried it is gone once the server is up; the directory is private.
            Assert.False(File.Exists(Path.Combine(privateDir, "jupyter_server_config.json")));
            Assert.True(OperatingSystem.IsLinux());
            if (OperatingSystem.IsLinux())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(privateDir));
            }
        }
        Assert.True(PortOpen(server.Port));

        var clock = Stopwatch.StartNew();
        await server.DisposeAsync();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"stopping took {clock.Elapsed}");

        Assert.True(server.HasExited);
        Assert.False(PortOpen(server.Port), "the port still accepts connections");
        await WaitGoneAsync(server.ServerProcessId!.Value, kernelPid);
        Assert.False(Directory.Exists(privateDir));
        Assert.DoesNotContain(log.Entries, e => e.Message.Contains(server.Token, StringComparison.Ordinal));
        Assert.DoesNotContain(server.Token, server.LogTail());

        // Stopping again is harmless.
        await server.StopAsync();
    }

    [Fact]
    public async Task The_server_dies_with_a_SIGKILLed_daemon()
    {
        await DebianPython.RequireAsync();
        using var workspace = new TempWorkspace();
        // A stand-in daemon: it starts the wrapper with a stdin pipe of its own, then sleeps until it is killed.
        var fakeDaemon = "import subprocess, sys, time\nsubprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE)\ntime.sleep(3600)";
        var server = await LocalJupyterServer.StartAsync(DebianPython.Locator(), new LocalServerOptions
        {
            RootDirectory = workspace.Path,
            Python = DebianPython.Path,
            StopTimeout = TimeSpan.FromSeconds(5),
            Launcher = [DebianPython.Path, "-c", fakeDaemon],
        });
        try
        {
            using var client = server.CreateClient();
            var model = await client.StartKernelAsync();
            await using var kernel = await KernelConnection.ConnectAsync(client, model.Id);
            var kernelPid = int.Parse((await kernel.RunAsync("import os; print(os.getpid())")).Stdout.Trim(), System.Globalization.CultureInfo.InvariantCulture);
            var wrapperPid = ChildrenOf(server.ProcessId).Single();
            Assert.True(IsAlive(server.ServerProcessId!.Value) && IsAlive(kernelPid) && IsAlive(wrapperPid));

            // SIGKILL: no handler, no dispose, nothing the daemon could do.
            using (var daemon = Process.GetProcessById(server.ProcessId))
            {
                daemon.Kill(entireProcessTree: false);
            }
            await WaitGoneAsync(wrapperPid, server.ServerProcessId!.Value, kernelPid);
            Assert.False(PortOpen(server.Port));
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task An_interpreter_without_jupyter_fails_naming_the_debian_packages()
    {
        using var fake = new FakePython();
        var python = fake.WithModules("python-bare", "3.11.2", "numpy");
        using var workspace = new TempWorkspace();
        var e = await Assert.ThrowsAsync<JupyterException>(() => LocalJupyterServer.StartAsync(
            new PythonLocator(new ConfigurationBuilder().Build()), new LocalServerOptions { RootDirectory = workspace.Path, Python = python }));
        Assert.Equal(JupyterErrorKind.MissingPackages, e.Kind);
        Assert.Contains("jupyter-server", e.Message);
        Assert.Contains("python3-ipykernel", e.Message);
        Assert.Contains("apt-get install", e.Message);
        Assert.Contains(python, e.Message);

        var onlyKernel = fake.WithModules("python-kernel-only", "3.11.2", "ipykernel");
        e = await Assert.ThrowsAsync<JupyterException>(() => LocalJupyterServer.StartAsync(
            new PythonLocator(new ConfigurationBuilder().Build()), new LocalServerOptions { RootDirectory = workspace.Path, Python = onlyKernel }));
        Assert.Contains("install the Debian package jupyter-server", e.Message);
        Assert.DoesNotContain("python3-ipykernel (", e.Message);
    }

    [Fact]
    public async Task A_server_that_exits_at_once_fails_with_its_last_words()
    {
        using var fake = new FakePython();
        // Answers the probe like a complete interpreter, then (run as the server) complains and exits.
        var python = fake.Script("python-broken",
            "case \"$2\" in *importlib*) echo '{\"version\":\"3.11.2\",\"modules\":{\"jupyter_server\":true,\"ipykernel\":true,\"torch\":false,\"numpy\":false}}'; exit 0;; esac\n" +
            "echo 'ModuleNotFoundError: No module named tornado' >&2; exit 3");
        using var workspace = new TempWorkspace();
        var e = await Assert.ThrowsAsync<JupyterException>(() => LocalJupyterServer.StartAsync(
            new PythonLocator(new ConfigurationBuilder().Build()), new LocalServerOptions { RootDirectory = workspace.Path, Python = python }));
        Assert.Equal(JupyterErrorKind.ServerStartFailed, e.Kind);
        Assert.Contains("exited with code 3", e.Message);
        Assert.Contains("No module named tornado", e.Message);
    }

    [Fact]
    public async Task A_missing_workspace_is_refused()
    {
        var e = await Assert.ThrowsAsync<JupyterException>(() => LocalJupyterServer.StartAsync(
            DebianPython.Locator(), new LocalServerOptions { RootDirectory = "/nonexistent/colab-workspace" }));
        Assert.Equal(JupyterErrorKind.ServerStartFailed, e.Kind);
        Assert.Contains("/nonexistent/colab-workspace", e.Message);
    }

    internal static Task<LocalJupyterServer> StartAsync(string root, ListLogger? log = null)
        => LocalJupyterServer.StartAsync(DebianPython.Locator(),
            new LocalServerOptions { RootDirectory = root, Python = DebianPython.Path, StopTimeout = TimeSpan.FromSeconds(5) }, log);

    internal static bool PortOpen(int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Connect(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Running and not a zombie.</summary>
    internal static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var state = stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[0];
            return state is not ("Z" or "X");
        }
        catch (IOException)
        {
            return false;
        }
    }

    internal static async Task WaitGoneAsync(params int[] pids)
    {
        var deadline = DateTime.UtcNow + TestTimeouts.Default;
        while (pids.Any(IsAlive))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"still running: {string.Join(", ", pids.Where(IsAlive).Select(p => $"{p} ({Cmdline(p)})"))}");
            }
            await Task.Delay(50);
        }
    }

    private static IEnumerable<int> ChildrenOf(int parent)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), out var pid))
            {
                string stat;
                try
                {
                    stat = File.ReadAllText(Path.Combine(dir, "stat"));
                }
                catch (IOException)
                {
                    continue;
                }
                if (int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture) == parent)
                {
                    yield return pid;
                }
            }
        }
    }

    private static string Cmdline(int pid)
    {
        try
        {
            var text = File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
            return text.Length > 80 ? text[..80] : text;
        }
        catch (IOException)
        {
            return "?";
        }
    }
}
