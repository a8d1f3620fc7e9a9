using Colab.Daemon.Gpu;
using Colab.Daemon.JsonRpc;
using Colab.Daemon.Protocol;
using Colab.Daemon.Runtimes;

namespace Colab.Daemon.Hosting;

/// <summary>
/// The GPU area's handlers beyond the host snapshot and watch (which <see cref="MethodTable"/>
/// binds): a runtime's GPUs, the required-GPU check, the history, the runtime benchmark, and
/// the runtime readings pushed while watching.
/// </summary>
internal sealed class GpuMethods(GpuService gpu, RuntimeGpuService runtimeGpu, RuntimeGpuWatcher runtimeWatcher, GpuHistory history,
    GpuWatcher watcher, RuntimeManager runtimes, RuntimeBenchmark benchmark, TimeProvider time) : IMethodGroup
{
    public void Register(JsonRpcConnection connection)
    {
        var json = GpuProtocolJson.Default;

        connection.OnRequest(Methods.GpuRuntimeSnapshot, () => json.GpuRuntimeParams, () => json.GpuSnapshot, (p, ctx) => Guard(
            () => runtimeGpu.SnapshotAsync(RuntimeId(p.RuntimeId), ctx.CancellationToken)));

        connection.OnRequest(Methods.GpuCheck, () => json.GpuCheckParams, () => json.GpuCheckResult, (p, ctx) => Guard(async () =>
        {
            IReadOnlyList<string> required;
            try
            {
                required = GpuCheck.ValidateRequired(p.Required);
            }
            catch (ArgumentException e)
            {
                throw new JsonRpcException(ErrorCodes.InvalidParams, $"Invalid params: {e.Message}");
            }
            if (p.RuntimeId is null)
            {
                var local = await gpu.SnapshotAsync(ctx.CancellationToken).ConfigureAwait(false);
                return GpuCheck.Check(GpuHistory.Local, "this machine", local, required);
            }
            var id = RuntimeId(p.RuntimeId);
            var info = runtimes.Get(id);
            var snapshot = await runtimeGpu.SnapshotAsync(id, ctx.CancellationToken).ConfigureAwait(false);
            return GpuCheck.Check(id, $"runtime {id} ({info.Url})", snapshot, required);
        }));

        connection.OnRequest(Methods.GpuHistory, () => json.GpuHistoryParams, () => json.GpuHistoryResult, (p, _) =>
        {
            if (p.Minutes is < 1 or > 15)
            {
                throw new JsonRpcException(ErrorCodes.InvalidParams, "Invalid params: minutes must be between 1 and 15.");
            }
            var since = time.GetUtcNow() - TimeSpan.FromMinutes(p.Minutes ?? 5);
            return Task.FromResult(new GpuHistoryResult(history.Read(since), (int)watcher.Interval.TotalMilliseconds));
        });

        connection.OnRequest(Methods.GpuBenchmark, () => json.GpuBenchmarkParams, () => json.RuntimeBenchmarkResult, (p, ctx) => Guard(async () =>
        {
            if (p.DiskMegabytes is < 16 or > 4096)
            {
                throw new JsonRpcException(ErrorCodes.InvalidParams, "Invalid params: diskMegabytes must be between 16 and 4096.");
            }
            var progress = await ctx.BeginProgressAsync("Benchmarking the runtime", cancellable: true).ConfigureAwait(false);
            try
            {
                var result = await benchmark.RunAsync(RuntimeId(p.RuntimeId), p.DiskMegabytes ?? 256, ctx.CancellationToken).ConfigureAwait(false);
                progress?.End("done");
                return result;
            }
            catch
            {
                progress?.End("failed");
                throw;
            }
        }));

        runtimeWatcher.Changed += (id, s) =>
        {
            if (!connection.Closed.IsCancellationRequested)
            {
                connection.Notify(Methods.GpuRuntimeChanged, new GpuRuntimeChangedParams(id, s), json.GpuRuntimeChangedParams);
            }
        };
        runtimeWatcher.Removed += id =>
        {
            if (!connection.Closed.IsCancellationRequested)
            {
                connection.Notify(Methods.GpuRuntimeChanged, new GpuRuntimeChangedParams(id, null), json.GpuRuntimeChangedParams);
            }
        };
    }

    private static string RuntimeId(string? id)
        => string.IsNullOrWhiteSpace(id) || id.Length > 128 || id.Any(char.IsControl)
            ? throw new JsonRpcException(ErrorCodes.InvalidParams, "Invalid params: runtimeId must be a runtime id from colab/runtime/list.")
            : id;

    private static async Task<T> Guard<T>(Func<Task<T>> action)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (JupyterException e)
        {
            var code = e.Kind == JupyterErrorKind.NotFound ? ErrorCodes.InvalidParams : ErrorCodes.RequestFailed;
            throw new JsonRpcException(code, code == ErrorCodes.InvalidParams ? $"Invalid params: {e.Message}" : e.Message);
        }
        catch (TimeoutException e)
        {
            throw new JsonRpcException(ErrorCodes.RequestFailed, e.Message);
        }
    }
}
