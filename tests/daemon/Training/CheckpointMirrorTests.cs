using System.Text;
using Colab.Daemon.Training;
using static Colab.Daemon.Tests.Training.TrainingTestSupport;

namespace Colab.Daemon.Tests.Training;

/// <summary>Checkpoint mirroring: verified atomic copies, pruning after commit, failures that never cost a checkpoint, resume from either place.</summary>
public sealed class CheckpointMirrorTests
{
    private static byte[] Payload(int step, int size = 3000)
    {
        var b = new byte[size];
        new Random(step).NextBytes(b);
        return b;
    }

    private static string[] Files(string dir) => Directory.GetFiles(dir).Select(f => Path.GetFileName(f)!).Order(StringComparer.Ordinal).ToArray();

    private static void FlipByte(string path, long at)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        f.Position = at;
        var b = f.ReadByte();
        f.Position = at;
        f.WriteByte((byte)(b ^ 0x40));
    }

    [Fact]
    public async Task Sync_CopiesEachCommittedCheckpointVerified_PrunesToKeepAfterwards()
    {
        var src = TempDirectory("msrc");
        var mirror = TempDirectory("mdst");
        var store = new CheckpointStore(src, "m", keep: 3);
        await store.CommitAsync(1, 0, Payload(1));
        await store.CommitAsync(2, 0, Payload(2));
        var r = CheckpointMirror.Sync(src, mirror, 3);
        Assert.Null(r.Error);
        Assert.Equal(2, r.Copied);
        Assert.Equal(2, r.NewestStep);
        Assert.Equal(0, CheckpointMirror.Sync(src, mirror, 3).Copied); // nothing new: nothing copied

        for (var step = 3; step <= 5; step++)
        {
            await store.CommitAsync(step, 1, Payload(step));
        }
        r = CheckpointMirror.Sync(src, mirror, 3);
        Assert.Null(r.Error);
        Assert.Equal(3, r.Copied);
        Assert.Equal(["ckpt-0000000003.pt", "ckpt-0000000004.pt", "ckpt-0000000005.pt", "manifest.json"], Files(mirror));
        var copy = new CheckpointStore(mirror, "m", 3);
        Assert.All(copy.Verify(), v => Assert.Null(v.Problem));
        Assert.Equal([3L, 4L, 5L], copy.ReadManifest().Checkpoints.Select(c => c.Step));
        var newest = copy.OpenNewest()!.Value;
        using (newest.Payload)
        {
            using var m = new MemoryStream();
            newest.Payload.CopyTo(m);
            Assert.Equal(Payload(5), m.ToArray());
        }
    }

    [Theory]
    [InlineData("bitflip")]
    [InlineData("truncate")]
    public async Task Sync_CorruptOrTruncatedNewest_IsNotMirrored_MirrorKeepsWhatItHad(string damage)
    {
        var src = TempDirectory("mbad");
        var mirror = TempDirectory("mbadd");
        var store = new CheckpointStore(src, "m", keep: 3);
        await store.CommitAsync(1, 0, Payload(1));
        Assert.Null(CheckpointMirror.Sync(src, mirror, 3).Error);
        await store.CommitAsync(2, 0, Payload(2));
        var newest = Path.Combine(src, "ckpt-0000000002.pt");
        if (damage == "bitflip")
        {
            FlipByte(newest, 1234);
        }
        else
        {
            using var f = new FileStream(newest, FileMode.Open);
            f.SetLength(100);
        }
        var r = CheckpointMirror.Sync(src, mirror, 3);
        Assert.NotNull(r.Error);
        Assert.Contains("checkpoint step 2 was not mirrored", r.Error, StringComparison.Ordinal);
        Assert.Contains(damage == "bitflip" ? "corrupt (sha256 mismatch)" : "truncated (100 of 3000 bytes)", r.Error, StringComparison.Ordinal);
        Assert.Equal(1, r.NewestStep);
        Assert.Equal(["ckpt-0000000001.pt", "manifest.json"], Files(mirror)); // no temp file left, step 1 intact
        Assert.All(new CheckpointStore(mirror, "m").Verify(), v => Assert.Null(v.Problem));
    }

    [Fact]
    public async Task Sync_MirrorDirectoryGone_IsReported_NotRecreated_WorksAgainWhenBack()
    {
        var src = TempDirectory("mgone");
        var mirror = Path.Combine(TempDirectory("mgoneparent"), "drive");
        Directory.CreateDirectory(mirror);
        var store = new CheckpointStore(src, "m", keep: 2);
        await store.CommitAsync(1, 0, Payload(1));
        Assert.Null(CheckpointMirror.Sync(src, mirror, 2).Error);
        Directory.Delete(mirror, recursive: true); // the Drive mount went away
        await store.CommitAsync(2, 0, Payload(2));
        var r = CheckpointMirror.Sync(src, mirror, 2);
        Assert.Contains($"mirroring to {mirror} failed", r.Error, StringComparison.Ordinal);
        Assert.Contains("is gone (unmounted?)", r.Error, StringComparison.Ordinal);
        Assert.Contains("trying again at the next checkpoint", r.Error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(mirror));
        Assert.Equal([1L, 2L], store.ReadManifest().Checkpoints.Select(c => c.Step)); // the job's own checkpoints are untouched

        Directory.CreateDirectory(mirror);
        r = CheckpointMirror.Sync(src, mirror, 2);
        Assert.Null(r.Error);
        Assert.Equal(2, r.Copied);
        Assert.Equal(["ckpt-0000000001.pt", "ckpt-0000000002.pt", "manifest.json"], Files(mirror));
    }

    [Fact]
    public async Task Sync_WriteFailure_IsAnError_NotAnException_AndTheMirrorStaysAsItWas()
    {
        var src = TempDirectory("mwf");
        var ro = MountTmpfs("1m", readOnly: true);
        var mirror = ro ?? TempDirectory("mwfd");
        try
        {
            var store = new CheckpointStore(src, "m");
            await store.CommitAsync(1, 0, Payload(1));
            if (ro is null)
            {
                // Without a read-only mount (root writes through permission bits): a directory where the temp file must go.
                Directory.CreateDirectory(Path.Combine(mirror, $".ckpt-0000000001.pt.mirror-tmp-{Environment.ProcessId}"));
            }
            var r = CheckpointMirror.Sync(src, mirror, 3);
            Assert.NotNull(r.Error);
            Assert.Contains($"mirroring to {mirror} failed", r.Error, StringComparison.Ordinal);
            Assert.Equal(0, r.Copied);
            Assert.False(File.Exists(Path.Combine(mirror, "manifest.json")));
            Assert.False(File.Exists(Path.Combine(mirror, "ckpt-0000000001.pt")));
            Assert.Equal([1L], store.ReadManifest().Checkpoints.Select(c => c.Step));
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
    public async Task Sync_MirrorOfAnotherModel_IsLeftAlone()
    {
        var src = TempDirectory("mmodel");
        var mirror = TempDirectory("mmodeld");
        await new CheckpointStore(mirror, "someone-elses").CommitAsync(7, 0, Payload(7));
        var before = File.ReadAllBytes(Path.Combine(mirror, "manifest.json"));
        await new CheckpointStore(src, "mine").CommitAsync(1, 0, Payload(1));
        var r = CheckpointMirror.Sync(src, mirror, 3);
        Assert.Contains("holds checkpoints of model 'someone-elses', not 'mine'", r.Error, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(mirror, "manifest.json")));
        Assert.Equal(["ckpt-0000000007.pt", "manifest.json"], Files(mirror));
    }

    [Fact]
    public async Task Sync_HostileManifests_NeverWriteOutsideTheMirror()
    {
        var src = TempDirectory("mhost");
        var mirror = TempDirectory("mhostd");
        var outside = Path.Combine(Path.GetDirectoryName(mirror)!, "ckpt-0000000001.pt");
        // A source manifest naming a path outside its directory is refused as a whole.
        File.WriteAllText(Path.Combine(src, "manifest.json"),
            """{"format":"colab-checkpoint/1","model":"m","checkpoints":[{"file":"../ckpt-0000000001.pt","step":1,"epoch":0,"time":"2026-01-01T00:00:00Z","size":1,"sha256":"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"}]}""");
        var r = CheckpointMirror.Sync(src, mirror, 3);
        Assert.Contains("bad entry '../ckpt-0000000001.pt'", r.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(outside));
        Assert.Empty(Files(mirror));

        // A mirror file that is a symbolic link to somewhere else is replaced by a real copy; its target is untouched.
        Directory.Delete(src, recursive: true);
        Directory.CreateDirectory(src);
        var store = new CheckpointStore(src, "m");
        var entry = await store.CommitAsync(1, 0, Payload(1));
        var victim = Path.Combine(TempDirectory("mvictim"), "precious.bin");
        File.WriteAllBytes(victim, Payload(1)); // same bytes: the link would even verify
        File.CreateSymbolicLink(Path.Combine(mirror, entry.File), victim);
        File.Copy(Path.Combine(src, "manifest.json"), Path.Combine(mirror, "manifest.json"));
        r = CheckpointMirror.Sync(src, mirror, 3);
        Assert.Null(r.Error);
        Assert.Equal(1, r.Copied);
        Assert.Null(new FileInfo(Path.Combine(mirror, entry.File)).LinkTarget);
        Assert.Equal(Payload(1), File.ReadAllBytes(victim));
    }

    [Fact]
    public void Validate_RefusesOverlappingOrHostilePaths()
    {
        var root = TempDirectory("mval");
        var work = Path.Combine(root, "work");
        var ckpt = Path.Combine(root, "ckpt");
        var job = Path.Combine(root, "jobs", "j1");
        Directory.CreateDirectory(work);
        File.WriteAllText(Path.Combine(root, "afile"), "x");
        foreach (var (bad, expect) in new[]
        {
            (ckpt, "overlaps the checkpoint directory"),
            (Path.Combine(ckpt, "sub"), "overlaps the checkpoint directory"),
            (root, "overlaps the checkpoint directory"),
            (Path.Combine(job, "mirror"), "overlaps the job's directory"),
            ("../ckpt/", "overlaps the checkpoint directory"),
            (Path.Combine(root, "afile"), "is a file, not a directory"),
            ("/", "top-level directory"),
            ("", "mirror is not a directory path"),
            ("/tmp/a\nb", "mirror is not a directory path"),
        })
        {
            var e = Assert.Throws<TrainingException>(() => CheckpointMirror.Validate(bad, work, ckpt, job));
            Assert.StartsWith("Invalid params:", e.Message, StringComparison.Ordinal);
            Assert.Contains(expect, e.Message, StringComparison.Ordinal);
        }
        Assert.Equal(Path.Combine(root, "drive"), CheckpointMirror.Validate("../drive", work, ckpt, job));
    }

    [Fact]
    public async Task NewestVerified_PicksTheNewestThatVerifiesAcrossJobDirAndMirror()
    {
        var own = TempDirectory("nvown");
        var mirror = TempDirectory("nvmir");
        var log = new List<string>();

        // A fresh machine: the job's directory is empty (not even there), the mirror has step 5.
        await new CheckpointStore(mirror, "m").CommitAsync(5, 1, Payload(5));
        Assert.Equal(Path.Combine(mirror, "ckpt-0000000005.pt"),
            CheckpointMirror.NewestVerified([Path.Combine(own, "nothing-yet"), mirror], 3, log.Add));

        // The job's newest (6) is corrupt, its previous (4) verifies; the mirror's 5 is newer than 4.
        var store = new CheckpointStore(own, "m");
        await store.CommitAsync(4, 1, Payload(4));
        await store.CommitAsync(6, 1, Payload(6));
        FlipByte(Path.Combine(own, "ckpt-0000000006.pt"), 10);
        Assert.Equal(Path.Combine(mirror, "ckpt-0000000005.pt"), CheckpointMirror.NewestVerified([own, mirror], 3, log.Add));
        Assert.Contains(log, l => l.Contains("checkpoint step 6", StringComparison.Ordinal) && l.Contains("corrupt", StringComparison.Ordinal));

        // The job's own 7 is newer than anything in the mirror.
        await store.CommitAsync(7, 2, Payload(7));
        Assert.Equal(Path.Combine(own, "ckpt-0000000007.pt"), CheckpointMirror.NewestVerified([own, mirror], 3, log.Add));

        // A mirror holding another model, or a garbage manifest, is skipped with a message.
        var other = TempDirectory("nvother");
        await new CheckpointStore(other, "other").CommitAsync(99, 1, Payload(99));
        log.Clear();
        Assert.Equal(Path.Combine(own, "ckpt-0000000007.pt"), CheckpointMirror.NewestVerified([own, other], 3, log.Add));
        Assert.Contains(log, l => l.Contains("holds checkpoints of model 'other', not 'm'", StringComparison.Ordinal));
        File.WriteAllText(Path.Combine(mirror, "manifest.json"), "{ not json");
        log.Clear();
        Assert.Equal(Path.Combine(own, "ckpt-0000000007.pt"), CheckpointMirror.NewestVerified([own, mirror], 3, log.Add));
        Assert.Contains(log, l => l.Contains("not usable", StringComparison.Ordinal));
        Assert.Null(CheckpointMirror.NewestVerified([TempDirectory("nvnone")], 3, log.Add));
    }

    private const string Worker =
        "import os,sys,shutil,time\n" +
        "from colab_resume import CheckpointStore\n" +
        "print('resume-from', os.environ.get('COLAB_RESUME_FROM', '-'), flush=True)\n" +
        "s=CheckpointStore(os.environ['COLAB_CHECKPOINT_DIR'],'m',int(os.environ['COLAB_CHECKPOINT_KEEP']))\n" +
        "first=int(sys.argv[1])\n" +
        "for i in range(first, first+3):\n" +
        "    s.commit(bytes([i])*5000, i, 0); time.sleep(2.5)\n" +
        "    if len(sys.argv) > 2 and i == first: shutil.rmtree(sys.argv[2]); time.sleep(2.5)\n";

    [Fact]
    public async Task Job_MirrorsWhileRunning_FreshJobResumesFromTheMirror_LostMirrorNeverFailsTheJob()
    {
        var root = TempDirectory("mjob");
        var jobs = new TrainingJobs(root);
        var mirror = Path.Combine(TempDirectory("mjobdrive"), "run1");
        var start = await ColabAsync(root, "train", "start", "--id", "first", "--keep", "2", "--mirror", mirror, "--max-restarts", "0", "--",
            PythonPath, "-c", Worker, "1");
        Assert.True(start.Code == 0, start.Stderr);
        var s = await PollAsync(() => jobs.ReadStatus("first") is { } x && TrainingStates.IsFinal(x.State) ? x : null, "the first job to end", TimeSpan.FromMinutes(2));
        Assert.Equal(TrainingStates.Succeeded, s.State);
        Assert.Equal(3, s.MirroredStep);
        Assert.Null(s.MirrorError);
        Assert.Equal(["ckpt-0000000002.pt", "ckpt-0000000003.pt", "manifest.json"], Files(mirror));
        Assert.All(new CheckpointStore(mirror, "m").Verify(), v => Assert.Null(v.Problem));
        Assert.Contains($"mirrored 1 checkpoint(s) to {mirror}", File.ReadAllText(Path.Combine(root, "first", "worker.log")), StringComparison.Ordinal);

        // A new job with an empty checkpoint directory (a fresh runtime) and the same mirror resumes from the mirror's newest.
        start = await ColabAsync(root, "train", "start", "--id", "second", "--keep", "2", "--mirror", mirror, "--max-restarts", "0", "--",
            PythonPath, "-c", Worker, "4", mirror);
        Assert.True(start.Code == 0, start.Stderr);
        s = await PollAsync(() => jobs.ReadStatus("second") is { } x && TrainingStates.IsFinal(x.State) ? x : null, "the second job to end", TimeSpan.FromMinutes(2));
        var log = File.ReadAllText(Path.Combine(root, "second", "worker.log"));
        Assert.Contains($"resume-from {Path.Combine(mirror, "ckpt-0000000003.pt")}", log, StringComparison.Ordinal);
        // The worker removed the mirror after its first checkpoint: reported, retried, and the job still succeeds.
        Assert.Equal(TrainingStates.Succeeded, s.State);
        Assert.Contains("is gone (unmounted?)", s.MirrorError, StringComparison.Ordinal);
        Assert.Contains("is gone (unmounted?)", log, StringComparison.Ordinal);
        Assert.False(Directory.Exists(mirror));
        Assert.Equal([5L, 6L], new CheckpointStore(Path.Combine(root, "second", "checkpoints"), "m").ReadManifest().Checkpoints.Select(c => c.Step));
        var status = await ColabAsync(root, "train", "status", "second");
        Assert.Contains("is gone (unmounted?)", status.Stdout, StringComparison.Ordinal);

        var bad = await ColabAsync(root, "train", "start", "--id", "third", "--mirror", Path.Combine(root, "third", "m"), "--", PythonPath, "-c", "pass");
        Assert.NotEqual(0, bad.Code);
        Assert.Contains("overlaps the job's directory", bad.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(root, "third")));
    }
}
