using System.Text.Json;
using Colab.Daemon.Protocol;

namespace Colab.Daemon.JsonRpc;

/// <summary>What a request handler knows about the request it is answering.</summary>
public sealed class RequestContext(JsonRpcConnection connection, RequestId id, string method, JsonElement? workDoneToken, CancellationToken cancellationToken)
{
    public JsonRpcConnection Connection { get; } = connection;
    public RequestId Id { get; } = id;
    public string Method { get; } = method;

    /// <summary>Fires on <c>$/cancelRequest</c> for this id, or when the client goes away.</summary>
    public CancellationToken CancellationToken { get; } = cancellationToken;

    /// <summary>
    /// Starts work-done progress: with the client's <c>workDoneToken</c> when it sent one,
    /// otherwise with a token created through <c>window/workDoneProgress/create</c>. When the
    /// client refuses to create one, the work goes on without progress.
    /// </summary>
    public async Task<WorkDoneProgress> BeginProgressAsync(string title, bool cancellable = true, string? message = null)
    {
        if (workDoneToken is not { } token)
        {
            var created = $"colab-{Guid.NewGuid():N}";
            token = JsonDocument.Parse($"\"{created}\"").RootElement;
            try
            {
                await Connection.SendRequestAsync(
                    Methods.WorkDoneProgressCreate,
                    new WorkDoneProgressCreateParams(created),
                    ProtocolJson.Default.WorkDoneProgressCreateParams,
                    ProtocolJson.Default.JsonElement,
                    CancellationToken).ConfigureAwait(false);
            }
            catch (JsonRpcException)
            {
                // Progress is only a display: a client without it must not fail the request.
                return new WorkDoneProgress(null, token);
            }
        }
        var progress = new WorkDoneProgress(Connection, token);
        progress.Send(new WorkDoneProgressValue("begin", Title: title, Message: message, Percentage: 0, Cancellable: cancellable));
        return progress;
    }
}

/// <summary>Sends <c>$/progress</c> for one token (nothing when there is no connection); <see cref="End"/> once at the end.</summary>
public sealed class WorkDoneProgress(JsonRpcConnection? connection, JsonElement token)
{
    private int _ended;

    /// <summary>The progress token: an integer or a string, as the client sent it (or as the daemon created it).</summary>
    public JsonElement Token { get; } = token;

    /// <summary>Sends a report; nothing once <see cref="End"/> was called (a late report would reopen a finished progress).</summary>
    public void Report(string? message, int? percentage)
    {
        if (Volatile.Read(ref _ended) == 0)
        {
            Send(new WorkDoneProgressValue("report", Message: message, Percentage: percentage is { } p ? Math.Clamp(p, 0, 100) : null));
        }
    }

    public void End(string? message)
    {
        if (Interlocked.Exchange(ref _ended, 1) == 0)
        {
            Send(new WorkDoneProgressValue("end", Message: message));
        }
    }

    internal void Send(WorkDoneProgressValue value)
        => connection?.Notify(Methods.Progress, new ProgressParams(Token, value), ProtocolJson.Default.ProgressParams);
}
