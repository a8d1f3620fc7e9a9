using System.CommandLine;
using System.Text.Json;
using Colab.Daemon.Gpu;
using Colab.Daemon.Hosting;
using Colab.Daemon.Protocol;
using Colab.Daemon.Status;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Colab.Daemon.Cli;

/// <summary>
/// The <c>colab</c> command line: the daemon itself (<c>colab daemon</c>) and the same
/// capability services for people and scripts (<c>colab status</c>, later <c>colab gpu</c>, …).
/// Human output by default, <c>--json</c> for scripts; exit code 0 on success.
/// </summary>
public static class CommandLine
{
    public const int ExitOk = 0;
    public const int ExitFailure = 1;

    public static async Task<int> RunAsync(string[] args, Stream protocolOut, TextWriter output)
    {
        // The daemon path skips the parser: it is what the editor starts, and start-up time counts.
        if (args.Length > 0 && args[0] == "daemon" && !args.Contains("--help") && !args.Contains("-h"))
        {
            var rest = args.Skip(1).Where(a => a != "--stdio" && !a.StartsWith("--clientProcessId", StringComparison.Ordinal)).ToArray();
            return await DaemonHost.RunDaemonAsync(rest, Console.OpenStandardInput(), protocolOut).ConfigureAwait(false);
        }

        var root = new RootCommand("Colab for VS Code: runtimes, GPUs, Drive, GitHub notebooks and resumable training, from the command line.");
        var daemon = new Command("daemon", "Run the JSON-RPC daemon on stdio (what the VS Code extension starts).");
        daemon.Options.Add(new Option<bool>("--stdio") { Description = "Use stdin/stdout (the only transport; accepted for LSP clients)." });
        daemon.SetAction(_ => ExitFailure); // never reached: handled above
        root.Subcommands.Add(daemon);

        var json = new Option<bool>("--json") { Description = "Print JSON for scripts instead of text." };
        var status = new Command("status", "Show the daemon version and what this host can do (GPU driver, Python, local runtime, torch).") { json };
        status.SetAction(async (parse, ct) => await StatusAsync(parse.GetValue(json), output, ct).ConfigureAwait(false));
        root.Subcommands.Add(status);

        var gpuJson = new Option<bool>("--json") { Description = "Print the GPU snapshot as JSON for scripts instead of a table." };
        var gpu = new Command("gpu", "Show this host's NVIDIA GPUs: utilisation, memory, temperature, power and compute processes. Exit code 1 when there is no usable GPU.") { gpuJson };
        gpu.SetAction(async (parse, ct) => await GpuAsync(parse.GetValue(gpuJson), output, ct).ConfigureAwait(false));
        root.Subcommands.Add(gpu);

        var config = new InvocationConfiguration { Output = output, Error = Console.Error };
        return await root.Parse(args).InvokeAsync(config).ConfigureAwait(false);
    }

    private static async Task<int> StatusAsync(bool asJson, TextWriter output, CancellationToken cancellationToken)
    {
        using var host = DaemonHost.CreateBuilder([], LogLevel.Warning).Build();
        var service = host.Services.GetRequiredService<ServerStatusService>();
        service.MarkReady();
        await service.ProbeAsync(cancellationToken).ConfigureAwait(false);
        var s = service.Current();
        if (asJson)
        {
            await output.WriteLineAsync(JsonSerializer.Serialize(s, ProtocolJson.Default.ServerStatus)).ConfigureAwait(false);
            return ExitOk;
        }
        await output.WriteLineAsync($"Colab daemon {s.Version} on {s.Platform} ({s.Runtime})").ConfigureAwait(false);
        var width = s.Capabilities.Max(c => c.Name.Length) + 2;
        foreach (var c in s.Capabilities)
        {
            await output.WriteLineAsync($"  {c.Name.PadRight(width)}{c.State.PadRight(13)}{c.Detail}").ConfigureAwait(false);
        }
        return ExitOk;
    }

    private static async Task<int> GpuAsync(bool asJson, TextWriter output, CancellationToken cancellationToken)
    {
        using var host = DaemonHost.CreateBuilder([], LogLevel.Warning).Build();
        var service = host.Services.GetRequiredService<GpuService>();
        var snapshot = await service.SnapshotAsync(cancellationToken).ConfigureAwait(false);
        await output.WriteAsync(asJson
            ? JsonSerializer.Serialize(snapshot, GpuJson.Default.GpuSnapshot) + Environment.NewLine
            : GpuText.Format(snapshot)).ConfigureAwait(false);
        return snapshot.State == GpuStates.Ok ? ExitOk : ExitFailure;
    }
}
