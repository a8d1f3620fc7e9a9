using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;

namespace Colab.Daemon.Tests.Infrastructure;

/// <summary>
/// A small JSON-RPC client for the tests: writes frames to the daemon and reads every
/// frame it sends back with a strict parser of its own (not the daemon's FrameReader).
/// Every frame must be exactly <c>Content-Length: N\r\n\r\n</c> + N bytes of a JSON-RPC
/// 2.0 object, so an interleaved or stray byte on the daemon's output fails the test.
/// </summary>
internal sealed class TestClient
{
    private readonly Stream _toServer;
    private readonly Stream _fromServer;
    private readonly bool _retain;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly Lock _gate = new();
    private readonly List<JsonElement> _messages = [];
    private readonly List<(Func<JsonElement, bool> Match, TaskCompletionSource<JsonElement> Done, string What)> _waiters = [];
    private Task? _reading;
    private Exception? _failure;
    private bool _ended;
    private long _count;
    private long _bytes;

    public TestClient(Stream toServer, Stream fromServer, bool retainMessages = true)
    {
        _toServer = toServer;
        _fromServer = fromServer;
        _retain = retainMessages;
    }

    /// <summary>Answer requests from the server (e.g. window/workDoneProgress/create); with a null result unless <see cref="AnswerWith"/> says otherwise.</summary>
    public bool AnswerServerRequests { get; set; } = true;

    /// <summary>The whole response (a JSON body) to a request from the server.</summary>
    public Func<JsonElement, string>? AnswerWith { get; set; }

    /// <summary>Messages received so far, in arrival order (when retained).</summary>
    public IReadOnlyList<JsonElement> Messages
    {
        get
        {
            lock (_gate)
            {
                return _messages.ToArray();
            }
        }
    }

    public long MessageCount => Interlocked.Read(ref _count);

    /// <summary>Called on the read loop for every message (after it is recorded); keep it quick.</summary>
    public Action<JsonElement>? OnMessage { get; set; }

    /// <summary>While set and not complete, the client stops reading the server's output (a slow reader).</summary>
    public Task? Paused { get; set; }

    public long BytesReceived => Interlocked.Read(ref _bytes);

    /// <summary>Completes when the server's output ends cleanly; faults when it held anything but frames.</summary>
    public Task Completion => _reading ?? throw new InvalidOperationException("Start the client first.");

    public TestClient Start()
    {
        _reading = Task.Run(ReadLoopAsync);
        return this;
    }

    public async Task SendAsync(byte[] bytes)
    {
        await _writeLock.WaitAsync();
        try
        {
            await _toServer.WriteAsync(bytes);
            await _toServer.FlushAsync();
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Sends one JSON body in a well-formed frame.</summary>
    public Task SendAsync(string json) => SendAsync(Frames.Frame(json));

    public async Task<JsonElement> RequestAsync(object id, string method, string? paramsJson = null)
    {
        var answer = ResponseAsync(id);
        await SendAsync(Frames.Request(id, method, paramsJson));
        return await answer;
    }

    public Task NotifyAsync(string method, string? paramsJson = null) => SendAsync(Frames.Notification(method, paramsJson));

    /// <summary>The response whose id is <paramref name="id"/> (a string, an integer, or null for id-less errors).</summary>
    public Task<JsonElement> ResponseAsync(object? id)
    {
        var idJson = id is null ? "null" : Frames.Id(id);
        return WaitForAsync(m => IsResponse(m) && m.GetProperty("id").GetRawText() == idJson, $"the response to id {idJson}");
    }

    /// <summary>The first message (already received or still to come) that matches.</summary>
    public Task<JsonElement> WaitForAsync(Func<JsonElement, bool> match, string what, int from = 0)
    {
        var done = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            for (var i = from; i < _messages.Count; i++)
            {
                if (match(_messages[i]))
                {
                    return Task.FromResult(_messages[i]);
                }
            }
            if (_failure is not null || _ended)
            {
                return Task.FromException<JsonElement>(new InvalidOperationException($"The server's output ended before {what}.", _failure));
            }
            _waiters.Add((match, done, what));
        }
        return done.Task.Within(what);
    }

    /// <summary>Messages received after the first <paramref name="mark"/> ones.</summary>
    public IReadOnlyList<JsonElement> MessagesSince(int mark)
    {
        lock (_gate)
        {
            return _messages.Skip(mark).ToArray();
        }
    }

    public static bool IsResponse(JsonElement m) => !m.TryGetProperty("method", out _) && m.TryGetProperty("id", out _);

    public static bool IsNotification(JsonElement m, string method)
        => !m.TryGetProperty("id", out _) && m.TryGetProperty("method", out var name) && name.GetString() == method;

    public static bool IsServerRequest(JsonElement m, string method)
        => m.TryGetProperty("id", out _) && m.TryGetProperty("method", out var name) && name.GetString() == method;

    public static int ErrorCode(JsonElement response)
        => response.TryGetProperty("error", out var e) ? e.GetProperty("code").GetInt32()
            : throw new Xunit.Sdk.XunitException($"Expected an error response, got {response.GetRawText()}");

    public static string ErrorMessage(JsonElement response) => response.GetProperty("error").GetProperty("message").GetString()!;

    private async Task ReadLoopAsync()
    {
        var reader = PipeReader.Create(_fromServer, new StreamPipeReaderOptions(bufferSize: 64 * 1024));
        try
        {
            while (true)
            {
                if (Paused is { IsCompleted: false } paused)
                {
                    await paused;
                }
                var result = await reader.ReadAsync();
                var buffer = result.Buffer;
                while (TryReadFrame(ref buffer, out var body))
                {
                    Deliver(body);
                }
                reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    if (!buffer.IsEmpty)
                    {
                        throw new InvalidDataException($"The server's output ended inside a frame: {Show(buffer.ToArray())}");
                    }
                    break;
                }
            }
            lock (_gate)
            {
                _ended = true;
                FailWaiters(null);
            }
        }
        catch (Exception ex)
        {
            lock (_gate)
            {
                _failure = ex;
                FailWaiters(ex);
            }
            throw;
        }
        finally
        {
            await reader.CompleteAsync();
        }
    }

    private void FailWaiters(Exception? ex)
    {
        foreach (var w in _waiters)
        {
            w.Done.TrySetException(new InvalidOperationException($"The server's output ended before {w.What}.", ex));
        }
        _waiters.Clear();
    }

    private static ReadOnlySpan<byte> Prefix => "Content-Length: "u8;

    private static bool TryReadFrame(ref ReadOnlySequence<byte> buffer, out byte[] body)
    {
        body = [];
        var seq = new SequenceReader<byte>(buffer);
        if (!seq.TryReadTo(out ReadOnlySequence<byte> headerSeq, "\r\n\r\n"u8, advancePastDelimiter: true))
        {
            if (buffer.Length > 64)
            {
                throw new InvalidDataException($"The server wrote something that is not a frame header: {Show(buffer.Slice(0, Math.Min(buffer.Length, 200)).ToArray())}");
            }
            var head = buffer.ToArray();
            var n = Math.Min(head.Length, Prefix.Length);
            if (!head.AsSpan(0, n).SequenceEqual(Prefix[..n]))
            {
                throw new InvalidDataException($"The server wrote something that is not a frame header: {Show(head)}");
            }
            return false;
        }
        var header = headerSeq.ToArray();
        if (!header.AsSpan().StartsWith(Prefix) || header.Length == Prefix.Length || header.Length > Prefix.Length + 10
            || header.AsSpan(Prefix.Length).IndexOfAnyExceptInRange((byte)'0', (byte)'9') >= 0)
        {
            throw new InvalidDataException($"The server wrote a header other than 'Content-Length: N': {Show(header)}");
        }
        var length = int.Parse(Encoding.ASCII.GetString(header, Prefix.Length, header.Length - Prefix.Length), System.Globalization.CultureInfo.InvariantCulture);
        if (seq.Remaining < length)
        {
            return false;
        }
        body = seq.UnreadSequence.Slice(0, length).ToArray();
        buffer = buffer.Slice(seq.Position).Slice(length);
        return true;
    }

    private void Deliver(byte[] body)
    {
        JsonElement message;
        try
        {
            using var doc = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 1024 });
            message = doc.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"The server sent a frame whose body is not JSON: {Show(body)}", ex);
        }
        if (message.ValueKind != JsonValueKind.Object || !message.TryGetProperty("jsonrpc", out var v) || v.GetString() != "2.0")
        {
            throw new InvalidDataException($"The server sent a frame that is not a JSON-RPC 2.0 message: {Show(body)}");
        }
        var isServerRequest = message.TryGetProperty("id", out var id) && message.TryGetProperty("method", out _);
        Interlocked.Add(ref _bytes, body.Length);
        lock (_gate)
        {
            if (_retain)
            {
                _messages.Add(message);
            }
            Interlocked.Increment(ref _count);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Match(message))
                {
                    _waiters[i].Done.TrySetResult(message);
                    _waiters.RemoveAt(i);
                }
            }
        }
        OnMessage?.Invoke(message);
        if (isServerRequest && AnswerServerRequests)
        {
            // Never block the read loop on a write: the server may be waiting for us to read.
            _ = SendAsync(AnswerWith?.Invoke(message) ?? Frames.Result(id.GetRawText(), "null"));
        }
    }

    public static string Show(byte[] bytes)
    {
        var text = new StringBuilder();
        foreach (var b in bytes.Take(300))
        {
            text.Append(b is >= 32 and < 127 ? ((char)b).ToString() : $"\\x{b:x2}");
        }
        return text.ToString();
    }
}
