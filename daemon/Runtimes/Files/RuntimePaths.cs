namespace Colab.Daemon.Runtimes.Files;

/// <summary>
/// Checks of the paths a file transfer names. A runtime path is relative to the server's root,
/// with <c>/</c> between segments; absolute paths, <c>..</c> and <c>.</c> segments, backslashes and
/// control characters are refused, so a transfer never reaches outside what the server serves
/// or writes outside the local folder the user chose.
/// </summary>
public static class RuntimePaths
{
    /// <summary>The path's segments ("" or "/"-only means the root: no segments when <paramref name="allowRoot"/>).</summary>
    /// <exception cref="ArgumentException">With a message that says what is wrong.</exception>
    public static IReadOnlyList<string> Split(string path, bool allowRoot = false)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Any(IsForbiddenChar))
        {
            throw new ArgumentException($"the runtime path '{Show(path)}' contains control characters");
        }
        if (path.Contains('\\'))
        {
            throw new ArgumentException($"the runtime path '{Show(path)}' contains a backslash; runtime paths use '/'");
        }
        if (path.StartsWith('/') || path.StartsWith('~') || (path.Length >= 2 && path[1] == ':' && char.IsAsciiLetter(path[0])))
        {
            throw new ArgumentException($"the runtime path '{Show(path)}' is absolute; give a path relative to the runtime's root (e.g. data/train.csv)");
        }
        var trimmed = path.TrimEnd('/');
        if (trimmed.Length == 0)
        {
            return allowRoot ? [] : throw new ArgumentException("the runtime path is empty; name a file or folder");
        }
        var segments = trimmed.Split('/');
        foreach (var segment in segments)
        {
            CheckSegment(segment, path);
        }
        return segments;
    }

    /// <summary>One file or folder name as the server listed it: no separators, no <c>..</c>.</summary>
    public static string CheckName(string name)
    {
        CheckSegment(name, name);
        if (name.Any(IsForbiddenChar))
        {
            throw new ArgumentException($"the runtime listed a name with control characters ('{Show(name)}'); it was not copied");
        }
        return name;
    }

    /// <summary>The runtime path joined again (segments already checked).</summary>
    public static string Join(IEnumerable<string> segments) => string.Join('/', segments);

    /// <summary>The path under <c>api/contents/</c> or <c>files/</c>, each segment escaped.</summary>
    public static string Escape(IEnumerable<string> segments) => string.Join('/', segments.Select(Uri.EscapeDataString));

    /// <summary>A local path must be absolute and free of control characters.</summary>
    public static string CheckLocal(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Length == 0 || path.Any(IsForbiddenChar))
        {
            throw new ArgumentException($"the local path '{Show(path)}' is empty or contains control characters");
        }
        if (!Path.IsPathFullyQualified(path))
        {
            throw new ArgumentException($"the local path '{Show(path)}' is not absolute");
        }
        return Path.GetFullPath(path);
    }

    private static void CheckSegment(string segment, string path)
    {
        if (segment.Length == 0)
        {
            throw new ArgumentException($"the runtime path '{Show(path)}' has an empty segment ('//')");
        }
        if (segment is "." or "..")
        {
            throw new ArgumentException($"the runtime path '{Show(path)}' contains '{segment}'; name the file directly");
        }
        if (segment.Contains('/') || segment.Contains('\\'))
        {
            throw new ArgumentException($"'{Show(segment)}' is not a single file name");
        }
    }

    private static bool IsForbiddenChar(char c) => char.IsControl(c) || c is '\u2028' or '\u2029';

    private static string Show(string s)
    {
        var clean = new string([.. s.Take(120).Select(c => IsForbiddenChar(c) ? '?' : c)]);
        return s.Length > 120 ? clean + "…" : clean;
    }
}
