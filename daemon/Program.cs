using Colab.Daemon.Cli;
using Colab.Daemon.Hosting;

namespace Colab.Daemon;

public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        StartupTrace.Mark("main");
        if (args.Length > 0 && args[0] == "daemon" && !args.Contains("--help") && !args.Contains("-h"))
        {
            // What the editor starts, and start-up time counts (issue 8): stdin and stdout as plain
            // streams over the inherited descriptors, without System.Console's set-up (encodings,
            // terminal and signal handling), and the first answer written before any of that is needed.
            // stdout belongs to the protocol (architecture invariant 4): Console.Out points at stderr
            // before anything — a library, a stray Console.WriteLine — can write a byte to it.
            Console.SetOut(new StderrWriter());
            var (input, output) = RawStdio.Open();
            StartupTrace.Mark("stdio");
            var rest = args.Skip(1).Where(a => a != "--stdio" && !a.StartsWith("--clientProcessId", StringComparison.Ordinal)).ToArray();
            return await DaemonHost.RunDaemonAsync(rest, input, output).ConfigureAwait(false);
        }

        // The command line: the real stdout for people and scripts, and Console.Out at stderr as above.
        var protocolOut = Console.OpenStandardOutput();
        var cliOut = Console.Out;
        Console.SetOut(Console.Error);
        return await CommandLine.RunAsync(args, protocolOut, cliOut).ConfigureAwait(false);
    }
}
