using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Colab.Daemon.Training;

/// <summary>One committed checkpoint as the manifest names it (same fields as <c>colab_resume.py</c>).</summary>
public sealed record CheckpointEntry(string File, long Step, long Epoch, DateTimeOffset Time, long Size, string Sha256);

/// <summary><c>manifest.json</c> of a checkpoint directory: the format tag, the model it belongs to, the committed checkpoints (oldest first).</summary>
public sealed record CheckpointManifest(string Format, string Model, IReadOnlyList<CheckpointEntry> Checkpoints);

/// <summary>A checkpoint could not be written, or none could be read; the message says why and what is intact.</summary>
public sealed class CheckpointException(string message, Exception? inner = null) : Exception(message, inner);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = true,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(CheckpointManifest))]
internal sealed partial class CheckpointJson : JsonSerializerContext;

/// <summary>
/// The checkpoint contract of docs/training.md for .NET trainers (and for the daemon, which
/// verifies and mirrors what workers wrote). A directory holds payload files <c>ckpt-&lt;step&gt;.pt</c>
/// and <c>manifest.json</c>. <see cref="CommitAsync"/> streams a payload to a temporary name while
/// hashing it, fsyncs, renames into place, fsyncs the directory, then replaces the manifest the same
/// way and only then prunes to the last <see cref="Keep"/>. <see cref="OpenNewest"/> returns the newest
/// checkpoint whose size and sha256 verify, reporting every one it skips.
/// </summary>
public sealed partial class CheckpointStore
{
    public const string Format = "colab-checkpoint/1";
    public const string ManifestName = "manifest.json";
    private const string Prefix = "ckpt-";
    private const string Suffix = ".pt";
    private const int MaxManifestBytes = 16 * 1024 * 1024;

    private readonly Func<Stream, Stream> _wrapWrite;

    /// <param name="wrapWrite">Wraps every file stream this store writes (tests use it to limit writes).</param>
    public CheckpointStore(string directory, string modelId, int keep = 3, Func<Stream, Stream>? wrapWrite = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        ArgumentException.ThrowIfNullOrWhiteSpace(modelId);
        if (keep < 1)
        {
            throw new CheckpointException("keep must be at least 1");
        }
        Directory = Path.GetFullPath(directory);
        ModelId = modelId;
        Keep = keep;
        _wrapWrite = wrapWrite ?? (s => s);
    }

    public string Directory { get; }
    public string ModelId { get; }
    public int Keep { get; }

    /// <summary>The manifest; an empty one for this model when the directory has none yet.</summary>
    public CheckpointManifest ReadManifest()
    {
        var path = Path.Combine(Directory, ManifestName);
        byte[] raw;
        try
        {
            using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            if (f.Length > MaxManifestBytes)
            {
                throw new CheckpointException($"{path} is not a valid checkpoint manifest: larger than {MaxManifestBytes} bytes");
            }
            raw = new byte[f.Length];
            f.ReadExactly(raw);
        }
        catch (FileNotFoundException)
        {
            return new CheckpointManifest(Format, ModelId, []);
        }
        catch (DirectoryNotFoundException)
        {
            return new CheckpointManifest(Format, ModelId, []);
        }
        catch (IOException e)
        {
            throw new CheckpointException($"cannot read {path}: {e.Message}", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new CheckpointException($"cannot read {path}: {e.Message}", e);
        }
        var m = Parse(raw, path);
        if (m.Model != ModelId)
        {
            throw new CheckpointException(
                $"{Directory} holds checkpoints of model '{m.Model}', not '{ModelId}'; use another checkpoint directory or the same model id");
        }
        return m;
    }

    internal static CheckpointManifest Parse(byte[] raw, string path)
    {
        CheckpointManifest? m;
        try
        {
            m = JsonSerializer.Deserialize(raw, CheckpointJson.Default.CheckpointManifest);
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{path} is not a valid checkpoint manifest: {e.Message}", e);
        }
        if (m is null || m.Format != Format)
        {
            throw new CheckpointException($"{path} is not a valid checkpoint manifest: format is not {Format}");
        }
        foreach (var e in m.Checkpoints)
        {
            if (!ValidName(e.File) || e.Step < 0 || e.Epoch < 0 || e.Size < 0 || e.Sha256.Length != 64 || !e.Sha256.All(Uri.IsHexDigit))
            {
                throw new CheckpointException($"{path} is not a valid checkpoint manifest: bad entry '{e.File}'");
            }
        }
        return m;
    }

    internal static bool ValidName(string name)
        => name.StartsWith(Prefix, StringComparison.Ordinal) && name.EndsWith(Suffix, StringComparison.Ordinal)
           && name.Length < 200 && !name.Contains('/') && !name.Contains('\\') && !name.Contains("..", StringComparison.Ordinal);

    public static string FileNameFor(long step) => $"{Prefix}{step:D10}{Suffix}";

    /// <summary>Writes a checkpoint: <paramref name="writePayload"/> streams the payload; on any failure the previous checkpoints stay intact.</summary>
    public async Task<CheckpointEntry> CommitAsync(long step, long epoch, Func<Stream, CancellationToken, Task> writePayload, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        EnsureWritableDirectory();
        var manifest = ReadManifest();
        var name = FileNameFor(step);
        CheckpointEntry entry;
        List<CheckpointEntry> pruned;
        try
        {
            var (size, hash) = await WriteAtomicAsync(name, writePayload, cancellationToken).ConfigureAwait(false);
            entry = new CheckpointEntry(name, step, epoch, DateTimeOffset.UtcNow, size, hash);
            var all = manifest.Checkpoints.Where(c => c.File != name).Append(entry).OrderBy(c => c.Step).ToList();
            pruned = all.Take(Math.Max(0, all.Count - Keep)).ToList();
            var kept = all.Skip(pruned.Count).ToList();
            var bytes = JsonSerializer.SerializeToUtf8Bytes(new CheckpointManifest(Format, ModelId, kept), CheckpointJson.Default.CheckpointManifest);
            await WriteAtomicAsync(ManifestName, (s, ct) => s.WriteAsync(bytes, ct).AsTask(), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException(
                $"could not write checkpoint step {step} to {Directory}: {e.Message}; the previous checkpoints are intact", e);
        }
        foreach (var old in pruned)
        {
            TryDelete(Path.Combine(Directory, old.File)); // only after the manifest no longer names it
        }
        Sweep(entry, manifest.Checkpoints.Select(c => c.File).Append(entry.File).ToHashSet(StringComparer.Ordinal));
        return entry;
    }

    /// <summary>Convenience for in-memory payloads.</summary>
    public Task<CheckpointEntry> CommitAsync(long step, long epoch, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
        => CommitAsync(step, epoch, (s, ct) => s.WriteAsync(payload, ct).AsTask(), cancellationToken);

    /// <summary>Removes what a killed writer left: other processes' temp files, payloads no manifest names (same rule as colab_resume.py).</summary>
    private void Sweep(CheckpointEntry committed, HashSet<string> named)
    {
        var own = $".tmp-{Environment.ProcessId}";
        foreach (var path in System.IO.Directory.EnumerateFiles(Directory))
        {
            var n = Path.GetFileName(path);
            var temp = (n.StartsWith("." + Prefix, StringComparison.Ordinal) || n.StartsWith("." + ManifestName, StringComparison.Ordinal)) && n.Contains(".tmp-", StringComparison.Ordinal);
            if ((temp && !n.EndsWith(own, StringComparison.Ordinal)) || (ValidName(n) && !named.Contains(n) && n != committed.File))
            {
                TryDelete(path);
            }
        }
    }

    private void EnsureWritableDirectory()
    {
        try
        {
            System.IO.Directory.CreateDirectory(Directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException($"cannot create the checkpoint directory {Directory}: {e.Message}", e);
        }
    }

    private async Task<(long Size, string Sha256)> WriteAtomicAsync(string name, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken)
    {
        var tmp = Path.Combine(Directory, $".{name}.tmp-{Environment.ProcessId}");
        var final = Path.Combine(Directory, name);
        try
        {
            long size;
            string hash;
            var file = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
            await using (file.ConfigureAwait(false))
            {
                using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                var hashing = new HashingStream(_wrapWrite(file), sha);
                await using (hashing.ConfigureAwait(false))
                {
                    await write(hashing, cancellationToken).ConfigureAwait(false);
                    await hashing.FlushAsync(cancellationToken).ConfigureAwait(false);
                }
                file.Flush(flushToDisk: true);
                size = hashing.Written;
                hash = Convert.ToHexStringLower(sha.GetHashAndReset());
            }
            File.Move(tmp, final, overwrite: true);
            FsyncDirectory(Directory);
            return (size, hash);
        }
        catch
        {
            TryDelete(tmp);
            throw;
        }
    }

    /// <summary>The newest checkpoint whose size and sha256 verify, opened for reading; null when the manifest names none.</summary>
    /// <param name="onSkip">Told about each newer checkpoint that was skipped and why.</param>
    /// <exception cref="CheckpointException">The manifest is malformed or from another model, or no checkpoint verifies.</exception>
    public (CheckpointEntry Entry, Stream Payload)? OpenNewest(Action<string>? onSkip = null)
    {
        var m = ReadManifest();
        foreach (var e in m.Checkpoints.OrderByDescending(c => c.Step))
        {
            var problem = Check(e);
            if (problem is null)
            {
                var stream = new FileStream(Path.Combine(Directory, e.File), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
                return (e, stream);
            }
            onSkip?.Invoke($"checkpoint step {e.Step} ({e.File}) {problem}; trying the previous one");
        }
        if (m.Checkpoints.Count > 0)
        {
            throw new CheckpointException($"none of the {m.Checkpoints.Count} checkpoints in {Directory} verifies");
        }
        return null;
    }

    /// <summary>Each manifest entry with null when it verifies, else what is wrong with it.</summary>
    public IReadOnlyList<(CheckpointEntry Entry, string? Problem)> Verify()
        => ReadManifest().Checkpoints.Select(e => (e, Check(e))).ToList();

    private string? Check(CheckpointEntry e)
    {
        var path = Path.Combine(Directory, e.File);
        try
        {
            using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            if (f.Length != e.Size)
            {
                return $"is truncated ({f.Length} of {e.Size} bytes)";
            }
            var hash = Convert.ToHexStringLower(SHA256.HashData(f));
            return string.Equals(hash, e.Sha256, StringComparison.OrdinalIgnoreCase) ? null : "is corrupt (sha256 mismatch)";
        }
        catch (FileNotFoundException)
        {
            return "is missing";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return $"cannot be read ({ex.Message})";
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // best effort: a leftover temp or pruned file is swept by the next commit's writer
        }
    }

    internal static void FsyncDirectory(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        var fd = Open(directory, 0);
        if (fd < 0)
        {
            return;
        }
        try
        {
            if (Fsync(fd) != 0)
            {
                throw new IOException($"fsync of {directory} failed (errno {Marshal.GetLastPInvokeError()})");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    private sealed class HashingStream(Stream inner, IncrementalHash hash) : Stream
    {
        public long Written { get; private set; }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => Written;
        public override long Position { get => Written; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            inner.Write(buffer);
            hash.AppendData(buffer);
            Written += buffer.Length;
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            hash.AppendData(buffer.Span);
            Written += buffer.Length;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
            => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }
}
