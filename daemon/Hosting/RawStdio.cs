using Microsoft.Win32.SafeHandles;

namespace Colab.Daemon.Hosting;

/// <summary>
/// The daemon's stdin and stdout as plain streams over the inherited descriptors 0 and 1 (issue 8,
/// cold start): the console streams bring System.Console's set-up with them, and their writes go through
/// its cursor bookkeeping under <see cref="Console.Out"/>'s lock; the protocol needs none of that. On
/// Windows the console streams are kept.
/// </summary>
internal static class RawStdio
{
    public static (Stream Input, Stream Output) Open()
    {
        if (OperatingSystem.IsWindows())
        {
            return (Console.OpenStandardInput(), Console.OpenStandardOutput());
        }
        try
        {
            // bufferSize 0: every Read and Write is one read(2) or write(2); the descriptors stay open
            // (they are the process's own, closed when it exits).
            var input = new FileStream(new SafeFileHandle(0, ownsHandle: false), FileAccess.Read, bufferSize: 0);
            var output = new FileStream(new SafeFileHandle(1, ownsHandle: false), FileAccess.Write, bufferSize: 0);
            return (input, output);
        }
        catch (Exception ex) when (ex is IOException or ArgumentException or UnauthorizedAccessException or NotSupportedException)
        {
            // A descriptor that is closed or not a stream: what System.Console makes of it, as before.
            return (Console.OpenStandardInput(), Console.OpenStandardOutput());
        }
    }
}
