using System.Globalization;
using System.Text;

namespace Colab.Daemon.Gpu;

/// <summary>The human table of <c>colab gpu</c>: nvidia-smi's essentials, "-" for unknown.</summary>
public static class GpuText
{
    public static string Format(GpuSnapshot s)
    {
        var b = new StringBuilder();
        var versions = new List<string>();
        if (s.DriverVersion is not null)
        {
            versions.Add($"driver {s.DriverVersion}");
        }
        if (s.CudaDriverVersion is not null)
        {
            versions.Add($"CUDA {s.CudaDriverVersion}");
        }
        b.Append("NVIDIA GPUs");
        if (versions.Count > 0)
        {
            b.Append(": ").Append(string.Join(", ", versions));
        }
        b.Append(" (").Append(s.Source == GpuSources.None ? "no source" : $"via {s.Source}").Append(')').AppendLine();
        if (s.State != GpuStates.Ok)
        {
            b.Append(s.State).Append(": ").AppendLine(s.Reason ?? "(no reason given)");
        }

        if (s.Devices.Count > 0)
        {
            var rows = new List<string[]> { new[] { "GPU", "Name", "Util", "Mem util", "Memory used / total", "Temp", "Power draw / limit" } };
            foreach (var d in s.Devices)
            {
                rows.Add([
                    I(d.Index), d.Name ?? "-", Percent(d.UtilizationGpuPercent), Percent(d.UtilizationMemoryPercent),
                    Memory(d.MemoryUsedBytes, d.MemoryTotalBytes), d.TemperatureCelsius is { } t ? $"{I(t)}C" : "-",
                    $"{Watts(d.PowerDrawWatts)} / {Watts(d.PowerLimitWatts)}",
                ]);
                foreach (var m in d.MigDevices)
                {
                    rows.Add([$"{I(d.Index)}/{I(m.Index)}", m.Name ?? "-", Percent(m.UtilizationGpuPercent), Percent(m.UtilizationMemoryPercent),
                        Memory(m.MemoryUsedBytes, m.MemoryTotalBytes), "", ""]);
                }
            }
            Table(b, rows, rightAligned: [false, false, true, true, true, true, true]);

            var procs = new List<string[]> { new[] { "GPU", "PID", "User", "Name", "GPU memory" } };
            foreach (var d in s.Devices)
            {
                foreach (var p in d.Processes ?? [])
                {
                    procs.Add([I(d.Index), I(p.Pid), p.User ?? "-", p.Name ?? "-", Mib(p.UsedMemoryBytes)]);
                }
                foreach (var m in d.MigDevices)
                {
                    foreach (var p in m.Processes ?? [])
                    {
                        procs.Add([$"{I(d.Index)}/{I(m.Index)}", I(p.Pid), p.User ?? "-", p.Name ?? "-", Mib(p.UsedMemoryBytes)]);
                    }
                }
            }
            b.AppendLine();
            if (procs.Count > 1)
            {
                b.AppendLine("Processes:");
                Table(b, procs, rightAligned: [false, true, false, false, true]);
            }
            else
            {
                b.AppendLine("No compute processes.");
            }
        }

        var notes = new List<string>(s.Notes);
        foreach (var d in s.Devices)
        {
            notes.AddRange(d.Notes.Select(n => $"GPU {I(d.Index)}: {n}"));
            foreach (var m in d.MigDevices)
            {
                notes.AddRange(m.Notes.Select(n => $"GPU {I(d.Index)} MIG {I(m.Index)}: {n}"));
            }
        }
        if (notes.Count > 0)
        {
            b.AppendLine().AppendLine("Notes:");
            foreach (var n in notes)
            {
                b.Append("  ").AppendLine(n);
            }
        }
        return b.ToString();
    }

    private static void Table(StringBuilder b, List<string[]> rows, bool[] rightAligned)
    {
        var widths = new int[rows[0].Length];
        foreach (var row in rows)
        {
            for (var i = 0; i < row.Length; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }
        foreach (var row in rows)
        {
            var line = new StringBuilder();
            for (var i = 0; i < row.Length; i++)
            {
                if (i > 0)
                {
                    line.Append("  ");
                }
                line.Append(rightAligned[i] ? row[i].PadLeft(widths[i]) : row[i].PadRight(widths[i]));
            }
            b.AppendLine(line.ToString().TrimEnd());
        }
    }

    private static string I(int i) => i.ToString(CultureInfo.InvariantCulture);

    private static string Percent(int? p) => p is { } v ? $"{I(v)}%" : "-";

    private static string Watts(double? w) => w is { } v ? $"{v.ToString("0", CultureInfo.InvariantCulture)}W" : "-";

    private static string Mib(ulong? bytes) => GpuCheck.Size(bytes);

    private static string Memory(ulong? used, ulong? total) => $"{Mib(used)} / {Mib(total)}";
}
