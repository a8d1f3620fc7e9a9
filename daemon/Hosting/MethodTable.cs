using System.Diagnostics;
using System.Text.Json;
using Colab.Daemon.Gpu;
using Colab.Daemon.JsonRpc;
using Colab.Daemon.Protocol;
using Colab.Daemon.Status;

namespace Colab.Daemon.Hosting;

/// <summary>
/// Binds every client→server method in <see cref="Methods.All"/> to its capability
/// service: the only place where wire types meet the services (architecture invariant 3).
/// </summary>
public sealed class MethodTable(Lifecycle lifecycle, ServerStatusService status, ClientWindow window, GpuService gpu, GpuWatcher gpuWatcher,
    IEnumerable<IMethodGroup> groups)
{
    /// <summary>
    /// The lifecycle's own methods (the gate, initialize, shutdown, exit): all a connection needs
    /// to answer its first message, so the daemon binds them before its services exist
    /// (<see cref="DaemonHost.RunDaemonAsync"/>) and <see cref="Register"/> binds them again.
    /// </summary>
    public static void RegisterLifecycle(JsonRpcConnection connection, Lifecycle lifecycle)
    {
        // No serializer metadata here (InitializeAnswer): this is all that runs before the first answer.
        connection.Gate = lifecycle.Check;

        connection.OnRequest(Methods.Initialize, InitializeAnswer.Check, (_, ctx) =>
        {
            if (!lifecycle.BeginInitialize())
            {
                throw new JsonRpcException(ErrorCodes.InvalidRequest, "Invalid request: initialize was already sent.");
            }
            lifecycle.CompleteInitialize();
            StartupTrace.Mark("initialize");
            return Task.FromResult<Action<Utf8JsonWriter>>(InitializeAnswer.Write);
        }, ordered: true);

        connection.OnRequest(Methods.Shutdown, static _ => true, (_, _) =>
        {
            lifecycle.Shutdown();
            return Task.FromResult<Action<Utf8JsonWriter>>(static w => w.WriteNullValue());
        }, ordered: true);

        connection.OnNotification(Methods.Exit, _ => lifecycle.Exit());
    }

    public void Register(JsonRpcConnection connection)
    {
        var json = ProtocolJson.Default;
        RegisterLifecycle(connection, lifecycle);

        connection.OnNotification(Methods.Initialized, json.JsonElement, initialized =>
        {
            // Ready once the client has the initialize result and is listening for notifications.
            status.MarkReady();
            var probe = status.ProbeAsync(connection.Closed);
            if (StartupTrace.On)
            {
                StartupTrace.Mark("probing");
                probe.ContinueWith(static _ =>
                {
                    StartupTrace.Mark("probed");
                    StartupTrace.Flush();
                }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
            window.Log(LogMessageType.Info, $"Colab daemon {ServerStatusService.Version} ready (pid {Environment.ProcessId}).");
        });
        StartupTrace.Mark("protocol-json");

        connection.OnRequest(Methods.ServerStatus, () => json.JsonElement, () => json.ServerStatus, (_, _) => Task.FromResult(status.Current()));

        connection.OnRequest(Methods.DiagEcho, () => json.JsonElement, () => json.JsonElement, (p, _) => Task.FromResult(p));

        connection.OnRequest(Methods.DiagDelay, () => json.DelayParams, () => json.DelayResult, async (p, ctx) =>
        {
            if (p.Milliseconds is < 0 or > 600_000)
            {
                throw new JsonRpcException(ErrorCodes.InvalidParams, "Invalid params: milliseconds must be between 0 and 600000.");
            }
            var watch = Stopwatch.StartNew();
            WorkDoneProgress? progress = p.ReportProgress ? await ctx.BeginProgressAsync("Waiting", cancellable: true).ConfigureAwait(false) : null;
            try
            {
                const int steps = 10;
                for (var i = 1; i <= steps; i++)
                {
                    await Task.Delay(p.Milliseconds / steps, ctx.CancellationToken).ConfigureAwait(false);
                    progress?.Report($"{i * 10}%", i * 100 / steps);
                }
                progress?.End("done");
            }
            catch (OperationCanceledException)
            {
                progress?.End("cancelled");
                throw;
            }
            return new DelayResult(watch.ElapsedMilliseconds);
        });

        connection.OnRequest(Methods.GpuSnapshot, () => json.JsonElement, () => json.GpuSnapshot, (_, ctx) => gpu.SnapshotAsync(ctx.CancellationToken));

        connection.OnRequest(Methods.GpuWatch, () => json.GpuWatchParams, () => json.GpuWatchResult, (p, _) =>
        {
            var (enabled, interval) = gpuWatcher.Configure(p.Enabled, p.IntervalMs is { } ms ? TimeSpan.FromMilliseconds(ms) : null);
            return Task.FromResult(new GpuWatchResult(enabled, (int)interval.TotalMilliseconds));
        });

        StartupTrace.Mark("core-methods");
        foreach (var group in groups)
        {
            group.Register(connection);
            if (StartupTrace.On)
            {
                StartupTrace.Mark(group.GetType().Name);
            }
        }

        status.Changed += s => connection.Notify(Methods.ServerStatusChanged, s, json.ServerStatus);
        gpuWatcher.Changed += s => connection.Notify(Methods.GpuChanged, s, json.GpuSnapshot);
    }
}
