using System.Diagnostics;
using System.IO.Pipes;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
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

    /// <summary>Runs the probe script with <paramref name="path"/>: its version and which modules it has, or why it cannot be used.</summary>
    /// <remarks>
    /// The interpreter's stdout and stderr are read with plain blocking reads on two short-lived threads of
    /// our own (<see cref="ProbeRun"/>), then its exit is waited for on the first: no asynchronous pipe reads
    /// (which start the runtime's socket engine thread for the life of the process) and no thread-pool wait
    /// (issue 8, idle memory: this probe runs at every start). Each stream keeps at most
    /// <see cref="MaxOutputChars"/> characters (stdout its start, stderr its end, where the error is) and drains the rest. After 20 s, or on cancellation, the
    /// interpreter (and whatever it started) is killed and the probe ends with <see cref="OperationCanceledException"/>.
    /// </remarks>
    public static async Task<PythonProbe> ProbeAsync(string path, CancellationToken cancellationToken)
    {
        var empty = new Dictionary<string, bool>();
        if (!File.Exists(path))
        {
            return new PythonProbe(path, null, empty, "not found");
        }
        var start = new ProcessStartInfo(path)
        {
            // stdin too: the interpreter gets an empty one, not the daemon's own (the protocol's input),
            // and the process is started without the terminal set-up a child sharing ours needs.
            RedirectStandardInput = true,
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
            process.StandardInput.Close();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(20));
            var run = ProbeRun.Start(process);
            try
            {
                await run.Completion.WaitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw;
            }
            if (process.ExitCode != 0)
            {
                return new PythonProbe(path, null, empty, $"exited with code {process.ExitCode}: {Last(run.Stderr.Trim())}");
            }
            using var doc = JsonDocument.Parse(run.Stdout);
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

    /// <summary>The most characters of the interpreter's stdout, and of its stderr, that a probe keeps (the rest is read and dropped).</summary>
    public const int MaxOutputChars = 1 << 20;

    /// <summary>One probe's blocking reads: stderr on one thread, stdout and then the exit on another.</summary>
    private sealed class ProbeRun
    {
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private ProbeRun()
        {
        }

        public Task Completion => _done.Task;

        public string Stdout { get; private set; } = "";

        public string Stderr { get; private set; } = "";

        public static ProbeRun Start(Process process)
        {
            var run = new ProbeRun();
            var stderr = new Thread(() => run.Stderr = ReadBounded(process.StandardError, keepEnd: true), 256 * 1024) { IsBackground = true, Name = "colab probe err" };
            var stdout = new Thread(() =>
            {
                try
                {
                    run.Stdout = ReadBounded(process.StandardOutput, keepEnd: false);
                    stderr.Join();
                    process.WaitForExit();
                    run._done.TrySetResult();
                }
                catch (Exception e)
                {
                    run._done.TrySetException(e);
                }
            }, 256 * 1024) { IsBackground = true, Name = "colab probe" };
            stderr.Start();
            stdout.Start();
            return run;
        }

        /// <summary>Reads to the end; keeps the first <see cref="MaxOutputChars"/> characters, or with <paramref name="keepEnd"/> the last ones (an error's last line).</summary>
        /// <remarks>
        /// On Unix the pipe is read with read(2) on its descriptor: <see cref="PipeStream"/>'s own reads go through a
        /// socket over the descriptor, which starts the runtime's socket engine thread for the rest of the process.
        /// The handle is kept open (<see cref="SafeHandle.DangerousAddRef"/>) while it is read, so that disposing the
        /// process (a timeout) cannot close the descriptor, and let it be reused, under the read.
        /// </remarks>
        private static string ReadBounded(StreamReader reader, bool keepEnd)
        {
            if (OperatingSystem.IsWindows() || reader.BaseStream is not PipeStream { SafePipeHandle: { } handle })
            {
                return Drain(reader, keepEnd);
            }
            var added = false;
            try
            {
                handle.DangerousAddRef(ref added);
                using var raw = new FileStream(new SafeFileHandle(handle.DangerousGetHandle(), ownsHandle: false), FileAccess.Read, bufferSize: 0);
                using var text = new StreamReader(raw, reader.CurrentEncoding, detectEncodingFromByteOrderMarks: true);
                return Drain(text, keepEnd);
            }
            catch (ObjectDisposedException)
            {
                return "";
            }
            finally
            {
                if (added)
                {
                    handle.DangerousRelease();
                }
            }
        }

        private static string Drain(StreamReader reader, bool keepEnd)
        {
            try
            {
                var kept = new System.Text.StringBuilder();
                var buffer = new char[4096];
                int n;
                while ((n = reader.Read(buffer, 0, buffer.Length)) > 0)
                {
                    if (keepEnd)
                    {
                        kept.Append(buffer, 0, n);
                        if (kept.Length > 2 * MaxOutputChars)
                        {
                            kept.Remove(0, kept.Length - MaxOutputChars);
                        }
                    }
                    else if (kept.Length < MaxOutputChars)
                    {
                        kept.Append(buffer, 0, Math.Min(n, MaxOutputChars - kept.Length));
                    }
                }
                if (kept.Length > MaxOutputChars)
                {
                    kept.Remove(0, kept.Length - MaxOutputChars);
                }
                return kept.ToString();
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                // the interpreter was killed (timeout, cancellation) and its pipe closed under us
                return "";
            }
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
