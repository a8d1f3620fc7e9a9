using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;

namespace Colab.Daemon.Drive;

/// <summary>
/// Moves a response body to a file while hashing it, with the three costs overlapped: the
/// network fills one of a few large buffers while earlier ones are hashed (in order, on another
/// thread) and written (positional writes, on the thread pool). A buffer is reused only when both
/// its hash and its write are done, so a failure leaves the file and the hash consistent with
/// the bytes counted.
/// </summary>
internal static class DrivePipe
{
    private const int BufferBytes = 1 << 20;
    private const int Buffers = 4;

    /// <summary>Copies <paramref name="body"/> to <paramref name="file"/> from <paramref name="offset"/> on; answers the new end (also when the body fails part-way: everything counted is written and hashed).</summary>
    public static async Task<long> CopyAsync(Stream body, SafeFileHandle file, long offset, IncrementalHash md5, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        var ring = new byte[Buffers][];
        var busy = new Task[Buffers];
        for (var i = 0; i < Buffers; i++)
        {
            ring[i] = GC.AllocateUninitializedArray<byte>(BufferBytes);
            busy[i] = Task.CompletedTask;
        }
        var hashed = Task.CompletedTask;
        var position = offset;
        long done = offset;
        Exception? failure = null;
        for (var k = 0; failure is null; k++)
        {
            var slot = k % Buffers;
            await busy[slot].ConfigureAwait(false);
            var buffer = ring[slot];
            // Fill the buffer; bytes that arrived before a failure are kept (written and hashed) so a resume starts after them.
            var n = 0;
            try
            {
                int r;
                while (n < BufferBytes && (r = await body.ReadAsync(buffer.AsMemory(n), cancellationToken).ConfigureAwait(false)) > 0)
                {
                    n += r;
                }
            }
            catch (Exception e)
            {
                failure = e;
            }
            if (n == 0)
            {
                break;
            }
            var at = position;
            position += n;
            var before = hashed;
            var count = n;
            hashed = Task.Run(async () =>
            {
                await before.ConfigureAwait(false);
                md5.AppendData(buffer, 0, count);
            }, CancellationToken.None);
            var write = RandomAccess.WriteAsync(file, buffer.AsMemory(0, n), at, CancellationToken.None).AsTask();
            var end = position;
            busy[slot] = Task.WhenAll(hashed, write).ContinueWith(t =>
            {
                if (t.IsCompletedSuccessfully)
                {
                    // Completion order may differ from read order; progress reports the furthest end.
                    long seen;
                    while ((seen = Interlocked.Read(ref done)) < end && Interlocked.CompareExchange(ref done, end, seen) != seen)
                    {
                    }
                    progress?.Report(Interlocked.Read(ref done));
                }
                return t;
            }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).Unwrap();
            if (n < BufferBytes)
            {
                break; // the body ended (or failed) inside this buffer
            }
        }
        // Every buffer read is hashed and written before returning, on success and on failure alike.
        await Task.WhenAll(busy).ConfigureAwait(false);
        await hashed.ConfigureAwait(false);
        if (failure is IOException or HttpRequestException)
        {
            throw new DrivePipeException(position, failure);
        }
        if (failure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }
        return position;
    }
}

/// <summary>The body failed after <see cref="Written"/> bytes (all of them written and hashed).</summary>
internal sealed class DrivePipeException(long written, Exception inner) : IOException(inner.Message, inner)
{
    public long Written { get; } = written;
}
