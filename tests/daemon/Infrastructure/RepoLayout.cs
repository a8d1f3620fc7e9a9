using System.Runtime.InteropServices;

namespace Colab.Daemon.Tests.Infrastructure;

/// <summary>Where the repository and the built daemon are, seen from the test assembly.</summary>
internal static class RepoLayout
{
    private static readonly Lazy<string> s_root = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ColabDaemon.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException($"No ColabDaemon.sln above {AppContext.BaseDirectory}.");
    });

    public static string Root => s_root.Value;

    public static string InRepo(params string[] parts) => Path.Combine([Root, .. parts]);

    /// <summary>The configuration these tests were built in (Release or Debug), read from the output path.</summary>
    public static string Configuration
        => new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent?.Name ?? "Release";

    /// <summary>
    /// The built daemon: <c>daemon/bin/&lt;configuration&gt;/net10.0/colab</c> (the apphost),
    /// built with this test project through its project reference.
    /// </summary>
    public static string DaemonDirectory
    {
        get
        {
            foreach (var c in new[] { Configuration, "Release", "Debug" }.Distinct())
            {
                var dir = Path.Combine(Root, "daemon", "bin", c, "net10.0");
                if (System.IO.File.Exists(Path.Combine(dir, "colab.dll")))
                {
                    return dir;
                }
            }
            throw new InvalidOperationException("The daemon is not built: run `dotnet build ColabDaemon.sln -c Release` first.");
        }
    }

    /// <summary>A start info for the built daemon with the given arguments: the apphost where there is one, else <c>dotnet colab.dll</c>.</summary>
    public static System.Diagnostics.ProcessStartInfo DaemonStartInfo(params string[] args)
    {
        var dir = DaemonDirectory;
        var apphost = Path.Combine(dir, OperatingSystem.IsWindows() ? "colab.exe" : "colab");
        System.Diagnostics.ProcessStartInfo start;
        if (System.IO.File.Exists(apphost))
        {
            start = new System.Diagnostics.ProcessStartInfo(apphost);
        }
        else
        {
            start = new System.Diagnostics.ProcessStartInfo("dotnet");
            start.ArgumentList.Add(Path.Combine(dir, "colab.dll"));
        }
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        start.UseShellExecute = false;
        start.RedirectStandardInput = true;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        // The apphost finds the runtime the tests run on, wherever it is installed.
        start.Environment["DOTNET_ROOT"] = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        // Nothing from the developer's environment changes what the daemon probes.
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("COLAB_", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(key);
        }
        return start;
    }

    /// <summary>
    /// Runs the built <c>colab</c> with the given arguments (stdin closed) and returns its exit
    /// code, stdout and stderr; the environment has no <c>COLAB_</c>/<c>FAKE_NVML_</c> variable but those given.
    /// </summary>
    public static async Task<(int Code, string Stdout, string Stderr)> RunColabAsync(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var start = DaemonStartInfo(args);
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("FAKE_NVML_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }
        using var process = System.Diagnostics.Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().Within($"colab {string.Join(' ', args)}");
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        return (process.ExitCode, await stdout, await stderr);
    }
}
