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

    private int _queued;

    /// <summary>Set when the output can no longer be written (the peer went away).</summary>
    public Exception? Fault { get; private set; }

    /// <summary>Frames a complete JSON body and queues it; dropped once the output is broken (<see cref="Fault"/>).</summary>
    public void Enqueue(ReadOnlySpan<byte> body)
    {
        if (Fault is not null)
        {
            return;
        }
        Span<byte> digits = stackalloc byte[20];
        Utf8Formatter.TryFormat(body.Length, digits, out var n);
        var frame = new byte[16 + n + 4 + body.Length];
        "Content-Length: "u8.CopyTo(frame);
        digits[..n].CopyTo(frame.AsSpan(16));
        "\r\n\r\n"u8.CopyTo(frame.AsSpan(16 + n));
        body.CopyTo(frame.AsSpan(20 + n));
        if (_queue.Writer.TryWrite(frame))
        {
            Interlocked.Increment(ref _queued);
        }
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
                }
                await _output.FlushAsync().ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            Fault = ex;
            // Nobody can read what would be queued now: refuse further frames and free the queued ones.
            _queue.Writer.TryComplete();
            while (reader.TryRead(out _))
            {
                Interlocked.Decrement(ref _queued);
            }
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
