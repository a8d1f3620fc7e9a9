using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Configuration;

namespace Colab.Daemon.Python;

/// <summary>What one Python interpreter on this host can do.</summary>
public sealed record PythonProbe(
    string Path,
    string? Version,
    IReadOnlyDictionary<string, bool> Modules,
    string? Error)
{
    public bool Usable => Error is null;

    /// <summary>The Debian package names of the modules this interpreter lacks.</summary>
    public IEnumerable<string> Missing(params string[] modules)
        => modules.Where(m => !Modules.GetValueOrDefault(m)).Select(PythonLocator.PackageFor);
}

/// <summary>
/// Finds the Python that runs local runtimes and training workers: the configured one
/// (<c>Colab:Python</c> / <c>COLAB_PYTHON</c>), then Debian's <c>/usr/bin/python3</c>,
/// then <c>python3</c> on PATH — the first that has the modules we need wins, and when
/// none has them the answer names exactly what is missing.
/// </summary>
public sealed class PythonLocator(IConfiguration configuration)
{
    public static readonly string[] ProbedModules = ["jupyter_server", "ipykernel", "torch", "numpy"];
    public static readonly string[] RuntimeModules = ["jupyter_server", "ipykernel"];

    private const string ProbeScript =
        "import json,sys,importlib.util as u;" +
        "print(json.dumps({'version':sys.version.split()[0],'modules':{m:u.find_spec(m) is not None for m in sys.argv[1:]}}))";

    public IEnumerable<string> Candidates()
    {
        var configured = configuration["Python"] ?? configuration["Colab:Python"];
        if (!string.IsNullOrWhiteSpace(configured))
        {
            yield return configured;
        }
        yield return "/usr/bin/python3";
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            foreach (var name in OperatingSystem.IsWindows() ? new[] { "python.exe", "python3.exe" } : ["python3", "python"])
            {
                var path = System.IO.Path.Combine(dir, name);
                if (File.Exists(path))
                {
                    yield return path;
                }
            }
        }
    }

    /// <summary>Probes candidates in order and returns the first usable one that has the runtime modules, else the best seen.</summary>
    public async Task<PythonProbe?> LocateAsync(CancellationToken cancellationToken)
    {
        PythonProbe? best = null;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var candidate in Candidates())
        {
            var full = System.IO.Path.GetFullPath(candidate);
            if (!seen.Add(ResolveLink(full)))
            {
                continue;
            }
            var probe = await ProbeAsync(full, cancellationToken).ConfigureAwait(false);
            if (probe.Usable && !probe.Missing(RuntimeModules).Any())
            {
                return probe;
            }
            if (best is null || (!best.Usable && probe.Usable))
            {
                best = probe;
            }
        }
        return best;
    }

    public static async Task<PythonProbe> ProbeAsync(string path, CancellationToken cancellationToken)
    {
        var empty = new Dictionary<string, bool>();
        if (!File.Exists(path))
        {
            return new PythonProbe(path, null, empty, "not found");
        }
        var start = new ProcessStartInfo(path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(ProbeScript);
        foreach (var m in ProbedModules)
        {
            start.ArgumentList.Add(m);
        }
        try
        {
            using var process = Process.Start(start)!;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(20));
            var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
            try
            {
                await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw;
            }
            if (process.ExitCode != 0)
            {
                var err = (await stderr.ConfigureAwait(false)).Trim();
                return new PythonProbe(path, null, empty, $"exited with code {process.ExitCode}: {Last(err)}");
            }
            using var doc = JsonDocument.Parse(await stdout.ConfigureAwait(false));
            var modules = new Dictionary<string, bool>();
            foreach (var m in doc.RootElement.GetProperty("modules").EnumerateObject())
            {
                modules[m.Name] = m.Value.GetBoolean();
            }
            return new PythonProbe(path, doc.RootElement.GetProperty("version").GetString(), modules, null);
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return new PythonProbe(path, null, empty, ex.Message);
        }
    }

    public static string PackageFor(string module) => module switch
    {
        "jupyter_server" => "jupyter-server",
        "ipykernel" => "python3-ipykernel",
        "torch" => "python3-torch",
        "numpy" => "python3-numpy",
        _ => module,
    };

    private static string ResolveLink(string path)
    {
        try
        {
            return new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path;
        }
        catch (IOException)
        {
            return path;
        }
    }

    private static string Last(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return lines.Length == 0 ? "" : lines[^1].Trim();
    }
}
