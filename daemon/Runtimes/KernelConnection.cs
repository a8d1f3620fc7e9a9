using System.Buffers;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Colab.Daemon.Runtimes;

/// <summary>Where a <see cref="KernelConnection"/> is.</summary>
public enum KernelConnectionState
{
    Connected,

    /// <summary>The socket dropped; reconnecting with the same session id (the server buffers output meanwhile).</summary>
    Reconnecting,

    /// <summary>Disposed, or reconnecting gave up (the token was rejected, the kernel is gone, server unreachable for too long).</summary>
    Closed,
}

public sealed record KernelConnectionOptions
{
    /// <summary>Offer <c>v1.kernel.websocket.jupyter.org</c>; the legacy JSON protocol is used when the server does not pick it (or when this is false).</summary>
    public bool OfferV1 { get; init; } = true;

    /// <summary>The client session id (a new one when null). The server replays output buffered while disconnected only to the same id.</summary>
    public string? SessionId { get; init; }

    public string Username { get; init; } = "colab";

    /// <summary>How long to wait before each reconnect attempt; when they are used up the connection closes.</summary>
    public IReadOnlyList<TimeSpan> ReconnectDelays { get; init; } =
        [.. new[] { 0.1, 0.25, 0.5, 1, 2, 4, 8, 8, 8, 8, 8, 8 }.Select(TimeSpan.FromSeconds)];

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>WebSocket pings, so a silently dead connection is noticed.</summary>
    public TimeSpan KeepAliveInterval { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>A frame bigger than this is dropped (with a log line) rather than buffered.</summary>
    public int MaxFrameBytes { get; init; } = 256 * 1024 * 1024;
}

/// <summary>
/// One client's connection to a kernel's channels WebSocket
/// (<c>ws://host/api/kernels/{id}/channels?session_id=…</c>). Prefers the
/// <c>v1.kernel.websocket.jupyter.org</c> subprotocol and falls back to the legacy JSON one.
/// Requests are routed back by <c>parent_header.msg_id</c>. When the socket drops it
/// reconnects with the same session id, so output the kernel produced meanwhile (buffered
/// by the server) still reaches the execution that caused it; sends wait for the
/// reconnect. Thread-safe.
/// </summary>
public sealed class KernelConnection : IAsyncDisposable
{
    private readonly JupyterClient _client;
    private readonly KernelConnectionOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _lifetime = new();
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly Lock _gate = new();
    private readonly Dictionary<string, KernelExecution> _executions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TaskCompletionSource<KernelMessage>> _requests = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TaskCompletionSource> _iopubWaiters = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _nudgeLock = new(1, 1);
    private volatile bool _iopubSuspect;
    private ClientWebSocket? _socket;
    private TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _loop = Task.CompletedTask;
    private int _disposed;

    private KernelConnection(JupyterClient client, string kernelId, KernelConnectionOptions options, ILogger logger, TimeProvider time)
    {
        _client = client;
        _options = options;
        _logger = logger;
        _time = time;
        KernelId = kernelId;
        SessionId = options.SessionId ?? Guid.NewGuid().ToString();
    }

    public string KernelId { get; }

    /// <summary>The client session id, kept across reconnects.</summary>
    public string SessionId { get; }

    /// <summary>The framing the current socket speaks.</summary>
    public KernelWireProtocol Protocol { get; private set; }

    public KernelConnectionState State { get; private set; }

    /// <summary>The kernel's last reported <c>execution_state</c> (busy, idle, starting, restarting, dead; unknown before the first status).</summary>
    public string ExecutionState { get; private set; } = "unknown";

    /// <summary>When the last message from the kernel arrived.</summary>
    public DateTimeOffset? LastActivity { get; private set; }

    /// <summary>How many times the socket was re-opened after a drop.</summary>
    public int Reconnects { get; private set; }

    /// <summary>True when it closed because the server no longer accepted connections (set before the Closed state is raised).</summary>
    public bool ServerGone { get; private set; }

    /// <summary>Why the connection closed, when it closed on its own.</summary>
    public string? CloseReason { get; private set; }

    /// <summary>Every decoded message, on the receive loop (handlers must be quick and must not throw).</summary>
    public event Action<KernelMessage>? MessageReceived;

    public event Action<KernelConnectionState>? StateChanged;

    public static async Task<KernelConnection> ConnectAsync(JupyterClient client, string kernelId, KernelConnectionOptions? options = null,
        ILogger? logger = null, TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        var connection = new KernelConnection(client, kernelId, options ?? new KernelConnectionOptions(), logger ?? NullLogger.Instance, time ?? TimeProvider.System);
        var (socket, protocol) = await connection.OpenSocketAsync(cancellationToken).ConfigureAwait(false);
        connection.Attach(socket, protocol);
        connection._loop = Task.Run(connection.RunAsync, CancellationToken.None);
        return connection;
    }

    // ---- requests ------------------------------------------------------------------------

    /// <summary>
    /// Sends an <c>execute_request</c> (waiting for a reconnect if the socket is down) and
    /// returns the execution, whose outputs stream in as the kernel produces them. Requests
    /// are sent in call order; the kernel runs them in that order.
    /// </summary>
    public async Task<KernelExecution> ExecuteAsync(string code, ExecuteOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new ExecuteOptions();
        await EnsureIopubAsync(cancellationToken).ConfigureAwait(false);
        var content = new ExecuteRequestContent(code, options.Silent, options.StoreHistory, new Dictionary<string, string>(), options.OnInput is not null, options.StopOnError);
        var header = KernelHeader.Create("execute_request", SessionId, _options.Username);
        var execution = new KernelExecution(header.MsgId, code, options);
        lock (_gate)
        {
            ThrowIfClosed();
            _executions[header.MsgId] = execution;
        }
        try
        {
            await SendAsync(new KernelMessage
            {
                Channel = KernelChannels.Shell,
                Header = header,
                Content = JsonSerializer.SerializeToElement(content, RuntimeJson.Default.ExecuteRequestContent),
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            lock (_gate)
            {
                _executions.Remove(header.MsgId);
            }
            execution.Fail(e);
            throw;
        }
        return execution;
    }

    /// <summary>Sends any request on shell or control (kernel_info_request, complete_request, …) and returns its reply.</summary>
    public async Task<KernelMessage> RequestAsync(string channel, string msgType, JsonElement content, CancellationToken cancellationToken = default)
    {
        var header = KernelHeader.Create(msgType, SessionId, _options.Username);
        var reply = new TaskCompletionSource<KernelMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            ThrowIfClosed();
            _requests[header.MsgId] = reply;
        }
        try
        {
            await SendAsync(new KernelMessage { Channel = channel, Header = header, Content = content }, cancellationToken).ConfigureAwait(false);
            return await reply.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            lock (_gate)
            {
                _requests.Remove(header.MsgId);
            }
        }
    }

    /// <summary>Interrupts the kernel (REST; the server sends SIGINT or an interrupt_request as the kernel spec says).</summary>
    public Task InterruptAsync(CancellationToken cancellationToken = default)
        => _client.InterruptKernelAsync(KernelId, cancellationToken);

    /// <summary>
    /// Restarts the kernel (REST). Executions in flight end with <see cref="JupyterErrorKind.Disconnected"/>;
    /// the connection stays open. Returns once the new kernel's output reaches this connection.
    /// </summary>
    public async Task<JupyterKernel> RestartAsync(CancellationToken cancellationToken = default)
    {
        var kernel = await _client.RestartKernelAsync(KernelId, cancellationToken).ConfigureAwait(false);
        FailPending(_client.Error(JupyterErrorKind.Disconnected, $"kernel {KernelId} was restarted before the request finished"));
        _iopubSuspect = true;
        await EnsureIopubAsync(cancellationToken).ConfigureAwait(false);
        return kernel;
    }

    /// <summary>
    /// After a restart the server's iopub subscription to the new kernel reconnects on its own
    /// schedule, and output published before it does is lost (ZeroMQ's slow joiner). Before
    /// the next request, send kernel_info_requests until one's iopub status comes back.
    /// </summary>
    private async Task EnsureIopubAsync(CancellationToken cancellationToken)
    {
        if (!_iopubSuspect)
        {
            return;
        }
        await _nudgeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sent = new List<string>();
        try
        {
            for (var attempt = 0; _iopubSuspect && attempt < 40; attempt++)
            {
                var header = KernelHeader.Create("kernel_info_request", SessionId, _options.Username);
                lock (_gate)
                {
                    ThrowIfClosed();
                    _iopubWaiters[header.MsgId] = seen;
                }
                sent.Add(header.MsgId);
                await SendAsync(new KernelMessage { Channel = KernelChannels.Shell, Header = header }, cancellationToken).ConfigureAwait(false);
                try
                {
                    await seen.Task.WaitAsync(TimeSpan.FromMilliseconds(250), _time, cancellationToken).ConfigureAwait(false);
                    _iopubSuspect = false;
                }
                catch (TimeoutException)
                {
                    // Not yet: ask again.
                }
            }
            if (_iopubSuspect)
            {
                _logger.LogWarning("kernel {Kernel}: no iopub message after a restart; output may be incomplete", KernelId);
                _iopubSuspect = false;
            }
        }
        finally
        {
            lock (_gate)
            {
                foreach (var id in sent)
                {
                    _iopubWaiters.Remove(id);
                }
            }
            _nudgeLock.Release();
        }
    }

    /// <summary>Drops the socket without a close handshake, as a network failure would (tests of the reconnect).</summary>
    internal void DropSocket()
    {
        _socket?.Abort();
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            await _loop.ConfigureAwait(false);
            return;
        }
        var socket = _socket;
        if (socket is { State: WebSocketState.Open })
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _sendLock.WaitAsync(timeout.Token).ConfigureAwait(false);
                try
                {
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "client closed", timeout.Token).ConfigureAwait(false);
                }
                finally
                {
                    _sendLock.Release();
                }
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException)
            {
                // The socket is going away either way.
            }
        }
        await _lifetime.CancelAsync().ConfigureAwait(false);
        socket?.Abort();
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _logger.LogDebug("kernel {Kernel}: receive loop ended with {Error}", KernelId, e.GetType().Name);
        }
        Close(_client.Error(JupyterErrorKind.Disconnected, $"the connection to kernel {KernelId} was closed"), null);
        socket?.Dispose();
        _lifetime.Dispose();
    }

    // ---- socket --------------------------------------------------------------------------

    private async Task<(ClientWebSocket, KernelWireProtocol)> OpenSocketAsync(CancellationToken cancellationToken)
    {
        if (_options.OfferV1)
        {
            try
            {
                return await OpenSocketAsync(offerV1: true, cancellationToken).ConfigureAwait(false);
            }
            catch (JupyterException e) when (e.Kind == JupyterErrorKind.HttpError)
            {
                // A server that refuses unknown subprotocols outright: try without.
                _logger.LogInformation("kernel {Kernel}: the server refused the v1 subprotocol ({Status}); using the legacy protocol", KernelId, e.StatusCode);
            }
        }
        return await OpenSocketAsync(offerV1: false, cancellationToken).ConfigureAwait(false);
    }

    private async Task<(ClientWebSocket, KernelWireProtocol)> OpenSocketAsync(bool offerV1, CancellationToken cancellationToken)
    {
        var endpoint = _client.Endpoint;
        var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        socket.Options.KeepAliveInterval = _options.KeepAliveInterval;
        socket.Options.KeepAliveTimeout = _options.KeepAliveInterval;
        if (_client.AuthorizationValue is { } authorization)
        {
            socket.Options.SetRequestHeader("Authorization", authorization);
        }
        if (offerV1)
        {
            socket.Options.AddSubProtocol(KernelWire.V1SubProtocol);
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _lifetime.Token);
        timeout.CancelAfter(_options.ConnectTimeout);
        try
        {
            await socket.ConnectAsync(endpoint.Channels(KernelId, SessionId), QuickAckSockets.For(endpoint.IsLoopback), timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is WebSocketException or HttpRequestException or OperationCanceledException or IOException)
        {
            var status = (int)socket.HttpStatusCode;
            socket.Dispose();
            cancellationToken.ThrowIfCancellationRequested();
            throw status switch
            {
                401 or 403 => _client.Error(JupyterErrorKind.TokenRejected,
                    $"the token was rejected by the Jupyter server at {endpoint.Display} (HTTP {status} for the channels of kernel {KernelId})", status),
                404 => _client.Error(JupyterErrorKind.NotFound, $"no kernel {KernelId} on {endpoint.Display} (it was shut down or never existed)", status),
                0 when e is OperationCanceledException => _client.Error(JupyterErrorKind.Unreachable,
                    $"no Jupyter server at {endpoint.Display}: the channels of kernel {KernelId} did not open within {_options.ConnectTimeout.TotalSeconds:0} s"),
                0 => _client.Error(JupyterErrorKind.Unreachable,
                    $"no Jupyter server at {endpoint.Display}: the channels of kernel {KernelId} could not be opened: {JupyterClient.Describe(e)}", inner: e),
                _ => _client.Error(JupyterErrorKind.HttpError,
                    $"{endpoint.Display} refused the channels WebSocket of kernel {KernelId} with HTTP {status}", status),
            };
        }
        var protocol = socket.SubProtocol == KernelWire.V1SubProtocol ? KernelWireProtocol.V1 : KernelWireProtocol.Legacy;
        _logger.LogDebug("kernel {Kernel}: channels open ({Protocol}, session {Session})", KernelId, protocol, SessionId);
        return (socket, protocol);
    }

    private void Attach(ClientWebSocket socket, KernelWireProtocol protocol)
    {
        lock (_gate)
        {
            _socket = socket;
            Protocol = protocol;
            State = KernelConnectionState.Connected;
            _connected.TrySetResult();
        }
        Raise(KernelConnectionState.Connected);
    }

    /// <summary>Marks <paramref name="socket"/> as unusable so sends wait for the next one (no-op if it was already replaced).</summary>
    private void Detach(ClientWebSocket socket)
    {
        var changed = false;
        lock (_gate)
        {
            if (ReferenceEquals(_socket, socket) && State == KernelConnectionState.Connected)
            {
                State = KernelConnectionState.Reconnecting;
                _connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                changed = true;
            }
        }
        socket.Abort();
        if (changed)
        {
            Raise(KernelConnectionState.Reconnecting);
        }
    }

    private async Task RunAsync()
    {
        while (!_lifetime.IsCancellationRequested)
        {
            var socket = _socket!;
            string why;
            try
            {
                why = await ReceiveAllAsync(socket).ConfigureAwait(false);
            }
            catch (Exception) when (_lifetime.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is WebSocketException or IOException or OperationCanceledException or ObjectDisposedException)
            {
                why = $"{e.GetType().Name}: {e.Message}";
            }
            if (_lifetime.IsCancellationRequested)
            {
                return;
            }
            Detach(socket);
            socket.Dispose();
            if (await ProbeServerGoneAsync().ConfigureAwait(false) is { } gone)
            {
                // Nothing to reconnect to: fail the running cells now rather than after the reconnect attempts.
                _logger.LogWarning("kernel {Kernel}: {Error}", KernelId, gone.Message);
                ServerGone = true;
                Close(gone, gone.Message);
                return;
            }
            _logger.LogInformation("kernel {Kernel}: the channels socket dropped ({Why}); reconnecting with session {Session}", KernelId, _client.Scrub(why), SessionId);
            var (reopened, failure) = await ReconnectAsync().ConfigureAwait(false);
            if (reopened is null)
            {
                if (!_lifetime.IsCancellationRequested)
                {
                    _logger.LogWarning("kernel {Kernel}: gave up reconnecting: {Error}", KernelId, failure?.Message);
                    Close(failure ?? _client.Error(JupyterErrorKind.Disconnected, $"lost the connection to kernel {KernelId}"), failure?.Message);
                }
                return;
            }
            Reconnects++;
            Attach(reopened.Value.Socket, reopened.Value.Protocol);
            _logger.LogInformation("kernel {Kernel}: reconnected ({Protocol})", KernelId, reopened.Value.Protocol);
        }
    }

    /// <summary>How long the one REST probe after a dropped socket may take.</summary>
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(1.5);

    /// <summary>
    /// One quick REST request after the socket dropped: when the server no longer accepts
    /// connections (it was killed or stopped), returns the error to close with; null when it
    /// answers or the probe is inconclusive (slow), so the usual reconnect goes ahead.
    /// </summary>
    private async Task<JupyterException?> ProbeServerGoneAsync()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_lifetime.Token);
        timeout.CancelAfter(ProbeTimeout);
        try
        {
            await _client.GetStatusAsync(timeout.Token).ConfigureAwait(false);
            return null;
        }
        catch (JupyterException e) when (e.Kind == JupyterErrorKind.Unreachable && !timeout.IsCancellationRequested)
        {
            return _client.Error(JupyterErrorKind.Disconnected,
                $"the Jupyter server at {_client.Endpoint.Display} stopped answering ({e.Message}); the running cell was stopped. Connect the runtime again once the server is back.");
        }
        catch (Exception e) when (e is JupyterException or OperationCanceledException)
        {
            return null;
        }
    }

    private async Task<((ClientWebSocket Socket, KernelWireProtocol Protocol)? Socket, JupyterException? Failure)> ReconnectAsync()
    {
        JupyterException? last = null;
        foreach (var delay in _options.ReconnectDelays)
        {
            try
            {
                await Task.Delay(delay, _time, _lifetime.Token).ConfigureAwait(false);
                return (await OpenSocketAsync(_lifetime.Token).ConfigureAwait(false), null);
            }
            catch (OperationCanceledException) when (_lifetime.IsCancellationRequested)
            {
                return (null, null);
            }
            catch (JupyterException e) when (e.Kind is JupyterErrorKind.TokenRejected or JupyterErrorKind.NotFound)
            {
                return (null, _client.Error(JupyterErrorKind.Disconnected, $"lost the connection to kernel {KernelId}: {e.Message}", e.StatusCode));
            }
            catch (JupyterException e)
            {
                last = e;
                _logger.LogDebug("kernel {Kernel}: reconnect failed: {Error}", KernelId, e.Message);
            }
        }
        return (null, _client.Error(JupyterErrorKind.Disconnected,
            $"lost the connection to kernel {KernelId} and could not reconnect: {last?.Message ?? "gave up"}"));
    }

    /// <summary>Reads frames until the socket closes; returns why it closed.</summary>
    private async Task<string> ReceiveAllAsync(ClientWebSocket socket)
    {
        var chunk = ArrayPool<byte>.Shared.Rent(64 * 1024);
        var frame = new ArrayBufferWriter<byte>(64 * 1024);
        var oversized = false;
        try
        {
            while (true)
            {
                var result = await socket.ReceiveAsync(chunk.AsMemory(), _lifetime.Token).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return $"closed by the server ({socket.CloseStatus} {socket.CloseStatusDescription})";
                }
                if (!oversized)
                {
                    if (frame.WrittenCount + result.Count > _options.MaxFrameBytes)
                    {
                        oversized = true;
                        frame.Clear();
                    }
                    else
                    {
                        frame.Write(chunk.AsSpan(0, result.Count));
                    }
                }
                if (!result.EndOfMessage)
                {
                    continue;
                }
                if (oversized)
                {
                    _logger.LogWarning("kernel {Kernel}: dropped a frame larger than {Max} bytes", KernelId, _options.MaxFrameBytes);
                }
                else
                {
                    // A large frame's buffer is replaced below, so its message may keep (parse in place) the bytes.
                    var routed = Dispatch(frame.WrittenSpan, frame.Capacity > LargeFrameBuffer ? frame.WrittenMemory : default, result.MessageType);
                    if (!routed.IsCompletedSuccessfully)
                    {
                        // Backpressure: the execution's reader is behind, so stop reading the socket until it catches up.
                        await AwaitRoutedAsync(routed).ConfigureAwait(false);
                    }
                }
                oversized = false;
                if (frame.Capacity > LargeFrameBuffer)
                {
                    // Do not keep a huge message's buffer for the life of the socket.
                    frame = new ArrayBufferWriter<byte>(64 * 1024);
                }
                frame.ResetWrittenCount();
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }

    private const int LargeFrameBuffer = 1024 * 1024;

    private async Task AwaitRoutedAsync(ValueTask routed)
    {
        try
        {
            await routed.ConfigureAwait(false);
        }
        catch (Exception e) when (!_lifetime.IsCancellationRequested && e is not OperationCanceledException)
        {
            _logger.LogWarning("kernel {Kernel}: routing a message failed: {Error}", KernelId, e.Message);
        }
    }

    private ValueTask Dispatch(ReadOnlySpan<byte> frame, ReadOnlyMemory<byte> owned, WebSocketMessageType type)
    {
        KernelMessage? message;
        string? error;
        var ok = type == WebSocketMessageType.Text
            ? KernelWire.TryDecodeLegacyText(frame, owned, out message, out error)
            : Protocol == KernelWireProtocol.V1
                ? KernelWire.TryDecodeV1(frame, owned, out message, out error)
                : KernelWire.TryDecodeLegacyBinary(frame, out message, out error);
        if (!ok)
        {
            _logger.LogWarning("kernel {Kernel}: dropped a malformed {Type} frame: {Error}", KernelId, type, error);
            return default;
        }
        try
        {
            return Route(message!, frame.Length);
        }
        catch (Exception e)
        {
            // One bad message must not end the connection.
            _logger.LogWarning("kernel {Kernel}: routing {Message} failed: {Error}", KernelId, message, e.Message);
            return default;
        }
    }

    /// <summary>
    /// Routes one message. Only iopub output for an execution whose reader is behind can make the
    /// caller wait (the returned task); shell, control and stdin messages never wait themselves.
    /// </summary>
    private ValueTask Route(KernelMessage message, int frameBytes)
    {
        LastActivity = _time.GetUtcNow();
        if (message.Channel == KernelChannels.IoPub)
        {
            ObserveKernel(message);
            if (State == KernelConnectionState.Closed)
            {
                return default;
            }
        }
        try
        {
            MessageReceived?.Invoke(message);
        }
        catch (Exception e)
        {
            _logger.LogWarning("kernel {Kernel}: a message handler failed: {Error}", KernelId, e.Message);
        }
        if (message.ParentMsgId is not { } parent)
        {
            return default;
        }
        KernelExecution? execution;
        TaskCompletionSource<KernelMessage>? request = null;
        lock (_gate)
        {
            if (!_executions.TryGetValue(parent, out execution)
                && message.Channel is KernelChannels.Shell or KernelChannels.Control
                && message.MsgType.EndsWith("_reply", StringComparison.Ordinal))
            {
                _requests.Remove(parent, out request);
            }
        }
        request?.TrySetResult(message);
        if (execution is null)
        {
            return default;
        }
        if (message.Channel == KernelChannels.IoPub)
        {
            var room = execution.WaitForRoomAsync(_lifetime.Token);
            if (!room.IsCompletedSuccessfully || KernelExecution.IsLongStream(message))
            {
                return RouteOutputAsync(execution, message, frameBytes, room);
            }
        }
        Deliver(execution, message, frameBytes);
        return default;
    }

    private async ValueTask RouteOutputAsync(KernelExecution execution, KernelMessage message, int frameBytes, ValueTask room)
    {
        await room.ConfigureAwait(false);
        if (KernelExecution.IsLongStream(message))
        {
            await execution.HandleLongStreamAsync(message, _lifetime.Token).ConfigureAwait(false);
            return;
        }
        Deliver(execution, message, frameBytes);
    }

    private void Deliver(KernelExecution execution, KernelMessage message, int frameBytes)
    {
        if (execution.Handle(message, out var input, frameBytes))
        {
            lock (_gate)
            {
                _executions.Remove(message.ParentMsgId!);
            }
        }
        if (input is not null)
        {
            _ = AnswerInputAsync(execution, message.Header, input);
        }
    }

    /// <summary>What iopub says about the kernel as a whole: its state, restarts, shutdown.</summary>
    private void ObserveKernel(KernelMessage message)
    {
        if (message.ParentMsgId is { } parent)
        {
            TaskCompletionSource? waiter;
            lock (_gate)
            {
                _iopubWaiters.TryGetValue(parent, out waiter);
            }
            waiter?.TrySetResult();
        }
        switch (message.MsgType)
        {
            case "status":
                var state = KernelMessage.Json.String(message.Content, "execution_state") ?? "unknown";
                ExecutionState = state;
                if (message.ParentHeader is null && state == "restarting")
                {
                    // Synthesized by the server: the kernel died and the server restarted it.
                    _iopubSuspect = true;
                    FailPending(_client.Error(JupyterErrorKind.Disconnected, $"kernel {KernelId} died and was restarted; its variables are gone"));
                }
                else if (message.ParentHeader is null && state == "dead")
                {
                    EndFromKernel($"kernel {KernelId} died and could not be restarted");
                }
                break;
            case "shutdown_reply":
                // Broadcast by the kernel whoever asked: a restart (REST, another client) or a shutdown.
                if (KernelMessage.Json.Bool(message.Content, "restart"))
                {
                    _iopubSuspect = true;
                    FailPending(_client.Error(JupyterErrorKind.Disconnected, $"kernel {KernelId} was restarted before the request finished"));
                }
                else
                {
                    ExecutionState = "dead";
                    EndFromKernel($"kernel {KernelId} was shut down");
                }
                break;
        }
    }

    /// <summary>The kernel is gone for good: close this connection (the server keeps the socket open for a deleted kernel).</summary>
    private void EndFromKernel(string reason)
    {
        _logger.LogInformation("kernel {Kernel}: {Reason}; closing its channels", KernelId, reason);
        Close(_client.Error(JupyterErrorKind.Disconnected, reason), reason);
        _lifetime.Cancel();
        _socket?.Abort();
    }

    private async Task AnswerInputAsync(KernelExecution execution, KernelHeader requestHeader, InputRequest input)
    {
        string value;
        try
        {
            value = execution.Options.OnInput is { } onInput ? await onInput(input, _lifetime.Token).ConfigureAwait(false) : "";
        }
        catch (Exception e)
        {
            _logger.LogInformation("kernel {Kernel}: the input callback failed ({Error}); answering with an empty line", KernelId, e.GetType().Name);
            value = "";
        }
        try
        {
            await SendAsync(new KernelMessage
            {
                Channel = KernelChannels.Stdin,
                Header = KernelHeader.Create("input_reply", SessionId, _options.Username),
                ParentHeader = requestHeader,
                Content = JsonSerializer.SerializeToElement(new InputReplyContent(value), RuntimeJson.Default.InputReplyContent),
            }, _lifetime.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is JupyterException or OperationCanceledException or ObjectDisposedException)
        {
            _logger.LogDebug("kernel {Kernel}: could not send input_reply: {Error}", KernelId, e.Message);
        }
    }

    private async Task SendAsync(KernelMessage message, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task connected;
            lock (_gate)
            {
                ThrowIfClosed();
                connected = _connected.Task;
            }
            await connected.WaitAsync(cancellationToken).ConfigureAwait(false);
            await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            ClientWebSocket? socket = null;
            try
            {
                KernelWireProtocol protocol;
                lock (_gate)
                {
                    ThrowIfClosed();
                    if (State != KernelConnectionState.Connected)
                    {
                        continue;
                    }
                    socket = _socket!;
                    protocol = Protocol;
                }
                // The socket's own token is not the caller's: cancelling a WebSocket send aborts the socket.
                if (protocol == KernelWireProtocol.V1)
                {
                    await socket.SendAsync(KernelWire.EncodeV1(message), WebSocketMessageType.Binary, true, _lifetime.Token).ConfigureAwait(false);
                }
                else if (message.Buffers.Count > 0)
                {
                    await socket.SendAsync(KernelWire.EncodeLegacyBinary(message), WebSocketMessageType.Binary, true, _lifetime.Token).ConfigureAwait(false);
                }
                else
                {
                    await socket.SendAsync(System.Text.Encoding.UTF8.GetBytes(KernelWire.EncodeLegacyText(message)), WebSocketMessageType.Text, true, _lifetime.Token).ConfigureAwait(false);
                }
                return;
            }
            catch (Exception e) when (socket is not null && !_lifetime.IsCancellationRequested
                                      && e is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException)
            {
                // The frame did not go out whole, so the server did not act on it: send it again on the next socket.
                _logger.LogDebug("kernel {Kernel}: send failed ({Error}); waiting for the reconnect", KernelId, e.GetType().Name);
                Detach(socket);
            }
            finally
            {
                _sendLock.Release();
            }
        }
    }

    private void ThrowIfClosed()
    {
        if (State == KernelConnectionState.Closed || _disposed != 0)
        {
            throw _client.Error(JupyterErrorKind.Disconnected, CloseReason ?? $"the connection to kernel {KernelId} is closed");
        }
    }

    private void FailPending(JupyterException error)
    {
        List<KernelExecution> executions;
        lock (_gate)
        {
            executions = [.. _executions.Values];
            _executions.Clear();
        }
        foreach (var execution in executions)
        {
            execution.Fail(error);
        }
    }

    private void Close(JupyterException error, string? reason)
    {
        List<TaskCompletionSource<KernelMessage>> requests;
        bool changed;
        lock (_gate)
        {
            changed = State != KernelConnectionState.Closed;
            State = KernelConnectionState.Closed;
            CloseReason ??= reason;
            _connected.TrySetException(error);
            _ = _connected.Task.Exception; // observed: nobody may be waiting
            requests = [.. _requests.Values];
            _requests.Clear();
        }
        FailPending(error);
        foreach (var request in requests)
        {
            request.TrySetException(error);
        }
        if (changed)
        {
            Raise(KernelConnectionState.Closed);
        }
    }

    private void Raise(KernelConnectionState state)
    {
        try
        {
            StateChanged?.Invoke(state);
        }
        catch (Exception e)
        {
            _logger.LogWarning("kernel {Kernel}: a state handler failed: {Error}", KernelId, e.Message);
        }
    }
}
