namespace Colab.Daemon.JsonRpc;

/// <summary>
/// Thrown by a handler (or raised for a peer's error response) to carry a JSON-RPC
/// error code from <see cref="Protocol.ErrorCodes"/>. The message is shown to users:
/// it must never contain a token or secret.
/// </summary>
public sealed class JsonRpcException(int code, string message) : Exception(message)
{
    public int Code { get; } = code;
}
