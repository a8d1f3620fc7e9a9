namespace Colab.Daemon.Runtimes;

/// <summary>Why talking to a Jupyter server (or starting one) failed; the protocol layer maps these to error codes.</summary>
public enum JupyterErrorKind
{
    /// <summary>The URL is not an absolute http/https URL (or carries user info).</summary>
    InvalidUrl,

    /// <summary>Nothing answered: connection refused, DNS failure, TLS failure, timeout.</summary>
    Unreachable,

    /// <summary>The server answered 401/403: the token is wrong or missing.</summary>
    TokenRejected,

    /// <summary>Something answered, but not the Jupyter API (an HTML page, a redirect to a login page, …).</summary>
    NotJupyter,

    /// <summary>The Jupyter API answered with JSON of an unexpected shape.</summary>
    BadResponse,

    /// <summary>404 for a kernel, session or runtime id.</summary>
    NotFound,

    /// <summary>Any other HTTP error status; the message carries Jupyter's own message.</summary>
    HttpError,

    /// <summary>The interpreter lacks jupyter-server or ipykernel (the message names the Debian packages).</summary>
    MissingPackages,

    /// <summary>The local Jupyter server did not start (the message carries the tail of its stderr).</summary>
    ServerStartFailed,

    /// <summary>The kernel connection is gone (closed, kernel deleted, reconnect gave up) or the kernel restarted mid-request.</summary>
    Disconnected,
}

/// <summary>
/// A failure talking to or starting a Jupyter server. The message is for people and never
/// contains the token: every message is built from the base URL (no query, no user info)
/// and scrubbed of the token before it is raised.
/// </summary>
public sealed class JupyterException : Exception
{
    public JupyterException(JupyterErrorKind kind, string message, int? statusCode = null, Exception? inner = null)
        : base(message, inner)
    {
        Kind = kind;
        StatusCode = statusCode;
    }

    public JupyterErrorKind Kind { get; }

    /// <summary>The HTTP status the server answered with, when there was one.</summary>
    public int? StatusCode { get; }
}
