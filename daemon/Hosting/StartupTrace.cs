using System.Diagnostics;

namespace Colab.Daemon.Hosting;

/// <summary>
/// With <c>COLAB_TRACE_STARTUP=1</c>, one stderr line per start-up step:
/// <c>colab-startup &lt;step&gt; &lt;monotonic ns&gt; &lt;RSS KiB&gt;</c> (the clock <c>process.hrtime</c> reads on
/// Linux; the resident set from <c>/proc/self/statm</c>, 0 where there is none), so a benchmark can place
/// each step after its own <c>spawn()</c> and see what each step adds to the idle memory (docs/benchmarks.md,
/// Package).
/// The steps are kept in memory and written by <see cref="Flush"/> once the session is ready, so the
/// trace itself does not set up <see cref="Console.Error"/> on the path it measures.
/// Off, it costs one static bool test per step.
/// </summary>
internal static class StartupTrace
{
    private static readonly bool s_on = Environment.GetEnvironmentVariable("COLAB_TRACE_STARTUP") == "1";
    private static readonly Lock s_gate = new();
    private static readonly List<(string Step, long Ns, long RssKiB)> s_steps = [];

    /// <summary>Whether steps are being traced (<c>COLAB_TRACE_STARTUP=1</c>).</summary>
    public static bool On => s_on;

    public static void Mark(string step)
    {
        if (s_on)
        {
            // Stopwatch ticks are CLOCK_MONOTONIC nanoseconds on Linux.
            var ns = (long)(Stopwatch.GetTimestamp() * (1_000_000_000.0 / Stopwatch.Frequency));
            var rss = ResidentKiB();
            lock (s_gate)
            {
                s_steps.Add((step, ns, rss));
            }
        }
    }

    /// <summary>Writes the steps marked so far to stderr (and forgets them).</summary>
    public static void Flush()
    {
        if (!s_on)
        {
            return;
        }
        (string Step, long Ns, long RssKiB)[] steps;
        lock (s_gate)
        {
            steps = [.. s_steps];
            s_steps.Clear();
        }
        foreach (var (step, ns, rss) in steps)
        {
            Console.Error.WriteLine($"colab-startup {step} {ns} {rss}");
        }
    }

    /// <summary>The resident set in KiB (the second field of <c>/proc/self/statm</c>, in pages); 0 where it cannot be read.</summary>
    private static long ResidentKiB()
    {
        try
        {
            var fields = File.ReadAllText("/proc/self/statm").Split(' ');
            return fields.Length > 1 && long.TryParse(fields[1], System.Globalization.CultureInfo.InvariantCulture, out var pages) ? pages * (Environment.SystemPageSize / 1024) : 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            return 0;
        }
    }
}
