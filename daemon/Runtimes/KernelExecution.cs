using System.Runtime.CompilerServices;
using System.Threading.Channels;
using static Colab.Daemon.Runtimes.KernelMessage.Json;

namespace Colab.Daemon.Runtimes;

/// <summary>
/// One <c>execute_request</c> in flight. Its outputs arrive in order on
/// <see cref="ReadOutputsAsync"/> (one reader); <see cref="Completion"/> finishes when both
/// the shell <c>execute_reply</c> and the iopub <c>status: idle</c> for this request have
/// arrived, or faults with a <see cref="JupyterException"/> when the connection is lost for
/// good or the kernel restarts.
/// </summary>
public sealed class KernelExecution
{
    private readonly Channel<KernelOutput> _outputs = Channel.CreateUnbounded<KernelOutput>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly TaskCompletionSource<ExecuteReply> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
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

    /// <summary>The outputs as they arrive; ends when the execution completes (throws its failure, if any).</summary>
    public async IAsyncEnumerable<KernelOutput> ReadOutputsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var output in _outputs.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return output;
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

    /// <summary>Turns one routed message into an output; returns true when the execution is now complete. Called on the receive loop only.</summary>
    internal bool Handle(KernelMessage message, out InputRequest? input)
    {
        input = null;
        var c = message.Content;
        KernelOutput output;
        switch (message.Channel, message.MsgType)
        {
            case (KernelChannels.IoPub, "stream"):
                output = new StreamOutput(String(c, "name") ?? "stdout", String(c, "text") ?? "");
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
        _outputs.Writer.TryWrite(output);
        // An aborted request (an earlier cell failed) produces nothing more than its reply.
        if (_reply is not null && (_idle || _reply.Status == "aborted"))
        {
            _outputs.Writer.TryComplete();
            _completion.TrySetResult(_reply);
            return true;
        }
        return false;
    }

    internal void Fail(Exception error)
    {
        _outputs.Writer.TryComplete(error);
        _completion.TrySetException(error);
    }
}
