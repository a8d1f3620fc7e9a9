using System.Formats.Tar;
using System.IO.Compression;

namespace Colab.Daemon.Drive;

/// <summary>Limits against archive bombs; both are checked against the bytes actually written, not the headers.</summary>
public sealed record ExtractLimits(long MaxBytes = 200L * 1024 * 1024 * 1024, int MaxEntries = 2_000_000);

public sealed record ExtractResult(string Target, int Files, long Bytes, bool Skipped);

/// <summary>
/// Extracts a zip or tar(.gz) into a folder safely: every entry must land inside the target (no
/// absolute paths, no '..', no drive letters, no symlink or hard-link entries, no existing links
/// under the target), and the size and entry limits hold. A marker with the archive's md5 makes a
/// second run with the same archive a no-op; the marker is written only after a complete extraction.
/// </summary>
public static class ArchiveExtractor
{
    public const string MarkerName = ".colab-extracted";

    private const long InMemoryArchiveBytes = 256L * 1024 * 1024;

    public static async Task<ExtractResult> ExtractAsync(string archive, string target, string? archiveDigest, ExtractLimits? limits, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        limits ??= new ExtractLimits();
        Directory.CreateDirectory(target);
        target = Path.GetFullPath(target).TrimEnd(Path.DirectorySeparatorChar);
        if (new DirectoryInfo(target).LinkTarget is not null)
        {
            throw new DriveException(DriveErrorKind.Unsafe, "The extraction target is a symbolic link; pick a real folder.");
        }
        archiveDigest ??= await FolderBackend.Md5OfFileAsync(archive, cancellationToken).ConfigureAwait(false);
        var marker = Path.Combine(target, MarkerName);
        if (File.Exists(marker) && (await File.ReadAllTextAsync(marker, cancellationToken).ConfigureAwait(false)).StartsWith(archiveDigest + " ", StringComparison.Ordinal))
        {
            return new ExtractResult(target, 0, 0, true);
        }
        File.Delete(marker);
        var result = IsZip(archive)
            ? await ExtractZipAsync(archive, target, limits, progress, cancellationToken).ConfigureAwait(false)
            : await ExtractTarAsync(archive, target, limits, progress, cancellationToken).ConfigureAwait(false);
        await File.WriteAllTextAsync(marker, $"{archiveDigest} {result.Files} {result.Bytes}\n", cancellationToken).ConfigureAwait(false);
        return result;
    }

    private static bool IsZip(string path)
    {
        using var s = File.OpenRead(path);
        Span<byte> head = stackalloc byte[4];
        return s.Read(head) == 4 && head[0] == 'P' && head[1] == 'K';
    }

    private static async Task<ExtractResult> ExtractZipAsync(string archive, string target, ExtractLimits limits, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        // A dataset archive of up to 256 MiB is read once into memory: a FileStream under ZipArchive
        // costs an fstat for every Length check and a seek per entry.
        var bytes = new FileInfo(archive).Length <= InMemoryArchiveBytes ? await File.ReadAllBytesAsync(archive, cancellationToken).ConfigureAwait(false) : null;
        ZipArchive Open() => bytes is null ? ZipFile.OpenRead(archive) : new ZipArchive(new MemoryStream(bytes, writable: false), ZipArchiveMode.Read);
        using var zip = Open();
        if (zip.Entries.Count > limits.MaxEntries)
        {
            throw new DriveException(DriveErrorKind.Unsafe, $"The archive has {zip.Entries.Count} entries, more than the limit of {limits.MaxEntries}.");
        }
        var entries = zip.Entries;
        var plan = new List<(string Name, string Dest, bool Dir)>(entries.Count);
        foreach (var e in entries)
        {
            // Unix mode lives in the high 16 bits of the external attributes; 0xA000 is a symlink.
            if (((e.ExternalAttributes >> 16) & 0xF000) == 0xA000)
            {
                throw new DriveException(DriveErrorKind.Unsafe, $"The archive holds a symbolic link ('{e.FullName}'); it was not extracted.");
            }
            var dir = e.FullName.EndsWith('/') || e.FullName.EndsWith('\\');
            plan.Add((e.FullName, Destination(target, e.FullName), dir));
        }
        var dirs = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (_, dest, dir) in plan)
        {
            dirs.Add(dir ? dest : Path.GetDirectoryName(dest)!);
        }
        foreach (var d in dirs.OrderBy(d => d.Length))
        {
            EnsureRealDirectory(target, d);
        }
        // An archive may name the same file twice: the last one wins (as with unzip -o), and no two workers write one file.
        var last = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < plan.Count; i++)
        {
            if (!plan[i].Dir)
            {
                if (dirs.Contains(plan[i].Dest))
                {
                    throw new DriveException(DriveErrorKind.Unsafe, $"The archive names '{plan[i].Name}' both as a folder and as a file.");
                }
                last[plan[i].Dest] = i;
            }
        }
        var indexes = last.Values.Order().ToArray();

        // One reader inflates the small entries in archive order, in batches, and writers create the
        // files: creating a file is mostly waiting in the kernel, so a few more writers than cores pay
        // off. The central directory is parsed once (a reader per worker parsed it once each: with
        // 10,000 entries that was most of the CPU time). A large entry goes to a writer whole, which
        // inflates it with a reader of its own, so big files still inflate in parallel.
        var workers = Math.Clamp(Environment.ProcessorCount * 2, 2, 16);
        long written = 0;
        var files = 0;
        void Count(long n, string name)
        {
            if (Interlocked.Add(ref written, n) > limits.MaxBytes)
            {
                throw new DriveException(DriveErrorKind.Unsafe, $"The archive expands to more than {limits.MaxBytes} bytes; extraction stopped (at '{Printable(name)}').");
            }
        }
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var queue = new System.Collections.Concurrent.BlockingCollection<ZipWork>(boundedCapacity: workers);
        var writers = new Task[workers];
        for (var w = 0; w < workers; w++)
        {
            writers[w] = Task.Run(() =>
            {
                ZipArchive? own = null;
                var buffer = (byte[]?)null;
                try
                {
                    foreach (var work in queue.GetConsumingEnumerable(stop.Token))
                    {
                        if (work.Batch is { } batch)
                        {
                            foreach (var (dest, start, length) in batch.Files)
                            {
                                stop.Token.ThrowIfCancellationRequested();
                                using var output = CreateFile(dest);
                                if (length > 0)
                                {
                                    RandomAccess.Write(output, batch.Buffer.AsSpan(start, length), 0);
                                }
                                Interlocked.Increment(ref files);
                            }
                            System.Buffers.ArrayPool<byte>.Shared.Return(batch.Buffer);
                        }
                        else
                        {
                            own ??= Open();
                            buffer ??= GC.AllocateUninitializedArray<byte>(256 * 1024);
                            var i = work.Index;
                            using var input = own.Entries[i].Open();
                            using var output = CreateFile(plan[i].Dest);
                            long at = 0;
                            int n;
                            while ((n = input.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false)) > 0)
                            {
                                stop.Token.ThrowIfCancellationRequested();
                                Count(n, plan[i].Name);
                                RandomAccess.Write(output, buffer.AsSpan(0, n), at);
                                at += n;
                            }
                            Interlocked.Increment(ref files);
                            progress?.Report(Interlocked.Read(ref written));
                        }
                    }
                }
                catch
                {
                    stop.Cancel();
                    throw;
                }
                finally
                {
                    own?.Dispose();
                }
            }, CancellationToken.None);
        }
        var reader = Task.Run(() =>
        {
            try
            {
                var batch = new ZipBatch();
                foreach (var i in indexes)
                {
                    stop.Token.ThrowIfCancellationRequested();
                    var entry = entries[i];
                    if (entry.Length > SmallEntryBytes)
                    {
                        queue.Add(new ZipWork(i, null), stop.Token);
                        continue;
                    }
                    // One byte more than the header says: an entry that inflates to more is refused (.NET stops at
                    // the declared size today; this keeps the size limit honest if that changes).
                    var room = (int)entry.Length + 1;
                    if (batch.Used + room > batch.Buffer.Length || batch.Files.Count == BatchFiles)
                    {
                        queue.Add(new ZipWork(-1, batch), stop.Token);
                        batch = new ZipBatch();
                    }
                    using var input = entry.Open();
                    var n = input.ReadAtLeast(batch.Buffer.AsSpan(batch.Used, room), room, throwOnEndOfStream: false);
                    if (n > entry.Length)
                    {
                        throw new DriveException(DriveErrorKind.Unsafe, $"The archive entry '{Printable(plan[i].Name)}' expands to more than its header says; extraction stopped.");
                    }
                    Count(n, plan[i].Name);
                    batch.Files.Add((plan[i].Dest, batch.Used, n));
                    batch.Used += n;
                    progress?.Report(Interlocked.Read(ref written));
                }
                if (batch.Files.Count > 0)
                {
                    queue.Add(new ZipWork(-1, batch), stop.Token);
                }
                else
                {
                    System.Buffers.ArrayPool<byte>.Shared.Return(batch.Buffer);
                }
            }
            catch
            {
                stop.Cancel();
                throw;
            }
            finally
            {
                queue.CompleteAdding();
            }
        }, CancellationToken.None);
        try
        {
            await Task.WhenAll([reader, .. writers]).ConfigureAwait(false);
        }
        catch
        {
            cancellationToken.ThrowIfCancellationRequested();
            // The first real failure is the one to report (a DriveException says what was unsafe);
            // the others are the cancellations it caused.
            var all = writers.Prepend(reader).Where(t => t.IsFaulted).SelectMany(t => t.Exception!.InnerExceptions).ToList();
            var first = all.FirstOrDefault(x => x is DriveException) ?? all.FirstOrDefault(x => x is not OperationCanceledException) ?? all.FirstOrDefault();
            if (first is InvalidDataException bad)
            {
                throw new DriveException(DriveErrorKind.InvalidInput, $"The archive is damaged: {bad.Message}", bad);
            }
            if (first is not null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first);
            }
            throw;
        }
        return new ExtractResult(target, files, written, false);
    }

    /// <summary>Entries up to this size (by their header) are inflated by the reader into batches.</summary>
    private const int SmallEntryBytes = 256 * 1024;

    private const int BatchFiles = 64;

    /// <summary>Inflated small files, back to back in one pooled buffer, for one writer.</summary>
    private sealed class ZipBatch
    {
        public byte[] Buffer { get; } = System.Buffers.ArrayPool<byte>.Shared.Rent(4 * SmallEntryBytes);

        public int Used { get; set; }

        public List<(string Dest, int Start, int Length)> Files { get; } = new(BatchFiles);
    }

    /// <summary>A writer's next job: a batch of small files, or one large entry by index.</summary>
    private readonly record struct ZipWork(int Index, ZipBatch? Batch);

    private static async Task<ExtractResult> ExtractTarAsync(string archive, string target, ExtractLimits limits, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        await using var file = File.OpenRead(archive);
        Stream stream = file;
        Span<byte> head = stackalloc byte[2];
        var isGzip = file.Read(head) == 2 && head[0] == 0x1f && head[1] == 0x8b;
        file.Position = 0;
        if (isGzip)
        {
            stream = new GZipStream(file, CompressionMode.Decompress);
        }
        await using var _ = stream;
        await using var reader = new TarReader(stream);
        long written = 0;
        var files = 0;
        var entries = 0;
        var buffer = new byte[81920];
        var verified = new HashSet<string>(StringComparer.Ordinal);
        TarEntry? entry;
        while (true)
        {
            try
            {
                entry = await reader.GetNextEntryAsync(false, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException)
            {
                throw new DriveException(DriveErrorKind.InvalidInput, "The file is neither a zip nor a readable tar archive.", e);
            }
            if (entry is null)
            {
                break;
            }
            if (++entries > limits.MaxEntries)
            {
                throw new DriveException(DriveErrorKind.Unsafe, $"The archive has more than {limits.MaxEntries} entries.");
            }
            switch (entry.EntryType)
            {
                case TarEntryType.SymbolicLink or TarEntryType.HardLink:
                    throw new DriveException(DriveErrorKind.Unsafe, $"The archive holds a link ('{entry.Name}'); it was not extracted.");
                case TarEntryType.Directory:
                    EnsureRealDirectory(target, Destination(target, entry.Name), verified);
                    continue;
                case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                    break;
                default:
                    continue; // pax/global headers, devices, fifos: nothing to write
            }
            var dest = Destination(target, entry.Name);
            EnsureRealDirectory(target, Path.GetDirectoryName(dest)!, verified);
            RefuseLink(dest);
            if (entry.DataStream is { } data)
            {
                await using var output = new FileStream(dest, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.None);
                int n;
                while ((n = await data.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    written += n;
                    if (written > limits.MaxBytes)
                    {
                        throw new DriveException(DriveErrorKind.Unsafe, $"The archive expands to more than {limits.MaxBytes} bytes; extraction stopped.");
                    }
                    await output.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                }
            }
            else
            {
                await File.WriteAllBytesAsync(dest, [], cancellationToken).ConfigureAwait(false);
            }
            files++;
            progress?.Report(written);
        }
        return new ExtractResult(target, files, written, false);
    }

    /// <summary>The path an entry name lands on, or an <see cref="DriveErrorKind.Unsafe"/> error when it would leave the target.</summary>
    internal static string Destination(string target, string entryName)
    {
        var name = entryName.Replace('\\', '/');
        if (name.Length == 0 || name.Contains('\0') || name.StartsWith('/') || (name.Length >= 2 && name[1] == ':') || name.Split('/').Any(p => p == ".."))
        {
            throw new DriveException(DriveErrorKind.Unsafe, $"The archive entry '{Printable(entryName)}' points outside the target folder; nothing was extracted from it.");
        }
        var full = Path.GetFullPath(Path.Combine(target, name));
        if (full != target && !full.StartsWith(target + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new DriveException(DriveErrorKind.Unsafe, $"The archive entry '{Printable(entryName)}' points outside the target folder.");
        }
        return full.TrimEnd(Path.DirectorySeparatorChar);
    }

    /// <summary>Creates the folder, refusing when any component under the target is a link (a planted link could lead out).</summary>
    private static void EnsureRealDirectory(string target, string dir, HashSet<string>? verified = null)
    {
        if (verified is not null && verified.Contains(dir))
        {
            return;
        }
        var probe = target;
        foreach (var part in Path.GetRelativePath(target, dir).Split(Path.DirectorySeparatorChar))
        {
            if (part is "." or "")
            {
                continue;
            }
            probe = Path.Combine(probe, part);
            var info = new DirectoryInfo(probe);
            if (info.LinkTarget is not null || (File.Exists(probe) && new FileInfo(probe).LinkTarget is not null))
            {
                throw new DriveException(DriveErrorKind.Unsafe, $"'{Path.GetRelativePath(target, probe)}' in the target is a link; extraction would leave the folder.");
            }
            if (!info.Exists)
            {
                Directory.CreateDirectory(probe);
            }
        }
        verified?.Add(dir);
    }

    /// <summary>
    /// Opens a new file for an entry. O_CREAT|O_EXCL never follows a link, so a fresh target needs
    /// no link check; only a name that already exists (a second extraction, a planted link) takes
    /// the slow path, which refuses links and replaces regular files. A new file needs no truncation
    /// (FileStream's FileMode.Create locks, then truncates), and a raw handle with positional writes
    /// skips FileStream's fstat and seek calls.
    /// </summary>
    private static Microsoft.Win32.SafeHandles.SafeFileHandle CreateFile(string dest)
    {
        try
        {
            return File.OpenHandle(dest, FileMode.CreateNew, FileAccess.Write, FileShare.None);
        }
        catch (IOException) when (Path.Exists(dest) || new FileInfo(dest).LinkTarget is not null)
        {
            RefuseLink(dest);
            if (Directory.Exists(dest))
            {
                throw new DriveException(DriveErrorKind.Unsafe, $"'{Path.GetFileName(dest)}' in the target is a folder; the archive's file of that name was not extracted.");
            }
            File.Delete(dest);
            return File.OpenHandle(dest, FileMode.CreateNew, FileAccess.Write, FileShare.None);
        }
    }

    /// <summary>Writing through an existing link would change a file outside the target.</summary>
    private static void RefuseLink(string dest)
    {
        if (new FileInfo(dest).LinkTarget is not null)
        {
            throw new DriveException(DriveErrorKind.Unsafe, $"'{Path.GetFileName(dest)}' in the target is a link; it was not overwritten.");
        }
    }

    private static string Printable(string s) => new(s.Select(c => char.IsControl(c) ? '?' : c).ToArray());
}
