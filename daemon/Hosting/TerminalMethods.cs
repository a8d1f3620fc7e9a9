using System.Text.Json;
using Colab.Daemon.JsonRpc;
using Colab.Daemon.Protocol;
using Colab.Daemon.Runtimes;
using Colab.Daemon.Runtimes.Files;
using Colab.Daemon.Runtimes.Terminals;

namespace Colab.Daemon.Hosting;

/// <summary>
/// The terminal and file-transfer handlers: wire records in, <see cref="TerminalService"/> and
/// <see cref="RuntimeFiles"/> calls, wire records out; terminal output and ends become
/// notifications; transfers report <c>$/progress</c> and stop when the request is cancelled.
/// </summary>
internal sealed class TerminalMethods(TerminalService terminals, RuntimeFiles files, Colab.Daemon.Runtimes.Setup.SetupRunner setup) : IMethodGroup
{
    public void Register(JsonRpcConnection connection)
    {
        var json = TerminalJson.Default;

        connection.OnRequest(Methods.TerminalOpen, () => json.TerminalOpenParams, () => json.TerminalInfo, (p, ctx) => Guard(() =>
        {
            if (p.Rows is < 1 or > 1000 || p.Cols is < 1 or > 1000)
            {
                throw new ArgumentException("rows and cols must be between 1 and 1000");
            }
            return terminals.OpenAsync(p.RuntimeId, p.Name, p.Rows, p.Cols, ctx.CancellationToken);
        }));

        connection.OnRequest(Methods.TerminalList, () => json.TerminalListParams, () => json.TerminalListResult, (p, ctx) => Guard(async () =>
            new TerminalListResult(await terminals.ListAsync(p.RuntimeId, ctx.CancellationToken).ConfigureAwait(false))));

        connection.OnRequest(Methods.TerminalInput, () => json.TerminalInputParams, () => json.JsonElement, (p, ctx) => Guard(async () =>
        {
            if (p.Data.Length > 1024 * 1024)
            {
                throw new ArgumentException("terminal input over 1 MiB in one message; send it in parts");
            }
            await terminals.InputAsync(p.TerminalId, p.Data, ctx.CancellationToken).ConfigureAwait(false);
            return default(JsonElement);
        }));

        connection.OnRequest(Methods.TerminalResize, () => json.TerminalResizeParams, () => json.JsonElement, (p, ctx) => Guard(async () =>
        {
            await terminals.ResizeAsync(p.TerminalId, p.Rows, p.Cols, ctx.CancellationToken).ConfigureAwait(false);
            return default(JsonElement);
        }));

        connection.OnRequest(Methods.TerminalClose, () => json.TerminalCloseParams, () => json.JsonElement, (p, ctx) => Guard(async () =>
        {
            await terminals.CloseAsync(p.TerminalId, p.Shutdown, ctx.CancellationToken).ConfigureAwait(false);
            return default(JsonElement);
        }));

        connection.OnRequest(Methods.FilesList, () => json.FilesListParams, () => json.FilesListResult, (p, ctx) => Guard(async () =>
            new FilesListResult(await files.ListAsync(p.RuntimeId, p.Path, ctx.CancellationToken).ConfigureAwait(false))));

        connection.OnRequest(Methods.FilesUpload, () => json.FilesUploadParams, () => json.TransferResult, (p, ctx) => Guard(() =>
            TransferAsync(ctx, $"Uploading to the runtime", progress => files.UploadAsync(p.RuntimeId, p.LocalPath, p.RemotePath, p.Overwrite, progress, ctx.CancellationToken))));

        connection.OnRequest(Methods.FilesDownload, () => json.FilesDownloadParams, () => json.TransferResult, (p, ctx) => Guard(() =>
            TransferAsync(ctx, $"Downloading from the runtime", progress => files.DownloadAsync(p.RuntimeId, p.RemotePath, p.LocalPath, p.Overwrite, progress, ctx.CancellationToken))));

        connection.OnRequest(Methods.RuntimeSetup, () => json.SetupParams, () => json.SetupResult, (p, ctx) => Guard(async () =>
        {
            var progress = await ctx.BeginProgressAsync("Running the setup commands", cancellable: true).ConfigureAwait(false);
            try
            {
                var result = await setup.RunAsync(p.RuntimeId, p.Commands, p.Force, text =>
                {
                    var line = text.TrimEnd('\n').Split('\n')[^1];
                    if (line.Length > 0)
                    {
                        progress.Report(line.Length > 120 ? line[..120] + "…" : line, null);
                    }
                }, ctx.CancellationToken).ConfigureAwait(false);
                progress.End(!result.Ran ? "already done on this runtime" : result.Ok ? "done" : "failed");
                return result;
            }
            catch
            {
                progress.End("stopped");
                throw;
            }
        }));

        void OnOutput(string id, string data)
        {
            if (!connection.Closed.IsCancellationRequested)
            {
                connection.Notify(Methods.TerminalOutput, new TerminalOutputParams(id, data), json.TerminalOutputParams);
            }
        }

        void OnClosed(string id, string reason)
        {
            if (!connection.Closed.IsCancellationRequested)
            {
                connection.Notify(Methods.TerminalClosed, new TerminalClosedParams(id, reason), json.TerminalClosedParams);
            }
        }

        terminals.Output += OnOutput;
        terminals.Closed += OnClosed;
    }

    private static async Task<TransferResult> TransferAsync(RequestContext ctx, string title, Func<Action<TransferProgress>, Task<TransferResult>> run)
    {
        var progress = await ctx.BeginProgressAsync(title, cancellable: true).ConfigureAwait(false);
        var lastPercent = -1;
        var lastReport = 0L;
        try
        {
            var result = await run(p =>
            {
                var percent = p.Total > 0 ? (int)(p.Done * 100 / p.Total) : 0;
                var now = Environment.TickCount64;
                if (percent != lastPercent && (now - lastReport > 100 || percent == 100))
                {
                    lastPercent = percent;
                    lastReport = now;
                    progress.Report(p.Current.Length > 0 ? $"{p.Current} ({Size(p.Done)} of {Size(p.Total)})" : $"{Size(p.Done)}", percent);
                }
            }).ConfigureAwait(false);
            progress.End($"{result.Files} file{(result.Files == 1 ? "" : "s")}, {Size(result.Bytes)}");
            return result;
        }
        catch (OperationCanceledException)
        {
            progress.End("cancelled");
            throw;
        }
        catch
        {
            progress.End("failed");
            throw;
        }
    }

    private static string Size(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} B",
        < 1024 * 1024 => $"{bytes / 1024.0:0.#} KiB",
        < 1024L * 1024 * 1024 => $"{bytes / (1024.0 * 1024):0.#} MiB",
        _ => $"{bytes / (1024.0 * 1024 * 1024):0.##} GiB",
    };

    /// <summary>Maps the services' exceptions to the protocol's error codes with their (token-free) messages.</summary>
    private static async Task<T> Guard<T>(Func<Task<T>> action)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (JupyterException e)
        {
            var code = e.Kind switch
            {
                JupyterErrorKind.NotFound => ErrorCodes.InvalidParams,
                _ => ErrorCodes.RequestFailed,
            };
            throw new JsonRpcException(code, code == ErrorCodes.InvalidParams ? $"Invalid params: {e.Message}" : e.Message);
        }
        catch (ArgumentException e)
        {
            throw new JsonRpcException(ErrorCodes.InvalidParams, $"Invalid params: {e.Message}");
        }
        catch (NotSupportedException e)
        {
            throw new JsonRpcException(ErrorCodes.NotAvailable, e.Message);
        }
        catch (TargetExistsException e)
        {
            throw new JsonRpcException(ErrorCodes.TargetExists, e.Message);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException or IOException)
        {
            throw new JsonRpcException(ErrorCodes.RequestFailed, e.Message);
        }
    }
}
