using System.Security.Cryptography;
using System.Text.Json;

namespace Colab.Daemon.Training;

/// <summary>What one mirror pass did: checkpoints copied, the newest step the mirror holds, and what went wrong (null: nothing).</summary>
public sealed record MirrorResult(int Copied, long? NewestStep, string? Error);

/// <summary>
/// Copies a job's committed checkpoints to a second, persistent directory (a mounted Drive folder,
/// a network share, another disk), so a run can resume after its own checkpoint directory is gone.
/// Each payload is streamed to a temporary name while hashed, compared with the sha256 the source
/// manifest gives, fsynced, renamed into place and the directory fsynced; the mirror's own manifest
/// (same format) is replaced the same way, and only then are checkpoints beyond the last
/// <c>keep</c> deleted. A failure never touches what the mirror already holds.
/// </summary>
public static class CheckpointMirror
{
    /// <summary>The mirror path of a job as the user gave it: absolute, not the checkpoint directory, not inside it or the job's directory.</summary>
    public static string Validate(string mirror, string workingDirectory, string checkpointDirectory, string jobDirectory)
    {
        if (string.IsNullOrWhiteSpace(mirror) || mirror.Length > 4096 || mirror.Any(char.IsControl))
        {
            throw new TrainingException("Invalid params: mirror is not a directory path");
        }
        var full = Path.GetFullPath(mirror.StartsWith('~') ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), mirror.TrimStart('~', '/')) : mirror, workingDirectory);
        if (full == "/" || Same(full, Environment.GetFolderPath(Environment.SpecialFolder.UserProfile)))
        {
            throw new TrainingException($"Invalid params: the mirror {full} would mix checkpoints into a top-level directory; give a folder of its own");
        }
        foreach (var (other, what) in new[] { (checkpointDirectory, "the checkpoint directory"), (jobDirectory, "the job's directory") })
        {
            var o = Path.GetFullPath(other);
            if (Same(full, o) || Inside(full, o) || Inside(o, full))
            {
                throw new TrainingException($"Invalid params: the mirror {full} overlaps {what} {o}; give a separate directory");
            }
        }
        if (File.Exists(full))
        {
            throw new TrainingException($"Invalid params: the mirror {full} is a file, not a directory");
        }
        return full;
    }

    private static bool Same(string a, string b) => string.Equals(Path.TrimEndingDirectorySeparator(a), Path.TrimEndingDirectorySeparator(b), StringComparison.Ordinal);

    private static bool Inside(string path, string dir)
        => path.StartsWith(Path.TrimEndingDirectorySeparator(dir) + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    /// <summary>
    /// Brings <paramref name="mirror"/> up to date with <paramref name="source"/>'s manifest. Never throws for I/O:
    /// the problem is in <see cref="MirrorResult.Error"/> and the next call tries again.
    /// </summary>
    public static MirrorResult Sync(string source, string mirror, int keep)
    {
        try
        {
            return SyncCore(source, mirror, keep);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CheckpointException)
        {
            return new MirrorResult(0, null, $"mirroring to {mirror} failed: {e.Message}; trying again at the next checkpoint");
        }
    }

    private static MirrorResult SyncCore(string source, string mirror, int keep)
    {
        var sourceManifest = Path.Combine(source, CheckpointStore.ManifestName);
        if (!File.Exists(sourceManifest))
        {
            return new MirrorResult(0, null, null);
        }
        var src = CheckpointStore.Parse(ReadSmall(sourceManifest), sourceManifest);
        if (!Directory.Exists(mirror))
        {
            // Not created here: a Drive mount that went away leaves an empty mount point, and checkpoints
            // written there would land on the runtime's disk, not in Drive.
            throw new IOException($"the directory {mirror} is gone (unmounted?)");
        }
        var held = Held(mirror, src.Model, keep).ToList();
        var copied = 0;
        string? skipped = null;
        foreach (var e in src.Checkpoints.OrderByDescending(c => c.Step).Take(keep))
        {
            if (held.Any(h => h.File == e.File && h.Sha256 == e.Sha256 && h.Size == e.Size))
            {
                continue;
            }
            if (CopyVerified(Path.Combine(source, e.File), mirror, e) is { } problem)
            {
                if (problem == Missing && !CheckpointStore.Parse(ReadSmall(sourceManifest), sourceManifest).Checkpoints.Any(c => c.File == e.File))
                {
                    continue; // the worker pruned it meanwhile: nothing lost
                }
                skipped ??= $"checkpoint step {e.Step} was not mirrored: {problem}";
                continue;
            }
            held.RemoveAll(h => h.File == e.File);
            held.Add(e);
            copied++;
        }
        var all = held.OrderBy(c => c.Step).ToList();
        var kept = all.Skip(Math.Max(0, all.Count - keep)).ToList();
        if (copied > 0 || kept.Count != held.Count || !File.Exists(Path.Combine(mirror, CheckpointStore.ManifestName)))
        {
            var bytes = JsonSerializer.SerializeToUtf8Bytes(new CheckpointManifest(CheckpointStore.Format, src.Model, kept), CheckpointJson.Default.CheckpointManifest);
            WriteAtomic(mirror, CheckpointStore.ManifestName, bytes);
        }
        // Only now that the manifest names the new ones: drop what it no longer names, and stale temp files of ours.
        var named = kept.Select(k => k.File).ToHashSet(StringComparer.Ordinal);
        foreach (var path in Directory.EnumerateFiles(mirror))
        {
            var n = Path.GetFileName(path);
            if ((CheckpointStore.ValidName(n) && !named.Contains(n)) || (n.StartsWith(".ckpt-", StringComparison.Ordinal) && n.Contains(".mirror-tmp", StringComparison.Ordinal)))
            {
                TryDelete(path);
            }
        }
        return new MirrorResult(copied, kept.Count > 0 ? kept[^1].Step : null, skipped);
    }

    private const string Missing = "the job's copy is missing";

    /// <summary>The checkpoints <paramref name="mirror"/> holds that verify (size and sha256) and are not links. Throws like <see cref="CheckpointStore.Verify"/> (another model's mirror, a malformed manifest).</summary>
    public static IReadOnlyList<CheckpointEntry> Held(string mirror, string model, int keep)
        => [.. new CheckpointStore(mirror, model, keep).Verify().Where(v => v.Problem is null && !IsLink(Path.Combine(mirror, v.Entry.File))).Select(v => v.Entry)];

    /// <summary>The newest checkpoint of <paramref name="mirror"/> that verifies, with its manifest's model; null when none does.</summary>
    public static (CheckpointEntry Entry, string Model, string Path)? NewestHeld(string mirror, int keep, Action<string> log)
    {
        if (NewestVerified([mirror], keep, log) is not { } path)
        {
            return null;
        }
        var manifest = Path.Combine(mirror, CheckpointStore.ManifestName);
        var m = CheckpointStore.Parse(ReadSmall(manifest), manifest);
        var name = Path.GetFileName(path);
        return m.Checkpoints.FirstOrDefault(c => c.File == name) is { } e ? (e, m.Model, path) : null;
    }

    /// <summary>A manifest (the <c>colab-checkpoint/1</c> format) naming exactly <paramref name="entries"/>.</summary>
    public static byte[] ManifestBytes(string model, IReadOnlyList<CheckpointEntry> entries)
        => JsonSerializer.SerializeToUtf8Bytes(new CheckpointManifest(CheckpointStore.Format, model, entries), CheckpointJson.Default.CheckpointManifest);

    private static bool IsLink(string path) => new FileInfo(path).LinkTarget is not null;

    /// <summary>Copies one payload to the mirror under a temporary name, hashing on the way; renames it into place only when size and sha256 match the manifest.</summary>
    private static string? CopyVerified(string from, string mirror, CheckpointEntry e)
    {
        var tmp = Path.Combine(mirror, $".{e.File}.mirror-tmp-{Environment.ProcessId}");
        try
        {
            using (var input = new FileStream(from, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
            using (var output = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            using (var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
            {
                var buffer = new byte[1 << 16];
                long size = 0;
                int n;
                while ((n = input.Read(buffer)) > 0)
                {
                    sha.AppendData(buffer, 0, n);
                    output.Write(buffer, 0, n);
                    size += n;
                    if (size > e.Size)
                    {
                        break;
                    }
                }
                if (size != e.Size)
                {
                    TryDelete(tmp);
                    return $"the job's copy is {(size < e.Size ? "truncated" : "longer than the manifest says")} ({size} of {e.Size} bytes)";
                }
                if (!string.Equals(Convert.ToHexStringLower(sha.GetHashAndReset()), e.Sha256, StringComparison.OrdinalIgnoreCase))
                {
                    TryDelete(tmp);
                    return "the job's copy is corrupt (sha256 mismatch)";
                }
                output.Flush(flushToDisk: true);
            }
            File.Move(tmp, Path.Combine(mirror, e.File), overwrite: true);
            CheckpointStore.FsyncDirectory(mirror);
            return null;
        }
        catch (FileNotFoundException)
        {
            TryDelete(tmp);
            return Missing;
        }
        catch
        {
            TryDelete(tmp);
            throw;
        }
    }

    private static void WriteAtomic(string dir, string name, byte[] bytes)
    {
        var tmp = Path.Combine(dir, $".{name}.mirror-tmp-{Environment.ProcessId}");
        try
        {
            using (var f = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                f.Write(bytes);
                f.Flush(flushToDisk: true);
            }
            File.Move(tmp, Path.Combine(dir, name), overwrite: true);
            CheckpointStore.FsyncDirectory(dir);
        }
        catch
        {
            TryDelete(tmp);
            throw;
        }
    }

    private static byte[] ReadSmall(string path)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        if (f.Length > 16 * 1024 * 1024)
        {
            throw new CheckpointException($"{path} is not a valid checkpoint manifest: too large");
        }
        var raw = new byte[f.Length];
        f.ReadExactly(raw);
        return raw;
    }

    /// <summary>
    /// The checkpoint to resume from: the newest one that verifies in any of <paramref name="directories"/>
    /// (the job's own directory first, then the mirror), as a file path; null when none holds one.
    /// Everything skipped (a corrupt file, an unreadable mirror, another model's checkpoints) is told to <paramref name="log"/>.
    /// </summary>
    public static string? NewestVerified(IReadOnlyList<string> directories, int keep, Action<string> log)
    {
        (string Path, CheckpointEntry Entry)? best = null;
        string? model = null;
        foreach (var dir in directories)
        {
            var manifest = Path.Combine(dir, CheckpointStore.ManifestName);
            try
            {
                if (!File.Exists(manifest))
                {
                    continue;
                }
                var m = CheckpointStore.Parse(ReadSmall(manifest), manifest).Model;
                if (model is not null && m != model)
                {
                    log($"{dir} holds checkpoints of model '{m}', not '{model}': not used");
                    continue;
                }
                model ??= m;
                var found = new CheckpointStore(dir, m, keep).OpenNewest(s => log($"{dir}: {s}"));
                if (found is not { } f)
                {
                    continue;
                }
                f.Payload.Dispose();
                if (IsLink(Path.Combine(dir, f.Entry.File)))
                {
                    log($"{dir}: {f.Entry.File} is a symbolic link: not used");
                    continue;
                }
                if (best is null || f.Entry.Step > best.Value.Entry.Step)
                {
                    best = (Path.Combine(dir, f.Entry.File), f.Entry);
                }
            }
            catch (Exception e) when (e is CheckpointException or IOException or UnauthorizedAccessException)
            {
                log($"checkpoints in {dir} not usable: {e.Message}");
            }
        }
        return best?.Path;
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // best effort: swept by the next pass
        }
    }
}
