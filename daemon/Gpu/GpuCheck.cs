using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Humanizer.Bytes;

namespace Colab.Daemon.Gpu;

/// <summary>The answer of a GPU check: the report text and whether the GPUs match the requirement.</summary>
/// <param name="Source"><c>local</c> or the runtime's id.</param>
/// <param name="Text">The report, nvidia-smi style, for a document or a notebook's first cell.</param>
/// <param name="Matches">Null when nothing is required; else whether some GPU matches one of <paramref name="Required"/>.</param>
/// <param name="Message">One line for a notification ("… has NVIDIA T4, but A100 or H100 is required").</param>
/// <param name="Gpus">The GPUs' names, by index.</param>
public sealed record GpuCheckResult(string Source, string Text, bool? Matches, string Message, IReadOnlyList<string> Required, IReadOnlyList<string> Gpus, GpuSnapshot Snapshot);

/// <summary>
/// "Did I get the GPU I asked for?": matches GPU names against the required list and writes the
/// report Colab users paste at the top of their notebooks. Sizes through Humanizer.
/// </summary>
public static partial class GpuCheck
{
    public const int MaxRequired = 32;
    public const int MaxRequiredLength = 64;

    /// <summary>
    /// True when <paramref name="gpuName"/> names the required model: a case-insensitive match
    /// that is not part of a longer model number ("A100" matches "NVIDIA A100-SXM4-40GB";
    /// "L4" does not match "NVIDIA L40S", "T4" not "RTX 4090").
    /// </summary>
    public static bool NameMatches(string gpuName, string required)
    {
        var wanted = required.Trim();
        if (wanted.Length == 0)
        {
            return false;
        }
        var pattern = "(?<![A-Za-z0-9])" + Regex.Escape(wanted) + "(?![0-9])";
        return Regex.IsMatch(gpuName, pattern, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
    }

    /// <summary>Checks the required list (a boundary: at most 32 entries of 64 characters, no control characters).</summary>
    public static IReadOnlyList<string> ValidateRequired(IReadOnlyList<string>? required)
    {
        if (required is null)
        {
            return [];
        }
        if (required.Count > MaxRequired)
        {
            throw new ArgumentException($"at most {MaxRequired} required GPU names");
        }
        var list = new List<string>();
        foreach (var r in required)
        {
            if (r is null || r.Trim().Length == 0 || r.Length > MaxRequiredLength || r.Any(char.IsControl))
            {
                throw new ArgumentException($"a required GPU name must be 1 to {MaxRequiredLength} printable characters (e.g. \"A100\")");
            }
            list.Add(r.Trim());
        }
        return list;
    }

    public static GpuCheckResult Check(string source, string title, GpuSnapshot s, IReadOnlyList<string> required)
    {
        var names = s.Devices.Select(d => d.Name ?? "unknown GPU").ToList();
        bool? matches = required.Count == 0 ? null : names.Any(n => required.Any(r => NameMatches(n, r)));
        var wanted = string.Join(" or ", required);
        var have = names.Count == 0
            ? "no GPU" + (s.Reason is null ? "" : $" ({s.Reason})")
            : string.Join(", ", names.GroupBy(n => n).Select(g => g.Count() > 1 ? $"{g.Count()}× {g.Key}" : g.Key));
        var message = matches switch
        {
            null => $"{title} has {have}.",
            true => $"{title} has {have}, as required ({wanted}).",
            false => $"{title} has {have}, but {wanted} is required.",
        };
        return new GpuCheckResult(source, Report(title, s, required, matches), matches, message, required, names, s);
    }

    /// <summary>The report: a header, an nvidia-smi-like table of GPUs and one of processes, and the requirement's verdict.</summary>
    public static string Report(string title, GpuSnapshot s, IReadOnlyList<string> required, bool? matches)
    {
        var b = new StringBuilder();
        b.Append("GPU check: ").Append(title).Append(" — ").AppendLine(s.TakenAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture));
        var rows = new List<string[]>();
        var head = $"Driver Version: {s.DriverVersion ?? "-"}    CUDA Version: {s.CudaDriverVersion ?? "-"}    Source: {s.Source}";
        if (s.Devices.Count == 0)
        {
            b.AppendLine(head);
            b.Append("No GPU: ").AppendLine(s.Reason ?? s.State);
        }
        else
        {
            rows.Add(["GPU", "Name", "Temp", "Power draw / limit", "Memory used / total", "GPU-Util", "Mem-Util"]);
            foreach (var d in s.Devices)
            {
                rows.Add([I(d.Index), d.Name ?? "-", d.TemperatureCelsius is { } t ? $"{I(t)}C" : "-", $"{W(d.PowerDrawWatts)} / {W(d.PowerLimitWatts)}",
                    $"{Size(d.MemoryUsedBytes)} / {Size(d.MemoryTotalBytes)}", P(d.UtilizationGpuPercent), P(d.UtilizationMemoryPercent)]);
                foreach (var m in d.MigDevices)
                {
                    rows.Add([$"{I(d.Index)}/{I(m.Index)}", m.Name ?? "MIG", "", "", $"{Size(m.MemoryUsedBytes)} / {Size(m.MemoryTotalBytes)}", "-", "-"]);
                }
            }
            Boxed(b, head, rows);
            var procs = new List<string[]> { new[] { "GPU", "PID", "User", "Process name", "GPU Memory" } };
            foreach (var d in s.Devices)
            {
                foreach (var p in d.Processes ?? [])
                {
                    procs.Add([I(d.Index), I(p.Pid), p.User ?? "-", p.Name ?? "-", Size(p.UsedMemoryBytes)]);
                }
            }
            b.AppendLine();
            if (procs.Count == 1)
            {
                procs.Add(["", "", "", "No running processes found", ""]);
            }
            Boxed(b, "Processes:", procs);
        }
        b.AppendLine();
        b.Append("Required: ").AppendLine(required.Count == 0 ? "nothing (setting colab.gpu.required is empty)" : string.Join(", ", required));
        b.Append("Match: ").AppendLine(matches switch { null => "-", true => "yes", false => "NO" });
        return b.ToString();
    }

    /// <summary>Memory as people read it (Humanizer's <see cref="ByteSize"/>, binary units): <c>12.4 GB</c>.</summary>
    /// <remarks>
    /// Humanizer's own <c>ToString</c> goes through its localisation registry, whose static
    /// constructor creates the <c>en-US</c> culture and throws under the daemon's invariant
    /// globalization; the largest whole unit and its value are plain arithmetic.
    /// </remarks>
    public static string Size(ulong? bytes)
    {
        if (bytes is not { } v)
        {
            return "-";
        }
        var size = ByteSize.FromBytes(v);
        var symbol = size.Terabytes >= 1 ? ByteSize.TerabyteSymbol
            : size.Gigabytes >= 1 ? ByteSize.GigabyteSymbol
            : size.Megabytes >= 1 ? ByteSize.MegabyteSymbol
            : size.Kilobytes >= 1 ? ByteSize.KilobyteSymbol
            : ByteSize.ByteSymbol;
        return $"{size.LargestWholeNumberValue.ToString("0.#", CultureInfo.InvariantCulture)} {symbol}";
    }

    private static void Boxed(StringBuilder b, string head, List<string[]> rows)
    {
        var widths = new int[rows[0].Length];
        foreach (var row in rows)
        {
            for (var i = 0; i < row.Length; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }
        var inner = widths.Sum() + 3 * widths.Length - 1;
        inner = Math.Max(inner, head.Length + 2);
        var rule = "+" + new string('-', inner) + "+";
        b.AppendLine(rule);
        b.Append("| ").Append(head.PadRight(inner - 2)).AppendLine(" |");
        b.AppendLine(rule.Replace('-', '='));
        for (var r = 0; r < rows.Count; r++)
        {
            var line = new StringBuilder("|");
            for (var i = 0; i < rows[r].Length; i++)
            {
                var left = rows[0][i] is "Name" or "User" or "Process name";
                var cell = left ? rows[r][i].PadRight(widths[i]) : rows[r][i].PadLeft(widths[i]);
                line.Append(' ').Append(cell).Append(" |");
            }
            var text = line.ToString();
            b.AppendLine(text.Length - 1 < inner ? text[..^1].PadRight(inner + 1) + "|" : text);
            if (r == 0)
            {
                b.AppendLine(rule);
            }
        }
        b.AppendLine(rule);
    }

    private static string I(int i) => i.ToString(CultureInfo.InvariantCulture);

    private static string P(int? p) => p is { } v ? $"{I(v)}%" : "-";

    private static string W(double? w) => w is { } v ? $"{v.ToString("0", CultureInfo.InvariantCulture)}W" : "-";
}
