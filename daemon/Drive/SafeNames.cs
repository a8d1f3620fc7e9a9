using System.Text;

namespace Colab.Daemon.Drive;

/// <summary>
/// Turns a Drive name (which may hold '/', '..', control characters, or repeat a sibling's
/// name) into one safe local file name inside the target folder.
/// </summary>
public static class SafeNames
{
    public static string Sanitize(string name)
    {
        var sb = new StringBuilder(name.Length);
        foreach (var c in name)
        {
            sb.Append(char.IsControl(c) || c is '/' or '\\' or '\0' ? '_' : c);
        }
        var s = sb.ToString().Trim();
        if (s.Length == 0 || s.All(c => c == '.'))
        {
            s = "_" + s;
        }
        if (Encoding.UTF8.GetByteCount(s) > 200)
        {
            var ext = Path.GetExtension(s);
            if (ext.Length > 20)
            {
                ext = "";
            }
            while (Encoding.UTF8.GetByteCount(s) + Encoding.UTF8.GetByteCount(ext) > 200)
            {
                s = s[..^1];
            }
            s = s.EndsWith(ext, StringComparison.Ordinal) ? s : s + ext;
        }
        return s;
    }

    /// <summary>A safe name in <paramref name="folder"/> that does not overwrite an existing entry: "a.txt", then "a (1).txt", …</summary>
    public static string Unique(string folder, string name, ISet<string>? taken = null)
    {
        var safe = Sanitize(name);
        var stem = Path.GetFileNameWithoutExtension(safe);
        var ext = Path.GetExtension(safe);
        var candidate = safe;
        for (var i = 1; Exists(folder, candidate) || (taken?.Contains(candidate) ?? false); i++)
        {
            candidate = $"{stem} ({i}){ext}";
        }
        taken?.Add(candidate);
        return candidate;
    }

    private static bool Exists(string folder, string name)
    {
        var p = Path.Combine(folder, name);
        return File.Exists(p) || Directory.Exists(p);
    }
}
