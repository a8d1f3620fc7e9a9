using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using Colab.Daemon.Python;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Colab.Daemon.Runtimes;

/// <summary>How to start a <see cref="LocalJupyterServer"/>.</summary>
public sealed record LocalServerOptions
{
    /// <summary>The server's root (the workspace): notebooks and kernels' working directories are under it.</summary>
    public required string RootDirectory { get; init; }

    /// <summary>The interpreter; default: the one <see cref="PythonLocator"/> finds (setting → /usr/bin/python3 → PATH).</summary>
    public string? Python { get; init; }

    /// <summary>How long the server may take to answer <c>GET /api/status</c>.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long the server gets to shut its kernels down after SIGTERM before everything is killed.</summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>More <c>jupyter server</c> arguments (e.g. <c>--ServerApp.kernel_ws_protocol=</c>); never a secret.</summary>
    public IReadOnlyList<string> ExtraArguments { get; init; } = [];

    /// <summary>Tests: a program (and its arguments) that runs the wrapper command as its child, standing in for the daemon.</summary>
    internal IReadOnlyList<string>? Launcher { get; init; }
}

/// <summary>
/// A Jupyter server of our own on 127.0.0.1, a random free port and a random 32-byte
/// token, serving the workspace. The token is in a 0600 config file inside a 0700
/// directory (deleted once the server is up), never on the command line or in the
/// environment (where the kernels would inherit it). The server runs under
/// <see cref="ServerWrapper"/> and dies with the daemon however the daemon ends;
/// <see cref="StopAsync"/> (also <c>Dispose</c>) stops it and its kernels.
/// </summary>
public sealed class LocalJupyterServer : IAsyncDisposable, IDisposable
{
    private const int TailLines = 60;
    private const int StartAttempts = 3;

    private readonly Process _process;
    private readonly string _privateDirectory;
    private readonly string _token;
    private readonly LocalServerOptions _options;
    private readonly ILogger _logger;
    private readonly Queue<string> _tail = new();
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _stopping;

    private LocalJupyterServer(Process process, string privateDirectory, string token, int port, string python, LocalServerOptions options, ILogger logger)
    {
        _process = process;
        _privateDirectory = privateDirectory;
        _token = token;
        _options = options;
        _logger = logger;
        Port = port;
        PythonPath = python;
        Endpoint = JupyterEndpoint.Parse($"http://127.0.0.1:{port}/");
        ProcessId = process.Id;
    }

    public JupyterEndpoint Endpoint { get; }

    public int Port { get; }

    public string PythonPath { get; }

    public string RootDirectory => _options.RootDirectory;

    /// <summary>The wrapper's process id (the daemon's child).</summary>
    public int ProcessId { get; }

    /// <summary>The Jupyter server's own process id (the wrapper's child), from its server-info file.</summary>
    public int? ServerProcessId { get; private set; }

    /// <summary><c>GET /api/</c>'s version.</summary>
    public string? ServerVersion { get; private set; }

    public bool HasExited => _process.HasExited;

    /// <summary>Raised once when the server process ends, whether stopped or on its own.</summary>
    public event Action<LocalJupyterServer>? Exited;

    internal string Token => _token;

    /// <summary>A new REST client for this server (the caller disposes it).</summary>
    public JupyterClient CreateClient(TimeSpan? timeout = null) => new(Endpoint, _token, timeout);

    /// <summary>The last lines the server wrote (stdout and stderr), the token masked.</summary>
    public string LogTail()
    {
        lock (_tail)
        {
            return string.Join('\n', _tail);
        }
    }

    /// <summary>Finds the interpreter, checks it has jupyter-server and ipykernel, and starts the server.</summary>
    /// <exception cref="JupyterException"><see cref="JupyterErrorKind.MissingPackages"/> or <see cref="JupyterErrorKind.ServerStartFailed"/>.</exception>
    public static async Task<LocalJupyterServer> StartAsync(PythonLocator locator, LocalServerOptions options, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        logger ??= NullLogger.Instance;
        if (!Directory.Exists(options.RootDirectory))
        {
            throw new JupyterException(JupyterErrorKind.ServerStartFailed, $"the workspace folder {options.RootDirectory} does not exist");
        }
        options = options with { RootDirectory = Path.GetFullPath(options.RootDirectory) };
        var probe = options.Python is { } configured
            ? await PythonLocator.ProbeAsync(Path.GetFullPath(configured), cancellationToken).ConfigureAwait(false)
            : await locator.LocateAsync(cancellationToken).ConfigureAwait(false);
        var python = RequireRuntimeModules(probe);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await StartOnceAsync(python, options, logger, cancellationToken).ConfigureAwait(false);
            }
            catch (PortTakenException e) when (attempt < StartAttempts)
            {
                // Another process took the port between our probe and the server's bind.
                logger.LogInformation("port {Port} was taken before the Jupyter server could bind it; trying another", e.Port);
            }
            catch (PortTakenException e)
            {
                throw new JupyterException(JupyterErrorKind.ServerStartFailed, $"the Jupyter server could not bind a port after {StartAttempts} tries: {e.Message}");
            }
        }
    }

    /// <summary>The interpreter's path, or a <see cref="JupyterErrorKind.MissingPackages"/> error naming the Debian packages to install.</summary>
    internal static string RequireRuntimeModules(PythonProbe? probe)
    {
        const string Install = "sudo apt-get install -y jupyter-server python3-ipykernel";
        if (probe is null)
        {
            throw new JupyterException(JupyterErrorKind.MissingPackages,
                $"no Python interpreter found for the local runtime: install Debian's python3, jupyter-server and python3-ipykernel ({Install}), or set the Python path (COLAB_PYTHON)");
        }
        if (!probe.Usable)
        {
            throw new JupyterException(JupyterErrorKind.MissingPackages,
                $"the Python interpreter {probe.Path} cannot be used for the local runtime ({probe.Error}): install Debian's jupyter-server and python3-ipykernel ({Install}) or set another interpreter (COLAB_PYTHON)");
        }
        var missing = PythonLocator.RuntimeModules.Where(m => !probe.Modules.GetValueOrDefault(m)).ToList();
        if (missing.Count > 0)
        {
            var packages = string.Join(" ", missing.Select(PythonLocator.PackageFor));
            throw new JupyterException(JupyterErrorKind.MissingPackages,
                $"the local runtime needs {string.Join(" and ", missing)}, which {probe.Path} lacks: install the Debian package{(missing.Count > 1 ? "s" : "")} " +
                $"{packages} (sudo apt-get install -y {packages}) or set the Python path (COLAB_PYTHON) to an interpreter that has them");
        }
        return probe.Path;
    }

    private static async Task<LocalJupyterServer> StartOnceAsync(string python, LocalServerOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        var directory = Directory.CreateTempSubdirectory("colab-jupyter-").FullName;
        LocalJupyterServer? server = null;
        try
        {
            const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(directory, Private);
            }
            var runtime = Path.Combine(directory, "runtime");
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(runtime);
            }
            else
            {
                Directory.CreateDirectory(runtime, Private);
            }
            var token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
            var config = Path.Combine(directory, "jupyter_server_config.json");
            WriteConfig(config, token);
            var port = FreePort();

            var start = new ProcessStartInfo(options.Launcher is { Count: > 0 } launcher ? launcher[0] : python)
            {
                UseShellExecute = false,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = options.RootDirectory,
            };
            if (options.Launcher is { Count: > 0 })
            {
                foreach (var argument in options.Launcher.Skip(1).Append(python))
                {
                    start.ArgumentList.Add(argument);
                }
            }
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add(ServerWrapper.Script);
            start.ArgumentList.Add(options.StopTimeout.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture));
            foreach (var argument in new[]
                     {
                         "--no-browser", "--ip=127.0.0.1", $"--port={port}", "--ServerApp.port_retries=0",
                         $"--ServerApp.root_dir={options.RootDirectory}", $"--config={config}",
                     }.Concat(options.ExtraArguments))
            {
                start.ArgumentList.Add(argument);
            }
            start.Environment.Remove("JUPYTER_TOKEN");
            start.Environment.Remove("JUPYTER_TOKEN_FILE");
            start.Environment["JUPYTER_RUNTIME_DIR"] = runtime;
            start.Environment["PYDEVD_DISABLE_FILE_VALIDATION"] = "1";
            start.Environment["PYTHONUNBUFFERED"] = "1";
            // "Where am I": kernels inherit the server's environment, so a notebook can tell it runs under this product.
            start.Environment["COLAB_VSCODE"] = "1";
            start.Environment["COLAB_VSCODE_RUNTIME"] = RuntimeKinds.Local;

            var process = Process.Start(start) ?? throw new JupyterException(JupyterErrorKind.ServerStartFailed, $"could not start {python}");
            server = new LocalJupyterServer(process, directory, token, port, python, options, logger);
            server.Watch();
            logger.LogInformation("starting a Jupyter server ({Python}, pid {Pid}) on {Url} for {Root}", python, process.Id, server.Endpoint.Display, options.RootDirectory);
            await server.WaitReadyAsync(runtime, cancellationToken).ConfigureAwait(false);
            TryDelete(config);
            return server;
        }
        catch
        {
            if (server is not null)
            {
                await server.StopAsync().ConfigureAwait(false);
            }
            else
            {
                TryDeleteDirectory(directory);
            }
            throw;
        }
    }

    private static void WriteConfig(string path, string token)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        var stream = new FileStream(path, options);
        using (stream)
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            writer.WriteStartObject("ServerApp");
            writer.WriteString("token", token);
            writer.WriteBoolean("open_browser", false);
            if (Environment.IsPrivilegedProcess)
            {
                writer.WriteBoolean("allow_root", true);
            }
            writer.WriteEndObject();
            // jupyter_server 2.x reads the token from here (ServerApp.token still works, deprecated).
            writer.WriteStartObject("IdentityProvider");
            writer.WriteString("token", token);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
    }

    private static int FreePort()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)listener.LocalEndPoint!).Port;
    }

    private void Watch()
    {
        _process.OutputDataReceived += (_, e) => OnLine(e.Data);
        _process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        _ = WatchExitAsync();
    }

    private async Task WatchExitAsync()
    {
        try
        {
            await _process.WaitForExitAsync().ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            return;
        }
        if (Volatile.Read(ref _stopping) == 0)
        {
            _logger.LogWarning("the Jupyter server on {Url} exited on its own (code {Code}): {Tail}", Endpoint.Display, _process.ExitCode, LastLines(5));
        }
        try
        {
            Exited?.Invoke(this);
        }
        catch (Exception e)
        {
            _logger.LogWarning("an Exited handler failed: {Error}", e.Message);
        }
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }
        line = line.Replace(_token, "***", StringComparison.Ordinal);
        lock (_tail)
        {
            _tail.Enqueue(line);
            while (_tail.Count > TailLines)
            {
                _tail.Dequeue();
            }
        }
        _logger.LogDebug("jupyter: {Line}", line);
    }

    private string LastLines(int count)
    {
        lock (_tail)
        {
            var lines = _tail.Where(l => !string.IsNullOrWhiteSpace(l)).ToList();
            return lines.Count == 0 ? "(it wrote nothing)" : string.Join(" | ", lines.Skip(Math.Max(0, lines.Count - count)));
        }
    }

    private async Task WaitReadyAsync(string runtimeDirectory, CancellationToken cancellationToken)
    {
        var started = Stopwatch.StartNew();
        using var client = CreateClient(TimeSpan.FromSeconds(5));
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_process.HasExited)
            {
                // Let the output readers catch up with what it wrote last.
                await _process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
                var tail = LastLines(8);
                if (tail.Contains("already in use", StringComparison.OrdinalIgnoreCase) || tail.Contains("no available port", StringComparison.OrdinalIgnoreCase))
                {
                    throw new PortTakenException(Port, tail);
                }
                throw new JupyterException(JupyterErrorKind.ServerStartFailed,
                    $"the Jupyter server ({PythonPath} -m jupyter_server) exited with code {_process.ExitCode} before it answered: {tail}");
            }
            // The server writes its info file once it listens; in our private directory only our server can.
            var info = Directory.EnumerateFiles(runtimeDirectory, "jpserver-*.json").FirstOrDefault();
            if (info is not null && ReadInfo(info) is { } file && (file.Port == 0 || file.Port == Port))
            {
                try
                {
                    await client.GetStatusAsync(cancellationToken).ConfigureAwait(false);
                    ServerVersion = (await client.GetVersionAsync(cancellationToken).ConfigureAwait(false)).Version;
                    ServerProcessId = file.Pid == 0 ? null : file.Pid;
                    _logger.LogInformation("Jupyter server {Version} ready on {Url} after {Ms} ms", ServerVersion, Endpoint.Display, started.ElapsedMilliseconds);
                    return;
                }
                catch (JupyterException e) when (e.Kind is JupyterErrorKind.Unreachable)
                {
                    // Not listening yet.
                }
            }
            if (started.Elapsed > _options.StartTimeout)
            {
                throw new JupyterException(JupyterErrorKind.ServerStartFailed,
                    $"the Jupyter server ({PythonPath} -m jupyter_server) did not answer on {Endpoint.Display} within {_options.StartTimeout.TotalSeconds:0} s: {LastLines(8)}");
            }
            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }
    }

    private static JupyterServerInfoFile? ReadInfo(string path)
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(path), RuntimeJson.Default.JupyterServerInfoFile);
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            return null; // Being written.
        }
    }

    /// <summary>
    /// Closes the wrapper's stdin (the server gets SIGTERM and shuts its kernels down; after
    /// <see cref="LocalServerOptions.StopTimeout"/> everything left is killed), waits for it,
    /// and kills the whole process tree if it is still there. Idempotent.
    /// </summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopping, 1) != 0)
        {
            await _stopped.Task.ConfigureAwait(false);
            return;
        }
        try
        {
            if (!_process.HasExited)
            {
                try
                {
                    _process.StandardInput.Close();
                }
                catch (IOException)
                {
                    // Already gone.
                }
                if (!await WaitForExitAsync(_options.StopTimeout + TimeSpan.FromSeconds(3)).ConfigureAwait(false))
                {
                    _logger.LogWarning("the Jupyter server on {Url} did not stop in time; killing its process tree", Endpoint.Display);
                    Kill();
                    await WaitForExitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
                }
            }
            _logger.LogInformation("the Jupyter server on {Url} stopped", Endpoint.Display);
        }
        finally
        {
            TryDeleteDirectory(_privateDirectory);
            _stopped.TrySetResult();
        }
    }

    public ValueTask DisposeAsync() => new(StopAsync());

    public void Dispose() => StopAsync().GetAwaiter().GetResult();

    private async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return _process.HasExited;
        }
    }

    private void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            _logger.LogDebug("kill failed: {Error}", e.Message);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    private static void TryDeleteDirectory(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    private sealed class PortTakenException(int port, string tail) : Exception($"port {port}: {tail}")
    {
        public int Port { get; } = port;
    }
}
