using System.Globalization;
using System.Text.Json;

namespace Colab.Daemon.Gpu;

/// <summary>
/// Turns what the probe script printed on a runtime into a <see cref="GpuSnapshot"/>. The
/// runtime may be anyone's server, so its output is untrusted: only the marked line is read,
/// every field is type- and range-checked (a wrong one becomes unknown with a note), strings
/// are cut to 256 characters, and at most 64 GPUs with 1,024 processes each are kept.
/// </summary>
public static class RuntimeGpuReport
{
    public const int MaxLineChars = 4 * 1024 * 1024;
    public const int MaxDevices = 64;
    public const int MaxProcesses = 1024;
    public const int MaxString = 256;

    public static GpuSnapshot Parse(string stdout, DateTimeOffset takenAt)
    {
        var line = stdout.Split('\n').Select(l => l.TrimEnd('\r')).LastOrDefault(l => l.StartsWith(RuntimeGpuScript.Marker, StringComparison.Ordinal));
        if (line is null)
        {
            return Error(takenAt, "the runtime's GPU probe printed no report");
        }
        var json = line[RuntimeGpuScript.Marker.Length..];
        if (json.Length > MaxLineChars)
        {
            return Error(takenAt, $"the runtime's GPU report is larger than {MaxLineChars / (1024 * 1024)} MiB");
        }
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            return Error(takenAt, $"the runtime's GPU report is not JSON: {e.Message}");
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("v", out var v) || v.ValueKind != JsonValueKind.Number || v.GetInt32() != 1)
            {
                return Error(takenAt, "the runtime's GPU report has an unknown shape (version 1 expected)");
            }
            var nvml = Object(root, "nvml");
            var smi = Object(root, "smi");
            var nvmlError = nvml is { } n ? Str(n, "error") : "no NVML section";
            if (nvml is { } ok && nvmlError is null)
            {
                return FromNvml(ok, takenAt);
            }
            var nvmlCode = nvml is { } withCode ? Int(withCode, "code", 0, 999) : null;
            if (smi is { } s)
            {
                return FromSmi(s, takenAt, nvmlError ?? "NVML failed");
            }
            if (nvmlCode is { } code)
            {
                var (state, reason) = GpuService.DescribeInitFailure(code, nvmlError ?? "", "NVML on the runtime");
                return new(state, GpuSources.Nvml, reason, takenAt, null, null, [], []);
            }
            return new(GpuStates.Error, GpuSources.Nvml, $"NVML on the runtime: {nvmlError}", takenAt, null, null, [], []);
        }
    }

    private static GpuSnapshot FromNvml(JsonElement nvml, DateTimeOffset takenAt)
    {
        var notes = new List<string>();
        var driver = Str(nvml, "driver");
        string? cuda = null;
        if (Int(nvml, "cuda", 0, 1_000_000) is { } c)
        {
            cuda = string.Create(CultureInfo.InvariantCulture, $"{c / 1000}.{c % 1000 / 10}");
        }
        var devices = new List<GpuDevice>();
        if (nvml.TryGetProperty("devices", out var list) && list.ValueKind == JsonValueKind.Array)
        {
            foreach (var d in list.EnumerateArray())
            {
                if (devices.Count == MaxDevices)
                {
                    notes.Add($"more than {MaxDevices} GPUs reported; the rest are left out");
                    break;
                }
                if (d.ValueKind != JsonValueKind.Object || Int(d, "index", 0, 1023) is not { } index)
                {
                    notes.Add("a GPU entry without a valid index was left out");
                    continue;
                }
                var deviceNotes = Strings(d, "notes", 32);
                var used = ULong(d, "memUsed");
                var total = ULong(d, "memTotal");
                var power = Int(d, "powerMw", 0, 10_000_000);
                var limit = Int(d, "powerLimitMw", 0, 10_000_000);
                devices.Add(new GpuDevice(index, Str(d, "name"), Str(d, "uuid"),
                    Int(d, "utilGpu", 0, 100), Int(d, "utilMem", 0, 100), used, total, Int(d, "temp", -100, 300),
                    power / 1000.0, limit / 1000.0, MigEnabled: Bool(d, "mig"), MigDevices: Migs(d, deviceNotes), Processes: Processes(d, deviceNotes), Notes: deviceNotes));
            }
        }
        var state = devices.Count > 0 ? GpuStates.Ok : GpuStates.NoGpu;
        return new(state, GpuSources.Nvml, state == GpuStates.NoGpu ? "the runtime's driver reports no NVIDIA GPU" : null, takenAt, driver, cuda, devices, notes);
    }

    private static bool? Bool(JsonElement e, string name)
        => e.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : null;

    /// <summary>The MIG devices the probe listed under a GPU (at most <see cref="MaxMigDevices"/>; entries without a valid index left out).</summary>
    private static List<MigDevice> Migs(JsonElement d, List<string> notes)
    {
        var list = new List<MigDevice>();
        if (!d.TryGetProperty("migs", out var migs) || migs.ValueKind != JsonValueKind.Array)
        {
            return list;
        }
        foreach (var m in migs.EnumerateArray())
        {
            if (list.Count == MaxMigDevices)
            {
                notes.Add($"more than {MaxMigDevices} MIG devices reported; the rest are left out");
                break;
            }
            if (m.ValueKind != JsonValueKind.Object || Int(m, "index", 0, 1023) is not { } index)
            {
                notes.Add("a MIG device without a valid index was left out");
                continue;
            }
            list.Add(new MigDevice(index, Str(m, "name"), Str(m, "uuid"), null, null, ULong(m, "memUsed"), ULong(m, "memTotal"), null, Strings(m, "notes", 32)));
        }
        return list;
    }

    private const int MaxMigDevices = 64;

    private static List<GpuProcess>? Processes(JsonElement d, List<string> notes)
    {
        if (!d.TryGetProperty("procs", out var procs) || procs.ValueKind != JsonValueKind.Array)
        {
            return null;
        }
        var list = new List<GpuProcess>();
        foreach (var p in procs.EnumerateArray())
        {
            if (list.Count == MaxProcesses)
            {
                notes.Add($"more than {MaxProcesses} processes; the rest are left out");
                break;
            }
            if (p.ValueKind != JsonValueKind.Object || Int(p, "pid", 0, int.MaxValue) is not { } pid)
            {
                continue;
            }
            var mem = ULong(p, "mem");
            // NVML's NVML_VALUE_NOT_AVAILABLE (all ones) means "unknown".
            list.Add(new GpuProcess(pid, mem == ulong.MaxValue ? null : mem, Str(p, "name"), Str(p, "user")));
        }
        return list;
    }

    private static GpuSnapshot FromSmi(JsonElement smi, DateTimeOffset takenAt, string nvmlError)
    {
        var notes = new List<string> { $"read through nvidia-smi on the runtime: NVML {nvmlError}" };
        if (Str(smi, "error") is { } error)
        {
            return new(GpuStates.NoDriver, GpuSources.None, $"no NVIDIA driver on the runtime: NVML {nvmlError}, and {error}", takenAt, null, null, [], []);
        }
        if (smi.TryGetProperty("gpusTimedOut", out var timedOut) && timedOut.ValueKind == JsonValueKind.True)
        {
            return new(GpuStates.TimedOut, GpuSources.NvidiaSmi, "nvidia-smi on the runtime did not answer in time; its driver may be hung", takenAt, null, null, [], notes);
        }
        var gpus = Str(smi, "gpus", MaxLineChars) ?? "";
        var exit = Int(smi, "gpusExit", int.MinValue, int.MaxValue);
        if (exit is not 0)
        {
            var (state, reason) = NvidiaSmiCsv.ClassifyFailure(exit ?? -1, gpus + "\n" + (Str(smi, "gpusErr", 4000) ?? ""));
            return new(state, GpuSources.NvidiaSmi, reason, takenAt, null, null, [], notes);
        }
        var table = NvidiaSmiCsv.ParseGpus(gpus);
        notes.AddRange(table.Notes);
        if (table.Devices.Count == 0)
        {
            return new(GpuStates.NoGpu, GpuSources.NvidiaSmi, "nvidia-smi on the runtime found no NVIDIA GPU", takenAt, table.DriverVersion, null, [], notes);
        }
        IReadOnlyList<GpuDevice> devices = [.. table.Devices.Take(MaxDevices)];
        if (Int(smi, "appsExit", int.MinValue, int.MaxValue) == 0 && Str(smi, "apps", MaxLineChars) is { } apps)
        {
            var byGpu = NvidiaSmiCsv.ParseApps(apps).ToLookup(a => a.GpuUuid, StringComparer.OrdinalIgnoreCase);
            devices = [.. devices.Select(d => d with
            {
                Processes = [.. byGpu[d.Uuid ?? ""].Take(MaxProcesses).Select(a => new GpuProcess(a.Pid, a.UsedMemoryBytes, null, null))],
            })];
        }
        else
        {
            notes.Add("processes: nvidia-smi --query-compute-apps failed on the runtime");
        }
        return new(GpuStates.Ok, GpuSources.NvidiaSmi, null, takenAt, table.DriverVersion, null, devices, notes);
    }

    private static GpuSnapshot Error(DateTimeOffset takenAt, string reason) => new(GpuStates.Error, GpuSources.None, reason, takenAt, null, null, [], []);

    private static JsonElement? Object(JsonElement e, string name)
        => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Object ? v : null;

    private static string? Str(JsonElement e, string name, int max = MaxString)
    {
        if (!e.TryGetProperty(name, out var v) || v.ValueKind != JsonValueKind.String)
        {
            return null;
        }
        var s = v.GetString()!;
        s = new string([.. s.Where(ch => !char.IsControl(ch) || ch is '\n' or '\t')]);
        return s.Length > max ? s[..max] : s;
    }

    private static int? Int(JsonElement e, string name, int min, int max)
        => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var i) && i >= min && i <= max ? (int)i : null;

    private static ulong? ULong(JsonElement e, string name)
        => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetUInt64(out var u) ? u : null;

    private static List<string> Strings(JsonElement e, string name, int max)
    {
        var list = new List<string>();
        if (e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array)
        {
            foreach (var s in v.EnumerateArray())
            {
                if (list.Count == max)
                {
                    break;
                }
                if (s.ValueKind == JsonValueKind.String)
                {
                    var text = s.GetString()!;
                    list.Add(text.Length > MaxString ? text[..MaxString] : text);
                }
            }
        }
        return list;
    }
}
