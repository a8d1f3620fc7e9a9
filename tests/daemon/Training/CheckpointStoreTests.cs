using System.Security.Cryptography;
using System.Text;
using Colab.Daemon.Training;
using static Colab.Daemon.Tests.Training.TrainingTestSupport;

namespace Colab.Daemon.Tests.Training;

public sealed class CheckpointStoreTests
{
    private static byte[] Payload(int step, int size = 4096)
    {
        var b = new byte[size];
        new Random(step).NextBytes(b);
        return b;
    }

    private static byte[] ReadAll(Stream s)
    {
        using (s)
        {
            using var m = new MemoryStream();
            s.CopyTo(m);
            return m.ToArray();
        }
    }

    [Fact]
    public async Task Commit_FiveWithKeepThree_NewestReadsBackAndOnlyLastThreeRemain()
    {
        var dir = TempDirectory("keep");
        var store = new CheckpointStore(dir, "m", keep: 3);
        for (var step = 10; step <= 50; step += 10)
        {
            await store.CommitAsync(step, step / 20, Payload(step));
        }
        var m = store.ReadManifest();
        Assert.Equal([30L, 40L, 50L], m.Checkpoints.Select(c => c.Step));
        Assert.Equal(["ckpt-0000000030.pt", "ckpt-0000000040.pt", "ckpt-0000000050.pt", "manifest.json"],
            Directory.GetFiles(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        var found = store.OpenNewest()!.Value;
        Assert.Equal(50, found.Entry.Step);
        Assert.Equal(Payload(50), ReadAll(found.Payload));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Payload(50))), found.Entry.Sha256);
        Assert.All(store.Verify(), v => Assert.Null(v.Problem));
    }

    [Fact]
    public async Task Commit_SweepsWhatAKilledWriterLeft()
    {
        var dir = TempDirectory("sweep");
        var store = new CheckpointStore(dir, "m");
        await store.CommitAsync(1, 0, Payload(1));
        File.WriteAllText(Path.Combine(dir, ".ckpt-0000000002.pt.tmp-999999"), "half");
        File.WriteAllText(Path.Combine(dir, ".manifest.json.tmp-999999"), "{");
        File.WriteAllText(Path.Combine(dir, "ckpt-0000000002.pt"), "renamed, never named by a manifest");
        File.WriteAllText(Path.Combine(dir, "notes.txt"), "the user's");
        await store.CommitAsync(3, 0, Payload(3));
        Assert.Equal(["ckpt-0000000001.pt", "ckpt-0000000003.pt", "manifest.json", "notes.txt"],
            Directory.GetFiles(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void OpenNewest_EmptyDirectory_ReturnsNull()
        => Assert.Null(new CheckpointStore(TempDirectory("empty"), "m").OpenNewest());

    [Theory]
    [InlineData("truncated")]
    [InlineData("bitflip")]
    [InlineData("missing")]
    public async Task OpenNewest_NewestDamaged_UsesPreviousAndSaysWhy(string damage)
    {
        var dir = TempDirectory(damage);
        var store = new CheckpointStore(dir, "m");
        await store.CommitAsync(1, 0, Payload(1));
        await store.CommitAsync(2, 0, Payload(2));
        var newest = Path.Combine(dir, CheckpointStore.FileNameFor(2));
        switch (damage)
        {
            case "truncated":
                File.WriteAllBytes(newest, Payload(2)[..1000]);
                break;
            case "bitflip":
                var bytes = File.ReadAllBytes(newest);
                bytes[1234] ^= 0x10;
                File.WriteAllBytes(newest, bytes);
                break;
            default:
                File.Delete(newest);
                break;
        }
        var messages = new List<string>();
        var found = store.OpenNewest(messages.Add)!.Value;
        Assert.Equal(1, found.Entry.Step);
        Assert.Equal(Payload(1), ReadAll(found.Payload));
        var message = Assert.Single(messages);
        Assert.Contains("step 2", message, StringComparison.Ordinal);
        Assert.Contains(damage switch { "truncated" => "truncated (1000 of 4096 bytes)", "bitflip" => "corrupt (sha256 mismatch)", _ => "missing" }, message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenNewest_AllDamaged_ClearError()
    {
        var dir = TempDirectory("alldamaged");
        var store = new CheckpointStore(dir, "m");
        await store.CommitAsync(1, 0, Payload(1));
        File.WriteAllText(Path.Combine(dir, CheckpointStore.FileNameFor(1)), "x");
        var e = Assert.Throws<CheckpointException>(() => store.OpenNewest());
        Assert.Contains("none of the 1 checkpoints", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Commit_DiskFull_ClearErrorAndPreviousIntact()
    {
        // A real ENOSPC from a 256 KiB tmpfs where this process may mount (root); else a write-limited stream.
        var tmpfs = MountTmpfs("256k");
        try
        {
            var dir = tmpfs ?? TempDirectory("full");
            var limit = tmpfs is null ? (Func<Stream, Stream>)(s => new WriteLimitStream(s, 150_000)) : null;
            var store = new CheckpointStore(dir, "m", keep: 3, wrapWrite: limit);
            await store.CommitAsync(1, 0, Payload(1, 100_000));
            var e = await Assert.ThrowsAsync<CheckpointException>(() => store.CommitAsync(2, 0, Payload(2, 200_000)));
            Assert.Contains("could not write checkpoint step 2", e.Message, StringComparison.Ordinal);
            Assert.Contains("No space left on device", e.Message, StringComparison.Ordinal);
            Assert.Contains("previous checkpoints are intact", e.Message, StringComparison.Ordinal);
            var found = store.OpenNewest()!.Value;
            Assert.Equal(1, found.Entry.Step);
            Assert.Equal(Payload(1, 100_000), ReadAll(found.Payload));
            Assert.DoesNotContain(Directory.GetFiles(dir), f => Path.GetFileName(f).Contains(".tmp-", StringComparison.Ordinal));
        }
        finally
        {
            if (tmpfs is not null)
            {
                Unmount(tmpfs);
            }
        }
    }

    [Fact]
    public async Task Commit_NotWritableDirectory_ClearError()
    {
        // root ignores permission bits, so as root the directory is a read-only tmpfs; otherwise mode 0555.
        var ro = MountTmpfs("64k", readOnly: true);
        var dir = ro ?? TempDirectory("readonly");
        try
        {
            if (ro is null && !OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserExecute);
            }
            var store = new CheckpointStore(dir, "m");
            var e = await Assert.ThrowsAsync<CheckpointException>(() => store.CommitAsync(1, 0, Payload(1)));
            Assert.Contains("could not write checkpoint step 1", e.Message, StringComparison.Ordinal);
            Assert.Contains(dir, e.Message, StringComparison.Ordinal);
        }
        finally
        {
            if (ro is not null)
            {
                Unmount(ro);
            }
        }
    }

    [Fact]
    public async Task ReadManifest_FromAnotherModel_ClearError()
    {
        var dir = TempDirectory("othermodel");
        await new CheckpointStore(dir, "resnet").CommitAsync(1, 0, Payload(1));
        var e = Assert.Throws<CheckpointException>(() => new CheckpointStore(dir, "digits").OpenNewest());
        Assert.Contains("holds checkpoints of model 'resnet', not 'digits'", e.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<CheckpointException>(() => new CheckpointStore(dir, "digits").CommitAsync(2, 0, Payload(2)));
        Assert.Equal(Payload(1), File.ReadAllBytes(Path.Combine(dir, CheckpointStore.FileNameFor(1))));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("""{"format":"other/1","model":"m","checkpoints":[]}""")]
    [InlineData("""{"format":"colab-checkpoint/1","model":"m"}""")]
    [InlineData("""{"format":"colab-checkpoint/1","model":"m","checkpoints":[{"file":"../../etc/passwd","step":1,"epoch":0,"time":"2026-01-01T00:00:00Z","size":1,"sha256":"0000000000000000000000000000000000000000000000000000000000000000"}]}""")]
    [InlineData("""{"format":"colab-checkpoint/1","model":"m","checkpoints":[{"file":"ckpt-1.pt","step":-1,"epoch":0,"time":"2026-01-01T00:00:00Z","size":1,"sha256":"0000000000000000000000000000000000000000000000000000000000000000"}]}""")]
    [InlineData("""{"format":"colab-checkpoint/1","model":"m","checkpoints":[{"file":"ckpt-1.pt","step":1,"epoch":0,"time":"2026-01-01T00:00:00Z","size":1,"sha256":"zz"}]}""")]
    public void ReadManifest_Malformed_ClearError(string manifest)
    {
        var dir = TempDirectory("malformed");
        File.WriteAllText(Path.Combine(dir, CheckpointStore.ManifestName), manifest);
        var e = Assert.Throws<CheckpointException>(() => new CheckpointStore(dir, "m").OpenNewest());
        Assert.Contains("is not a valid checkpoint manifest", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CrossCheck_CSharpReadsPythonAndPythonReadsCSharp()
    {
        var fromPython = TempDirectory("frompy");
        var script = """
            import sys, colab_resume as cr
            s = cr.CheckpointStore(sys.argv[1], "shared-model", keep=2)
            for step in (5, 6, 7):
                s.commit(bytes([step]) * (1000 + step), step, step // 3)
            """;
        var py = await RunPythonAsync(["-c", script, fromPython]);
        Assert.True(py.Code == 0, py.Stderr);
        var store = new CheckpointStore(fromPython, "shared-model");
        var found = store.OpenNewest()!.Value;
        Assert.Equal((7L, 2L), (found.Entry.Step, found.Entry.Epoch));
        Assert.Equal(Enumerable.Repeat((byte)7, 1007).ToArray(), ReadAll(found.Payload));
        Assert.Equal([6L, 7L], store.ReadManifest().Checkpoints.Select(c => c.Step));

        var fromCSharp = TempDirectory("fromcs");
        var cs = new CheckpointStore(fromCSharp, "shared-model");
        await cs.CommitAsync(3, 1, Encoding.UTF8.GetBytes("three"));
        await cs.CommitAsync(4, 1, Encoding.UTF8.GetBytes("four!"));
        var bytes = File.ReadAllBytes(Path.Combine(fromCSharp, CheckpointStore.FileNameFor(4)));
        bytes[0] ^= 1;
        File.WriteAllBytes(Path.Combine(fromCSharp, CheckpointStore.FileNameFor(4)), bytes);
        var read = await RunPythonAsync(["-c", """
            import sys, colab_resume as cr
            e, data = cr.CheckpointStore(sys.argv[1], "shared-model").load_newest()
            print(e.step, e.epoch, data.decode())
            """, fromCSharp]);
        Assert.True(read.Code == 0, read.Stderr);
        Assert.Equal("3 1 three", read.Stdout.Trim());
        Assert.Contains("checkpoint step 4 (ckpt-0000000004.pt) is corrupt (sha256 mismatch); trying the previous one", read.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PythonResume_FromAnotherModelOrDiskFull_ClearErrors()
    {
        var dir = TempDirectory("pyerrors");
        await new CheckpointStore(dir, "resnet").CommitAsync(1, 0, Payload(1));
        var other = await RunPythonAsync([ExampleScript, "--epochs", "1", "--checkpoint-dir", dir]);
        Assert.NotEqual(0, other.Code);
        Assert.Contains("holds checkpoints of model 'resnet', not 'colab-example-digits-cnn'", other.Stderr, StringComparison.Ordinal);

        var tmpfs = MountTmpfs("400k");
        if (tmpfs is null)
        {
            return; // covered for C# by Commit_DiskFull_ClearErrorAndPreviousIntact; Python needs a real small filesystem
        }
        try
        {
            // One 324 KB checkpoint fits; the second cannot: the run fails with a clear error and the first stays verified.
            var full = await RunPythonAsync([ExampleScript, "--epochs", "1", "--checkpoint-every", "10", "--keep", "3", "--checkpoint-dir", tmpfs]);
            Assert.NotEqual(0, full.Code);
            Assert.Contains("could not write checkpoint step 20", full.Stderr, StringComparison.Ordinal);
            Assert.Contains("previous checkpoints are intact", full.Stderr, StringComparison.Ordinal);
            var store = new CheckpointStore(tmpfs, "colab-example-digits-cnn");
            Assert.Equal(10, store.OpenNewest()!.Value.Entry.Step);
        }
        finally
        {
            Unmount(tmpfs);
        }
    }
}
