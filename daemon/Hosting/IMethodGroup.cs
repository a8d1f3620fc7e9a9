using Colab.Daemon.JsonRpc;

namespace Colab.Daemon.Hosting;

/// <summary>
/// The handlers of one capability (runtimes, Drive, GitHub, training, …): registered in DI by
/// <see cref="DaemonHost.AddSessionServices"/> and bound by <see cref="MethodTable.Register"/>
/// after the lifecycle methods. Each group maps wire records to its service and back.
/// </summary>
public interface IMethodGroup
{
    void Register(JsonRpcConnection connection);
}
