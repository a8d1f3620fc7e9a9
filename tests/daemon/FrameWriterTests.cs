using System.Text;
using Colab.Daemon.JsonRpc;

namespace Colab.Daemon.Tests;

/// <summary>Whole frames, in order, and nothing kept once the peer has gone.</summary>
public sealed class FrameWriterTests
{
    [Fact]
    public async Task Enqueue_WritesFramesInOrder_WithContentLength()
    {
        var output = new MemoryStream();
        var writer = new FrameWriter(output);

        writer.Enqueue("{\"a\":1}"u8);
        writer.Enqueue("{\"b\":\"é\"}"u8);
        await writer.DisposeAsync();

        var text = Encoding.UTF8.GetString(output.ToArray());
        Assert.Equal("Content-Length: 7\r\n\r\n{\"a\":1}Content-Length: 10\r\n\r\n{\"b\":\"é\"}", text);
    }

    [Fact]
    public async Task BrokenOutput_SetsFault_AndLaterFramesAreDroppedNotQueued()
    {
        var output = new BrokenStream();
        var writer = new FrameWriter(output);

        writer.Enqueue("{\"first\":true}"u8);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (writer.Fault is null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }
        Assert.IsType<IOException>(writer.Fault);

        var writesBefore = output.Writes;
        for (var i = 0; i < 10_000; i++)
        {
            writer.Enqueue(new byte[1024]);
        }
        Assert.Equal(0, writer.Queued);
        await writer.DisposeAsync(); // returns: nothing is left waiting for a dead peer

        Assert.Equal(writesBefore, output.Writes);
    }

    private sealed class BrokenStream : Stream
    {
        public int Writes;
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => throw new IOException("Broken pipe");
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count)
        {
            Interlocked.Increment(ref Writes);
            throw new IOException("Broken pipe");
        }
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref Writes);
            return ValueTask.FromException(new IOException("Broken pipe"));
        }
    }
}
