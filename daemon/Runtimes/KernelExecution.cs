using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using static Colab.Daemon.Runtimes.KernelMessage.Json;

namespace Colab.Daemon.Runtimes;

/// <summary>
/// One <c>execute_request</c> in flight. Its outputs arrive in order on
/// <see cref="ReadOutputsAsync"/> (one reader); <see cref="Completion"/> finishes when both
/// the shell <c>execute_reply</c> and the iopub <c>status: idle</c> for this request have
/// arrived, or faults with a <see cref="JupyterException"/> when the connection is lost for
/// good or the kernel restarts.
/// </summary>
/// <remarks>
/// The output queue is bounded by bytes for backpressure: while a reader is attached and more
/// than <see cref="MaxQueuedBytes"/> wait in it, the connection's receive loop awaits
/// <see cref="WaitForRoomAsync"/> before routing the next iopub output, so the kernel WebSocket
/// (and TCP behind it) stops being read. Consecutive stream outputs of the same name are
/// coalesced while queued, and a huge stream message is split into chunks of at most
/// <see cref="StreamChunkBytes"/> JSON bytes, each waiting for room. Once the reader goes away
/// (it finished, was cancelled or broke off) the loop stops waiting for this execution (until
/// another reader comes), so a reader that gave up never stalls the connection; what is queued
/// stays for a later reader, as before.
/// </remarks>
public sealed class KernelExecution
{
    /// <summary>Queued output (UTF-16 text, or frame bytes for non-stream outputs) beyond which the receive loop waits.</summary>
    internal const long MaxQueuedBytes = 4 * 1024 * 1024;

    /// <summary>
    /// A stream message's text is handed over in chunks of at most this many raw JSON bytes. Small
    /// enough that a chunk's string, its notification's buffer and frame all stay below the large
    /// object heap's threshold (85,000 bytes), so they die young instead of piling up until a full GC.
    /// </summary>
    internal const int StreamChunkBytes = 32 * 1024;

    /// <summary>Queued stream outputs of the same name are merged up to this many characters (a 64 KB string, still not a large object).</summary>
    internal const int MaxCoalescedChars = 32 * 1024;

    /// <summary>How long the receive loop waits for a reader to show up before treating the execution as unread.</summary>
    private static readonly TimeSpan NoReaderWait = TimeSpan.FromSeconds(2);

    private readonly TaskCompletionSource<ExecuteReply> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _queueGate = new();
    private readonly Queue<Entry> _queue = new();
    private Entry? _tail;
    private long _queuedBytes;
    private bool _writerDone;
    private Exception? _writerError;
    private bool _hasReader;
    private bool _unread;
    private TaskCompletionSource? _available;
    private TaskCompletionSource? _room;
    private ExecuteReply? _reply;
    private bool _idle;

    internal KernelExecution(string msgId, string code, ExecuteOptions options)
    {
        MsgId = msgId;
        Code = code;
        Options = options;
    }

    /// <summary>The request's <c>msg_id</c>: outputs are routed by <c>parent_header.msg_id</c> equal to it.</summary>
    public string MsgId { get; }

    public string Code { get; }

    public ExecuteOptions Options { get; }

    public Task<ExecuteReply> Completion => _completion.Task;

    public bool IsCompleted => _completion.Task.IsCompleted;

    /// <summary>Bytes of output waiting for the reader (tests).</summary>
    internal long QueuedBytes
    {
        get
        {
            lock (_queueGate)
            {
                return _queuedBytes;
            }
        }
    }

    /// <summary>The outputs as they arrive; ends when the execution completes (throws its failure, if any). One reader.</summary>
    public async IAsyncEnumerable<KernelOutput> ReadOutputsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        lock (_queueGate)
        {
            _hasReader = true;
            _unread = false;
            SignalRoom();
        }
        try
        {
            while (true)
            {
                KernelOutput? output = null;
                Task? wait = null;
                var done = false;
                Exception? failure = null;
                lock (_queueGate)
                {
                    if (_queue.TryDequeue(out var entry))
                    {
                        if (ReferenceEquals(entry, _tail))
                        {
                            _tail = null;
                        }
                        _queuedBytes -= entry.Bytes;
                        SignalRoom();
                        output = entry.Take();
                    }
                    else if (_writerDone)
                    {
                        done = true;
                        failure = _writerError;
                    }
                    else
                    {
                        _available ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                        wait = _available.Task;
                    }
                }
                if (failure is not null)
                {
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
                }
                if (done)
                {
                    yield break;
                }
                if (output is not null)
                {
                    yield return output;
                }
                else
                {
                    await wait!.WaitAsync(cancellationToken).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            lock (_queueGate)
            {
                // The reader left (done, cancelled or broke off): what is queued stays for a later
                // reader, but the receive loop no longer waits for this execution until one comes.
                _hasReader = false;
                _unread = true;
                SignalRoom();
            }
        }
    }

    /// <summary>Waits for the end and returns the reply with every output.</summary>
    public async Task<ExecutionResult> CollectAsync(CancellationToken cancellationToken = default)
    {
        var outputs = new List<KernelOutput>();
        await foreach (var output in ReadOutputsAsync(cancellationToken).ConfigureAwait(false))
        {
            outputs.Add(output);
        }
        var reply = await Completion.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new ExecutionResult(MsgId, reply, outputs);
    }

    /// <summary>
    /// Completes when the queue has room for more output: at once unless a reader is (or may soon be)
    /// attached and more than <see cref="MaxQueuedBytes"/> wait. Without a reader it waits at most
    /// <see cref="NoReaderWait"/> once, then treats the execution as unread (no more waiting).
    /// </summary>
    internal ValueTask WaitForRoomAsync(CancellationToken cancellationToken)
    {
        lock (_queueGate)
        {
            if (!MustWait())
            {
                return ValueTask.CompletedTask;
            }
        }
        return WaitSlowAsync(cancellationToken);
    }

    private bool MustWait() => _queuedBytes > MaxQueuedBytes && !_writerDone && !_unread;

    private async ValueTask WaitSlowAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task room;
            bool hasReader;
            lock (_queueGate)
            {
                if (!MustWait())
                {
                    return;
                }
                _room ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                room = _room.Task;
                hasReader = _hasReader;
            }
            if (hasReader)
            {
                await room.WaitAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }
            try
            {
                await room.WaitAsync(NoReaderWait, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                lock (_queueGate)
                {
                    _unread = !_hasReader;
                }
            }
        }
    }

    /// <summary>
    /// Routes a stream message whose text is long: hands it over in chunks, waiting for room
    /// before each, so neither the whole text as one string nor all its chunks at once are held.
    /// Called on the receive loop only.
    /// </summary>
    internal async ValueTask HandleLongStreamAsync(KernelMessage message, CancellationToken cancellationToken)
    {
        var name = String(message.Content, "name") ?? "stdout";
        var text = message.Content.GetProperty("text");
        for (var offset = 0; ;)
        {
            await WaitForRoomAsync(cancellationToken).ConfigureAwait(false);
            (var chunk, offset, var done) = NextChunk(text, offset, StreamChunkBytes);
            Enqueue(new StreamOutput(name, chunk), chunk.Length * 2L);
            if (done)
            {
                return;
            }
        }
    }

    /// <summary>True for an iopub stream message whose text is too long to hand over as one output.</summary>
    internal static bool IsLongStream(KernelMessage message)
        => message is { Channel: KernelChannels.IoPub, MsgType: "stream" }
           && message.Content.ValueKind == JsonValueKind.Object
           && message.Content.TryGetProperty("text", out var text)
           && text.ValueKind == JsonValueKind.String
           && JsonMarshal.GetRawUtf8Value(text).Length > StreamChunkBytes + 2;

    /// <summary>Decodes the next piece of a JSON string, never splitting an escape, a surrogate pair or a UTF-8 sequence.</summary>
    internal static (string Chunk, int Next, bool Done) NextChunk(JsonElement text, int offset, int maxBytes)
    {
        var raw = JsonMarshal.GetRawUtf8Value(text);
        if (raw.Length >= 2 && raw[0] == (byte)'"')
        {
            raw = raw[1..^1];
        }
        var end = Math.Min(raw.Length, offset + Math.Max(maxBytes, 16));
        if (end < raw.Length)
        {
            end = SafeEnd(raw, offset, end);
        }
        var slice = raw[offset..end];
        var buffer = ArrayPool<byte>.Shared.Rent(slice.Length + 2);
        try
        {
            buffer[0] = (byte)'"';
            slice.CopyTo(buffer.AsSpan(1));
            buffer[slice.Length + 1] = (byte)'"';
            var reader = new Utf8JsonReader(buffer.AsSpan(0, slice.Length + 2));
            reader.Read();
            return (reader.GetString() ?? "", end, end >= raw.Length);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static int SafeEnd(ReadOnlySpan<byte> raw, int start, int end)
    {
        var i = start;
        while (i < end)
        {
            var b = raw[i];
            int step;
            if (b == (byte)'\\')
            {
                step = i + 1 < raw.Length && raw[i + 1] == (byte)'u' ? 6 : 2;
                // An escaped high surrogate travels with the low one that follows it.
                if (step == 6 && i + 12 <= raw.Length && (raw[i + 2] | 0x20) == 'd' && "89abAB".Contains((char)raw[i + 3])
                    && raw[i + 6] == (byte)'\\' && raw[i + 7] == (byte)'u')
                {
                    step = 12;
                }
            }
            else
            {
                step = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
            }
            if (i + step > end)
            {
                break;
            }
            i += step;
        }
        return i;
    }

    /// <summary>Turns one routed message into an output; returns true when the execution is now complete. Called on the receive loop only.</summary>
    internal bool Handle(KernelMessage message, out InputRequest? input, long bytes = 0)
    {
        input = null;
        var c = message.Content;
        KernelOutput output;
        switch (message.Channel, message.MsgType)
        {
            case (KernelChannels.IoPub, "stream"):
                var text = String(c, "text") ?? "";
                output = new StreamOutput(String(c, "name") ?? "stdout", text);
                bytes = Math.Max(bytes, text.Length * 2L);
                break;
            case (KernelChannels.IoPub, "execute_result"):
                output = new ExecuteResultOutput(Int(c, "execution_count"), Bundle(c, "data"), Object(c, "metadata"));
                break;
            case (KernelChannels.IoPub, "display_data"):
                output = new DisplayDataOutput(Bundle(c, "data"), Object(c, "metadata"), String(Object(c, "transient"), "display_id"));
                break;
            case (KernelChannels.IoPub, "update_display_data"):
                output = new UpdateDisplayDataOutput(Bundle(c, "data"), Object(c, "metadata"), String(Object(c, "transient"), "display_id"));
                break;
            case (KernelChannels.IoPub, "error"):
                output = new ErrorOutput(String(c, "ename") ?? "Error", String(c, "evalue") ?? "", Strings(c, "traceback"));
                break;
            case (KernelChannels.IoPub, "clear_output"):
                output = new ClearOutput(Bool(c, "wait"));
                break;
            case (KernelChannels.IoPub, "status"):
                var state = String(c, "execution_state") ?? "unknown";
                output = new StatusOutput(state);
                if (state == "idle")
                {
                    _idle = true;
                }
                break;
            case (KernelChannels.IoPub, "execute_input"):
                output = new ExecuteInputOutput(String(c, "code") ?? "", Int(c, "execution_count"));
                break;
            case (KernelChannels.Stdin, "input_request"):
                output = input = new InputRequest(String(c, "prompt") ?? "", Bool(c, "password"));
                break;
            case (KernelChannels.Shell, "execute_reply"):
                var status = String(c, "status") ?? "error";
                output = _reply = status == "error"
                    ? new ExecuteReply(status, Int(c, "execution_count"), String(c, "ename"), String(c, "evalue"), Strings(c, "traceback"))
                    : new ExecuteReply(status, Int(c, "execution_count"));
                break;
            default:
                output = new OtherOutput(message.Channel, message.MsgType, c);
                break;
        }
        Enqueue(output, bytes);
        // An aborted request (an earlier cell failed) produces nothing more than its reply.
        if (_reply is not null && (_idle || _reply.Status == "aborted"))
        {
            CompleteQueue(null);
            _completion.TrySetResult(_reply);
            return true;
        }
        return false;
    }

    internal void Fail(Exception error)
    {
        CompleteQueue(error);
        _completion.TrySetException(error);
    }

    private void Enqueue(KernelOutput output, long bytes)
    {
        lock (_queueGate)
        {
            if (_writerDone)
            {
                return;
            }
            _queuedBytes += bytes;
            if (output is StreamOutput stream && _tail is { } tail && tail.TryAppend(stream, bytes))
            {
                return;
            }
            var entry = new Entry(output, bytes);
            _queue.Enqueue(entry);
            _tail = entry;
            SignalAvailable();
        }
    }

    private void CompleteQueue(Exception? error)
    {
        lock (_queueGate)
        {
            if (_writerDone)
            {
                return;
            }
            _writerDone = true;
            _writerError = error;
            SignalAvailable();
            SignalRoom();
        }
    }

    private void SignalAvailable()
    {
        var waiter = _available;
        _available = null;
        waiter?.TrySetResult();
    }

    private void SignalRoom()
    {
        var waiter = _room;
        _room = null;
        waiter?.TrySetResult();
    }

    /// <summary>A queued output; a stream output can take more text of the same stream while it waits.</summary>
    private sealed class Entry(KernelOutput output, long bytes)
    {
        private StringBuilder? _text;

        public long Bytes { get; private set; } = bytes;

        public bool TryAppend(StreamOutput next, long bytes)
        {
            if (output is not StreamOutput first || first.Name != next.Name
                || (_text?.Length ?? first.Text.Length) + next.Text.Length > MaxCoalescedChars)
            {
                return false;
            }
            _text ??= new StringBuilder(first.Text, MaxCoalescedChars);
            _text.Append(next.Text);
            Bytes += bytes;
            return true;
        }

        public KernelOutput Take() => _text is null ? output : new StreamOutput(((StreamOutput)output).Name, _text.ToString());
    }
}
