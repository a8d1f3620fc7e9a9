using Colab.Daemon.Training;
using static Colab.Daemon.Tests.Training.TrainingTestSupport;

namespace Colab.Daemon.Tests.Training;

/// <summary>
/// THE fault test, with real PyTorch on CPU: the built-in example runs under the supervisor and its
/// worker is SIGKILLed at random points — some while a checkpoint is being written — at least ten
/// times. After every kill, every checkpoint the manifest names verifies and the newest committed
/// step never goes back. The run that finishes has weights bit-identical to an uninterrupted run.
/// </summary>
public sealed class TrainingFaultTests
{
    private const int Kills = 10;

    [Fact]
    public async Task SigkillAtRandomPoints_ResumedRunIsBitIdentical_AndNoCommittedCheckpointLost()
    {
        // 4 epochs of 45 steps: ten attempts of at most ~1 + 150 ms / 10 ms steps each use well under half of them, so the run
        // never finishes before the tenth kill (with 2 epochs a fast machine once finished first and a kill hit nothing).
        string[] exampleArgs = ["--epochs", "4", "--width", "8", "--seed", "7"];
        var baselineDir = TempDirectory("baseline");
        var baseline = await RunPythonAsync([ExampleScript, .. exampleArgs, "--final", Path.Combine(baselineDir, "final")]);
        Assert.True(baseline.Code == 0, baseline.Stderr);
        var expected = File.ReadAllText(Path.Combine(baselineDir, "final")).Trim();
        Assert.Matches("^[0-9a-f]{64}$", expected);

        var root = TempDirectory("fault");
        var jobs = new TrainingJobs(root);
        var final = Path.Combine(root, "final");
        // Checkpoint every step: a random kill lands inside a checkpoint write often; a few kills wait for one on purpose.
        var start = await ColabAsync(root, ["train", "start", "--id", "faulty", "--max-restarts", "50", "--backoff", "0.01", "--checkpoint-every", "1", "--keep", "3",
            "--", PythonPath, ExampleScript, .. exampleArgs, "--step-delay", "0.01", "--final", final]);
        Assert.True(start.Code == 0, start.Stderr);
        var ckptDir = Path.Combine(root, "faulty", "checkpoints");
        var store = new CheckpointStore(ckptDir, "colab-example-digits-cnn");
        var random = new Random(20261121);
        long newestCommitted = -1;
        var killedDuringWrite = 0;
        var kills = 0;
        var seenPids = new HashSet<int>();
        while (kills < Kills)
        {
            var s = await PollAsync(() => jobs.ReadStatus("faulty") is { } st && (TrainingStates.IsFinal(st.State) || (st.WorkerPid is int p && !seenPids.Contains(p))) ? st : null, "a new worker");
            Assert.False(TrainingStates.IsFinal(s.State), $"the run ended after {kills} kills; make it longer ({s.State}: {s.LastError})");
            var pid = s.WorkerPid!.Value;
            seenPids.Add(pid);
            // Let the worker get past start-up and commit a step beyond what we have seen, so every attempt makes progress.
            var floor = newestCommitted;
            await PollAsync(() => Newest(store) > floor || !TrainingJobs.IsAlive(pid) ? "" : null, "progress");
            if (kills % 3 == 1)
            {
                // Kill inside a checkpoint write: wait until a payload or manifest temp file exists.
                var hit = await PollUntilAsync(() => Directory.EnumerateFiles(ckptDir).Any(f => Path.GetFileName(f).Contains(".tmp-", StringComparison.Ordinal)), TimeSpan.FromSeconds(5));
                var landed = TrainingJobs.Kill(pid, TrainingJobs.SigKill) == 0;
                if (hit && landed)
                {
                    killedDuringWrite++;
                }
                Assert.True(landed, $"kill {kills + 1} found worker {pid} gone already ({jobs.ReadStatus("faulty").State})");
            }
            else
            {
                await Task.Delay(random.Next(0, 150));
                Assert.True(TrainingJobs.Kill(pid, TrainingJobs.SigKill) == 0, $"kill {kills + 1} found worker {pid} gone already ({jobs.ReadStatus("faulty").State})");
            }
            kills++;
            await PollAsync(() => TrainingJobs.IsAlive(pid) ? null : "", "the killed worker to be gone");
            // No committed checkpoint is lost or corrupt, and the newest never moves back.
            var verified = store.Verify();
            Assert.NotEmpty(verified);
            Assert.All(verified, v => Assert.True(v.Problem is null, $"step {v.Entry.Step}: {v.Problem}"));
            var newest = verified.Max(v => v.Entry.Step);
            Assert.True(newest >= newestCommitted, $"newest committed step went back from {newestCommitted} to {newest}");
            newestCommitted = newest;
        }
        var done = await PollAsync(() => jobs.ReadStatus("faulty") is { } st && TrainingStates.IsFinal(st.State) ? st : null, "the run to finish", TimeSpan.FromMinutes(3));
        Assert.True(done.State == TrainingStates.Succeeded, $"{done.State}: {done.LastError}");
        Assert.True(done.Restarts >= Kills, $"only {done.Restarts} restarts");
        Assert.True(killedDuringWrite >= 1, "no kill landed inside a checkpoint write");
        Assert.Equal(expected, File.ReadAllText(final).Trim());
        Assert.All(store.Verify(), v => Assert.Null(v.Problem));
        Assert.DoesNotContain(Directory.EnumerateFiles(ckptDir), f => Path.GetFileName(f).Contains(".tmp-", StringComparison.Ordinal) && !f.EndsWith(".tmp-" + done.SupervisorPid, StringComparison.Ordinal));
        var log = File.ReadAllText(Path.Combine(root, "faulty", "worker.log"));
        Assert.Contains("resuming from", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stop_WorkerCheckpointsAtNextStepAndExits_ResumeFinishesBitIdentical()
    {
        // 3 epochs of 45 steps at 50 ms: ~6 s left after the first five steps, room for `colab train stop` to start
        // up on a loaded machine before the run would finish by itself.
        string[] exampleArgs = ["--epochs", "3", "--width", "8", "--seed", "11"];
        var baselineDir = TempDirectory("stopbase");
        var baseline = await RunPythonAsync([ExampleScript, .. exampleArgs, "--final", Path.Combine(baselineDir, "final")]);
        Assert.True(baseline.Code == 0, baseline.Stderr);

        var root = TempDirectory("stopresume");
        var jobs = new TrainingJobs(root);
        var final = Path.Combine(root, "final");
        // A long checkpoint interval: the only checkpoint before the end is the one SIGTERM asks for.
        var start = await ColabAsync(root, ["train", "start", "--id", "graceful", "--checkpoint-every", "1000", "--grace", "60",
            "--", PythonPath, ExampleScript, .. exampleArgs, "--step-delay", "0.05", "--final", final]);
        Assert.True(start.Code == 0, start.Stderr);
        var metrics = Path.Combine(root, "graceful", "metrics.jsonl");
        await PollAsync(() => File.Exists(metrics) && File.ReadAllLines(metrics).Length >= 5 ? "" : null, "a few steps");
        var stop = await ColabAsync(root, "train", "stop", "graceful");
        Assert.True(stop.Code == 0, stop.Stderr);
        Assert.Equal(TrainingStates.Stopped, jobs.ReadStatus("graceful").State);
        Assert.Equal(0, jobs.ReadStatus("graceful").LastExitCode);
        var log = File.ReadAllText(Path.Combine(root, "graceful", "worker.log"));
        var m = System.Text.RegularExpressions.Regex.Match(log, @"stop requested: checkpointed at step (\d+), exiting");
        Assert.True(m.Success, log);
        var store = new CheckpointStore(Path.Combine(root, "graceful", "checkpoints"), "colab-example-digits-cnn");
        Assert.Equal(long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), store.OpenNewest()!.Value.Entry.Step);
        Assert.False(File.Exists(final));

        var resume = await ColabAsync(root, "train", "resume", "graceful");
        Assert.True(resume.Code == 0, resume.Stderr);
        var done = await PollAsync(() => jobs.ReadStatus("graceful") is { } st && TrainingStates.IsFinal(st.State) ? st : null, "the resumed run", TimeSpan.FromMinutes(2));
        Assert.True(done.State == TrainingStates.Succeeded, $"{done.State}: {done.LastError}");
        Assert.Equal(File.ReadAllText(Path.Combine(baselineDir, "final")), File.ReadAllText(final));
    }

    private static long Newest(CheckpointStore store)
    {
        try
        {
            return store.ReadManifest().Checkpoints.Select(c => c.Step).DefaultIfEmpty(-1).Max();
        }
        catch (CheckpointException)
        {
            return -1;
        }
    }

    private static async Task<bool> PollUntilAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if (condition())
                {
                    return true;
                }
            }
            catch (IOException)
            {
                // a file vanished while listing
            }
            await Task.Yield();
        }
        return false;
    }
}
