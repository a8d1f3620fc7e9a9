using System.Diagnostics;
using Colab.Daemon.Tests.Infrastructure;

namespace Colab.Daemon.Tests.Training;

/// <summary>Temp directories, Debian's Python with torch, tmpfs mounts, and the built colab for the training tests.</summary>
internal static class TrainingTestSupport
{
    public const string PythonPath = "/usr/bin/python3";

    public static string HelperDirectory => RepoLayout.InRepo("daemon", "Training", "python");

    public static string ExampleScript => Path.Combine(HelperDirectory, "examples", "train_digits.py");

    public static string TempDirectory(string name)
    {
        var dir = Path.Combine(Path.GetTempPath(), "colab-training-tests", $"{name}-{Guid.NewGuid():N}"[..(name.Length + 9)]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Runs Debian's python with the helper module on PYTHONPATH; returns exit code, stdout, stderr.</summary>
    public static async Task<(int Code, string Stdout, string Stderr)> RunPythonAsync(string[] args, IReadOnlyDictionary<string, string>? env = null, TimeSpan? timeout = null)
    {
        var start = new ProcessStartInfo(PythonPath) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("COLAB_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }
        start.Environment["PYTHONPATH"] = HelperDirectory;
        foreach (var (k, v) in env ?? new Dictionary<string, string>())
        {
            start.Environment[k] = v;
        }
        using var p = Process.Start(start)!;
        p.StandardInput.Close();
        var so = p.StandardOutput.ReadToEndAsync();
        var se = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(2));
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"python {string.Join(' ', args)} did not finish: {await se}");
        }
        return (p.ExitCode, await so, await se);
    }

    /// <summary>The built colab with the jobs root pointed at <paramref name="jobsRoot"/>.</summary>
    public static Task<(int Code, string Stdout, string Stderr)> ColabAsync(string jobsRoot, params string[] args)
        => RepoLayout.RunColabAsync(new Dictionary<string, string> { ["COLAB_TRAINING_JOBS"] = jobsRoot, ["COLAB_PYTHON"] = PythonPath }, args);

    public static async Task<T> PollAsync<T>(Func<T?> probe, string what, TimeSpan? timeout = null) where T : class
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(90));
        while (DateTime.UtcNow < deadline)
        {
            if (probe() is { } v)
            {
                return v;
            }
            await Task.Delay(20);
        }
        throw new TimeoutException($"timed out waiting for {what}");
    }

    public static bool IsRoot => Run("id", "-u").Output.Trim() == "0";

    /// <summary>Mounts a tmpfs of <paramref name="size"/> (e.g. "256k") at a new directory; null when this process may not mount.</summary>
    public static string? MountTmpfs(string size, bool readOnly = false)
    {
        if (!IsRoot)
        {
            return null;
        }
        var dir = TempDirectory("tmpfs");
        var (code, _) = Run("mount", "-t", "tmpfs", "-o", $"size={size}{(readOnly ? ",ro" : "")}", "tmpfs", dir);
        return code == 0 ? dir : null;
    }

    public static void Unmount(string dir) => Run("umount", "-l", dir);

    public static (int Code, string Output) Run(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        using var p = Process.Start(start)!;
        var output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output);
    }
}

/// <summary>A write stream that fails with ENOSPC's IOException after <c>limit</c> bytes (for hosts where tmpfs cannot be mounted).</summary>
internal sealed class WriteLimitStream(Stream inner, long limit) : Stream
{
    private long _written;
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => _written;
    public override long Position { get => _written; set => throw new NotSupportedException(); }
    public override void Flush() => inner.Flush();
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count)
    {
        if (_written + count > limit)
        {
            throw new IOException("No space left on device");
        }
        inner.Write(buffer, offset, count);
        _written += count;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Write(buffer.ToArray(), 0, buffer.Length);
        return ValueTask.CompletedTask;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        Write(buffer, offset, count);
        return Task.CompletedTask;
    }
}
