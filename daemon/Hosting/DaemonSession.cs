using Colab.Daemon.JsonRpc;
using Microsoft.Extensions.Logging;

namespace Colab.Daemon.Hosting;

/// <summary>The daemon's stdio streams: the real protocol stdout, captured before anything could write to it.</summary>
public sealed record StdioStreams(Stream Input, Stream Output);

/// <summary>
/// The connection as <see cref="DaemonHost.RunDaemonAsync"/> starts it, before the host is built:
/// reading, with only the lifecycle bound, so it answers <c>initialize</c> at once; every later
/// message waits for <see cref="Release"/>, in order.
/// </summary>
internal sealed class EarlyConnection
{
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private readonly DeferredLogger _logger = new();

    /// <param name="holdFirst">The first message waits for <see cref="Release"/> too (<c>initialize</c> was answered already).</param>
    public EarlyConnection(StdioStreams stdio, Lifecycle lifecycle, bool holdFirst = false)
    {
        Lifecycle = lifecycle;
        Connection = new JsonRpcConnection(stdio.Input, stdio.Output, _logger) { HoldAfterFirst = _released.Task, HoldFirst = holdFirst };
        StartupTrace.Mark("connection");
        MethodTable.RegisterLifecycle(Connection, lifecycle);
        StartupTrace.Mark("lifecycle-bound");
        Reading = Connection.RunAsync(_stop.Token);
    }

    public JsonRpcConnection Connection { get; }
    public Lifecycle Lifecycle { get; }

    /// <summary>The read loop (<see cref="JsonRpcConnection.RunAsync"/>): completes when the input ends.</summary>
    public Task Reading { get; }

    /// <summary>Gives the connection its real logger and lets the messages after the first through.</summary>
    public void Release(ILogger logger)
    {
        _logger.Attach(logger);
        _released.TrySetResult();
    }

    /// <summary>Stops reading (the host is stopping, or it could not be built).</summary>
    public void Stop()
    {
        try
        {
            _stop.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
        _released.TrySetResult();
    }
}

/// <summary>
/// Runs one JSON-RPC session over stdio until the client sends <c>exit</c> or closes stdin, or
/// <see cref="DaemonHost.RunDaemonAsync"/> stops it (a signal).
/// </summary>
internal sealed class DaemonSession(
    EarlyConnection early,
    MethodTable methods,
    Lifecycle lifecycle,
    ClientWindow window,
    ILoggerFactory loggers)
{
    /// <summary>The process exit code once the session has ended.</summary>
    public int ExitCode { get; private set; } = 1;

    /// <summary>Binds every method, lets the held messages through, and completes when the session has ended.</summary>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        StartupTrace.Mark("host-started");
        var logger = loggers.CreateLogger("Colab.Daemon.JsonRpc");
        var connection = early.Connection;
        window.Attach(connection);
        methods.Register(connection);
        // A stop (a signal) ends the session at once: the read loop may sit in a read of stdin that cannot
        // be cancelled, and waiting for it made every SIGTERM take the whole shutdown timeout.
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stopping = stoppingToken.Register(() =>
        {
            early.Stop();
            stopped.TrySetResult();
        });
        early.Release(logger);
        StartupTrace.Mark("session-ready");
        StartupTrace.Flush();

        var reading = early.Reading;
        var finished = await Task.WhenAny(reading, lifecycle.ExitRequested, stopped.Task).ConfigureAwait(false);
        if (finished == lifecycle.ExitRequested)
        {
            ExitCode = await lifecycle.ExitRequested.ConfigureAwait(false);
        }
        else if (finished == stopped.Task)
        {
            ExitCode = lifecycle.IsShutDown ? 0 : 1;
            logger.LogInformation("stopped by a signal; exiting with code {Code}", ExitCode);
        }
        else
        {
            // stdin closed: the client is gone, whatever state we were in.
            ExitCode = lifecycle.IsShutDown ? 0 : 1;
            logger.LogInformation("stdin closed; exiting with code {Code}", ExitCode);
        }
        await connection.DisposeAsync().ConfigureAwait(false);
    }
}
