using Colab.Daemon.JsonRpc;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Colab.Daemon.Hosting;

/// <summary>The daemon's stdio streams: the real protocol stdout, captured before anything could write to it.</summary>
public sealed record StdioStreams(Stream Input, Stream Output);

/// <summary>
/// Runs one JSON-RPC session over stdio as a hosted service, and stops the host when
/// the client sends <c>exit</c> or closes stdin.
/// </summary>
public sealed class DaemonSession(
    StdioStreams stdio,
    MethodTable methods,
    Lifecycle lifecycle,
    ClientWindow window,
    IHostApplicationLifetime lifetime,
    ILoggerFactory loggers) : BackgroundService
{
    /// <summary>The process exit code once the session has ended.</summary>
    public int ExitCode { get; private set; } = 1;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var logger = loggers.CreateLogger("Colab.Daemon.JsonRpc");
        var connection = new JsonRpcConnection(stdio.Input, stdio.Output, logger);
        window.Attach(connection);
        methods.Register(connection);

        var reading = connection.RunAsync(stoppingToken);
        var finished = await Task.WhenAny(reading, lifecycle.ExitRequested).ConfigureAwait(false);
        if (finished == lifecycle.ExitRequested)
        {
            ExitCode = await lifecycle.ExitRequested.ConfigureAwait(false);
        }
        else
        {
            // stdin closed: the client is gone, whatever state we were in.
            ExitCode = lifecycle.IsShutDown ? 0 : 1;
            logger.LogInformation("stdin closed; exiting with code {Code}", ExitCode);
        }
        await connection.DisposeAsync().ConfigureAwait(false);
        lifetime.StopApplication();
    }
}
