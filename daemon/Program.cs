using Colab.Daemon.Cli;

namespace Colab.Daemon;

public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        Hosting.StartupTrace.Mark("main");
        // stdout belongs to the protocol (architecture invariant 4): take the real stream
        // for the JSON-RPC session, and point Console.Out at stderr before anything —
        // a library, a stray Console.WriteLine — can write a byte to it.
        var protocolOut = Console.OpenStandardOutput();
        var cliOut = Console.Out;
        Console.SetOut(Console.Error);
        return await CommandLine.RunAsync(args, protocolOut, cliOut).ConfigureAwait(false);
    }
}
