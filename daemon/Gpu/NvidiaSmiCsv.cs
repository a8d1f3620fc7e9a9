using System.Globalization;

namespace Colab.Daemon.Gpu;

/// <summary>One compute process row of <c>--query-compute-apps=gpu_uuid,pid,used_memory</c>.</summary>
public sealed record NvidiaSmiApp(string GpuUuid, int Pid, ulong? UsedMemoryBytes);

/// <summary>The GPU rows of <c>--query-gpu</c> and the driver version they carry.</summary>
public sealed record NvidiaSmiGpuTable(IReadOnlyList<GpuDevice> Devices, string? DriverVersion, IReadOnlyList<string> Notes);

/// <summary>
/// Parses nvidia-smi's <c>--format=csv,noheader,nounits</c> output: no process spawning
/// here, so every odd cell can be tested. <c>[N/A]</c>, <c>[Not Supported]</c>, other
/// bracketed messages and empty cells become null, with a note for the bracketed ones.
/// </summary>
public static class NvidiaSmiCsv
{
    /// <summary>The fields of <see cref="GpuArguments"/>, in order.</summary>
    public static readonly string[] GpuFields =
        ["index", "uuid", "name", "utilization.gpu", "utilization.memory", "memory.used", "memory.total", "temperature.gpu", "power.draw", "power.limit", "driver_version"];

    public static readonly string[] GpuArguments =
        [$"--query-gpu={string.Join(',', GpuFields)}", "--format=csv,noheader,nounits"];

    public static readonly string[] AppArguments =
        ["--query-compute-apps=gpu_uuid,pid,used_memory", "--format=csv,noheader,nounits"];

    private const ulong MiB = 1024 * 1024;

    public static NvidiaSmiGpuTable ParseGpus(string text)
    {
        var devices = new List<GpuDevice>();
        var notes = new List<string>();
        string? driver = null;
        foreach (var raw in Lines(text))
        {
            var cells = SplitRow(raw);
            if (cells.Count < GpuFields.Length)
            {
                notes.Add($"nvidia-smi: unreadable line \"{Truncate(raw)}\"");
                continue;
            }
            if (cells.Count > GpuFields.Length)
            {
                // A comma inside the name: everything between uuid and the numbers belongs to it.
                var extra = cells.Count - GpuFields.Length;
                cells[2] = string.Join(", ", cells.GetRange(2, extra + 1));
                cells.RemoveRange(3, extra);
            }
            var deviceNotes = new List<string>();
            var index = Integer(cells[0], "index", deviceNotes);
            if (index is null)
            {
                notes.Add($"nvidia-smi: no GPU index in \"{Truncate(raw)}\"");
                continue;
            }
            var uuid = Text(cells[1], "UUID", deviceNotes);
            var name = Text(cells[2], "name", deviceNotes);
            var utilGpu = Integer(cells[3], "utilisation", deviceNotes);
            var utilMemory = Integer(cells[4], "memory utilisation", deviceNotes);
            var used = MebibytesToBytes(cells[5], "memory used", deviceNotes);
            var total = MebibytesToBytes(cells[6], "memory total", deviceNotes);
            var temperature = Integer(cells[7], "temperature", deviceNotes);
            var power = Number(cells[8], "power draw", deviceNotes);
            var limit = Number(cells[9], "power limit", deviceNotes);
            driver ??= Text(cells[10], "driver version", deviceNotes);
            devices.Add(new GpuDevice(index.Value, name, uuid, utilGpu, utilMemory, used, total, temperature, power, limit,
                MigEnabled: null, MigDevices: [], Processes: null, Notes: deviceNotes));
        }
        return new(devices, driver, notes);
    }

    public static IReadOnlyList<NvidiaSmiApp> ParseApps(string text)
    {
        var apps = new List<NvidiaSmiApp>();
        var ignored = new List<string>();
        foreach (var raw in Lines(text))
        {
            var cells = SplitRow(raw);
            if (cells.Count < 3)
            {
                continue;
            }
            var uuid = Text(cells[0], "gpu_uuid", ignored);
            var pid = Integer(cells[1], "pid", ignored);
            if (uuid is null || pid is null)
            {
                continue;
            }
            apps.Add(new(uuid, pid.Value, MebibytesToBytes(cells[2], "used_memory", ignored)));
        }
        return apps;
    }

    /// <summary>Null for empty, <c>[N/A]</c>, <c>[Not Supported]</c> and any other bracketed message (noted).</summary>
    public static string? Cell(string cell, string field, List<string> notes)
    {
        var value = cell.Trim();
        if (value.Length == 0)
        {
            return null;
        }
        if (value.StartsWith('[') && value.EndsWith(']'))
        {
            notes.Add($"{field}: {value[1..^1]}");
            return null;
        }
        if (value is "N/A" or "Not Supported")
        {
            notes.Add($"{field}: {value}");
            return null;
        }
        return value;
    }

    private static string? Text(string cell, string field, List<string> notes) => Cell(cell, field, notes);

    private static int? Integer(string cell, string field, List<string> notes)
    {
        var value = Cell(cell, field, notes);
        if (value is null)
        {
            return null;
        }
        if (int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i))
        {
            return i;
        }
        // Some fields print decimals on some drivers ("45.00"): round rather than lose them.
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d))
        {
            return (int)Math.Round(d);
        }
        notes.Add($"{field}: unreadable \"{Truncate(value)}\"");
        return null;
    }

    private static double? Number(string cell, string field, List<string> notes)
    {
        var value = Cell(cell, field, notes);
        if (value is null)
        {
            return null;
        }
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d))
        {
            return d;
        }
        notes.Add($"{field}: unreadable \"{Truncate(value)}\"");
        return null;
    }

    private static ulong? MebibytesToBytes(string cell, string field, List<string> notes)
    {
        var value = Cell(cell, field, notes);
        if (value is null)
        {
            return null;
        }
        if (ulong.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var mib))
        {
            return mib * MiB;
        }
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d) && d >= 0)
        {
            return (ulong)Math.Round(d * MiB);
        }
        notes.Add($"{field}: unreadable \"{Truncate(value)}\"");
        return null;
    }

    private static IEnumerable<string> Lines(string text)
        => text.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Trim().Length > 0);

    /// <summary>Splits on commas, honouring double quotes (nvidia-smi does not quote today, but a CSV may).</summary>
    internal static List<string> SplitRow(string line)
    {
        var cells = new List<string>();
        var current = new System.Text.StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"')
                {
                    current.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    current.Append(c);
                }
            }
            else if (c == '"' && current.ToString().Trim().Length == 0)
            {
                current.Clear();
                quoted = true;
            }
            else if (c == ',')
            {
                cells.Add(current.ToString().Trim());
                current.Clear();
            }
            else
            {
                current.Append(c);
            }
        }
        cells.Add(current.ToString().Trim());
        return cells;
    }

    /// <summary>
    /// What a failed nvidia-smi run means: its messages for a missing/unloaded driver, a
    /// driver/library mismatch and no devices are stable across driver versions.
    /// </summary>
    public static (string State, string Reason) ClassifyFailure(int exitCode, string output)
    {
        var text = output.Trim();
        if (text.Contains("version mismatch", StringComparison.OrdinalIgnoreCase))
        {
            return (GpuStates.DriverMismatch, GpuService.MismatchReason);
        }
        if (text.Contains("couldn't communicate with the NVIDIA driver", StringComparison.OrdinalIgnoreCase)
            || text.Contains("Driver Not Loaded", StringComparison.OrdinalIgnoreCase))
        {
            return (GpuStates.NoDriver, "the NVIDIA driver is not loaded: nvidia-smi could not communicate with it (load the kernel module or reboot)");
        }
        if (text.Contains("No devices were found", StringComparison.OrdinalIgnoreCase))
        {
            return (GpuStates.NoGpu, "nvidia-smi found no NVIDIA GPU");
        }
        var first = text.Split('\n', 2)[0].Trim();
        return (GpuStates.Error, first.Length == 0
            ? $"nvidia-smi exited with code {exitCode}"
            : $"nvidia-smi exited with code {exitCode}: {Truncate(first)}");
    }

    private static string Truncate(string s) => s.Length <= 200 ? s : s[..200] + "…";
}
