using System.Security.Cryptography;
using Colab.Daemon.Runtimes;
using Colab.Daemon.Runtimes.Files;
using Colab.Daemon.Tests.Runtimes;

namespace Colab.Daemon.Tests.Terminals;

/// <summary>Uploads and downloads through a real local Jupyter server's contents API; the server's root is a folder the test can read directly.</summary>
public class RuntimeFilesTests : IAsyncLifetime
{
    private readonly TempWorkspace _root = new();
    private readonly TempWorkspace _local = new();
    private RuntimeManager _manager = null!;
    private RuntimeFiles _files = null!;
    private RuntimeInfo _runtime = null!;

    public async Task InitializeAsync()
    {
        await DebianPython.RequireAsync();
        _manager = new RuntimeManager(DebianPython.Locator(), DebianPython.Configuration())
        {
            LocalOptionsOverride = o => o with { StopTimeout = TimeSpan.FromSeconds(5) },
        };
        _files = new RuntimeFiles(_manager);
        _runtime = await _manager.ConnectLocalAsync(_root.Path);
    }

    public async Task DisposeAsync()
    {
        _files.Dispose();
        await _manager.DisposeAsync();
        _root.Dispose();
        _local.Dispose();
    }

    private string LocalFile(string name, byte[] bytes)
    {
        var path = Path.Combine(_local.Path, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public async Task A_large_file_goes_up_in_chunks_and_arrives_byte_identical_with_progress()
    {
        _files.ChunkBytes = 256 * 1024;
        var bytes = RandomNumberGenerator.GetBytes(5 * 1024 * 1024 + 12345);
        var source = LocalFile("big.bin", bytes);
        var reports = new List<TransferProgress>();

        var result = await _files.UploadAsync(_runtime.Id, source, "data/big.bin", overwrite: false, p => { lock (reports) { reports.Add(p); } });

        Assert.Equal(1, result.Files);
        Assert.Equal(bytes.Length, result.Bytes);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(Path.Combine(_root.Path, "data", "big.bin")));
        // One report per chunk at least (21 chunks of 256 KiB), rising to the total.
        Assert.True(reports.Count >= 21, $"{reports.Count} progress reports");
        Assert.Equal(bytes.Length, reports[^1].Done);
        Assert.Equal(bytes.Length, reports[^1].Total);
        Assert.Equal(reports.Select(r => r.Done).Order(), reports.Select(r => r.Done));
        // No temporary part is left beside it.
        Assert.Equal(["big.bin"], Directory.GetFiles(Path.Combine(_root.Path, "data")).Select(Path.GetFileName));
    }

    [Fact]
    public async Task A_binary_file_round_trips_byte_identical()
    {
        var bytes = Enumerable.Range(0, 70_000).Select(i => (byte)(i * 7 % 256)).ToArray();
        await _files.UploadAsync(_runtime.Id, LocalFile("all-bytes.bin", bytes), "all-bytes.bin", overwrite: false);
        var back = Path.Combine(_local.Path, "back.bin");
        var result = await _files.DownloadAsync(_runtime.Id, "all-bytes.bin", back, overwrite: false);
        Assert.Equal(bytes.Length, result.Bytes);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(back));
    }

    [Fact]
    public async Task A_folder_goes_up_and_comes_back_with_its_tree()
    {
        LocalFile("proj/a.txt", "alpha"u8.ToArray());
        LocalFile("proj/sub/b.txt", "beta"u8.ToArray());
        LocalFile("proj/sub/deeper/c.bin", [0, 1, 2, 255]);
        Directory.CreateDirectory(Path.Combine(_local.Path, "proj", "empty"));
        File.CreateSymbolicLink(Path.Combine(_local.Path, "proj", "link-to-etc"), "/etc");

        var up = await _files.UploadAsync(_runtime.Id, Path.Combine(_local.Path, "proj"), "work/proj", overwrite: false);
        Assert.Equal(3, up.Files);
        Assert.Contains(up.Skipped, s => s.EndsWith("link-to-etc", StringComparison.Ordinal));
        Assert.Equal("beta", await File.ReadAllTextAsync(Path.Combine(_root.Path, "work", "proj", "sub", "b.txt")));
        Assert.True(Directory.Exists(Path.Combine(_root.Path, "work", "proj", "empty")));
        Assert.False(Path.Exists(Path.Combine(_root.Path, "work", "proj", "link-to-etc")));

        var listed = await _files.ListAsync(_runtime.Id, "work/proj");
        Assert.Equal(["empty", "sub", "a.txt"], listed.Select(e => e.Name));

        var target = Path.Combine(_local.Path, "copy");
        var down = await _files.DownloadAsync(_runtime.Id, "work/proj", target, overwrite: false);
        Assert.Equal(3, down.Files);
        Assert.Equal([0, 1, 2, 255], await File.ReadAllBytesAsync(Path.Combine(target, "sub", "deeper", "c.bin")));
        Assert.Equal("alpha", await File.ReadAllTextAsync(Path.Combine(target, "a.txt")));
    }

    [Fact]
    public async Task Existing_targets_are_kept_unless_overwrite_is_asked()
    {
        await File.WriteAllTextAsync(Path.Combine(_root.Path, "results.csv"), "the runtime's");
        var source = LocalFile("results.csv", "mine"u8.ToArray());
        var e = await Assert.ThrowsAsync<TargetExistsException>(() => _files.UploadAsync(_runtime.Id, source, "results.csv", overwrite: false));
        Assert.Contains("already exists on the runtime", e.Message);
        Assert.Equal("the runtime's", await File.ReadAllTextAsync(Path.Combine(_root.Path, "results.csv")));

        var d = await Assert.ThrowsAsync<TargetExistsException>(() => _files.DownloadAsync(_runtime.Id, "results.csv", source, overwrite: false));
        Assert.Contains("already exists", d.Message);
        Assert.Equal("mine", await File.ReadAllTextAsync(source));

        await _files.UploadAsync(_runtime.Id, source, "results.csv", overwrite: true);
        Assert.Equal("mine", await File.ReadAllTextAsync(Path.Combine(_root.Path, "results.csv")));
    }

    [Fact]
    public async Task A_cancelled_upload_leaves_no_partial_file()
    {
        _files.ChunkBytes = 64 * 1024;
        var source = LocalFile("cancel.bin", RandomNumberGenerator.GetBytes(4 * 1024 * 1024));
        using var cts = new CancellationTokenSource();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _files.UploadAsync(_runtime.Id, source, "cancel.bin", overwrite: false,
            p => { if (p.Done > 256 * 1024) { cts.Cancel(); } }, cts.Token));
        Assert.Empty(Directory.GetFiles(_root.Path));
    }

    [Theory]
    [InlineData("../escape.txt", "contains '..'")]
    [InlineData("a/../../escape.txt", "contains '..'")]
    [InlineData("/etc/passwd", "is absolute")]
    [InlineData("~/x", "is absolute")]
    [InlineData("C:/x", "is absolute")]
    [InlineData("a\\b", "backslash")]
    [InlineData("a//b", "empty segment")]
    [InlineData("./a", "contains '.'")]
    [InlineData("bad\nname", "control characters")]
    [InlineData("bad\u0000name", "control characters")]
    [InlineData("", "is empty")]
    public async Task Hostile_runtime_paths_are_refused_before_anything_is_sent(string remote, string why)
    {
        var source = LocalFile("ok.txt", "x"u8.ToArray());
        var up = await Assert.ThrowsAsync<ArgumentException>(() => _files.UploadAsync(_runtime.Id, source, remote, overwrite: true));
        Assert.Contains(why, up.Message);
        Assert.DoesNotContain("\n", up.Message);
        var down = await Assert.ThrowsAsync<ArgumentException>(() => _files.DownloadAsync(_runtime.Id, remote, Path.Combine(_local.Path, "d"), overwrite: true));
        Assert.Contains(why, down.Message);
        Assert.Equal(["ok.txt"], Directory.GetFiles(_local.Path).Select(Path.GetFileName));
    }

    [Theory]
    [InlineData("relative/path")]
    [InlineData("")]
    [InlineData("/tmp/bad\u0001")]
    public async Task Local_paths_must_be_absolute_and_clean(string local)
    {
        var e = await Assert.ThrowsAsync<ArgumentException>(() => _files.DownloadAsync(_runtime.Id, "x.txt", local, overwrite: true));
        Assert.Contains("local path", e.Message);
    }

    [Fact]
    public async Task A_missing_runtime_file_is_named_in_the_error()
    {
        var e = await Assert.ThrowsAsync<JupyterException>(() => _files.DownloadAsync(_runtime.Id, "nope/missing.txt", Path.Combine(_local.Path, "m"), overwrite: false));
        Assert.Equal(JupyterErrorKind.NotFound, e.Kind);
        Assert.Contains("'nope/missing.txt' does not exist on the runtime", e.Message);
        Assert.False(File.Exists(Path.Combine(_local.Path, "m")));
    }
}
