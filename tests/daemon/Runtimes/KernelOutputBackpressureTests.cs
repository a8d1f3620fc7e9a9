using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using Colab.Daemon.JsonRpc;
using Colab.Daemon.Runtimes;

namespace Colab.Daemon.Tests.Runtimes;

/// <summary>The bounded pieces behind huge outputs: chunking a long stream text, the execution's output queue, and <see cref="FrameWriter.WaitForRoomAsync"/>.</summary>
public class KernelOutputBackpressureTests
{
    private static KernelMessage Stream(string parent, string name, string text) => new()
    {
        Channel = KernelChannels.IoPub,
        Header = KernelHeader.Create("stream", "s", "u"),
        ParentHeader = KernelHeader.Create("execute_request", "s", "u") with { MsgId = parent },
        Content = JsonSerializer.SerializeToElement(new Dictionary<string, string> { ["name"] = name, ["text"] = text }),
    };

    private static KernelMessage Message(string parent, string channel, string type, string contentJson) => new()
    {
        Channel = channel,
        Header = KernelHeader.Create(type, "s", "u"),
        ParentHeader = KernelHeader.Create("execute_request", "s", "u") with { MsgId = parent },
        Content = KernelMessage.Json.Parse(contentJson),
    };

    [Theory]
    [InlineData(16)]
    [InlineData(17)]
    [InlineData(23)]
    [InlineData(64)]
    public void A_long_text_splits_into_chunks_that_never_break_an_escape_a_surrogate_pair_or_a_utf8_sequence(int maxBytes)
    {
        var text = string.Concat(Enumerable.Repeat("ab\"c\\d\n\té€😀\u0001\u2028x", 40));
        var element = JsonSerializer.SerializeToElement(text);
        var all = new StringBuilder();
        var chunks = 0;
        for (var offset = 0; ;)
        {
            (var chunk, offset, var done) = KernelExecution.NextChunk(element, offset, maxBytes);
            Assert.False(chunk.Length > 0 && char.IsHighSurrogate(chunk[^1]), $"chunk {chunks} ends in half a surrogate pair");
            Assert.False(chunk.Length > 0 && char.IsLowSurrogate(chunk[0]), $"chunk {chunks} starts with half a surrogate pair");
            all.Append(chunk);
            chunks++;
            if (done)
            {
                break;
            }
        }
        Assert.Equal(text, all.ToString());
        Assert.True(chunks > 10);
    }

    [Fact]
    public async Task Queued_streams_of_the_same_name_coalesce_in_order_and_others_stay_apart()
    {
        var execution = new KernelExecution("m1", "", new ExecuteOptions());
        execution.Handle(Stream("m1", "stdout", "a"), out _);
        execution.Handle(Stream("m1", "stdout", "b"), out _);
        execution.Handle(Stream("m1", "stderr", "c"), out _);
        execution.Handle(Stream("m1", "stdout", "d"), out _);
        execution.Handle(Message("m1", KernelChannels.Shell, "execute_reply", """{"status":"ok","execution_count":1}"""), out _);
        Assert.True(execution.Handle(Message("m1", KernelChannels.IoPub, "status", """{"execution_state":"idle"}"""), out _));
        var result = await execution.CollectAsync();
        var streams = result.Of<StreamOutput>().Select(s => $"{s.Name}:{s.Text}").ToList();
        Assert.Equal(["stdout:ab", "stderr:c", "stdout:d"], streams);
    }

    [Fact]
    public async Task The_receive_side_waits_for_room_while_a_reader_is_behind_and_never_after_the_reader_left()
    {
        var execution = new KernelExecution("m1", "", new ExecuteOptions());
        var big = new string('x', 30_000); // 60 KB per output
        using var cancel = new CancellationTokenSource();
        var reader = execution.ReadOutputsAsync(cancel.Token).GetAsyncEnumerator(cancel.Token);
        var first = reader.MoveNextAsync(); // the reader is attached and waiting
        for (var i = 0; execution.QueuedBytes <= KernelExecution.MaxQueuedBytes; i++)
        {
            // Alternate names so nothing coalesces.
            execution.Handle(Stream("m1", i % 2 == 0 ? "stdout" : "stderr", big), out _);
        }
        Assert.True(await first);
        for (var i = 0; execution.QueuedBytes <= KernelExecution.MaxQueuedBytes; i++)
        {
            execution.Handle(Stream("m1", i % 2 == 0 ? "stdout" : "stderr", big), out _);
        }
        var room = execution.WaitForRoomAsync(CancellationToken.None).AsTask();
        await Task.Delay(100);
        Assert.False(room.IsCompleted, "room while more than the bound is queued");
        while (execution.QueuedBytes > KernelExecution.MaxQueuedBytes)
        {
            Assert.True(await reader.MoveNextAsync());
        }
        await room.WaitAsync(TimeSpan.FromSeconds(10));

        // The reader gives up: the receive side no longer waits; what is queued stays for a later reader.
        await reader.DisposeAsync();
        for (var i = 0; i < 200; i++)
        {
            execution.Handle(Stream("m1", i % 2 == 0 ? "stdout" : "stderr", big), out _);
        }
        Assert.True(execution.QueuedBytes > KernelExecution.MaxQueuedBytes);
        Assert.True(execution.WaitForRoomAsync(CancellationToken.None).IsCompletedSuccessfully);
        await using var second = execution.ReadOutputsAsync().GetAsyncEnumerator();
        Assert.True(await second.MoveNextAsync());
        Assert.False(execution.WaitForRoomAsync(CancellationToken.None).IsCompleted, "a new reader brings the bound back");
    }

    [Fact]
    public async Task A_failed_execution_releases_a_waiting_receive_side()
    {
        var execution = new KernelExecution("m1", "", new ExecuteOptions());
        await using var reader = execution.ReadOutputsAsync().GetAsyncEnumerator();
        var first = reader.MoveNextAsync();
        for (var i = 0; execution.QueuedBytes <= KernelExecution.MaxQueuedBytes; i++)
        {
            execution.Handle(Stream("m1", i % 2 == 0 ? "stdout" : "stderr", new string('y', 30_000)), out _);
        }
        Assert.True(await first);
        for (var i = 0; execution.QueuedBytes <= KernelExecution.MaxQueuedBytes; i++)
        {
            execution.Handle(Stream("m1", i % 2 == 0 ? "stdout" : "stderr", new string('y', 30_000)), out _);
        }
        var room = execution.WaitForRoomAsync(CancellationToken.None).AsTask();
        Assert.False(room.IsCompleted);
        execution.Fail(new JupyterException(JupyterErrorKind.Disconnected, "gone"));
        await room.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task FrameWriter_WaitForRoom_waits_while_the_reader_does_not_read()
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 16 * 1024, resumeWriterThreshold: 8 * 1024));
        await using var writer = new FrameWriter(pipe.Writer.AsStream());
        var body = Encoding.UTF8.GetBytes("{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"params\":\"" + new string('z', 8000) + "\"}");
        for (var i = 0; i < 20; i++)
        {
            writer.Enqueue(body);
        }
        var room = writer.WaitForRoomAsync(16 * 1024).AsTask();
        await Task.Delay(200);
        Assert.False(room.IsCompleted, $"room with {writer.QueuedBytes} bytes queued and nobody reading");
        Assert.True(writer.QueuedBytes > 16 * 1024);
        Assert.True(writer.WaitForRoomAsync(long.MaxValue).IsCompletedSuccessfully);

        var drained = Task.Run(async () =>
        {
            while (true)
            {
                var read = await pipe.Reader.ReadAsync();
                pipe.Reader.AdvanceTo(read.Buffer.End);
                if (read.IsCompleted)
                {
                    return;
                }
            }
        });
        await room.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(writer.QueuedBytes <= 16 * 1024);
        await writer.DisposeAsync();
        await pipe.Writer.CompleteAsync();
        await drained.WaitAsync(TimeSpan.FromSeconds(10));
    }
}
