namespace Colab.Daemon.Tests.Infrastructure;

/// <summary>
/// Fake Python interpreters: small shell scripts that answer the locator's probe the way
/// a real interpreter would (or fail, or hang), so no test depends on the host's Python.
/// </summary>
internal sealed class FakePython : IDisposable
{
    public FakePython()
    {
        Directory = Path.Combine(Path.GetTempPath(), $"colab-fake-python-{Guid.NewGuid():N}");
        System.IO.Directory.CreateDirectory(Directory);
    }

    public string Directory { get; }

    /// <summary>An interpreter that prints the probe's JSON with these modules present.</summary>
    public string WithModules(string name, string version, params string[] present)
    {
        var modules = string.Join(",", new[] { "jupyter_server", "ipykernel", "torch", "numpy" }
            .Select(m => $"\"{m}\":{(present.Contains(m) ? "true" : "false")}"));
        return Script(name, $"echo '{{\"version\":\"{version}\",\"modules\":{{{modules}}}}}'");
    }

    /// <summary>An interpreter with everything a local runtime needs.</summary>
    public string Complete(string name = "python-complete") => WithModules(name, "3.12.1", "jupyter_server", "ipykernel", "numpy");

    /// <summary>A shell script with the given body, executable.</summary>
    public string Script(string name, string body)
    {
        var path = Path.Combine(Directory, name);
        File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        return path;
    }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A probe still running in the background; the temp dir is cleaned later.
        }
    }
}
