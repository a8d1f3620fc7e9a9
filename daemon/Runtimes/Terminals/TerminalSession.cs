using System.Buffers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Colab.Daemon.Runtimes.Terminals;

/// <summary>
/// One terminal on a runtime: terminado's JSON messages over <c>/terminals/websocket/{name}</c>
/// (<c>["stdin", s]</c>, <c>["set_size", rows, cols]</c> out; <c>["stdout", s]</c>,
/// <c>["setup", {}]</c>, <c>["disconnect", n]</c> in). A dropped socket is reopened to the
/// same terminal name; terminado replays its recent output on a new socket, and the part
/// this session already passed on is cut off so nothing is shown twice.
/// </summary>
internal sealed class TerminalSession : IAsyncDisposable
{
    private const int TailChars = 8192;
    private const int OverlapProbeChars = 256;
    private static readonly TimeSpan[] s_backoff = [TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(8)];

    private readonly RuntimeHttp _http;
    private readonly ILogger _logger;
    private readonly Action<string> _onOutput;
    private readonly Action<string> _onClosed;
    private readonly CancellationTokenSource _life = new();
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly StringBuilder _tail = new();
    private volatile TaskCompletionSource<ClientWebSocket> _socket = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private (int Rows, int Cols)? _size;
    private Task? _loop;
    private int _closed;

    public TerminalSession(string id, string runtimeId, string name, RuntimeHttp http, ILogger logger, Action<string> onOutput, Action<string> onClosed)
    {
        Id = id;
        RuntimeId = runtimeId;
        Name = name;
        _http = http;
        _logger = logger;
        _onOutput = onOutput;
        _onClosed = onClosed;
    }

    public string Id { get; }

    public string RuntimeId { get; }

    /// <summary>The terminal's name on the server (e.g. <c>1</c>).</summary>
    public string Name { get; }

    /// <summary>How many times a dropped socket was reopened (for tests and the log).</summary>
    public int Reconnects { get; private set; }

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    public async Task StartAsync(int? rows, int? cols, CancellationToken cancellationToken)
    {
        var socket = await _http.ConnectWebSocketAsync(SocketPath, cancellationToken).ConfigureAwait(false);
        _socket.SetResult(socket);
        if (rows is > 0 && cols is > 0)
        {
            await ResizeAsync(rows.Value, cols.Value, cancellationToken).ConfigureAwait(false);
        }
        _loop = Task.Run(() => RunAsync(socket));
    }

    public Task InputAsync(string data, CancellationToken cancellationToken) => SendAsync(["stdin", data], cancellationToken);

    public Task ResizeAsync(int rows, int cols, CancellationToken cancellationToken)
    {
        _size = (rows, cols);
        return SendAsync(["set_size", rows, cols], cancellationToken);
    }

    /// <summary>Drops the socket as a network fault would (tests of reconnect).</summary>
    internal async Task DropConnectionAsync()
    {
        var socket = await _socket.Task.ConfigureAwait(false);
        socket.Abort();
    }

    /// <summary>Stops this session; with <paramref name="shutdown"/> the terminal (its shell) ends on the runtime too.</summary>
    public async Task CloseAsync(bool shutdown, string reason, CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }
        await _life.CancelAsync().ConfigureAwait(false);
        if (_socket.Task.IsCompletedSuccessfully)
        {
            _socket.Task.Result.Abort();
            _socket.Task.Result.Dispose();
        }
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        try
        {
            if (shutdown)
            {
                using var request = _http.Request(HttpMethod.Delete, $"api/terminals/{Uri.EscapeDataString(Name)}");
                using var _ = await _http.SendAsync(request, null, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (JupyterException e) when (e.Kind == JupyterErrorKind.HttpError && e.StatusCode == 404)
        {
            // Already gone on the server.
        }
        finally
        {
            _onClosed(reason);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await CloseAsync(shutdown: false, "the daemon is stopping", CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is JupyterException or OperationCanceledException)
        {
        }
        _life.Dispose();
    }

    private string SocketPath => $"terminals/websocket/{Uri.EscapeDataString(Name)}";

    private async Task SendAsync(object[] message, CancellationToken cancellationToken)
    {
        if (IsClosed)
        {
            throw new JupyterException(JupyterErrorKind.Disconnected, $"terminal {Name} is closed");
        }
        var bytes = Encode(message);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _life.Token);
        linked.CancelAfter(TimeSpan.FromSeconds(30));
        // While a dropped socket is being reopened, input waits for it (up to 30 s); a send that
        // meets a socket that just dropped is sent again once on the reopened one.
        for (var attempt = 0; ; attempt++)
        {
            var pending = _socket;
            ClientWebSocket socket;
            try
            {
                socket = await pending.Task.WaitAsync(linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new JupyterException(JupyterErrorKind.Disconnected, $"terminal {Name} is not connected (reconnecting did not succeed in time)");
            }
            await _sendLock.WaitAsync(linked.Token).ConfigureAwait(false);
            try
            {
                await socket.SendAsync(bytes, WebSocketMessageType.Text, true, linked.Token).ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (e is WebSocketException or ObjectDisposedException && attempt == 0)
            {
                _logger.LogDebug("terminal {Name}: a send met a dropped socket ({Error}); waiting for the reconnect", Name, e.Message);
            }
            catch (Exception e) when (e is WebSocketException or ObjectDisposedException)
            {
                throw new JupyterException(JupyterErrorKind.Disconnected, $"terminal {Name}: the connection dropped while sending ({e.Message})");
            }
            finally
            {
                _sendLock.Release();
            }
            // Wait for the read loop to notice the drop and start reopening (it replaces _socket).
            while (ReferenceEquals(pending, _socket) && !IsClosed)
            {
                await Task.Delay(50, linked.Token).ConfigureAwait(false);
            }
        }
    }

    private static byte[] Encode(object[] message)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartArray();
            foreach (var item in message)
            {
                switch (item)
                {
                    case string s:
                        writer.WriteStringValue(s);
                        break;
                    case int i:
                        writer.WriteNumberValue(i);
                        break;
                }
            }
            writer.WriteEndArray();
        }
        return buffer.WrittenSpan.ToArray();
    }

    private async Task RunAsync(ClientWebSocket socket)
    {
        var token = _life.Token;
        var replayPending = false;
        while (!token.IsCancellationRequested)
        {
            string? ended = null;
            try
            {
                ended = await ReadAsync(socket, replayPending, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is WebSocketException or JsonException or InvalidOperationException or ObjectDisposedException or OperationCanceledException or IOException)
            {
                // An aborted socket fails its pending receive with a cancellation: a drop like any other.
                _logger.LogInformation("terminal {Name} on {Runtime}: the socket dropped ({Error})", Name, RuntimeId, e.Message);
            }
            if (token.IsCancellationRequested)
            {
                return;
            }
            if (ended is not null)
            {
                await EndAsync(ended).ConfigureAwait(false);
                return;
            }
            // The socket dropped: reopen it to the same terminal if the terminal still exists.
            _socket = new TaskCompletionSource<ClientWebSocket>(TaskCreationOptions.RunContinuationsAsynchronously);
            socket.Dispose();
            var (next, reason) = await ReconnectAsync(token).ConfigureAwait(false);
            if (next is null)
            {
                if (!token.IsCancellationRequested)
                {
                    await EndAsync(reason ?? "the connection to the runtime was lost").ConfigureAwait(false);
                }
                return;
            }
            socket = next;
            Reconnects++;
            replayPending = true;
            _socket.SetResult(socket);
            if (_size is { } size)
            {
                try
                {
                    await SendAsync(["set_size", size.Rows, size.Cols], token).ConfigureAwait(false);
                }
                catch (JupyterException)
                {
                }
            }
        }
    }

    private async Task EndAsync(string reason)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }
        _socket.TrySetException(new JupyterException(JupyterErrorKind.Disconnected, $"terminal {Name} is closed"));
        _ = _socket.Task.Exception;
        await _life.CancelAsync().ConfigureAwait(false);
        _onClosed(reason);
    }

    private async Task<(ClientWebSocket? Socket, string? Reason)> ReconnectAsync(CancellationToken token)
    {
        string? last = null;
        foreach (var delay in s_backoff)
        {
            await Task.Delay(delay, token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (token.IsCancellationRequested)
            {
                return (null, null);
            }
            try
            {
                if (!await ExistsAsync(token).ConfigureAwait(false))
                {
                    return (null, $"terminal {Name} no longer exists on the runtime");
                }
                var socket = await _http.ConnectWebSocketAsync(SocketPath, token).ConfigureAwait(false);
                _logger.LogInformation("terminal {Name} on {Runtime}: reconnected", Name, RuntimeId);
                return (socket, null);
            }
            catch (JupyterException e) when (e.Kind is JupyterErrorKind.Unreachable or JupyterErrorKind.HttpError)
            {
                last = e.Message;
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return (null, null);
            }
        }
        return (null, $"terminal {Name}: the runtime could not be reached again ({last})");
    }

    private async Task<bool> ExistsAsync(CancellationToken token)
    {
        using var request = _http.Request(HttpMethod.Get, "api/terminals");
        using var doc = await _http.SendJsonAsync(request, null, token).ConfigureAwait(false);
        return doc.RootElement.ValueKind == JsonValueKind.Array
               && doc.RootElement.EnumerateArray().Any(t => t.ValueKind == JsonValueKind.Object && t.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String && n.GetString() == Name);
    }

    /// <summary>Reads until the socket fails (throws), or the terminal ends (returns why).</summary>
    private async Task<string?> ReadAsync(ClientWebSocket socket, bool replayPending, CancellationToken token)
    {
        var buffer = new byte[64 * 1024];
        var message = new MemoryStream();
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, token).ConfigureAwait(false);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                // A close without terminado's "disconnect" first: treat as a drop and try again.
                throw new WebSocketException($"the server closed the socket ({result.CloseStatus} {result.CloseStatusDescription})");
            }
            message.Write(buffer, 0, result.Count);
            if (message.Length > 16 * 1024 * 1024)
            {
                throw new InvalidOperationException("a terminal message over 16 MiB");
            }
            if (!result.EndOfMessage)
            {
                continue;
            }
            var bytes = message.ToArray();
            message.SetLength(0);
            if (result.MessageType != WebSocketMessageType.Text)
            {
                continue;
            }
            using var doc = JsonDocument.Parse(bytes);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Array || root.GetArrayLength() == 0 || root[0].ValueKind != JsonValueKind.String)
            {
                _logger.LogDebug("terminal {Name}: ignored a message that is not terminado's", Name);
                continue;
            }
            switch (root[0].GetString())
            {
                case "stdout" when root.GetArrayLength() > 1 && root[1].ValueKind == JsonValueKind.String:
                    var text = root[1].GetString()!;
                    if (replayPending)
                    {
                        replayPending = false;
                        text = WithoutReplayed(text);
                    }
                    if (text.Length > 0)
                    {
                        Remember(text);
                        _onOutput(text);
                    }
                    break;
                case "disconnect":
                    return "the terminal's shell ended";
            }
        }
    }

    private void Remember(string text)
    {
        lock (_tail)
        {
            _tail.Append(text);
            if (_tail.Length > TailChars)
            {
                _tail.Remove(0, _tail.Length - TailChars);
            }
        }
    }

    /// <summary>The part of terminado's replay that came after what this session already passed on.</summary>
    internal string WithoutReplayed(string replay)
    {
        string probe;
        lock (_tail)
        {
            if (_tail.Length == 0)
            {
                return replay;
            }
            probe = _tail.ToString(Math.Max(0, _tail.Length - OverlapProbeChars), Math.Min(OverlapProbeChars, _tail.Length));
        }
        var at = replay.LastIndexOf(probe, StringComparison.Ordinal);
        return at < 0 ? replay : replay[(at + probe.Length)..];
    }
}
