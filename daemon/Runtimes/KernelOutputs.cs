using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Colab.Daemon.Runtimes;

/// <summary>
/// What one <c>execute_request</c> produced, in arrival order: the iopub side effects
/// routed to it by <c>parent_header.msg_id</c>, the stdin prompts, and the shell reply.
/// Serialized with a <c>type</c> discriminator equal to the Jupyter message type.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(StreamOutput), "stream")]
[JsonDerivedType(typeof(ExecuteResultOutput), "execute_result")]
[JsonDerivedType(typeof(DisplayDataOutput), "display_data")]
[JsonDerivedType(typeof(UpdateDisplayDataOutput), "update_display_data")]
[JsonDerivedType(typeof(ErrorOutput), "error")]
[JsonDerivedType(typeof(ClearOutput), "clear_output")]
[JsonDerivedType(typeof(StatusOutput), "status")]
[JsonDerivedType(typeof(ExecuteInputOutput), "execute_input")]
[JsonDerivedType(typeof(InputRequest), "input_request")]
[JsonDerivedType(typeof(ExecuteReply), "execute_reply")]
[JsonDerivedType(typeof(OtherOutput), "other")]
public abstract record KernelOutput;

/// <param name="Name">stdout or stderr.</param>
public sealed record StreamOutput(string Name, string Text) : KernelOutput;

/// <param name="Data">The mime bundle, e.g. <c>text/plain</c> → <c>"2"</c>.</param>
public sealed record ExecuteResultOutput(int? ExecutionCount, IReadOnlyDictionary<string, JsonElement> Data, JsonElement Metadata) : KernelOutput;

/// <param name="DisplayId"><c>transient.display_id</c>: later <see cref="UpdateDisplayDataOutput"/>s with the same id replace this output.</param>
public sealed record DisplayDataOutput(IReadOnlyDictionary<string, JsonElement> Data, JsonElement Metadata, string? DisplayId) : KernelOutput;

/// <summary>Replaces the data of every earlier display with <see cref="DisplayId"/> (which may belong to another cell).</summary>
public sealed record UpdateDisplayDataOutput(IReadOnlyDictionary<string, JsonElement> Data, JsonElement Metadata, string? DisplayId) : KernelOutput;

public sealed record ErrorOutput(string Ename, string Evalue, IReadOnlyList<string> Traceback) : KernelOutput;

/// <param name="Wait">Clear when the next output arrives rather than now.</param>
public sealed record ClearOutput(bool Wait) : KernelOutput;

/// <param name="ExecutionState">busy, idle (or starting, restarting, dead).</param>
public sealed record StatusOutput(string ExecutionState) : KernelOutput;

public sealed record ExecuteInputOutput(string Code, int? ExecutionCount) : KernelOutput;

/// <summary>The kernel waits for the user to type something (<c>input()</c>, <c>getpass()</c>).</summary>
public sealed record InputRequest(string Prompt, bool Password) : KernelOutput;

/// <summary>The shell reply: the end of the request as far as the kernel is concerned.</summary>
/// <param name="Status">ok, error or aborted (a previous cell failed with stop_on_error).</param>
public sealed record ExecuteReply(
    string Status,
    int? ExecutionCount,
    string? Ename = null,
    string? Evalue = null,
    IReadOnlyList<string>? Traceback = null) : KernelOutput;

/// <summary>Any other message routed to the request (comm messages of widgets, …), untouched.</summary>
public sealed record OtherOutput(string Channel, string MsgType, JsonElement Content) : KernelOutput;

/// <summary>How to run one cell.</summary>
public sealed record ExecuteOptions
{
    /// <summary>Run without broadcasting output or incrementing the execution count.</summary>
    public bool Silent { get; init; }

    public bool StoreHistory { get; init; } = true;

    /// <summary>An error aborts the requests queued after this one.</summary>
    public bool StopOnError { get; init; } = true;

    /// <summary>
    /// Answers <c>input()</c>: gets the prompt, returns what the user typed. Without it the
    /// kernel is told stdin is not available (<c>input()</c> raises). If it throws or is
    /// cancelled, the kernel gets an empty answer so the cell does not hang.
    /// </summary>
    public Func<InputRequest, CancellationToken, Task<string>>? OnInput { get; init; }
}

/// <summary>Everything one execution produced, collected.</summary>
public sealed record ExecutionResult(string MsgId, ExecuteReply Reply, IReadOnlyList<KernelOutput> Outputs)
{
    /// <summary>All <c>stdout</c> stream text, concatenated.</summary>
    public string Stdout => Streams("stdout");

    public string Stderr => Streams("stderr");

    public IEnumerable<T> Of<T>() where T : KernelOutput => Outputs.OfType<T>();

    private string Streams(string name)
    {
        var text = new StringBuilder();
        foreach (var s in Outputs.OfType<StreamOutput>())
        {
            if (s.Name == name)
            {
                text.Append(s.Text);
            }
        }
        return text.ToString();
    }
}
