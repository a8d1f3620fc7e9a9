using Colab.Daemon.JsonRpc;
using Colab.Daemon.Protocol;

namespace Colab.Daemon.Hosting;

/// <summary>LSP MessageType values.</summary>
public enum LogMessageType
{
    Error = 1,
    Warning = 2,
    Info = 3,
    Log = 4,
}

/// <summary><c>window/showMessage</c> and <c>window/logMessage</c> to the client; every text is redacted first.</summary>
public sealed class ClientWindow
{
    private JsonRpcConnection? _connection;

    public void Attach(JsonRpcConnection connection) => _connection = connection;

    public void Show(LogMessageType type, string message)
        => _connection?.Notify(Methods.ShowMessage, new ShowMessageParams((int)type, Redaction.Redact(message)), ProtocolJson.Default.ShowMessageParams);

    public void Log(LogMessageType type, string message)
        => _connection?.Notify(Methods.LogMessage, new LogMessageParams((int)type, Redaction.Redact(message)), ProtocolJson.Default.LogMessageParams);
}
