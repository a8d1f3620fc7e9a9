using System.Runtime.InteropServices;
using Colab.Daemon.Gpu;
using Colab.Daemon.Python;
using Colab.Daemon.Runtimes;
using Colab.Daemon.Status;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Colab.Daemon.Hosting;

/// <summary>
/// Builds the services shared by the daemon and the CLI (the same services in both), and runs the daemon:
/// a small explicit host of our own — settings, logging, the service provider, one session, the shutdown
/// signals — in place of the Generic Host (issue 8, idle memory: its configuration, options and hosting
/// machinery cost ~2 MiB in a process that hosts exactly one JSON-RPC session).
/// </summary>
public static class DaemonHost
{
    /// <summary>How long a stop (a signal, or the session's end) waits for the session to finish, as the Generic Host's <c>ShutdownTimeout</c> did.</summary>
    public static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Settings come from <c>COLAB_</c> environment variables (e.g. <c>COLAB_PYTHON</c>) and <c>--Key=value</c> arguments (<see cref="ColabSettings"/>).</summary>
    public static DaemonServicesBuilder CreateBuilder(string[] args, LogLevel minimumLevel)
    {
        var builder = new DaemonServicesBuilder(ColabSettings.FromEnvironment(args), minimumLevel);

        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<PythonLocator>();
        builder.Services.AddSingleton<ServerStatusService>();
        builder.Services.AddSingleton<GpuService>();
        builder.Services.AddSingleton<RuntimeManager>();
        // -- runtime services (issue 3) --
        builder.Services.AddSingleton<RuntimeIdleMonitor>();

        // -- terminal services (issue 3, terminals/files) --
        builder.Services.AddSingleton<Colab.Daemon.Runtimes.Setup.SetupRunner>();
        builder.Services.AddSingleton<Colab.Daemon.Runtimes.Terminals.TerminalService>();
        builder.Services.AddSingleton<Colab.Daemon.Runtimes.Files.RuntimeFiles>();
        // -- gpu services (issue 4) --
        builder.Services.AddSingleton<RuntimeGpuService>();
        builder.Services.AddSingleton<RuntimeBenchmark>();

        // -- training services (issue 5) --
        builder.Services.AddSingleton<Colab.Daemon.Training.TrainingService>();
        builder.Services.AddSingleton<Colab.Daemon.Training.DriveMirrorJobs>();

        // -- drive services (issue 6) --
        builder.Services.AddSingleton<Colab.Daemon.Drive.DriveService>();
        builder.Services.AddSingleton<Colab.Daemon.Drive.DriveLinkService>();

        // -- github services (issue 7) --
        builder.Services.AddSingleton<Colab.Daemon.GitHub.GitHubService>();

        return builder;
    }

    /// <summary>What one JSON-RPC session needs beyond the shared services: lifecycle, client window, method table, watchers.</summary>
    public static void AddSessionServices(IServiceCollection services)
    {
        services.AddSingleton<Lifecycle>();
        services.AddSingleton<ClientWindow>();
        services.AddSingleton<MethodTable>();
        services.AddSingleton<GpuWatcher>();
        services.AddSingleton<IMethodGroup, RuntimeMethods>();
        // -- runtime method groups (issue 3) --

        // -- terminal method groups (issue 3, terminals/files) --
        services.AddSingleton<IMethodGroup, TerminalMethods>();
        // -- gpu method groups (issue 4) --
        services.AddSingleton<RuntimeGpuWatcher>();
        services.AddSingleton<GpuHistory>();
        services.AddSingleton<IMethodGroup, GpuMethods>();

        // -- training method groups (issue 5) --
        services.AddSingleton<IMethodGroup, TrainingMethods>();

        // -- drive method groups (issue 6) --
        services.AddSingleton<IMethodGroup, DriveAuthMethods>();
        services.AddSingleton<IMethodGroup, DriveMethods>();
        services.AddSingleton<IMethodGroup, DriveLinkMethods>();

        // -- github method groups (issue 7) --
        services.AddSingleton<IMethodGroup, GitHubMethods>();

    }

    /// <summary>Runs the JSON-RPC daemon over the given streams until exit; returns the exit code.</summary>
    /// <remarks>
    /// Issue 8, cold start: a plain <c>initialize</c> is answered on this thread before anything else
    /// exists (<see cref="FirstAnswer"/>: the frame is read and checked here, the answer written straight
    /// to <paramref name="output"/>); then the services are built, and every later message waits for them, in
    /// order. Any other first message goes to the connection, which starts reading before the services are
    /// built: it is dispatched with only the lifecycle bound (so it gets the answer it always got) while
    /// the settings, the logging and the services are still being built on this thread.
    /// Then the session runs until <c>exit</c>, the end of stdin, or SIGINT, SIGQUIT or SIGTERM; a stop
    /// waits <see cref="ShutdownTimeout"/> for the session before the services are disposed. The session ends
    /// at once on a signal's stop (it does not wait for a blocked read of stdin), with exit code 0 after
    /// <c>shutdown</c> and 1 before it.
    /// </remarks>
    public static async Task<int> RunDaemonAsync(string[] args, Stream input, Stream output)
    {
        StartupTrace.Mark("run-daemon");
        var lifecycle = new Lifecycle();
        // A plain initialize is answered right here, on this thread, before anything else is started
        // (FirstAnswer); whatever was read and not answered goes to the connection first.
        var first = FirstAnswer.Answer(input, output, lifecycle);
        var stdio = new StdioStreams(first.ReadAhead.IsEmpty ? input : new JsonRpc.PrefixedStream(first.ReadAhead, input), output);
        var early = new EarlyConnection(stdio, lifecycle, holdFirst: first.Answered);
        StartupTrace.Mark("reading");
        DaemonServices host;
        try
        {
            var builder = CreateBuilder(args, LogLevel.Information);
            builder.Services.AddSingleton(stdio);
            AddSessionServices(builder.Services);
            builder.Services.AddSingleton(lifecycle);
            builder.Services.AddSingleton(early);
            builder.Services.AddSingleton<DaemonSession>();
            host = builder.Build();
        }
        catch
        {
            early.Stop();
            throw;
        }
        StartupTrace.Mark("host-built");
        await using (host.ConfigureAwait(false))
        {
            var session = host.Services.GetRequiredService<DaemonSession>();
            StartupTrace.Mark("services");
            var logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Colab.Daemon.Hosting.DaemonHost");
            using var stopping = new CancellationTokenSource();
            var stopRequested = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            logger.LogDebug(1, "Hosting starting");
            using (ShutdownSignals(stopRequested))
            {
                var running = session.RunAsync(stopping.Token);
                logger.LogDebug(2, "Hosting started");
                await Task.WhenAny(running, stopRequested.Task).ConfigureAwait(false);
                logger.LogDebug(3, "Hosting stopping");
                await stopping.CancelAsync().ConfigureAwait(false);
                try
                {
                    await running.WaitAsync(ShutdownTimeout).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    logger.LogDebug(5, "The session did not stop within {Seconds} s; disposing the services", ShutdownTimeout.TotalSeconds);
                }
                catch (Exception e)
                {
                    logger.LogError(9, e, "The daemon session failed");
                }
                logger.LogDebug(4, "Hosting stopped");
            }
            return session.ExitCode;
        }
    }

    /// <summary>
    /// SIGINT, SIGQUIT and SIGTERM ask the session to stop (and the default action, ending the process at
    /// once, is cancelled), as the Generic Host's console lifetime did; SIGHUP keeps its default.
    /// </summary>
    private static IDisposable ShutdownSignals(TaskCompletionSource stopRequested)
    {
        Action<PosixSignalContext> handler = context =>
        {
            context.Cancel = true;
            stopRequested.TrySetResult();
        };
        return new Registrations(
            PosixSignalRegistration.Create(PosixSignal.SIGINT, handler),
            PosixSignalRegistration.Create(PosixSignal.SIGQUIT, handler),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, handler));
    }

    private sealed class Registrations(params PosixSignalRegistration[] registrations) : IDisposable
    {
        public void Dispose()
        {
            foreach (var r in registrations)
            {
                r.Dispose();
            }
        }
    }
}

/// <summary>
/// The shared services before they are built: the settings (<see cref="Configuration"/>), the service
/// collection, and the minimum log level (<c>LogLevel</c> in the settings, else the caller's default).
/// </summary>
public sealed class DaemonServicesBuilder
{
    private readonly LogLevel _defaultLevel;

    internal DaemonServicesBuilder(ColabSettings configuration, LogLevel defaultLevel)
    {
        Configuration = configuration;
        _defaultLevel = defaultLevel;
    }

    /// <summary>The settings every service reads (as <see cref="IConfiguration"/>); a test may set keys before <see cref="Build"/>.</summary>
    public ColabSettings Configuration { get; }

    public IServiceCollection Services { get; } = new ServiceCollection();

    /// <summary>Builds the service provider: the settings, the stderr logging and every service registered.</summary>
    public DaemonServices Build()
    {
        var level = Enum.TryParse<LogLevel>(Configuration["LogLevel"], true, out var l) ? l : _defaultLevel;
        Services.AddSingleton<IConfiguration>(Configuration);
        // One line per event on stderr, written where it is logged (StderrLoggerFactory): the console
        // logger's own thread and its options and formatter machinery cost idle memory (issue 8).
        Services.AddSingleton<ILoggerFactory>(new StderrLoggerFactory(level));
        Services.AddSingleton(typeof(ILogger<>), typeof(Logger<>));
        return new DaemonServices(Services.BuildServiceProvider());
    }
}

/// <summary>The built services; disposing them disposes every service that was created, async ones included.</summary>
public sealed class DaemonServices : IDisposable, IAsyncDisposable
{
    private readonly ServiceProvider _provider;

    internal DaemonServices(ServiceProvider provider) => _provider = provider;

    public IServiceProvider Services => _provider;

    /// <summary>Disposes as <see cref="DisposeAsync"/> does (the provider's own Dispose refuses services that are only async-disposable).</summary>
    public void Dispose() => _provider.DisposeAsync().AsTask().GetAwaiter().GetResult();

    public ValueTask DisposeAsync() => _provider.DisposeAsync();
}
