using Colab.Daemon.Gpu;
using Colab.Daemon.Python;
using Colab.Daemon.Runtimes;
using Colab.Daemon.Status;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Colab.Daemon.Hosting;

/// <summary>Builds the Generic Host shared by the daemon and the CLI: the same services in both.</summary>
public static class DaemonHost
{
    /// <summary>Configuration comes from <c>COLAB_</c> environment variables (e.g. <c>COLAB_PYTHON</c>) and <c>--Key=value</c> arguments.</summary>
    public static HostApplicationBuilder CreateBuilder(string[] args, LogLevel minimumLevel)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings
        {
            Args = args,
            DisableDefaults = true,
            ApplicationName = "colab",
        });
        builder.Configuration.AddEnvironmentVariables("COLAB_");
        builder.Configuration.AddCommandLine(args);

        builder.Logging.SetMinimumLevel(Enum.TryParse<LogLevel>(builder.Configuration["LogLevel"], true, out var l) ? l : minimumLevel);
        // One line per event on stderr, written where it is logged (StderrLoggerProvider): the console
        // logger's own thread and its options and formatter machinery cost idle memory (issue 8).
        builder.Logging.AddProvider(new StderrLoggerProvider());

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
    /// to <paramref name="output"/>); then the host is built, and every later message waits for it, in
    /// order. Any other first message goes to the connection, which starts reading before the host is
    /// built: it is dispatched with only the lifecycle bound (so it gets the answer it always got) while
    /// the host, its logging and the services are still being built on this thread.
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
        IHost host;
        try
        {
            var builder = CreateBuilder(args, LogLevel.Information);
            builder.Services.AddSingleton(stdio);
            AddSessionServices(builder.Services);
            builder.Services.AddSingleton(lifecycle);
            builder.Services.AddSingleton(early);
            builder.Services.AddSingleton<DaemonSession>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<DaemonSession>());
            builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
            builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
            host = builder.Build();
        }
        catch
        {
            early.Stop();
            throw;
        }
        StartupTrace.Mark("host-built");
        using (host)
        {
            var session = host.Services.GetRequiredService<DaemonSession>();
            StartupTrace.Mark("services");
            await host.RunAsync().ConfigureAwait(false);
            return session.ExitCode;
        }
    }
}
