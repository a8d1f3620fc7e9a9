using System.Collections.Concurrent;
using Colab.Daemon.Python;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Colab.Daemon.Runtimes;

/// <summary>The kinds of <see cref="RuntimeInfo"/>.</summary>
public static class RuntimeKinds
{
    /// <summary>A Jupyter server this daemon started on 127.0.0.1 (<see cref="LocalJupyterServer"/>).</summary>
    public const string Local = "local";

    /// <summary>A Jupyter server somewhere else, by URL and token.</summary>
    public const string Remote = "remote";
}

/// <summary>The states of <see cref="RuntimeInfo"/>.</summary>
public static class RuntimeStates
{
    public const string Connected = "connected";

    /// <summary>The local server process ended on its own; <see cref="RuntimeInfo.Detail"/> has its last words. Disconnect to remove it.</summary>
    public const string Exited = "exited";

    /// <summary>
    /// The server stopped answering: a kernel's channels dropped and a REST probe found nobody
    /// listening (the running cells failed). The next request that reaches the server again
    /// makes the runtime <see cref="Connected"/>; a local runtime whose server died shows <see cref="Exited"/>.
    /// </summary>
    public const string Disconnected = "disconnected";
}

/// <summary>A connected Jupyter server.</summary>
/// <param name="Id">The runtime's id in this daemon (e.g. <c>local-1a2b3c4d</c>).</param>
/// <param name="Kind">One of <see cref="RuntimeKinds"/>.</param>
/// <param name="Url">The server's base URL (never with a token).</param>
/// <param name="InsecureTransport">Plain http to a host that is not loopback: the token crosses the network in clear text.</param>
/// <param name="State">One of <see cref="RuntimeStates"/>.</param>
/// <param name="ProcessId">The local server's (wrapper's) process id; null for remote runtimes.</param>
/// <param name="RootDirectory">The local server's root (the workspace); null for remote runtimes.</param>
public sealed record RuntimeInfo(
    string Id,
    string Kind,
    string Url,
    string? ServerVersion,
    bool InsecureTransport,
    DateTimeOffset ConnectedAt,
    string State,
    string? Detail,
    int? ProcessId,
    string? RootDirectory);

/// <summary>A kernel on a runtime, as the server reports it plus what this daemon knows.</summary>
/// <param name="ExecutionState">starting, idle, busy, restarting, dead: the live state from this daemon's open channels, else the server's.</param>
/// <param name="LastActivity">The later of the server's last activity and the last message this daemon received.</param>
/// <param name="StartedHere">This daemon started it (and shuts it down on disconnect).</param>
/// <param name="Connected">This daemon has its channels open.</param>
public sealed record RuntimeKernelInfo(
    string RuntimeId,
    string Id,
    string Name,
    string ExecutionState,
    DateTimeOffset? LastActivity,
    int Connections,
    bool StartedHere,
    bool Connected);

/// <summary>A session (<c>/api/sessions</c>) bound to a kernel: the notebook or console using it.</summary>
public sealed record RuntimeSessionInfo(string Id, string? Path, string? Name, string? Type);

/// <summary>A kernel with the sessions using it and how long it has been idle.</summary>
/// <param name="IdleSeconds">Seconds since its last activity while it is idle; 0 while it is busy or starting; null when the server gave no last activity.</param>
public sealed record KernelSessionsInfo(RuntimeKernelInfo Kernel, double? IdleSeconds, IReadOnlyList<RuntimeSessionInfo> Sessions);

/// <summary>A runtime with its kernels (the Sessions view's rows).</summary>
/// <param name="Busy">A cell (or a job holding the runtime) is running through this daemon.</param>
/// <param name="IdleSeconds">Seconds since this daemon last used the runtime; 0 while busy.</param>
/// <param name="Error">Why the kernels could not be listed (e.g. the server is down); the kernels are then empty.</param>
public sealed record RuntimeSessionsInfo(RuntimeInfo Runtime, bool Busy, double IdleSeconds, IReadOnlyList<KernelSessionsInfo> Kernels, string? Error);

/// <summary>
/// The Jupyter servers this daemon is connected to, by id: local ones it started and remote
/// ones given by URL and token. Disconnecting shuts down the kernels this daemon started on
/// the runtime (a remote server's other kernels are left alone) and, for a local runtime,
/// the server itself. Disposing disconnects everything (the host disposes it on exit).
/// </summary>
/// <remarks>Configuration: <c>Workspace</c> (<c>COLAB_WORKSPACE</c>) — a local runtime's default root; <c>RuntimeStartTimeoutSeconds</c>.</remarks>
public sealed class RuntimeManager : IAsyncDisposable, IDisposable
{
    private static readonly TimeSpan DisposeTimeout = TimeSpan.FromSeconds(15);

    private readonly PythonLocator _python;
    private readonly IConfiguration _configuration;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, Runtime> _runtimes = new(StringComparer.Ordinal);
    private int _disposed;

    public RuntimeManager(PythonLocator python, IConfiguration configuration, ILogger<RuntimeManager>? logger = null, TimeProvider? time = null)
    {
        _python = python;
        _configuration = configuration;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Raised after a runtime is added, removed, or changes state (e.g. its local server exited).</summary>
    public event Action? Changed;

    /// <summary>Options for local servers, for tests (extra server arguments, timeouts).</summary>
    internal Func<LocalServerOptions, LocalServerOptions>? LocalOptionsOverride { get; set; }

    /// <summary>Starts a local Jupyter server serving <paramref name="rootDirectory"/> (default: the <c>Workspace</c> setting, else the current directory).</summary>
    public async Task<RuntimeInfo> ConnectLocalAsync(string? rootDirectory = null, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var root = rootDirectory ?? _configuration["Workspace"] ?? Environment.CurrentDirectory;
        var options = new LocalServerOptions { RootDirectory = root };
        if (double.TryParse(_configuration["RuntimeStartTimeoutSeconds"], System.Globalization.CultureInfo.InvariantCulture, out var seconds) && seconds > 0)
        {
            options = options with { StartTimeout = TimeSpan.FromSeconds(seconds) };
        }
        options = LocalOptionsOverride?.Invoke(options) ?? options;
        var server = await LocalJupyterServer.StartAsync(_python, options, _logger, cancellationToken).ConfigureAwait(false);
        var runtime = new Runtime($"local-{NewId()}", RuntimeKinds.Local, server.CreateClient(), server, server.ServerVersion, _time.GetUtcNow());
        server.Exited += _ =>
        {
            if (runtime.Disconnecting)
            {
                return;
            }
            runtime.State = RuntimeStates.Exited;
            runtime.Detail = $"the local Jupyter server exited: {server.LogTail().Split('\n').LastOrDefault(l => l.Length > 0) ?? "no output"}";
            RaiseChanged();
        };
        return Add(runtime);
    }

    /// <summary>
    /// Connects to a Jupyter server by URL and token (a <c>?token=</c> in the URL is used when
    /// <paramref name="token"/> is null) and checks it answers <c>GET /api/status</c>. On any
    /// failure nothing is kept.
    /// </summary>
    public async Task<RuntimeInfo> ConnectRemoteAsync(string url, string? token, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var endpoint = JupyterEndpoint.Parse(url, out var queryToken);
        var client = new JupyterClient(endpoint, token ?? queryToken);
        try
        {
            await client.GetStatusAsync(cancellationToken).ConfigureAwait(false);
            var version = await client.GetVersionAsync(cancellationToken).ConfigureAwait(false);
            if (endpoint.InsecureRemote)
            {
                _logger.LogWarning("{Url} is plain http to another host: the token crosses the network unencrypted", endpoint.Display);
            }
            return Add(new Runtime($"remote-{NewId()}", RuntimeKinds.Remote, client, null, version.Version, _time.GetUtcNow()));
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    public IReadOnlyList<RuntimeInfo> List() => [.. _runtimes.Values.OrderBy(r => r.ConnectedAt).Select(r => r.Info())];

    public RuntimeInfo Get(string runtimeId) => Find(runtimeId).Info();

    /// <summary>The runtime's REST client (owned by the manager: do not dispose it).</summary>
    public JupyterClient Client(string runtimeId) => Find(runtimeId).Client;

    /// <summary>Closes the runtime's kernel connections, shuts down the kernels this daemon started on it, and stops a local server.</summary>
    public async Task DisconnectAsync(string runtimeId, CancellationToken cancellationToken = default)
    {
        if (!_runtimes.TryRemove(runtimeId, out var runtime))
        {
            throw NotFound(runtimeId);
        }
        await DisconnectAsync(runtime, cancellationToken).ConfigureAwait(false);
        RaiseChanged();
    }

    public Task<JupyterKernelSpecs> GetKernelSpecsAsync(string runtimeId, CancellationToken cancellationToken = default)
        => Find(runtimeId).Client.GetKernelSpecsAsync(cancellationToken);

    /// <summary>The server's kernels with their state and last activity (the later of the server's and this daemon's).</summary>
    public async Task<IReadOnlyList<RuntimeKernelInfo>> ListKernelsAsync(string runtimeId, CancellationToken cancellationToken = default)
    {
        var runtime = Find(runtimeId);
        var kernels = await runtime.Client.ListKernelsAsync(cancellationToken).ConfigureAwait(false);
        return [.. kernels.Where(k => !runtime.HiddenKernels.ContainsKey(k.Id)).Select(k => Describe(runtime, k))];
    }

    /// <param name="notebook">The notebook the kernel is for: it gets a Jupyter session with that path (best effort; the kernel works without).</param>
    public async Task<RuntimeKernelInfo> StartKernelAsync(string runtimeId, string? kernelName = null, string? path = null, CancellationToken cancellationToken = default,
        string? notebook = null)
    {
        var runtime = Find(runtimeId);
        var kernel = await runtime.Client.StartKernelAsync(kernelName, path, cancellationToken).ConfigureAwait(false);
        runtime.StartedKernels[kernel.Id] = 0;
        if (notebook is not null)
        {
            try
            {
                await runtime.Client.CreateSessionAsync(notebook, kernelId: kernel.Id, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (JupyterException e)
            {
                _logger.LogInformation("runtime {Id}: kernel {Kernel} runs without a session for {Notebook}: {Error}", runtime.Id, kernel.Id, notebook, e.Message);
            }
        }
        await TellKernelWhereItIsAsync(runtime, kernel, cancellationToken).ConfigureAwait(false);
        RaiseChanged();
        return Describe(runtime, kernel);
    }

    /// <summary>The code that tells a Python kernel on a remote runtime it was started by this product.</summary>
    internal const string RemoteKernelMarker = "import os as _colab_os; _colab_os.environ.update(COLAB_VSCODE='1', COLAB_VSCODE_RUNTIME='remote'); del _colab_os";

    /// <summary>
    /// Kernels started by the product see <c>COLAB_VSCODE=1</c> and the runtime kind. A local
    /// server has them in its environment; on a remote server a silent execute sets them in a
    /// Python kernel (after each start and restart). Best effort: a failure is logged, never fatal.
    /// </summary>
    private async Task TellKernelWhereItIsAsync(Runtime runtime, JupyterKernel kernel, CancellationToken cancellationToken)
    {
        if (runtime.Server is not null || !kernel.Name.StartsWith("python", StringComparison.OrdinalIgnoreCase))
        {
            return;
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        try
        {
            var connection = await OpenKernelAsync(runtime.Id, kernel.Id, timeout.Token).ConfigureAwait(false);
            var execution = await connection.ExecuteAsync(RemoteKernelMarker, new ExecuteOptions { Silent = true, StoreHistory = false, StopOnError = false }, timeout.Token).ConfigureAwait(false);
            await execution.Completion.WaitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is JupyterException or OperationCanceledException or TimeoutException)
        {
            _logger.LogInformation("runtime {Id}: could not set COLAB_VSCODE in kernel {Kernel}: {Error}", runtime.Id, kernel.Id, e.Message);
        }
    }

    /// <summary>
    /// Re-attaches a kernel the server still runs (e.g. one this window used before the daemon
    /// restarted): it is then treated as started here (shut down on disconnect). A kernel the
    /// server no longer has is <see cref="JupyterErrorKind.NotFound"/>; the caller starts a new one.
    /// </summary>
    public async Task<RuntimeKernelInfo> AttachKernelAsync(string runtimeId, string kernelId, CancellationToken cancellationToken = default)
    {
        var runtime = Find(runtimeId);
        if (string.IsNullOrWhiteSpace(kernelId) || kernelId.Contains('/', StringComparison.Ordinal))
        {
            throw new JupyterException(JupyterErrorKind.NotFound, "no such kernel: the kernel id is empty or has a '/'");
        }
        var kernel = await runtime.Client.GetKernelAsync(kernelId, cancellationToken).ConfigureAwait(false);
        runtime.StartedKernels[kernel.Id] = 0;
        runtime.Touch(_time.GetUtcNow());
        _logger.LogInformation("runtime {Id}: re-attached kernel {Kernel}", runtime.Id, kernel.Id);
        RaiseChanged();
        return Describe(runtime, kernel);
    }

    /// <summary>The open channels of a kernel (opened on first use, shared afterwards; a closed one is replaced).</summary>
    public async Task<KernelConnection> OpenKernelAsync(string runtimeId, string kernelId, CancellationToken cancellationToken = default)
    {
        var runtime = Find(runtimeId);
        runtime.Touch(_time.GetUtcNow());
        await runtime.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (runtime.Connections.TryGetValue(kernelId, out var existing) && existing.State != KernelConnectionState.Closed)
            {
                return existing;
            }
            var connection = await KernelConnection.ConnectAsync(runtime.Client, kernelId, logger: _logger, time: _time, cancellationToken: cancellationToken).ConfigureAwait(false);
            connection.StateChanged += state =>
            {
                if (state == KernelConnectionState.Closed && connection.ServerGone && !runtime.Disconnecting && runtime.State == RuntimeStates.Connected)
                {
                    runtime.State = RuntimeStates.Disconnected;
                    runtime.Detail = connection.CloseReason;
                    RaiseChanged();
                }
            };
            runtime.Connections[kernelId] = connection;
            if (runtime.State == RuntimeStates.Disconnected)
            {
                // The server answers again.
                runtime.State = RuntimeStates.Connected;
                runtime.Detail = null;
                RaiseChanged();
            }
            if (existing is not null)
            {
                await existing.DisposeAsync().ConfigureAwait(false);
            }
            return connection;
        }
        finally
        {
            runtime.Gate.Release();
        }
    }

    public Task InterruptKernelAsync(string runtimeId, string kernelId, CancellationToken cancellationToken = default)
        => Find(runtimeId).Client.InterruptKernelAsync(kernelId, cancellationToken);

    /// <summary>Restarts a kernel; executions in flight on its open connection end with <see cref="JupyterErrorKind.Disconnected"/>.</summary>
    public async Task<RuntimeKernelInfo> RestartKernelAsync(string runtimeId, string kernelId, CancellationToken cancellationToken = default)
    {
        var runtime = Find(runtimeId);
        var kernel = runtime.Connections.TryGetValue(kernelId, out var connection) && connection.State != KernelConnectionState.Closed
            ? await connection.RestartAsync(cancellationToken).ConfigureAwait(false)
            : await runtime.Client.RestartKernelAsync(kernelId, cancellationToken).ConfigureAwait(false);
        await TellKernelWhereItIsAsync(runtime, kernel, cancellationToken).ConfigureAwait(false);
        return Describe(runtime, kernel);
    }

    public async Task ShutdownKernelAsync(string runtimeId, string kernelId, CancellationToken cancellationToken = default)
    {
        var runtime = Find(runtimeId);
        if (runtime.Connections.TryRemove(kernelId, out var connection))
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
        await runtime.Client.DeleteKernelAsync(kernelId, cancellationToken).ConfigureAwait(false);
        runtime.StartedKernels.TryRemove(kernelId, out _);
        RaiseChanged();
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        using var timeout = new CancellationTokenSource(DisposeTimeout);
        var all = _runtimes.Values.ToList();
        _runtimes.Clear();
        await Task.WhenAll(all.Select(r => DisconnectAsync(r, timeout.Token))).ConfigureAwait(false);
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    // ---- activity, sessions and idle kernels (the Sessions view, keep-alive, idle shutdown) ----

    /// <summary>
    /// Marks the runtime busy until the returned handle is disposed (a cell running, a training
    /// job): the idle monitor keeps it alive meanwhile and never disconnects it for idleness.
    /// </summary>
    public IDisposable HoldBusy(string runtimeId)
    {
        var runtime = Find(runtimeId);
        runtime.Hold(_time.GetUtcNow());
        return new BusyHold(runtime, _time);
    }

    /// <summary>Records use of the runtime now (an execution, the user's "Keep"): its idle time starts again.</summary>
    public void Touch(string runtimeId) => Find(runtimeId).Touch(_time.GetUtcNow());

    /// <summary>Whether the runtime is held busy, and when this daemon last used it (the later of its own record and its open kernels' last messages).</summary>
    public (bool Busy, DateTimeOffset LastUsed) Activity(string runtimeId) => ActivityOf(Find(runtimeId));

    private static (bool Busy, DateTimeOffset LastUsed) ActivityOf(Runtime runtime)
    {
        var last = runtime.LastUsed;
        foreach (var connection in runtime.Connections.Values)
        {
            if (connection.State != KernelConnectionState.Closed && connection.LastActivity is { } seen && seen > last)
            {
                last = seen;
            }
        }
        return (runtime.Holds > 0, last);
    }

    /// <summary>Every runtime with its kernels, their sessions (notebook paths) and idle times; a runtime whose server does not answer carries the error instead.</summary>
    public async Task<IReadOnlyList<RuntimeSessionsInfo>> ListSessionsAsync(string? runtimeId = null, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var selected = runtimeId is null ? [.. _runtimes.Values.OrderBy(r => r.ConnectedAt)] : new List<Runtime> { Find(runtimeId) };
        var now = _time.GetUtcNow();
        var result = new List<RuntimeSessionsInfo>(selected.Count);
        foreach (var runtime in selected)
        {
            var (busy, lastUsed) = ActivityOf(runtime);
            var idle = busy ? 0 : Math.Max(0, (now - lastUsed).TotalSeconds);
            if (runtime.State != RuntimeStates.Connected)
            {
                result.Add(new RuntimeSessionsInfo(runtime.Info(), busy, idle, [], runtime.Detail));
                continue;
            }
            try
            {
                var kernels = await runtime.Client.ListKernelsAsync(cancellationToken).ConfigureAwait(false);
                IReadOnlyList<JupyterSession> sessions;
                try
                {
                    sessions = await runtime.Client.ListSessionsAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (JupyterException e) when (e.Kind == JupyterErrorKind.NotFound)
                {
                    sessions = []; // a kernel gateway without the sessions API
                }
                var rows = kernels.Where(k => !runtime.HiddenKernels.ContainsKey(k.Id)).Select(k =>
                {
                    var info = Describe(runtime, k);
                    double? kernelIdle = info.ExecutionState is "busy" or "starting" or "restarting" ? 0
                        : info.LastActivity is { } last ? Math.Max(0, (now - last).TotalSeconds) : null;
                    var bound = sessions.Where(s => s.Kernel?.Id == k.Id).Select(s => new RuntimeSessionInfo(s.Id, s.Path, s.Name, s.Type)).ToList();
                    return new KernelSessionsInfo(info, kernelIdle, bound);
                }).ToList();
                result.Add(new RuntimeSessionsInfo(runtime.Info(), busy, idle, rows, null));
            }
            catch (JupyterException e)
            {
                result.Add(new RuntimeSessionsInfo(runtime.Info(), busy, idle, [], e.Message));
            }
        }
        return result;
    }

    /// <summary>
    /// Marks a kernel the daemon runs for itself on a runtime (the GPU probe, a runtime
    /// benchmark): it is left out of kernel and session lists and never killed as idle, so
    /// the user sees only their own kernels. Unknown runtimes are ignored.
    /// </summary>
    public void HideKernel(string runtimeId, string kernelId)
    {
        if (_runtimes.TryGetValue(runtimeId, out var runtime))
        {
            runtime.HiddenKernels[kernelId] = 0;
        }
    }

    /// <summary>Shuts down the runtime's kernels that are idle and have been for at least <paramref name="idleFor"/>; busy, starting and dead ones are left alone. Returns the ids shut down.</summary>
    public async Task<IReadOnlyList<string>> KillIdleKernelsAsync(string runtimeId, TimeSpan idleFor, CancellationToken cancellationToken = default)
    {
        var runtime = Find(runtimeId);
        var now = _time.GetUtcNow();
        var kernels = await runtime.Client.ListKernelsAsync(cancellationToken).ConfigureAwait(false);
        var killed = new List<string>();
        foreach (var kernel in kernels.Where(k => !runtime.HiddenKernels.ContainsKey(k.Id)).Select(k => Describe(runtime, k)))
        {
            if (kernel.ExecutionState != "idle" || kernel.LastActivity is not { } last || now - last < idleFor)
            {
                continue;
            }
            try
            {
                await ShutdownKernelAsync(runtimeId, kernel.Id, cancellationToken).ConfigureAwait(false);
                killed.Add(kernel.Id);
            }
            catch (JupyterException e) when (e.Kind == JupyterErrorKind.NotFound)
            {
                // Gone meanwhile: nothing to kill.
            }
        }
        return killed;
    }

    private sealed class BusyHold(Runtime runtime, TimeProvider time) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                runtime.Release(time.GetUtcNow());
            }
        }
    }

    // ---- internals -----------------------------------------------------------------------

    private RuntimeInfo Add(Runtime runtime)
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            _ = DisconnectAsync(runtime, CancellationToken.None);
            ThrowIfDisposed();
        }
        _runtimes[runtime.Id] = runtime;
        _logger.LogInformation("runtime {Id} connected: {Kind} Jupyter server {Version} at {Url}", runtime.Id, runtime.Kind, runtime.Version, runtime.Client.Endpoint.Display);
        RaiseChanged();
        return runtime.Info();
    }

    private async Task DisconnectAsync(Runtime runtime, CancellationToken cancellationToken)
    {
        runtime.Disconnecting = true;
        foreach (var connection in runtime.Connections.Values)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
        runtime.Connections.Clear();
        if (runtime.Server is null)
        {
            foreach (var kernelId in runtime.StartedKernels.Keys)
            {
                try
                {
                    await runtime.Client.DeleteKernelAsync(kernelId, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is JupyterException or OperationCanceledException)
                {
                    _logger.LogInformation("runtime {Id}: could not shut down kernel {Kernel}: {Error}", runtime.Id, kernelId, e.Message);
                }
            }
        }
        else
        {
            // The server shuts all its kernels down as it stops.
            await runtime.Server.StopAsync().ConfigureAwait(false);
        }
        runtime.Client.Dispose();
        _logger.LogInformation("runtime {Id} disconnected", runtime.Id);
    }

    private RuntimeKernelInfo Describe(Runtime runtime, JupyterKernel kernel)
    {
        runtime.Connections.TryGetValue(kernel.Id, out var connection);
        var open = connection is not null && connection.State != KernelConnectionState.Closed;
        var last = kernel.LastActivity;
        if (open && connection!.LastActivity is { } seen && (last is null || seen > last))
        {
            last = seen;
        }
        // The server's state lags (it says "starting" until its own iopub watcher hears a status); ours is live.
        var state = open && connection!.ExecutionState != "unknown" ? connection.ExecutionState : kernel.ExecutionState;
        return new RuntimeKernelInfo(runtime.Id, kernel.Id, kernel.Name, state, last, kernel.Connections,
            runtime.StartedKernels.ContainsKey(kernel.Id), open);
    }

    private Runtime Find(string runtimeId)
    {
        ThrowIfDisposed();
        return _runtimes.TryGetValue(runtimeId, out var runtime) ? runtime : throw NotFound(runtimeId);
    }

    private static JupyterException NotFound(string runtimeId)
        => new(JupyterErrorKind.NotFound, $"no runtime {runtimeId} (it was disconnected, or never connected)");

    private void ThrowIfDisposed()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            throw new JupyterException(JupyterErrorKind.Disconnected, "the daemon is shutting down");
        }
    }

    private void RaiseChanged()
    {
        try
        {
            Changed?.Invoke();
        }
        catch (Exception e)
        {
            _logger.LogWarning("a runtime change handler failed: {Error}", e.Message);
        }
    }

    private static string NewId() => Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4));

    private sealed class Runtime(string id, string kind, JupyterClient client, LocalJupyterServer? server, string? version, DateTimeOffset connectedAt)
    {
        public string Id { get; } = id;
        public string Kind { get; } = kind;
        public JupyterClient Client { get; } = client;
        public LocalJupyterServer? Server { get; } = server;
        public string? Version { get; } = version;
        public DateTimeOffset ConnectedAt { get; } = connectedAt;
        public ConcurrentDictionary<string, byte> StartedKernels { get; } = new(StringComparer.Ordinal);

        /// <summary>Kernels the daemon runs for itself here (see <see cref="HideKernel"/>).</summary>
        public ConcurrentDictionary<string, byte> HiddenKernels { get; } = new(StringComparer.Ordinal);
        public ConcurrentDictionary<string, KernelConnection> Connections { get; } = new(StringComparer.Ordinal);
        public SemaphoreSlim Gate { get; } = new(1, 1);
        public volatile string State = RuntimeStates.Connected;
        public volatile string? Detail;
        public volatile bool Disconnecting;
        private long _lastUsedTicks = connectedAt.UtcTicks;
        private int _holds;

        public int Holds => Volatile.Read(ref _holds);

        public DateTimeOffset LastUsed => new(Interlocked.Read(ref _lastUsedTicks), TimeSpan.Zero);

        public void Touch(DateTimeOffset now)
        {
            var ticks = now.UtcTicks;
            long seen;
            while ((seen = Interlocked.Read(ref _lastUsedTicks)) < ticks && Interlocked.CompareExchange(ref _lastUsedTicks, ticks, seen) != seen)
            {
            }
        }

        public void Hold(DateTimeOffset now)
        {
            Interlocked.Increment(ref _holds);
            Touch(now);
        }

        public void Release(DateTimeOffset now)
        {
            Interlocked.Decrement(ref _holds);
            Touch(now);
        }

        public RuntimeInfo Info() => new(Id, Kind, Client.Endpoint.Display, Version, Client.Endpoint.InsecureRemote, ConnectedAt, State, Detail,
            Server?.ProcessId, Server?.RootDirectory);
    }
}
