using Colab.Daemon.JsonRpc;
using Colab.Daemon.Protocol;

namespace Colab.Daemon.Hosting;

/// <summary>
/// The LSP lifecycle: nothing but <c>initialize</c> (and <c>exit</c>) before
/// initialize; nothing but <c>exit</c> after <c>shutdown</c>. The exit code is 0 only
/// when <c>exit</c> follows <c>shutdown</c>.
/// </summary>
public sealed class Lifecycle
{
    private int _state; // 0 new, 1 initializing, 2 initialized, 3 shut down
    private readonly TaskCompletionSource<int> _exit = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool IsInitialized => Volatile.Read(ref _state) is 2;
    public bool IsShutDown => Volatile.Read(ref _state) is 3;

    /// <summary>Completes with the process exit code when <c>exit</c> arrives.</summary>
    public Task<int> ExitRequested => _exit.Task;

    /// <summary>The gate <see cref="JsonRpcConnection"/> consults before dispatching.</summary>
    public JsonRpcException? Check(string method, bool isRequest)
    {
        var state = Volatile.Read(ref _state);
        if (method == Methods.Exit)
        {
            return null;
        }
        if (state == 0)
        {
            return method == Methods.Initialize
                ? null
                : new JsonRpcException(ErrorCodes.ServerNotInitialized, $"Server not initialized: send initialize before {method}.");
        }
        if (method == Methods.Initialize)
        {
            return new JsonRpcException(ErrorCodes.InvalidRequest, "Invalid request: initialize was already sent.");
        }
        if (state == 3)
        {
            return new JsonRpcException(ErrorCodes.InvalidRequest, $"Invalid request: the server is shutting down; {method} is refused.");
        }
        return null;
    }

    /// <summary>Marks initialize as answered; false when it already was.</summary>
    public bool BeginInitialize() => Interlocked.CompareExchange(ref _state, 1, 0) == 0;

    public void CompleteInitialize() => Interlocked.CompareExchange(ref _state, 2, 1);

    public void Shutdown() => Volatile.Write(ref _state, 3);

    public void Exit() => _exit.TrySetResult(IsShutDown ? 0 : 1);
}
