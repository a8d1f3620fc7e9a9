using System.Diagnostics;
using System.Text.Json;
using Colab.Daemon.Protocol;
using Colab.Daemon.Tests.Infrastructure;
using Colab.Daemon.Training;
using static Colab.Daemon.Tests.Training.TrainingTestSupport;

namespace Colab.Daemon.Tests.Training;

/// <summary>A real Jupyter server started by hand with a known token, connected to daemons as a <em>remote</em> runtime by URL + token.</summary>
public sealed class RemoteJupyterFixture : IAsyncLifetime
{
    private Process? _server;

    public string Root { get; } = TempDirectory("remote-root");

    public string Token { get; } = "tok" + Guid.NewGuid().ToString("N");

    public string Url { get; private set; } = "";

    public async Task InitializeAsync()
    {
        var port = WebhookListener.FreePort();
        var start = new ProcessStartInfo(PythonPath) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in new[] { "-m", "jupyter_server", "--no-browser", "--ip=127.0.0.1", $"--port={port}", "--ServerApp.port_retries=0",
                     $"--ServerApp.token={Token}", $"--ServerApp.root_dir={Root}", "--allow-root" })
        {
            start.ArgumentList.Add(a);
        }
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("COLAB_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }
        _server = Process.Start(start)!;
        _ = _server.StandardOutput.ReadToEndAsync();
        _ = _server.StandardError.ReadToEndAsync();
        Url = $"http://127.0.0.1:{port}/";
        using var http = new HttpClient();
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (true)
        {
            try
            {
                using var r = await http.GetAsync($"{Url}api/status?token={Token}");
                if (r.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            if (_server.HasExited || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException("the Jupyter server for the remote-job tests did not start");
            }
            await Task.Delay(200);
        }
    }

    internal async Task<string> ConnectAsync(DaemonProcess daemon)
    {
        var answer = await daemon.RequestAsync(Methods.RuntimeConnect, $$"""{"kind":"remote","url":{{JsonSerializer.Serialize(Url)}},"token":"{{Token}}"}""");
        Assert.True(answer.TryGetProperty("result", out var runtime), answer.GetRawText());
        return runtime.GetProperty("id").GetString()!;
    }

    public Task DisposeAsync()
    {
        if (_server is { HasExited: false })
        {
            _server.Kill(entireProcessTree: true);
            _server.WaitForExit(10_000);
        }
        _server?.Dispose();
        return Task.CompletedTask;
    }
}

/// <summary>Jobs on a remote runtime: code sync, the detached runner, restarts with resume, stop, and re-attach after a daemon restart — real Jupyter, real processes.</summary>
public sealed class RemoteJobTests(RemoteJupyterFixture jupyter) : IClassFixture<RemoteJupyterFixture>
{
    private static Dictionary<string, string> Env(string root) => new() { ["COLAB_TRAINING_JOBS"] = root, ["COLAB_PYTHON"] = PythonPath };

    private static async Task<string> StartAsync(DaemonProcess daemon, TrainStartParams p)
    {
        var answer = await daemon.RequestAsync(Methods.TrainStart, JsonSerializer.Serialize(p, TrainingProtocolJson.Default.TrainStartParams));
        Assert.True(answer.TryGetProperty("result", out var info), answer.GetRawText());
        return info.GetProperty("id").GetString()!;
    }

    private static async Task<JsonElement> WaitStateAsync(DaemonProcess daemon, string id, Func<string, bool> done, int seconds = 180)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            var s = (await daemon.RequestAsync(Methods.TrainStatus, $$"""{"jobId":"{{id}}"}""")).GetProperty("result");
            if (done(s.GetProperty("state").GetString()!))
            {
                return s;
            }
            Assert.True(DateTime.UtcNow < deadline, $"job {id}: {s.GetRawText()}");
            await Task.Delay(250);
        }
    }

    private static bool Final(string state) => state is "succeeded" or "failed" or "stopped" or "lost";

    private static string Workspace(params (string Name, string Text)[] files)
    {
        var ws = TempDirectory("remote-ws");
        foreach (var (name, text) in files)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(ws, name))!);
            File.WriteAllText(Path.Combine(ws, name), text);
        }
        return ws;
    }

    private const string Train = """
        import json, os, helper
        print("hello from the runtime", helper.VALUE, os.environ["COLAB_RESTART_COUNT"], flush=True)
        with open(os.environ["COLAB_METRICS_FILE"], "a") as f:
            f.write(json.dumps({"step": 10, "total_steps": 10, "loss": 0.25, "accuracy": 0.9}) + "\n")
        """;

    [Fact]
    public async Task Remote_SyncsOnlyMatchingChangedFiles_RunsDetached_MirrorsLogAndMetrics()
    {
        var root = TempDirectory("remote-jobs");
        var ws = Workspace(("train.py", Train), ("lib/helper.py", "VALUE = 41\n"), ("data.txt", "not code"));
        File.CreateSymbolicLink(Path.Combine(ws, "outside.py"), "/etc/hostname");
        await using var daemon = DaemonProcess.Start(environment: Env(root));
        await daemon.InitializeAsync();
        var runtimeId = await jupyter.ConnectAsync(daemon);

        var id = await StartAsync(daemon, new TrainStartParams(["python3", "train.py"], WorkingDirectory: ws, MaxRestarts: 0, RuntimeId: runtimeId,
            SyncGlobs: ["*.py", "lib/*.py"]));
        // helper is imported from lib/: PYTHONPATH has the job folder, the worker's cwd is the code folder.
        var info = await WaitStateAsync(daemon, id, Final);

        var code = Path.Combine(jupyter.Root, "colab-training", "code");
        Assert.True(File.Exists(Path.Combine(code, "train.py")));
        Assert.True(File.Exists(Path.Combine(code, "lib", "helper.py")));
        Assert.False(File.Exists(Path.Combine(code, "data.txt")));
        Assert.False(File.Exists(Path.Combine(code, "outside.py")));
        var supervisorLog = File.ReadAllText(Path.Combine(root, id, "supervisor.log"));
        Assert.Contains("synced 2 file(s)", supervisorLog, StringComparison.Ordinal);
        Assert.Contains("2 changed", supervisorLog, StringComparison.Ordinal);
        // train.py imports helper from lib/ only if it is on the path: it is not, so the job fails — and says why.
        Assert.Equal("failed", info.GetProperty("state").GetString());
        Assert.Contains("No module named 'helper'", info.GetProperty("lastError").GetString());

        // Fix the script (one file changed) and run again: only that file is uploaded.
        File.WriteAllText(Path.Combine(ws, "train.py"), "import sys; sys.path.insert(0, 'lib')\n" + Train);
        var id2 = await StartAsync(daemon, new TrainStartParams(["python3", "train.py"], WorkingDirectory: ws, MaxRestarts: 0, RuntimeId: runtimeId,
            SyncGlobs: ["*.py", "lib/*.py"]));
        var done = await WaitStateAsync(daemon, id2, Final);
        Assert.True(done.GetProperty("state").GetString() == "succeeded", done.GetRawText());
        Assert.Contains("1 changed", File.ReadAllText(Path.Combine(root, id2, "supervisor.log")), StringComparison.Ordinal);
        Assert.Contains("hello from the runtime 41 0", File.ReadAllText(Path.Combine(root, id2, "worker.log")), StringComparison.Ordinal);
        var progress = done.GetProperty("progress");
        Assert.Equal(0.25, progress.GetProperty("loss").GetDouble());
        Assert.Equal(10, progress.GetProperty("step").GetInt64());
        // The job ran on the runtime: its files are in the job folder there.
        Assert.True(File.Exists(Path.Combine(jupyter.Root, "colab-training", "jobs", id2, "exit")));
        Assert.Equal("0", File.ReadAllText(Path.Combine(jupyter.Root, "colab-training", "jobs", id2, "exit")).Trim());
    }

    [Fact]
    public async Task Remote_CrashThenResume_RestartsWithResumeFrom_AndFailsAfterTheLimit()
    {
        var root = TempDirectory("remote-crash");
        var ws = Workspace(("crashy.py", """
            import os, sys
            n = int(os.environ["COLAB_RESTART_COUNT"])
            print("start", n, "resume", os.environ.get("COLAB_RESUME_FROM", "-"), flush=True)
            sys.exit(3 if n == 0 else 0)
            """), ("always.py", "import sys; print('boom', flush=True); sys.exit(5)\n"));
        await using var daemon = DaemonProcess.Start(environment: Env(root));
        await daemon.InitializeAsync();
        var runtimeId = await jupyter.ConnectAsync(daemon);

        var id = await StartAsync(daemon, new TrainStartParams(["python3", "crashy.py"], WorkingDirectory: ws, MaxRestarts: 2, RuntimeId: runtimeId));
        var info = await WaitStateAsync(daemon, id, Final);
        Assert.True(info.GetProperty("state").GetString() == "succeeded", info.GetRawText());
        Assert.Equal(1, info.GetProperty("restarts").GetInt32());
        var log = File.ReadAllText(Path.Combine(root, id, "worker.log"));
        Assert.Contains("start 0 resume -", log, StringComparison.Ordinal);
        Assert.Contains($"start 1 resume {Path.Combine(jupyter.Root, "colab-training", "jobs", id, "ckpt")}", log, StringComparison.Ordinal);

        var id2 = await StartAsync(daemon, new TrainStartParams(["python3", "always.py"], WorkingDirectory: ws, MaxRestarts: 1, RuntimeId: runtimeId));
        var failed = await WaitStateAsync(daemon, id2, Final);
        Assert.Equal("failed", failed.GetProperty("state").GetString());
        Assert.Equal(1, failed.GetProperty("restarts").GetInt32());
        Assert.Contains("exit code 5", failed.GetProperty("lastError").GetString());
        Assert.Contains("boom", failed.GetProperty("lastError").GetString());
    }

    [Fact]
    public async Task Remote_KilledMidRun_ResumesFromTheNewestVerifiedCheckpoint_WithTheRealHelper()
    {
        var root = TempDirectory("remote-resume");
        var ws = Workspace(("resumable.py", """
            import os, signal, colab_resume as cr
            store = cr.CheckpointStore(os.environ["COLAB_CHECKPOINT_DIR"], "remote-test", keep=2)
            step = 0
            if os.environ.get("COLAB_RESUME_FROM"):
                found = cr.CheckpointStore(os.environ["COLAB_RESUME_FROM"], "remote-test").load_newest()
                step = int(found[1].decode())
                print("resumed at", step, flush=True)
            while step < 10:
                step += 1
                store.commit(str(step).encode(), step, 0)
                if step == 6 and os.environ["COLAB_RESTART_COUNT"] == "0":
                    os.kill(os.getpid(), signal.SIGKILL)
            print("finished at", step, flush=True)
            """));
        await using var daemon = DaemonProcess.Start(environment: Env(root));
        await daemon.InitializeAsync();
        var runtimeId = await jupyter.ConnectAsync(daemon);

        var id = await StartAsync(daemon, new TrainStartParams(["python3", "resumable.py"], WorkingDirectory: ws, MaxRestarts: 1, RuntimeId: runtimeId));
        var info = await WaitStateAsync(daemon, id, Final);

        Assert.True(info.GetProperty("state").GetString() == "succeeded", info.GetRawText());
        Assert.Equal(1, info.GetProperty("restarts").GetInt32());
        Assert.Contains("worker exited with signal 9", File.ReadAllText(Path.Combine(root, id, "supervisor.log")), StringComparison.Ordinal);
        var log = File.ReadAllText(Path.Combine(root, id, "worker.log"));
        Assert.Contains("resumed at 6", log, StringComparison.Ordinal);
        Assert.Contains("finished at 10", log, StringComparison.Ordinal);
        var manifest = File.ReadAllText(Path.Combine(jupyter.Root, "colab-training", "jobs", id, "ckpt", "manifest.json"));
        Assert.Contains("ckpt-0000000010.pt", manifest, StringComparison.Ordinal);
    }

    private const string MirroredScript = """
        import os, sys, colab_resume as cr
        store = cr.CheckpointStore(os.environ["COLAB_CHECKPOINT_DIR"], "mirrored-model", keep=int(os.environ["COLAB_CHECKPOINT_KEEP"]))
        step = 0
        if os.environ.get("COLAB_RESUME_FROM"):
            found = cr.CheckpointStore(os.environ["COLAB_RESUME_FROM"], "mirrored-model").load_newest()
            step = int(found[1].split(b":")[0])
            print("resumed at", step, flush=True)
        if len(sys.argv) > 2:
            import time; time.sleep(float(sys.argv[2]))
        while step < int(sys.argv[1]):
            step += 1
            store.commit(f"{step}:".encode() + os.urandom(200_000), step, 0)
        print("finished at", step, flush=True)
        """;

    [Fact]
    public async Task Remote_Mirror_CopiesVerifiedCheckpointsFromTheRuntime_AndANewJobResumesFromTheMirror()
    {
        var root = TempDirectory("remote-mirror");
        var mirror = Path.Combine(TempDirectory("remote-mirror-dest"), "run");
        var ws = Workspace(("ckpt.py", MirroredScript));
        await using var daemon = DaemonProcess.Start(environment: Env(root));
        await daemon.InitializeAsync();
        var runtimeId = await jupyter.ConnectAsync(daemon);

        var id = await StartAsync(daemon, new TrainStartParams(["python3", "ckpt.py", "6"], WorkingDirectory: ws, MaxRestarts: 0, RuntimeId: runtimeId, Keep: 3, Mirror: mirror));
        var info = await WaitStateAsync(daemon, id, Final);
        Assert.True(info.GetProperty("state").GetString() == "succeeded", info.GetRawText());
        // The mirror holds the runtime's last three checkpoints, byte for byte, and its own manifest verifies them.
        var store = new CheckpointStore(mirror, "mirrored-model");
        Assert.Equal([4L, 5L, 6L], store.ReadManifest().Checkpoints.Select(c => c.Step));
        Assert.All(store.Verify(), v => Assert.Null(v.Problem));
        var onRuntime = Path.Combine(jupyter.Root, "colab-training", "jobs", id, "ckpt");
        Assert.Equal(File.ReadAllBytes(Path.Combine(onRuntime, "ckpt-0000000006.pt")), File.ReadAllBytes(Path.Combine(mirror, "ckpt-0000000006.pt")));
        Assert.Equal(6, info.GetProperty("mirroredStep").GetInt64());
        Assert.False(info.TryGetProperty("mirrorError", out _), info.GetRawText());
        Assert.Contains("from the runtime to " + mirror, File.ReadAllText(Path.Combine(root, id, "supervisor.log")), StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(root, id, RemoteJobs.MirrorStaging)));

        // The runtime is gone (its job folder with it); the mirror's newest is corrupt: a new job resumes from the newest that verifies.
        Directory.Delete(Path.Combine(jupyter.Root, "colab-training", "jobs", id), recursive: true);
        var newest = Path.Combine(mirror, "ckpt-0000000006.pt");
        var bytes = File.ReadAllBytes(newest);
        bytes[100_000] ^= 1;
        File.WriteAllBytes(newest, bytes);
        var id2 = await StartAsync(daemon, new TrainStartParams(["python3", "ckpt.py", "9"], WorkingDirectory: ws, MaxRestarts: 0, RuntimeId: runtimeId, Keep: 3, Mirror: mirror));
        var done = await WaitStateAsync(daemon, id2, Final);
        Assert.True(done.GetProperty("state").GetString() == "succeeded", done.GetRawText());
        var log = File.ReadAllText(Path.Combine(root, id2, "worker.log"));
        Assert.Contains("resumed at 5", log, StringComparison.Ordinal);
        Assert.Contains("finished at 9", log, StringComparison.Ordinal);
        var supervisor = File.ReadAllText(Path.Combine(root, id2, "supervisor.log"));
        Assert.Contains("checkpoint step 6 (ckpt-0000000006.pt) is corrupt", supervisor, StringComparison.Ordinal);
        Assert.Contains("resuming from the mirror: uploaded checkpoint step 5", supervisor, StringComparison.Ordinal);
        // The mirror moved on with the new job: 7, 8, 9, all verified (the corrupt 6 was replaced or pruned, never trusted).
        Assert.Equal([7L, 8L, 9L], store.ReadManifest().Checkpoints.Select(c => c.Step));
        Assert.All(store.Verify(), v => Assert.Null(v.Problem));
    }

    [Fact]
    public async Task Remote_Mirror_UnreachableMirror_IsAnErrorInStatus_TheJobStillSucceeds()
    {
        var root = TempDirectory("remote-mirror-gone");
        var mirror = Path.Combine(TempDirectory("remote-mirror-gone-dest"), "run");
        var ws = Workspace(("ckpt.py", MirroredScript));
        await using var daemon = DaemonProcess.Start(environment: Env(root));
        await daemon.InitializeAsync();
        var runtimeId = await jupyter.ConnectAsync(daemon);

        var id = await StartAsync(daemon, new TrainStartParams(["python3", "ckpt.py", "3", "3"], WorkingDirectory: ws, MaxRestarts: 0, RuntimeId: runtimeId, Mirror: mirror));
        Directory.Delete(mirror); // the Drive folder was unmounted: never re-created behind the user's back
        var info = await WaitStateAsync(daemon, id, Final);

        Assert.True(info.GetProperty("state").GetString() == "succeeded", info.GetRawText());
        Assert.Contains("is gone (unmounted?)", info.GetProperty("mirrorError").GetString(), StringComparison.Ordinal);
        Assert.False(Directory.Exists(mirror));
    }

    [Fact]
    public async Task Remote_Mirror_HostileManifestOnTheRuntime_IsRefused_NothingWrittenOutsideTheMirror()
    {
        var root = TempDirectory("remote-mirror-hostile");
        var mirror = Path.Combine(TempDirectory("remote-mirror-hostile-dest"), "run");
        // The runtime is another machine: its manifest names a path outside the checkpoint folder.
        var ws = Workspace(("evil.py", """
            import json, os, time
            d = os.environ["COLAB_CHECKPOINT_DIR"]
            open(os.path.join(d, "payload"), "wb").write(b"x" * 10)
            doc = {"format": "colab-checkpoint/1", "model": "m", "checkpoints": [{"file": "../../../../escaped.pt", "step": 1, "epoch": 0,
                   "time": "2026-01-01T00:00:00Z", "size": 10, "sha256": "0" * 64}]}
            open(os.path.join(d, "manifest.json"), "w").write(json.dumps(doc))
            time.sleep(3)
            """));
        await using var daemon = DaemonProcess.Start(environment: Env(root));
        await daemon.InitializeAsync();
        var runtimeId = await jupyter.ConnectAsync(daemon);

        var id = await StartAsync(daemon, new TrainStartParams(["python3", "evil.py"], WorkingDirectory: ws, MaxRestarts: 0, RuntimeId: runtimeId, Mirror: mirror));
        var info = await WaitStateAsync(daemon, id, Final);

        Assert.True(info.GetProperty("state").GetString() == "succeeded", info.GetRawText());
        Assert.Contains("is not a valid checkpoint manifest", info.GetProperty("mirrorError").GetString(), StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(mirror));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(root, id, RemoteJobs.MirrorStaging)));
        Assert.False(File.Exists(Path.GetFullPath(Path.Combine(root, id, RemoteJobs.MirrorStaging, "../../../../escaped.pt"))));
        Assert.False(File.Exists(Path.GetFullPath(Path.Combine(mirror, "../../../../escaped.pt"))));
    }

    [Fact]
    public async Task Remote_Stop_SendsSigtermOnTheRuntime_TheWorkerCheckpointsAndTheJobIsStopped()
    {
        var root = TempDirectory("remote-stop");
        var ws = Workspace(("loop.py", """
            import signal, sys, time
            def term(s, f):
                print("got SIGTERM: checkpointing", flush=True); sys.exit(0)
            signal.signal(signal.SIGTERM, term)
            print("looping", flush=True)
            while True: time.sleep(0.2)
            """));
        await using var daemon = DaemonProcess.Start(environment: Env(root));
        await daemon.InitializeAsync();
        var runtimeId = await jupyter.ConnectAsync(daemon);
        var id = await StartAsync(daemon, new TrainStartParams(["python3", "loop.py"], WorkingDirectory: ws, MaxRestarts: 3, RuntimeId: runtimeId, GraceSeconds: 20));
        await PollAsync(() => File.Exists(Path.Combine(root, id, "worker.log")) && File.ReadAllText(Path.Combine(root, id, "worker.log")).Contains("looping", StringComparison.Ordinal) ? "yes" : null,
            "the worker to run", TimeSpan.FromSeconds(120));

        var stop = await daemon.RequestAsync(Methods.TrainStop, $$"""{"jobId":"{{id}}"}""");
        Assert.True(stop.TryGetProperty("result", out _), stop.GetRawText());
        var info = await WaitStateAsync(daemon, id, Final);

        Assert.Equal("stopped", info.GetProperty("state").GetString());
        Assert.Equal(0, info.GetProperty("restarts").GetInt32());
        Assert.Contains("got SIGTERM: checkpointing", File.ReadAllText(Path.Combine(root, id, "worker.log")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Remote_DaemonRestart_TheJobGoesOn_AndANewDaemonReattachesWhenTheRuntimeConnects()
    {
        var root = TempDirectory("remote-reattach");
        var ws = Workspace(("slow.py", """
            import time
            print("first half", flush=True)
            time.sleep(8)
            print("second half", flush=True)
            """));
        string id;
        await using (var first = DaemonProcess.Start(environment: Env(root)))
        {
            await first.InitializeAsync();
            var runtimeId = await jupyter.ConnectAsync(first);
            id = await StartAsync(first, new TrainStartParams(["python3", "slow.py"], WorkingDirectory: ws, MaxRestarts: 0, RuntimeId: runtimeId));
            await PollAsync(() => File.Exists(Path.Combine(root, id, "worker.log")) && File.ReadAllText(Path.Combine(root, id, "worker.log")).Contains("first half", StringComparison.Ordinal) ? "yes" : null,
                "the worker to run", TimeSpan.FromSeconds(120));
        }

        await using var second = DaemonProcess.Start(environment: Env(root));
        await second.InitializeAsync();
        var before = (await second.RequestAsync(Methods.TrainStatus, $$"""{"jobId":"{{id}}"}""")).GetProperty("result");
        Assert.Equal("lost", before.GetProperty("state").GetString()); // nobody supervises it until its runtime is connected
        await jupyter.ConnectAsync(second);
        var info = await WaitStateAsync(second, id, s => s is "succeeded" or "failed" or "stopped");

        Assert.True(info.GetProperty("state").GetString() == "succeeded", info.GetRawText());
        Assert.Contains("second half", File.ReadAllText(Path.Combine(root, id, "worker.log")), StringComparison.Ordinal);
        Assert.Contains("re-attached on runtime", File.ReadAllText(Path.Combine(root, id, "supervisor.log")), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""["../**/*.py"]""", "leaves the workspace")]
    [InlineData("""["/etc/*"]""", "leaves the workspace")]
    [InlineData("""["~/secrets/*"]""", "leaves the workspace")]
    [InlineData("""["src/../../x.py"]""", "leaves the workspace")]
    [InlineData("""["a\\b.py"]""", "'/'-separated")]
    [InlineData("""["ok.py\u0000"]""", "control characters")]
    public async Task Remote_HostileSyncGlobs_AreInvalidParams(string globs, string message)
    {
        var root = TempDirectory("remote-bad");
        await using var daemon = DaemonProcess.Start(environment: Env(root));
        await daemon.InitializeAsync();
        var runtimeId = await jupyter.ConnectAsync(daemon);

        var answer = await daemon.RequestAsync(Methods.TrainStart, $$"""{"command":["python3","x.py"],"runtimeId":"{{runtimeId}}","workingDirectory":{{JsonSerializer.Serialize(Workspace())}},"syncGlobs":{{globs}}}""");

        Assert.Equal(ErrorCodes.InvalidParams, TestClient.ErrorCode(answer));
        Assert.Contains(message, TestClient.ErrorMessage(answer), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Remote_ACheckpointDirOrTheExample_AreInvalidParams_AndSyncGlobsOnALocalJobToo()
    {
        var root = TempDirectory("remote-bad2");
        await using var daemon = DaemonProcess.Start(environment: Env(root));
        await daemon.InitializeAsync();
        var runtimeId = await jupyter.ConnectAsync(daemon);

        var a = await daemon.RequestAsync(Methods.TrainStart, $$"""{"command":["python3","x.py"],"runtimeId":"{{runtimeId}}","checkpointDirectory":"/etc"}""");
        var b = await daemon.RequestAsync(Methods.TrainStart, $$"""{"example":true,"runtimeId":"{{runtimeId}}"}""");
        var c = await daemon.RequestAsync(Methods.TrainStart, """{"command":["/bin/true"],"syncGlobs":["*.py"]}""");

        Assert.Equal(ErrorCodes.InvalidParams, TestClient.ErrorCode(a));
        Assert.Equal(ErrorCodes.InvalidParams, TestClient.ErrorCode(b));
        Assert.Equal(ErrorCodes.InvalidParams, TestClient.ErrorCode(c));
        Assert.Contains("checkpoints go to the job's folder", TestClient.ErrorMessage(a), StringComparison.Ordinal);
    }
}

/// <summary>The runner's files on the runtime are input from another machine: malformed ones are refused, never trusted.</summary>
public sealed class RemoteJobFileTests
{
    [Theory]
    [InlineData("0", 0)]
    [InlineData("3\n", 3)]
    [InlineData(" 143 ", 143)]
    [InlineData("255", 255)]
    public void ParseExit_Accepts0To255(string text, int code) => Assert.Equal(code, RemoteJobs.ParseExit(text));

    [Theory]
    [InlineData("")]
    [InlineData("-1")]
    [InlineData("256")]
    [InlineData("1e3")]
    [InlineData("0x1")]
    [InlineData("12 13")]
    [InlineData("99999999999999999999")]
    [InlineData("３")]
    [InlineData("exit")]
    public void ParseExit_RefusesTheRest(string text) => Assert.Null(RemoteJobs.ParseExit(text));

    [Theory]
    [InlineData("4242", 4242)]
    [InlineData("2\n", 2)]
    public void ParsePid_AcceptsARealPid(string text, int pid) => Assert.Equal(pid, RemoteJobs.ParsePid(text));

    [Theory]
    [InlineData("0")]
    [InlineData("1")]
    [InlineData("-1")]
    [InlineData("-4242")]
    [InlineData("")]
    [InlineData("4242; rm -rf /")]
    [InlineData("99999999999")]
    [InlineData("4194305")]
    [InlineData("42.0")]
    public void ParsePid_RefusesGroupsInitAndGarbage(string text) => Assert.Null(RemoteJobs.ParsePid(text));

    [Fact]
    public void Select_NeverFollowsALinkOutOfTheWorkspace_AndHonoursTheGlobs()
    {
        var ws = TempDirectory("select");
        Directory.CreateDirectory(Path.Combine(ws, "src"));
        File.WriteAllText(Path.Combine(ws, "src", "a.py"), "");
        File.WriteAllText(Path.Combine(ws, "b.py"), "");
        File.WriteAllText(Path.Combine(ws, "c.txt"), "");
        Directory.CreateDirectory(Path.Combine(ws, "__pycache__"));
        File.WriteAllText(Path.Combine(ws, "__pycache__", "x.py"), "");
        var outside = TempDirectory("outside");
        File.WriteAllText(Path.Combine(outside, "secret.py"), "");
        Directory.CreateSymbolicLink(Path.Combine(ws, "linked"), outside);
        File.CreateSymbolicLink(Path.Combine(ws, "l.py"), Path.Combine(outside, "secret.py"));

        Assert.Equal(["b.py", "src/a.py"], CodeSync.Select(ws, ["**/*.py"]));
        Assert.Equal(["c.txt"], CodeSync.Select(ws, ["*.txt"]));
    }
}
