using System.CommandLine;
using System.Globalization;
using Colab.Daemon.Gpu;
using Colab.Daemon.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Colab.Daemon.Cli;

/// <summary>
/// The rest of <c>colab gpu</c>: <c>--watch</c> (one line per change until Ctrl+C) and
/// <c>colab gpu check --require A100 --require H100</c> (the report; exit code 1 on a mismatch).
/// </summary>
public static class GpuCommand
{
    public static void Extend(Command gpu, Option<bool> json, TextWriter output)
    {
        var watch = new Option<bool>("--watch") { Description = "Print one line per change until Ctrl+C (with --json: one snapshot per line)." };
        var interval = new Option<double>("--interval") { Description = "Seconds between readings with --watch (0.25 … 600, default 2).", DefaultValueFactory = _ => 2 };
        gpu.Options.Add(watch);
        gpu.Options.Add(interval);
        gpu.SetAction(async (parse, ct) => parse.GetValue(watch)
            ? await WatchAsync(parse.GetValue(json), TimeSpan.FromSeconds(parse.GetValue(interval)), output, ct).ConfigureAwait(false)
            : await OnceAsync(parse.GetValue(json), output, ct).ConfigureAwait(false));

        var require = new Option<string[]>("--require") { Description = "A GPU model that must be present (repeatable), e.g. --require A100 --require H100.", AllowMultipleArgumentsPerToken = false };
        var check = new Command("check", "Print the GPU report Colab users paste at the top of notebooks, and whether this host has a required GPU. Exit code 1 on a mismatch.") { require };
        check.SetAction(async (parse, ct) => await CheckAsync(parse.GetValue(require) ?? [], output, ct).ConfigureAwait(false));
        gpu.Subcommands.Add(check);
    }

    private static async Task<int> OnceAsync(bool asJson, TextWriter output, CancellationToken cancellationToken)
    {
        using var host = DaemonHost.CreateBuilder([], LogLevel.Warning).Build();
        var snapshot = await host.Services.GetRequiredService<GpuService>().SnapshotAsync(cancellationToken).ConfigureAwait(false);
        await output.WriteAsync(asJson
            ? System.Text.Json.JsonSerializer.Serialize(snapshot, GpuJson.Default.GpuSnapshot) + Environment.NewLine
            : GpuText.Format(snapshot)).ConfigureAwait(false);
        return snapshot.State == GpuStates.Ok ? CommandLine.ExitOk : CommandLine.ExitFailure;
    }

    /// <summary>The watch loop: a line now, then one per changed reading; Ctrl+C ends it (exit code 130, set by System.CommandLine).</summary>
    public static async Task<int> WatchAsync(bool asJson, TimeSpan interval, TextWriter output, CancellationToken cancellationToken)
    {
        if (!(interval.TotalSeconds is >= 0.25 and <= 600))
        {
            await Console.Error.WriteLineAsync("colab gpu --watch: --interval must be between 0.25 and 600 seconds").ConfigureAwait(false);
            return CommandLine.ExitFailure;
        }
        using var host = DaemonHost.CreateBuilder([], LogLevel.Warning).Build();
        var service = host.Services.GetRequiredService<GpuService>();
        try
        {
            await foreach (var s in service.WatchAsync(interval, cancellationToken).ConfigureAwait(false))
            {
                await output.WriteLineAsync(asJson ? System.Text.Json.JsonSerializer.Serialize(s, GpuJson.Default.GpuSnapshot) : Line(s)).ConfigureAwait(false);
                await output.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        return CommandLine.ExitOk;
    }

    /// <summary><c>22:01:05  GPU0 H100 37% 12.4 GB/80 GB 61C 312W | GPU1 …</c>, or the state and reason.</summary>
    public static string Line(GpuSnapshot s)
    {
        var time = s.TakenAt.ToLocalTime().ToString("HH:mm:ss", CultureInfo.InvariantCulture);
        if (s.Devices.Count == 0)
        {
            return $"{time}  {s.State}: {s.Reason}";
        }
        return time + "  " + string.Join(" | ", s.Devices.Select(d =>
            string.Join(' ', new[]
            {
                $"GPU{d.Index.ToString(CultureInfo.InvariantCulture)}", d.Name ?? "?",
                d.UtilizationGpuPercent is { } u ? $"{u.ToString(CultureInfo.InvariantCulture)}%" : "-%",
                $"{GpuCheck.Size(d.MemoryUsedBytes)}/{GpuCheck.Size(d.MemoryTotalBytes)}",
                d.TemperatureCelsius is { } t ? $"{t.ToString(CultureInfo.InvariantCulture)}C" : "-C",
                d.PowerDrawWatts is { } w ? $"{w.ToString("0", CultureInfo.InvariantCulture)}W" : "-W",
            })));
    }

    private static async Task<int> CheckAsync(string[] require, TextWriter output, CancellationToken cancellationToken)
    {
        IReadOnlyList<string> required;
        try
        {
            required = GpuCheck.ValidateRequired(require);
        }
        catch (ArgumentException e)
        {
            await Console.Error.WriteLineAsync($"colab gpu check: {e.Message}").ConfigureAwait(false);
            return CommandLine.ExitFailure;
        }
        using var host = DaemonHost.CreateBuilder([], LogLevel.Warning).Build();
        var snapshot = await host.Services.GetRequiredService<GpuService>().SnapshotAsync(cancellationToken).ConfigureAwait(false);
        var result = GpuCheck.Check(GpuHistory.Local, "this machine", snapshot, required);
        await output.WriteAsync(result.Text).ConfigureAwait(false);
        await output.WriteLineAsync(result.Message).ConfigureAwait(false);
        return result.Matches == false ? CommandLine.ExitFailure : CommandLine.ExitOk;
    }
}
