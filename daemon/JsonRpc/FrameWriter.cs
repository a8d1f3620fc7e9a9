using System.Buffers;
using System.Buffers.Text;
using System.Threading.Channels;

namespace Colab.Daemon.JsonRpc;

/// <summary>
/// Writes whole frames in the order they were queued, from one loop, so concurrent
/// handlers never interleave bytes. Flushes once the queue is empty, so a burst of
/// answers costs one flush.
/// </summary>
public sealed class FrameWriter : IAsyncDisposable
{
    private readonly Stream _output;
    private readonly Channel<byte[]> _queue = Channel.CreateUnbounded<byte[]>(
        new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = false });
    private readonly Task _loop;

    public FrameWriter(Stream output)
    {
        _output = output;
        _loop = Task.Run(WriteLoopAsync);
    }

    /// <summary>Frames waiting to be written.</summary>
    internal int Queued => Volatile.Read(ref _queued);

    /// <summary>Bytes of the frames waiting to be written.</summary>
    public long QueuedBytes => Interlocked.Read(ref _queuedBytes);

    private int _queued;
    private long _queuedBytes;
    private readonly Lock _roomGate = new();
    private TaskCompletionSource? _room;

    /// <summary>Set when the output can no longer be written (the peer went away).</summary>
    public Exception? Fault { get; private set; }

    /// <summary>Frames a complete JSON body and queues it; dropped once the output is broken (<see cref="Fault"/>).</summary>
    public void Enqueue(ReadOnlySpan<byte> body)
    {
        if (Fault is not null)
        {
            return;
        }
        var frame = Frame(body);
        Interlocked.Add(ref _queuedBytes, frame.Length);
        if (_queue.Writer.TryWrite(frame))
        {
            Interlocked.Increment(ref _queued);
        }
        else
        {
            Interlocked.Add(ref _queuedBytes, -frame.Length);
        }
    }

    /// <summary>A complete JSON body with its LSP header (<c>Content-Length: N\r\n\r\n</c>), as <see cref="Enqueue"/> writes it.</summary>
    internal static byte[] Frame(ReadOnlySpan<byte> body)
    {
        Span<byte> digits = stackalloc byte[20];
        Utf8Formatter.TryFormat(body.Length, digits, out var n);
        var frame = new byte[16 + n + 4 + body.Length];
        "Content-Length: "u8.CopyTo(frame);
        digits[..n].CopyTo(frame.AsSpan(16));
        "\r\n\r\n"u8.CopyTo(frame.AsSpan(16 + n));
        body.CopyTo(frame.AsSpan(20 + n));
        return frame;
    }

    /// <summary>
    /// Completes once at most <paramref name="maxQueuedBytes"/> wait to be written (or the output
    /// is broken): a producer of bulk output awaits this before each <see cref="Enqueue"/>, so a
    /// reader that stops reading stops the producer instead of growing the queue.
    /// </summary>
    public ValueTask WaitForRoomAsync(long maxQueuedBytes, CancellationToken cancellationToken = default)
    {
        if (Fault is not null || Interlocked.Read(ref _queuedBytes) <= maxQueuedBytes)
        {
            return ValueTask.CompletedTask;
        }
        return WaitSlowAsync(maxQueuedBytes, cancellationToken);
    }

    private async ValueTask WaitSlowAsync(long maxQueuedBytes, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task room;
            lock (_roomGate)
            {
                if (Fault is not null || Interlocked.Read(ref _queuedBytes) <= maxQueuedBytes || _loop.IsCompleted)
                {
                    return;
                }
                _room ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                room = _room.Task;
            }
            await room.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private void Written(long bytes)
    {
        Interlocked.Add(ref _queuedBytes, -bytes);
        if (Volatile.Read(ref _room) is null)
        {
            return;
        }
        TaskCompletionSource? room;
        lock (_roomGate)
        {
            room = _room;
            _room = null;
        }
        room?.TrySetResult();
    }

    private async Task WriteLoopAsync()
    {
        var reader = _queue.Reader;
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (reader.TryRead(out var frame))
                {
                    Interlocked.Decrement(ref _queued);
                    await _output.WriteAsync(frame).ConfigureAwait(false);
                    Written(frame.Length);
                }
                await _output.FlushAsync().ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            Fault = ex;
            // Nobody can read what would be queued now: refuse further frames and free the queued ones.
            _queue.Writer.TryComplete();
            while (reader.TryRead(out var dropped))
            {
                Interlocked.Decrement(ref _queued);
                Interlocked.Add(ref _queuedBytes, -dropped.Length);
            }
            Written(0);
        }
    }

    /// <summary>Writes what is queued, then stops.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
    }
}

internal static class ArrayBufferWriterPool
{
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    public static ArrayBufferWriter<byte> Rent()
    {
        var b = t_buffer ?? new ArrayBufferWriter<byte>(512);
        t_buffer = null;
        b.ResetWrittenCount();
        return b;
    }

    public static void Return(ArrayBufferWriter<byte> buffer)
    {
        if (buffer.Capacity <= 64 * 1024)
        {
            t_buffer = buffer;
        }
    }
}
