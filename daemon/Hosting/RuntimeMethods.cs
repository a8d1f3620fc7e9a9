using Colab.Daemon.JsonRpc;
using Colab.Daemon.Protocol;
using Colab.Daemon.Runtimes;
using Microsoft.Extensions.Logging;

namespace Colab.Daemon.Hosting;

/// <summary>
/// The runtime and kernel handlers, bound by <see cref="MethodTable.Register"/>: wire records
/// in, <see cref="RuntimeManager"/> calls, wire records out, and <see cref="JupyterException"/>s
/// mapped to error codes. Params are never logged (a connect carries a token).
/// </summary>
internal sealed class RuntimeMethods(RuntimeManager runtimes, RuntimeIdleMonitor idle, ILogger<RuntimeMethods> logger) : IMethodGroup
{
    private static readonly TimeSpan InterruptTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Outgoing frames beyond which an execution's output forwarding waits for the client to read.</summary>
    private const long MaxQueuedNotificationBytes = 4 * 1024 * 1024;

    public void Register(JsonRpcConnection connection)
    {
        var json = ProtocolJson.Default;

        connection.OnRequest(Methods.RuntimeConnect, () => json.ConnectParams, () => json.RuntimeInfo, (p, ctx) => Guard(async () =>
        {
            switch (p.Kind)
            {
                case RuntimeKinds.Local:
                    return await runtimes.ConnectLocalAsync(p.Root, ctx.CancellationToken).ConfigureAwait(false);
                case RuntimeKinds.Remote:
                    if (string.IsNullOrEmpty(p.Url))
                    {
                        throw new JsonRpcException(ErrorCodes.InvalidParams, "Invalid params: a remote runtime needs a url.");
                    }
                    return await runtimes.ConnectRemoteAsync(p.Url, p.Token, ctx.CancellationToken).ConfigureAwait(false);
                default:
                    throw new JsonRpcException(ErrorCodes.InvalidParams, "Invalid params: kind must be \"local\" or \"remote\".");
            }
        }, notFoundIsInvalidParams: false));

        connection.OnRequest(Methods.RuntimeList, () => json.EmptyParams, () => json.RuntimeListResult, (_, _) => Task.FromResult(new RuntimeListResult(runtimes.List())));

        connection.OnRequest(Methods.RuntimeDisconnect, () => json.RuntimeIdParams, () => json.JsonElement, (p, ctx) => Guard(async () =>
        {
            await runtimes.DisconnectAsync(p.RuntimeId, ctx.CancellationToken).ConfigureAwait(false);
            return default(System.Text.Json.JsonElement);
        }));

        connection.OnRequest(Methods.KernelStart, () => json.KernelStartParams, () => json.RuntimeKernelInfo, (p, ctx) => Guard(
            () => p.KernelId is { } existing
                ? runtimes.AttachKernelAsync(p.RuntimeId, existing, ctx.CancellationToken)
                : runtimes.StartKernelAsync(p.RuntimeId, p.KernelName, notebook: ValidNotebookLabel(p.Notebook), cancellationToken: ctx.CancellationToken)));

        connection.OnRequest(Methods.KernelList, () => json.RuntimeIdParams, () => json.KernelListResult, (p, ctx) => Guard(async () =>
            new KernelListResult(await runtimes.ListKernelsAsync(p.RuntimeId, ctx.CancellationToken).ConfigureAwait(false))));

        connection.OnRequest(Methods.KernelExecute, () => json.ExecuteParams, () => json.ExecuteResult, (p, ctx) => Guard(() => ExecuteAsync(connection, p, ctx.CancellationToken)));

        connection.OnRequest(Methods.KernelInterrupt, () => json.KernelIdParams, () => json.JsonElement, (p, ctx) => Guard(async () =>
        {
            await runtimes.InterruptKernelAsync(p.RuntimeId, p.KernelId, ctx.CancellationToken).ConfigureAwait(false);
            return default(System.Text.Json.JsonElement);
        }));

        connection.OnRequest(Methods.KernelRestart, () => json.KernelIdParams, () => json.RuntimeKernelInfo, (p, ctx) => Guard(
            () => runtimes.RestartKernelAsync(p.RuntimeId, p.KernelId, ctx.CancellationToken)));

        connection.OnRequest(Methods.KernelShutdown, () => json.KernelIdParams, () => json.JsonElement, (p, ctx) => Guard(async () =>
        {
            await runtimes.ShutdownKernelAsync(p.RuntimeId, p.KernelId, ctx.CancellationToken).ConfigureAwait(false);
            return default(System.Text.Json.JsonElement);
        }));

        var sessionJson = RuntimeSessionJson.Default;

        connection.OnRequest(Methods.RuntimeSessions, () => sessionJson.RuntimeSessionsParams, () => sessionJson.RuntimeSessionsResult, (p, ctx) => Guard(async () =>
            new RuntimeSessionsResult(await runtimes.ListSessionsAsync(p.RuntimeId, ctx.CancellationToken).ConfigureAwait(false))));

        connection.OnRequest(Methods.KernelKillIdle, () => sessionJson.KillIdleParams, () => sessionJson.KillIdleResult, (p, ctx) => Guard(async () =>
        {
            if (!double.IsFinite(p.IdleSeconds) || p.IdleSeconds < 0)
            {
                throw new JsonRpcException(ErrorCodes.InvalidParams, "Invalid params: idleSeconds must be a number of seconds, 0 or more.");
            }
            var killed = await runtimes.KillIdleKernelsAsync(p.RuntimeId, TimeSpan.FromSeconds(Math.Min(p.IdleSeconds, TimeSpan.MaxValue.TotalSeconds / 2)), ctx.CancellationToken).ConfigureAwait(false);
            return new KillIdleResult(killed);
        }));

        connection.OnRequest(Methods.RuntimeKeepAlive, () => json.RuntimeIdParams, () => json.JsonElement, (p, _) => Guard(() =>
        {
            runtimes.Touch(p.RuntimeId);
            return Task.FromResult(default(System.Text.Json.JsonElement));
        }));

        connection.OnRequest(Methods.RuntimeSetIdleTimeout, () => sessionJson.IdleTimeoutParams, () => sessionJson.IdleTimeoutResult, (p, _) =>
        {
            // A week is far beyond any sensible idle timeout; the cap keeps TimeSpan arithmetic in range.
            const double MaxMinutes = 7 * 24 * 60;
            if (!double.IsFinite(p.Minutes) || p.Minutes < 0 || p.Minutes > MaxMinutes
                || p.WarningSeconds is { } w && (!double.IsFinite(w) || w < 0 || w > MaxMinutes * 60))
            {
                throw new JsonRpcException(ErrorCodes.InvalidParams, $"Invalid params: minutes must be between 0 (never) and {MaxMinutes}, warningSeconds 0 or more.");
            }
            var policy = new IdlePolicy(TimeSpan.FromMinutes(p.Minutes), p.WarningSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : idle.Policy.Warning);
            idle.Policy = policy;
            return Task.FromResult(new IdleTimeoutResult(policy.Timeout.TotalMinutes, policy.Warning.TotalSeconds));
        });

        idle.IdleWarning += (runtimeId, secondsLeft) =>
        {
            if (!connection.Closed.IsCancellationRequested)
            {
                connection.Notify(Methods.RuntimeIdleWarning, new IdleWarningParams(runtimeId, secondsLeft), sessionJson.IdleWarningParams);
            }
        };
        idle.IdleDisconnected += (runtimeId, idleSeconds) =>
        {
            if (!connection.Closed.IsCancellationRequested)
            {
                connection.Notify(Methods.RuntimeIdleDisconnected, new IdleDisconnectedParams(runtimeId, idleSeconds), sessionJson.IdleDisconnectedParams);
            }
        };

        runtimes.Changed += () =>
        {
            if (!connection.Closed.IsCancellationRequested)
            {
                connection.Notify(Methods.RuntimeChanged, new RuntimeListResult(runtimes.List()), json.RuntimeListResult);
            }
        };
    }

    /// <summary>Runs the code, streaming each output as a notification, and answers once the kernel is done with it.</summary>
    private async Task<ExecuteResult> ExecuteAsync(JsonRpcConnection connection, ExecuteParams p, CancellationToken cancellationToken)
    {
        var json = ProtocolJson.Default;
        // Held busy while the cell runs: the idle monitor keeps the runtime alive and never disconnects it meanwhile.
        using var hold = runtimes.HoldBusy(p.RuntimeId);
        var kernel = await runtimes.OpenKernelAsync(p.RuntimeId, p.KernelId, cancellationToken).ConfigureAwait(false);
        var options = new ExecuteOptions
        {
            StopOnError = p.StopOnError,
            OnInput = p.AllowStdin ? (request, token) => AskForInputAsync(connection, p.ExecutionId, request, token, cancellationToken) : null,
        };
        var execution = await kernel.ExecuteAsync(p.Code, options, cancellationToken).ConfigureAwait(false);
        try
        {
            await foreach (var output in execution.ReadOutputsAsync(cancellationToken).ConfigureAwait(false))
            {
                if (output is StreamOutput or ExecuteResultOutput or DisplayDataOutput or UpdateDisplayDataOutput or ErrorOutput or ClearOutput or ExecuteInputOutput)
                {
                    // Backpressure: while the client is behind, stop taking outputs (and so stop reading the kernel socket).
                    await connection.WaitForWriteRoomAsync(MaxQueuedNotificationBytes, cancellationToken).ConfigureAwait(false);
                    connection.Notify(Methods.KernelOutput, new KernelOutputParams(p.ExecutionId, output), json.KernelOutputParams);
                }
            }
            var reply = await execution.Completion.WaitAsync(cancellationToken).ConfigureAwait(false);
            return new ExecuteResult(reply.Status, reply.ExecutionCount);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client gave up on the cell: stop the kernel working on it, then answer RequestCancelled.
            using var timeout = new CancellationTokenSource(InterruptTimeout);
            try
            {
                await kernel.InterruptAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is JupyterException or OperationCanceledException)
            {
                logger.LogInformation("kernel {Kernel}: the interrupt after a cancelled execution failed: {Error}", p.KernelId, e.Message);
            }
            // Wait (briefly) for the interrupted cell's reply: with stop_on_error the kernel aborts
            // requests that reach it before that reply, so the client's next cell would be lost.
            try
            {
                await execution.Completion.WaitAsync(InterruptTimeout, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e) when (e is JupyterException or TimeoutException or OperationCanceledException)
            {
                logger.LogInformation("kernel {Kernel}: the cancelled execution did not end after the interrupt: {Error}", p.KernelId, e.GetType().Name);
            }
            throw;
        }
        finally
        {
            ReturnMemoryAfterLargeOutput();
        }
    }

    /// <summary>The longest notebook label a kernel's session may carry.</summary>
    internal const int MaxNotebookLabel = 1024;

    /// <summary>A notebook label for a session: printable, relative, at most <see cref="MaxNotebookLabel"/> characters.</summary>
    internal static string? ValidNotebookLabel(string? notebook)
    {
        if (notebook is null)
        {
            return null;
        }
        if (notebook.Length == 0 || notebook.Length > MaxNotebookLabel || notebook.Any(char.IsControl)
            || notebook.StartsWith('/') || notebook.StartsWith('\\') || notebook.Split('/', '\\').Any(s => s == ".."))
        {
            throw new JsonRpcException(ErrorCodes.InvalidParams,
                $"Invalid params: notebook must be a relative path of 1 to {MaxNotebookLabel} printable characters without '..' (e.g. train/mnist.ipynb).");
        }
        return notebook;
    }

    /// <summary>Above this much committed GC memory after a cell, the heap is compacted and given back to the OS.</summary>
    private const long LargeHeapBytes = 256L * 1024 * 1024;

    /// <summary>
    /// A cell that printed hundreds of MB leaves a large, mostly empty heap behind that the GC
    /// keeps (RSS stayed at the peak between prints). One aggressive, compacting collection after
    /// such a cell returns it; an ordinary cell never reaches the threshold and pays nothing.
    /// </summary>
    private static void ReturnMemoryAfterLargeOutput()
    {
        if (GC.GetGCMemoryInfo().TotalCommittedBytes > LargeHeapBytes)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        }
    }

    private static async Task<string> AskForInputAsync(JsonRpcConnection connection, string executionId, InputRequest request,
        CancellationToken kernelToken, CancellationToken requestToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(kernelToken, requestToken);
        try
        {
            var answer = await connection.SendRequestAsync(Methods.KernelInput, new KernelInputParams(executionId, request.Prompt, request.Password),
                ProtocolJson.Default.KernelInputParams, ProtocolJson.Default.KernelInputResult, linked.Token).ConfigureAwait(false);
            return answer?.Value ?? "";
        }
        catch (Exception e) when (e is JsonRpcException or System.Text.Json.JsonException or IOException or InvalidOperationException)
        {
            // The client refused or answered with something else: the kernel gets an empty line rather than hanging.
            return "";
        }
    }

    /// <summary>Maps a <see cref="JupyterException"/> to the protocol's error codes (its message is already free of tokens).</summary>
    private static async Task<T> Guard<T>(Func<Task<T>> action, bool notFoundIsInvalidParams = true)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (JupyterException e)
        {
            var code = e.Kind switch
            {
                JupyterErrorKind.MissingPackages => ErrorCodes.NotAvailable,
                JupyterErrorKind.NotFound when notFoundIsInvalidParams => ErrorCodes.InvalidParams,
                _ => ErrorCodes.RequestFailed,
            };
            var message = code == ErrorCodes.InvalidParams ? $"Invalid params: {e.Message}" : e.Message;
            throw new JsonRpcException(code, message);
        }
    }
}
