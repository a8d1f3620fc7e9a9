using Colab.Daemon.Runtimes;

namespace Colab.Daemon.Protocol;

/// <summary><c>colab/runtime/connect</c>: <c>kind</c> is <c>local</c> (a Jupyter server this daemon starts in <c>root</c>) or <c>remote</c> (<c>url</c> and <c>token</c>).</summary>
public sealed record ConnectParams(string Kind, string? Url = null, string? Token = null, string? Root = null)
{
    // The token never reaches a log line or an error message through ToString.
    public override string ToString() => $"ConnectParams {{ Kind = {Kind}, Url = {Url}, Root = {Root} }}";
}

/// <summary>The answer of <c>colab/runtime/list</c> and the params of <c>colab/runtime/changed</c>.</summary>
public sealed record RuntimeListResult(IReadOnlyList<RuntimeInfo> Runtimes);

public sealed record RuntimeIdParams(string RuntimeId);

/// <summary>
/// <c>colab/kernel/start</c>: a new kernel, or with <c>kernelId</c> re-attach to one the server still runs (after a daemon restart) and own it again.
/// <c>notebook</c> (a new kernel only): the notebook it is for, e.g. <c>train/mnist.ipynb</c>; the kernel gets a Jupyter session
/// with that path, so the Runtimes view, JupyterLab and <c>/api/sessions</c> say which notebook uses it.
/// </summary>
public sealed record KernelStartParams(string RuntimeId, string? KernelName = null, string? KernelId = null, string? Notebook = null);

public sealed record KernelListResult(IReadOnlyList<RuntimeKernelInfo> Kernels);

public sealed record KernelIdParams(string RuntimeId, string KernelId);

/// <summary><c>colab/kernel/execute</c>: <c>executionId</c> is the client's, echoed in each <c>colab/kernel/output</c> and <c>colab/kernel/input</c>.</summary>
public sealed record ExecuteParams(string RuntimeId, string KernelId, string Code, string ExecutionId, bool AllowStdin = true, bool StopOnError = true);

/// <param name="Status">ok, error or aborted.</param>
public sealed record ExecuteResult(string Status, int? ExecutionCount);

public sealed record KernelOutputParams(string ExecutionId, KernelOutput Output);

public sealed record KernelInputParams(string ExecutionId, string Prompt, bool Password);

public sealed record KernelInputResult(string Value);
