using System.CommandLine;
using System.Text.Json;
using Colab.Daemon.Gpu;
using Colab.Daemon.Hosting;
using Colab.Daemon.Protocol;
using Colab.Daemon.Runtimes;
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

        root.Subcommands.Add(RuntimeCommand(output));
        // -- runtime commands (issue 3) --
        root.Subcommands.Add(RunNotebookCommand.Create(output));
        RuntimeStateCommands.AddTo(root.Subcommands.First(c => c.Name == "runtime"), output);

        // -- terminal commands (issue 3, terminals/files) --
        // -- gpu commands (issue 4) --
        GpuCommand.Extend(gpu, gpuJson, output);

        // -- training commands (issue 5) --
        root.Subcommands.Add(TrainCommand.Create(output));

        // -- drive commands (issue 6) --
        root.Subcommands.Add(DriveCommand.Create(output));

        // -- github commands (issue 7) --
        root.Subcommands.Add(GitHubCommand.Create(output));


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

    private static Command RuntimeCommand(TextWriter output)
    {
        var local = new Option<bool>("--local") { Description = "Start a local Jupyter server (the default when no --url is given)." };
        var url = new Option<string?>("--url") { Description = "A remote Jupyter server; its token comes from ?token= in the URL or the JUPYTER_TOKEN environment variable." };
        var root = new Option<string?>("--root") { Description = "The local server's root directory (default: the current directory)." };
        var kernel = new Option<string?>("--kernel") { Description = "The kernel spec name (default: the server's default kernel)." };
        var asJson = new Option<bool>("--json") { Description = "Print each output as one line of JSON (the protocol's KernelOutput) instead of text." };
        var code = new Argument<string>("code") { Description = "The Python code to run." };
        var run = new Command("run", "Run code on a fresh kernel and print its outputs. Exit code 0 when it ran without error.") { local, url, root, kernel, asJson, code };
        run.SetAction(async (parse, ct) => await RunCodeAsync(parse.GetValue(url), parse.GetValue(root), parse.GetValue(kernel), parse.GetValue(code)!,
            parse.GetValue(asJson), output, ct).ConfigureAwait(false));
        return new Command("runtime", "Jupyter runtimes: run code on a local or remote Jupyter server.") { run };
    }

    private static async Task<int> RunCodeAsync(string? url, string? root, string? kernelName, string code, bool asJson, TextWriter output, CancellationToken cancellationToken)
    {
        using var host = DaemonHost.CreateBuilder([], LogLevel.Warning).Build();
        var runtimes = host.Services.GetRequiredService<RuntimeManager>();
        try
        {
            var runtime = url is null
                ? await runtimes.ConnectLocalAsync(root, cancellationToken).ConfigureAwait(false)
                : await runtimes.ConnectRemoteAsync(url, Environment.GetEnvironmentVariable("JUPYTER_TOKEN") is { Length: > 0 } t ? t : null, cancellationToken).ConfigureAwait(false);
            var started = await runtimes.StartKernelAsync(runtime.Id, kernelName, cancellationToken: cancellationToken).ConfigureAwait(false);
            var kernel = await runtimes.OpenKernelAsync(runtime.Id, started.Id, cancellationToken).ConfigureAwait(false);
            var options = new ExecuteOptions
            {
                OnInput = Console.IsInputRedirected && asJson ? null : async (request, token) =>
                {
                    await Console.Error.WriteAsync(request.Prompt).ConfigureAwait(false);
                    return await Console.In.ReadLineAsync(token).ConfigureAwait(false) ?? "";
                },
            };
            var execution = await kernel.ExecuteAsync(code, options, cancellationToken).ConfigureAwait(false);
            try
            {
                await foreach (var o in execution.ReadOutputsAsync(cancellationToken).ConfigureAwait(false))
                {
                    await PrintAsync(o, asJson, output).ConfigureAwait(false);
                }
                var reply = await execution.Completion.WaitAsync(cancellationToken).ConfigureAwait(false);
                return reply.Status == "ok" ? ExitOk : ExitFailure;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await kernel.InterruptAsync(timeout.Token).ConfigureAwait(false);
                throw;
            }
        }
        catch (JupyterException e)
        {
            await Console.Error.WriteLineAsync($"colab runtime: {e.Message}").ConfigureAwait(false);
            return ExitFailure;
        }
        finally
        {
            await runtimes.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static async Task PrintAsync(KernelOutput o, bool asJson, TextWriter output)
    {
        if (o is not (StreamOutput or ExecuteResultOutput or DisplayDataOutput or UpdateDisplayDataOutput or ErrorOutput or ClearOutput))
        {
            return;
        }
        if (asJson)
        {
            await output.WriteLineAsync(JsonSerializer.Serialize(o, ProtocolJson.Default.KernelOutput)).ConfigureAwait(false);
            return;
        }
        switch (o)
        {
            case StreamOutput { Name: "stderr" } s:
                await Console.Error.WriteAsync(s.Text).ConfigureAwait(false);
                break;
            case StreamOutput s:
                await output.WriteAsync(s.Text).ConfigureAwait(false);
                break;
            case ExecuteResultOutput r:
                await output.WriteLineAsync(PlainText(r.Data)).ConfigureAwait(false);
                break;
            case DisplayDataOutput d:
                await output.WriteLineAsync(PlainText(d.Data)).ConfigureAwait(false);
                break;
            case ErrorOutput e:
                await Console.Error.WriteLineAsync(System.Text.RegularExpressions.Regex.Replace(string.Join('\n', e.Traceback), @"\x1b\[[0-9;]*m", "")).ConfigureAwait(false);
                break;
        }
    }

    private static string PlainText(IReadOnlyDictionary<string, JsonElement> data)
        => data.TryGetValue("text/plain", out var text) && text.ValueKind == JsonValueKind.String ? text.GetString()! : $"<{string.Join(", ", data.Keys)}>";
}
