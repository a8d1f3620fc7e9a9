using System.Diagnostics;

namespace Colab.Daemon.Gpu;

/// <summary>
/// Names a GPU process and its owner from <c>/proc</c> when this host lets us read it (the
/// driver reports host pids, so inside a container most are unknown). Only the short
/// command name is taken, never the command line: arguments can carry credentials.
/// </summary>
internal sealed class ProcessTable
{
    private static readonly TimeSpan PasswdRefresh = TimeSpan.FromMinutes(1);

    private readonly string _procRoot;
    private readonly string _passwd;
    private readonly Lock _gate = new();
    private Dictionary<uint, string> _users = [];
    private DateTime _usersReadAt = DateTime.MinValue;

    public ProcessTable(string procRoot = "/proc", string passwd = "/etc/passwd")
    {
        _procRoot = procRoot;
        _passwd = passwd;
    }

    /// <summary>(name, user) for a pid; either is null when it cannot be read.</summary>
    public (string? Name, string? User) Describe(int pid)
    {
        if (pid <= 0)
        {
            return (null, null);
        }
        if (!OperatingSystem.IsLinux())
        {
            return (OtherName(pid), null);
        }
        var dir = Path.Combine(_procRoot, pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (!Directory.Exists(dir))
        {
            // Not in this pid namespace (a container) or gone: no exceptions thrown every reading.
            return (null, null);
        }
        string? name = null, user = null;
        try
        {
            name = File.ReadAllText(Path.Combine(dir, "comm")).TrimEnd('\n');
            if (name.Length == 0)
            {
                name = null;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        try
        {
            foreach (var line in File.ReadLines(Path.Combine(dir, "status")))
            {
                if (line.StartsWith("Uid:", StringComparison.Ordinal))
                {
                    var fields = line.AsSpan(4).Trim();
                    var end = fields.IndexOfAny(' ', '\t');
                    if (uint.TryParse(end < 0 ? fields : fields[..end], out var uid))
                    {
                        user = UserName(uid);
                    }
                    break;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return (name, user);
    }

    private string UserName(uint uid)
    {
        lock (_gate)
        {
            if (_users.TryGetValue(uid, out var known))
            {
                return known;
            }
            if (DateTime.UtcNow - _usersReadAt > PasswdRefresh)
            {
                _users = ReadPasswd(_passwd);
                _usersReadAt = DateTime.UtcNow;
                if (_users.TryGetValue(uid, out known))
                {
                    return known;
                }
            }
            return uid.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    private static Dictionary<uint, string> ReadPasswd(string path)
    {
        var users = new Dictionary<uint, string>();
        try
        {
            foreach (var line in File.ReadLines(path))
            {
                var parts = line.Split(':');
                if (parts.Length > 2 && uint.TryParse(parts[2], out var uid))
                {
                    users.TryAdd(uid, parts[0]);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return users;
    }

    private static string? OtherName(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return process.ProcessName;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            return null;
        }
    }
}
