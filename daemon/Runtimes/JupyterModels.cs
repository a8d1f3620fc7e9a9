namespace Colab.Daemon.Runtimes;

// The Jupyter Server REST API's models (jupyter_server/services/api/api.yaml), as the
// server sends them (snake_case on the wire, see RuntimeJson). Deserialization requires
// every non-optional field and rejects nulls where the type says non-null, so a
// response of the wrong shape fails at the boundary with a clear message.

/// <summary><c>GET /api</c>.</summary>
public sealed record JupyterApiVersion(string Version);

/// <summary><c>GET /api/status</c>.</summary>
public sealed record JupyterServerStatus(
    DateTimeOffset? Started = null,
    DateTimeOffset? LastActivity = null,
    int Connections = 0,
    int Kernels = 0);

/// <summary>A kernel as the server lists it (<c>GET /api/kernels</c>).</summary>
/// <param name="ExecutionState">starting, idle, busy, restarting, dead (or unknown when the server did not say).</param>
public sealed record JupyterKernel(
    string Id,
    string Name,
    DateTimeOffset? LastActivity = null,
    int Connections = 0,
    string ExecutionState = "unknown");

/// <summary><c>GET /api/kernelspecs</c>.</summary>
public sealed record JupyterKernelSpecs(string Default, IReadOnlyDictionary<string, JupyterKernelSpec> Kernelspecs);

public sealed record JupyterKernelSpec(string Name, JupyterKernelSpecDetail Spec);

public sealed record JupyterKernelSpecDetail(
    string DisplayName,
    string? Language = null,
    IReadOnlyList<string>? Argv = null,
    string? InterruptMode = null);

/// <summary>A session (<c>/api/sessions</c>): a notebook path bound to a kernel.</summary>
public sealed record JupyterSession(
    string Id,
    string? Path = null,
    string? Name = null,
    string? Type = null,
    JupyterKernel? Kernel = null);

internal sealed record StartKernelBody(string? Name, string? Path);

internal sealed record SessionKernelBody(string? Name, string? Id);

internal sealed record CreateSessionBody(string Path, string Name, string Type, SessionKernelBody Kernel);

/// <summary>Jupyter's error body: <c>{"message": …, "reason": …}</c>.</summary>
internal sealed record JupyterErrorBody(string? Message = null, string? Reason = null);

/// <summary>The server-info file a Jupyter server writes into its runtime directory once it is listening.</summary>
internal sealed record JupyterServerInfoFile(int Pid = 0, int Port = 0, string? Version = null);
