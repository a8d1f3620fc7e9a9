using Colab.Daemon.Training;
using static Colab.Daemon.Tests.Training.TrainingTestSupport;

namespace Colab.Daemon.Tests.Training;

/// <summary>The detached supervisor, driven through the real <c>colab train</c> CLI.</summary>
public sealed class SupervisorTests
{
    private static async Task<TrainingJobStatus> FinalAsync(TrainingJobs jobs, string id)
        => await PollAsync(() => jobs.ReadStatus(id) is { } s && TrainingStates.IsFinal(s.State) ? s : null, $"job {id} to end");

    [Fact]
    public async Task WorkerCrashingOnEveryStart_StopsAfterLimitWithLastError()
    {
        var root = TempDirectory("crash");
        var start = await ColabAsync(root, "train", "start", "--max-restarts", "2", "--backoff", "0.05", "--id", "crashy", "--",
            "/bin/sh", "-c", "echo \"boom on start $COLAB_RESTART_COUNT\" >&2; exit 3");
        Assert.True(start.Code == 0, start.Stderr);
        Assert.Equal("crashy", start.Stdout.Trim());
        var s = await FinalAsync(new TrainingJobs(root), "crashy");
        Assert.Equal(TrainingStates.Failed, s.State);
        Assert.Equal(2, s.Restarts);
        Assert.Equal(3, s.LastExitCode);
        Assert.Contains("stopped after 2 restart(s) (limit 2)", s.LastError, StringComparison.Ordinal);
        Assert.Contains("boom on start 2", s.LastError, StringComparison.Ordinal);

        var status = await ColabAsync(root, "train", "status", "crashy");
        Assert.Contains("crashy  failed  restarts 2/2", status.Stdout, StringComparison.Ordinal);
        Assert.Contains("boom on start 2", status.Stdout, StringComparison.Ordinal);
        var logs = await ColabAsync(root, "train", "logs", "crashy");
        Assert.Contains("boom on start 0", logs.Stdout, StringComparison.Ordinal);
        Assert.Contains("giving up after 2 restarts", logs.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CommandThatDoesNotExist_FailsWithClearError()
    {
        var root = TempDirectory("nocmd");
        var start = await ColabAsync(root, "train", "start", "--id", "nocmd", "--", "/nonexistent/python9", "x.py");
        Assert.Equal(0, start.Code);
        var s = await FinalAsync(new TrainingJobs(root), "nocmd");
        Assert.Equal(TrainingStates.Failed, s.State);
        Assert.Contains("could not start /nonexistent/python9", s.LastError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stop_SendsSigtermThenSigkillAfterGrace()
    {
        var root = TempDirectory("stop");
        var jobs = new TrainingJobs(root);
        Assert.Equal(0, (await ColabAsync(root, "train", "start", "--id", "polite", "--", "/bin/sh", "-c",
            "trap 'echo checkpointing on TERM; exit 0' TERM; echo ready; while :; do sleep 0.05; done")).Code);
        Assert.Equal(0, (await ColabAsync(root, "train", "start", "--id", "stubborn", "--grace", "1", "--", "/bin/sh", "-c",
            "trap '' TERM; echo ready; while :; do sleep 0.05; done")).Code);
        foreach (var id in new[] { "polite", "stubborn" })
        {
            await PollAsync(() => File.Exists(Path.Combine(root, id, "worker.log")) && File.ReadAllText(Path.Combine(root, id, "worker.log")).Contains("ready", StringComparison.Ordinal) ? "" : null, $"{id} ready");
        }
        var stop1 = await ColabAsync(root, "train", "stop", "polite");
        Assert.True(stop1.Code == 0, stop1.Stderr);
        Assert.Contains("polite  stopped", stop1.Stdout, StringComparison.Ordinal);
        Assert.Contains("checkpointing on TERM", File.ReadAllText(Path.Combine(root, "polite", "worker.log")), StringComparison.Ordinal);

        var stop2 = await ColabAsync(root, "train", "stop", "stubborn");
        Assert.True(stop2.Code == 0, stop2.Stderr);
        Assert.Equal(TrainingStates.Stopped, jobs.ReadStatus("stubborn").State);
        Assert.Contains("did not exit within 1 s of SIGTERM: SIGKILL", File.ReadAllText(Path.Combine(root, "stubborn", "worker.log")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Supervisor_IsDetached_LostWhenKilled_ResumeReattachesAndFinishes()
    {
        var root = TempDirectory("detach");
        var jobs = new TrainingJobs(root);
        // The worker counts to 40 in ~2 s, keeping its progress in the checkpoint dir, so a new supervisor continues it.
        // Written to a temp name and renamed, as a checkpoint must be: the test SIGKILLs the worker at any moment,
        // and a kill between open(p,'w') truncating the file and the write would leave it empty (int('') fails).
        var script = "import os,sys,time\n" +
                     "p=os.path.join(os.environ['COLAB_CHECKPOINT_DIR'],'n'); os.makedirs(os.environ['COLAB_CHECKPOINT_DIR'],exist_ok=True)\n" +
                     "n=int(open(p).read()) if os.path.exists(p) else 0\n" +
                     "while n<40:\n n+=1; open(p+'.tmp','w').write(str(n)); os.replace(p+'.tmp',p); print('n',n,flush=True); time.sleep(0.05)\n";
        Assert.Equal(0, (await ColabAsync(root, "train", "start", "--id", "detached", "--", PythonPath, "-c", script)).Code);
        var running = await PollAsync(() => jobs.ReadStatus("detached") is { State: TrainingStates.Running, WorkerPid: not null } s ? s : null, "running");
        var supervisor = running.SupervisorPid!.Value;
        // Its own session: nothing that ends the starter's terminal or process group reaches it.
        Assert.Equal(supervisor, SessionOf(supervisor));
        Assert.NotEqual(SessionOf(Environment.ProcessId), SessionOf(supervisor));

        // The supervisor dies without a word (like a host reboot would take it): status says lost, not running.
        Assert.Equal(0, TrainingJobs.Kill(supervisor, TrainingJobs.SigKill));
        Assert.Equal(0, TrainingJobs.Kill(running.WorkerPid!.Value, TrainingJobs.SigKill));
        var lost = await PollAsync(() => jobs.ReadStatus("detached") is { State: TrainingStates.Lost } s ? s : null, "lost");
        Assert.Contains("colab train resume", lost.LastError, StringComparison.Ordinal);

        var resume = await ColabAsync(root, "train", "resume", "detached");
        Assert.True(resume.Code == 0, resume.Stderr);
        var s = await FinalAsync(jobs, "detached");
        Assert.Equal(TrainingStates.Succeeded, s.State);
        Assert.Equal("40", File.ReadAllText(Path.Combine(root, "detached", "checkpoints", "n")));
        var again = await ColabAsync(root, "train", "status", "--json");
        Assert.Contains("\"state\": \"succeeded\"", again.Stdout.Replace("\"state\":\"", "\"state\": \"", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("../etc")]
    [InlineData("..")]
    [InlineData("a/b")]
    [InlineData("")]
    public async Task HostileJobIds_Rejected(string id)
    {
        var root = TempDirectory("ids");
        var r = await ColabAsync(root, "train", "status", id);
        Assert.Equal(1, r.Code);
        Assert.Contains("is not a training job id", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownJob_ClearError()
    {
        var r = await ColabAsync(TempDirectory("unknown"), "train", "logs", "nope");
        Assert.Equal(1, r.Code);
        Assert.Contains("no training job 'nope'", r.Stderr, StringComparison.Ordinal);
    }

    private static int SessionOf(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return int.Parse(fields[3], System.Globalization.CultureInfo.InvariantCulture); // state ppid pgrp session
    }
}
