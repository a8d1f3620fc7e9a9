using System.Diagnostics;

namespace Colab.Daemon.Hosting;

/// <summary>
/// With <c>COLAB_TRACE_STARTUP=1</c>, one stderr line per start-up step:
/// <c>colab-startup &lt;step&gt; &lt;monotonic ns&gt;</c> (the clock <c>process.hrtime</c> reads on Linux),
/// so a benchmark can place each step after its own <c>spawn()</c> (docs/benchmarks.md, Package).
/// Off, it costs one static bool test per step.
/// </summary>
internal static class StartupTrace
{
    private static readonly bool s_on = Environment.GetEnvironmentVariable("COLAB_TRACE_STARTUP") == "1";

    public static void Mark(string step)
    {
        if (s_on)
        {
            // Stopwatch ticks are CLOCK_MONOTONIC nanoseconds on Linux.
            var ns = (long)(Stopwatch.GetTimestamp() * (1_000_000_000.0 / Stopwatch.Frequency));
            Console.Error.WriteLine($"colab-startup {step} {ns}");
        }
    }
}
