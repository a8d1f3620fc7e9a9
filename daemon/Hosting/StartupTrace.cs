using System.Diagnostics;

namespace Colab.Daemon.Hosting;

/// <summary>
/// With <c>COLAB_TRACE_STARTUP=1</c>, one stderr line per start-up step:
/// <c>colab-startup &lt;step&gt; &lt;monotonic ns&gt;</c> (the clock <c>process.hrtime</c> reads on Linux),
/// so a benchmark can place each step after its own <c>spawn()</c> (docs/benchmarks.md, Package).
/// The steps are kept in memory and written by <see cref="Flush"/> once the session is ready, so the
/// trace itself does not set up <see cref="Console.Error"/> on the path it measures.
/// Off, it costs one static bool test per step.
/// </summary>
internal static class StartupTrace
{
    private static readonly bool s_on = Environment.GetEnvironmentVariable("COLAB_TRACE_STARTUP") == "1";
    private static readonly Lock s_gate = new();
    private static readonly List<(string Step, long Ns)> s_steps = [];

    public static void Mark(string step)
    {
        if (s_on)
        {
            // Stopwatch ticks are CLOCK_MONOTONIC nanoseconds on Linux.
            var ns = (long)(Stopwatch.GetTimestamp() * (1_000_000_000.0 / Stopwatch.Frequency));
            lock (s_gate)
            {
                s_steps.Add((step, ns));
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
        (string Step, long Ns)[] steps;
        lock (s_gate)
        {
            steps = [.. s_steps];
            s_steps.Clear();
        }
        foreach (var (step, ns) in steps)
        {
            Console.Error.WriteLine($"colab-startup {step} {ns}");
        }
    }
}
