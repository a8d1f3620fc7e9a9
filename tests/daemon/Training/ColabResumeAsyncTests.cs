using static Colab.Daemon.Tests.Training.TrainingTestSupport;

namespace Colab.Daemon.Tests.Training;

/// <summary>
/// colab_resume's asynchronous save and overlapped resume, with real PyTorch: the state is the one
/// of the moment save() was called, the process never exits with a save half done, a background
/// failure surfaces at the next call with the usual message, the synchronous mode still exists, and
/// a payload whose hash fails is never applied even when torch.load could parse it.
/// </summary>
public sealed class ColabResumeAsyncTests
{
    // A model of ~4 MB: big enough that its sha256 is computed on the helper thread while torch.load parses it.
    private const string Prelude = """
        import hashlib, os, sys, torch, colab_resume as cr
        torch.manual_seed(0)
        def make():
            return torch.nn.Sequential(torch.nn.Linear(512, 1024), torch.nn.Linear(1024, 256))
        def digest(m):
            h = hashlib.sha256()
            for k, v in sorted(m.state_dict().items()):
                h.update(k.encode()); h.update(v.detach().contiguous().numpy().tobytes())
            return h.hexdigest()
        """;

    private static async Task<string> Python(string script, params string[] args)
    {
        var r = await RunPythonAsync(["-c", Prelude + "\n" + script, .. args]);
        Assert.True(r.Code == 0, $"exit {r.Code}\n{r.Stdout}\n{r.Stderr}");
        return r.Stdout + r.Stderr;
    }

    [Fact]
    public async Task AsyncSave_HoldsTheStateOfTheCall_NotOfLaterSteps()
    {
        var dir = TempDirectory("asyncsnap");
        var output = await Python("""
            m = make(); opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
            m(torch.randn(8, 512)).sum().backward(); opt.step()
            run = cr.Run("snap", sys.argv[1], keep=2)
            run.step = 1
            before = digest(m)
            assert run.save(m, opt) is None                  # asynchronous: returns once the state is copied
            for _ in range(5):                               # the loop goes on, changing every tensor in place
                opt.zero_grad(); m(torch.randn(8, 512)).sum().backward(); opt.step()
                with torch.no_grad():
                    for p in m.parameters(): p.mul_(0.5)
            entry = run.wait()
            assert entry is not None and entry.step == 1, entry
            after = digest(m)
            m2 = make(); opt2 = torch.optim.SGD(m2.parameters(), lr=0.1, momentum=0.9)
            st = cr.Run("snap", sys.argv[1]).resume(m2, opt2)
            print("step", st.step, "same-as-at-save", digest(m2) == before, "differs-from-now", digest(m2) != after)
            """, dir);
        Assert.Contains("step 1 same-as-at-save True differs-from-now True", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AsyncSave_ProcessExitWaitsForTheSaveInFlight()
    {
        var dir = TempDirectory("asyncexit");
        // Save and exit at once: no wait(), no close(); the interpreter must not cut the save short.
        await Python("""
            m = make()
            with torch.no_grad():
                big = torch.nn.Linear(2048, 2048)                # ~16 MB more, so the save takes a while
            run = cr.Run("exit", sys.argv[1])
            run.step = 7
            run.save(torch.nn.Sequential(m, big))
            """, dir);
        var store = new Colab.Daemon.Training.CheckpointStore(dir, "exit");
        var found = store.OpenNewest();
        Assert.NotNull(found);
        using var payload = found.Value.Payload;
        Assert.Equal(7, found.Value.Entry.Step);
        Assert.All(store.Verify(), v => Assert.Null(v.Problem));
        Assert.DoesNotContain(Directory.EnumerateFiles(dir), f => Path.GetFileName(f).Contains(".tmp-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AsyncSave_BackgroundFailure_SurfacesAtTheNextSaveWithAClearMessage()
    {
        var dir = TempDirectory("asyncfail");
        var output = await Python("""
            import shutil
            m = make()
            run = cr.Run("fail", sys.argv[1])
            run.step = 1; run.save(m); run.wait()
            good = cr.CheckpointStore(sys.argv[1], "fail").manifest().checkpoints
            os.rename(sys.argv[1], sys.argv[1] + ".moved")      # the directory vanishes under the run
            run.step = 2; run.save(m)                           # returns: the failure happens in the background
            try:
                run.step = 3; run.save(m)
                print("no error")
            except cr.CheckpointError as e:
                print("error:", e)
            run.wait()                                          # reported once, then the run can go on
            os.rename(sys.argv[1] + ".moved", sys.argv[1])
            run.step = 4; run.save(m); run.close()
            print("steps", [c.step for c in cr.CheckpointStore(sys.argv[1], "fail").manifest().checkpoints])
            """, dir);
        Assert.Contains("error: the background save failed: could not write checkpoint step 2 to " + dir, output, StringComparison.Ordinal);
        Assert.Contains("the previous checkpoints are intact", output, StringComparison.Ordinal);
        Assert.Contains("steps [1, 4]", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SynchronousMode_ByOptionOrEnvironment_CommitsBeforeSaveReturns()
    {
        var dir = TempDirectory("syncmode");
        var script = """
            m = make()
            run = cr.Run.from_env("sync", checkpoint_dir=sys.argv[1])
            run.step = 3
            entry = run.save(m)
            names = os.listdir(sys.argv[1])
            print("async", run.async_save, "entry", entry.step if entry else None, "committed", "ckpt-0000000003.pt" in names)
            """;
        var r = await RunPythonAsync(["-c", Prelude + "\n" + script, dir], new Dictionary<string, string> { ["COLAB_CHECKPOINT_ASYNC"] = "0" });
        Assert.True(r.Code == 0, r.Stderr);
        Assert.Contains("async False entry 3 committed True", r.Stdout, StringComparison.Ordinal);

        var opt = await Python("""
            run = cr.Run("sync2", sys.argv[1], async_save=False)
            run.step = 4
            print("entry", run.save(make()).step)
            """, TempDirectory("syncopt"));
        Assert.Contains("entry 4", opt, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("tensor-byte")] // torch.load still parses it: only the hash tells
    [InlineData("zip-header")]  // torch.load fails too: the hash failure wins, no exception
    public async Task OverlappedResume_NewestCorrupt_LoadedStateDiscarded_PreviousApplied(string where)
    {
        var dir = TempDirectory("overlap");
        var output = await Python("""
            m = make(); opt = torch.optim.SGD(m.parameters(), lr=0.1)
            run = cr.Run("overlap", sys.argv[1], keep=3)
            digests = {}
            for step in (1, 2):
                m(torch.randn(4, 512)).sum().backward(); opt.step(); opt.zero_grad()
                run.step = step; run.save(m, opt); run.wait()
                digests[step] = digest(m)
            entry = [c for c in cr.CheckpointStore(sys.argv[1], "overlap").manifest().checkpoints if c.step == 2][0]
            assert entry.size > cr._OVERLAP_HASH_BYTES
            path = os.path.join(sys.argv[1], entry.file)
            data = bytearray(open(path, "rb").read())
            pos = 0 if sys.argv[2] == "zip-header" else len(data) // 2
            data[pos] ^= 0x40
            open(path, "wb").write(bytes(data))
            m2 = make()
            st = cr.Run("overlap", sys.argv[1]).resume(m2)
            print("resumed", st.step, "weights-of-step-1", digest(m2) == digests[1])
            """, dir, where);
        Assert.Contains("checkpoint step 2 (ckpt-0000000002.pt) is corrupt (sha256 mismatch); trying the previous one", output, StringComparison.Ordinal);
        Assert.Contains("resumed 1 weights-of-step-1 True", output, StringComparison.Ordinal);
    }
}
