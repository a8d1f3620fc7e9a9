using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace Colab.Daemon.Gpu;

/// <summary>How one nvidia-smi run ended.</summary>
/// <param name="ExitCode">Null when it did not exit by itself (timed out, could not start).</param>
/// <param name="StartError">Why the process could not be started, if it could not.</param>
public sealed record NvidiaSmiRun(int? ExitCode, string Output, string Error, bool TimedOut, string? StartError = null);

/// <summary>
/// Runs nvidia-smi with a time limit, and turns its CSV into a <see cref="GpuSnapshot"/>:
/// the fallback when NVML cannot be loaded. A hung driver makes nvidia-smi hang too, so the
/// process (and anything it started) is killed when the limit passes.
/// </summary>
public sealed class NvidiaSmi(string path, TimeSpan timeout)
{
    public string Path => path;

    public TimeSpan Timeout => timeout;

    public async Task<NvidiaSmiRun> RunAsync(IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            CreateNoWindow = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = new Process { StartInfo = start };
        try
        {
            if (!process.Start())
            {
                return new(null, "", "", false, "the process did not start");
            }
        }
        catch (Exception e) when (e is Win32Exception or InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            return new(null, "", "", false, e.Message);
        }
        process.StandardInput.Close();

        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        var stdout = process.StandardOutput.ReadToEndAsync(limit.Token);
        var stderr = process.StandardError.ReadToEndAsync(limit.Token);
        try
        {
            await process.WaitForExitAsync(limit.Token).ConfigureAwait(false);
            var output = await stdout.ConfigureAwait(false);
            var error = await stderr.ConfigureAwait(false);
            return new(process.ExitCode, output, error, false);
        }
        catch (OperationCanceledException)
        {
            Kill(process);
            await Drain(stdout, stderr).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            return new(null, "", "", true);
        }
    }

    /// <summary>Reads GPUs (and, when there are some, their compute processes) into a snapshot.</summary>
    internal async Task<GpuSnapshot> SnapshotAsync(ProcessTable processes, DateTimeOffset takenAt, IReadOnlyList<string> preface, CancellationToken cancellationToken)
    {
        var notes = new List<string>(preface);
        var run = await RunAsync(NvidiaSmiCsv.GpuArguments, cancellationToken).ConfigureAwait(false);
        if (run.StartError is not null)
        {
            return new(GpuStates.Error, GpuSources.NvidiaSmi, $"{path} could not be started: {run.StartError}", takenAt, null, null, [], notes);
        }
        if (run.TimedOut)
        {
            return new(GpuStates.TimedOut, GpuSources.NvidiaSmi, TimeoutReason, takenAt, null, null, [], notes);
        }
        if (run.ExitCode != 0)
        {
            var (state, reason) = NvidiaSmiCsv.ClassifyFailure(run.ExitCode ?? -1, run.Output + "\n" + run.Error);
            return new(state, GpuSources.NvidiaSmi, reason, takenAt, null, null, [], notes);
        }
        var table = NvidiaSmiCsv.ParseGpus(run.Output);
        notes.AddRange(table.Notes);
        if (table.Devices.Count == 0)
        {
            var (state, reason) = run.Output.Contains("No devices were found", StringComparison.OrdinalIgnoreCase) || table.Notes.Count == 0
                ? (GpuStates.NoGpu, "nvidia-smi found no NVIDIA GPU")
                : (GpuStates.Error, "nvidia-smi printed no GPU this daemon could read");
            return new(state, GpuSources.NvidiaSmi, reason, takenAt, table.DriverVersion, null, [], notes);
        }

        var devices = table.Devices;
        var apps = await RunAsync(NvidiaSmiCsv.AppArguments, cancellationToken).ConfigureAwait(false);
        if (apps.TimedOut)
        {
            notes.Add($"processes: nvidia-smi did not answer within {Seconds(timeout)}");
        }
        else if (apps.StartError is not null || apps.ExitCode != 0)
        {
            notes.Add($"processes: nvidia-smi --query-compute-apps failed ({apps.StartError ?? $"exit code {apps.ExitCode}"})");
        }
        else
        {
            var byGpu = NvidiaSmiCsv.ParseApps(apps.Output).ToLookup(a => a.GpuUuid, StringComparer.OrdinalIgnoreCase);
            devices = [.. devices.Select(d => d with
            {
                Processes = [.. byGpu[d.Uuid ?? ""].Select(a =>
                {
                    var (name, user) = processes.Describe(a.Pid);
                    return new GpuProcess(a.Pid, a.UsedMemoryBytes, name, user);
                })],
            })];
        }
        return new(GpuStates.Ok, GpuSources.NvidiaSmi, null, takenAt, table.DriverVersion, null, devices, notes);
    }

    private string TimeoutReason
        => $"nvidia-smi did not answer within {Seconds(timeout)} and was stopped; the NVIDIA driver may be hung (check dmesg for Xid errors)";

    private static string Seconds(TimeSpan t) => t.TotalSeconds >= 1 ? $"{t.TotalSeconds:0.#} s" : $"{t.TotalMilliseconds:0} ms";

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (Exception e) when (e is InvalidOperationException or Win32Exception or NotSupportedException)
        {
            // Already gone.
        }
    }

    /// <summary>After a kill, give the pipes a moment to close; a grandchild holding them must not hang us.</summary>
    private static async Task Drain(Task<string> stdout, Task<string> stderr)
    {
        try
        {
            await Task.WhenAll(stdout, stderr).WaitAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or TimeoutException or IOException)
        {
        }
    }
}
