using System.Text.Json;
using Colab.Daemon.Drive;
using Colab.Daemon.Protocol;
using Colab.Daemon.Tests.Drive;
using Colab.Daemon.Tests.Infrastructure;
using Colab.Daemon.Training;
using static Colab.Daemon.Tests.Training.TrainingTestSupport;

namespace Colab.Daemon.Tests.Training;

/// <summary>
/// <c>driveFolder</c> for jobs on a remote Jupyter runtime (Colab's case: the runtime dies, its disk with it):
/// the real daemon process, a real jupyter-server connected as a remote runtime, the Drive stand-in over real
/// HTTP and the real <c>colab_resume.py</c>. The daemon fetches each committed checkpoint from the runtime,
/// verifies it against the runtime's manifest, commits it into the job's local checkpoint directory and uploads
/// it to Drive from there; a new job on a fresh runtime folder resumes from Drive; hostile or damaged
/// checkpoints are refused clearly and nothing on Drive is lost.
/// </summary>
public sealed class RemoteDriveMirrorTests(RemoteJupyterFixture jupyter) : IClassFixture<RemoteJupyterFixture>
{
    private const string Model = "remote-drive-model";

    private const string Script = """
        import os, sys, colab_resume as cr
        store = cr.CheckpointStore(os.environ["COLAB_CHECKPOINT_DIR"], "remote-drive-model", keep=int(os.environ["COLAB_CHECKPOINT_KEEP"]))
        step = 0
        if os.environ.get("COLAB_RESUME_FROM"):
            found = cr.CheckpointStore(os.environ["COLAB_RESUME_FROM"], "remote-drive-model").load_newest()
            step = int(found[1].split(b":")[0])
            print("resumed at", step, flush=True)
        while step < int(sys.argv[1]):
            step += 1
            store.commit(f"{step}:".encode() + os.urandom(300_000), step, 0)
        print("finished at", step, flush=True)
        """;

    private static string Workspace(string name, string text)
    {
        var ws = TempDirectory("rdrive-ws");
        File.WriteAllText(Path.Combine(ws, name), text);
        return ws;
    }

    private static async Task<string> StartAsync(DaemonProcess daemon, TrainStartParams p)
    {
        var answer = await daemon.RequestAsync(Methods.TrainStart, JsonSerializer.Serialize(p, TrainingProtocolJson.Default.TrainStartParams));
        Assert.True(answer.TryGetProperty("result", out var info), answer.GetRawText());
        return info.GetProperty("id").GetString()!;
    }

    /// <summary>Polls colab/train/status until <paramref name="done"/> holds (generous: a loaded machine starts Python and Jupyter kernels slowly).</summary>
    private static async Task<JsonElement> UntilAsync(DaemonProcess daemon, string id, Func<JsonElement, bool> done, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(4);
        JsonElement last = default;
        while (DateTime.UtcNow < deadline)
        {
            last = (await daemon.RequestAsync(Methods.TrainStatus, $$"""{"jobId":"{{id}}"}""")).GetProperty("result");
            if (last.GetProperty("state").GetString() is "failed" or "stopped" or "lost")
            {
                Assert.Fail($"job {id} ended {last.GetProperty("state").GetString()}: {last.GetRawText()}");
            }
            if (done(last))
            {
                return last;
            }
            await Task.Delay(250);
        }
        throw new TimeoutException($"job {id}: not {what}: {last.GetRawText()}");
    }

    private static bool Succeeded(JsonElement s) => s.GetProperty("state").GetString() == "succeeded";

    private static long? DriveStep(JsonElement s) => s.TryGetProperty("driveMirroredStep", out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt64() : null;

    private static string? DriveError(JsonElement s) => s.TryGetProperty("driveMirrorError", out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private sealed class Setup : IAsyncDisposable
    {
        public required DriveStandIn Drive { get; init; }
        public required DaemonProcess Daemon { get; init; }
        public required string Folder { get; init; }
        public required string Root { get; init; }
        public required string RuntimeId { get; init; }
        public DriveApiBackend Api => new(new HttpClient(), Drive.BaseUrl, new StaticDriveToken("test-token"));

        public async Task<Dictionary<string, DriveItem>> FilesAsync()
            => (await Api.ListAsync(new DriveListRequest(Folder), CancellationToken.None)).Items.ToDictionary(i => i.Name);

        public async Task<CheckpointManifest> ManifestAsync()
            => CheckpointStore.Parse(await Drive.ContentAsync((await FilesAsync())[CheckpointStore.ManifestName].Id), "Drive manifest");

        public async ValueTask DisposeAsync()
        {
            await Daemon.DisposeAsync();
            await Drive.DisposeAsync();
        }
    }

    private async Task<Setup> SetUpAsync(string name)
    {
        var drive = await DriveStandIn.StartAsync();
        var folder = (await drive.AddFilesAsync(new { name, mimeType = DriveMime.Folder }))[0]!["id"]!.GetValue<string>();
        var root = TempDirectory(name);
        var daemon = DaemonProcess.Start(environment: new Dictionary<string, string> { ["COLAB_TRAINING_JOBS"] = root, ["COLAB_PYTHON"] = PythonPath });
        await daemon.InitializeAsync();
        var use = await daemon.RequestAsync("colab/drive/use", JsonSerializer.Serialize(new { kind = "api", baseUrl = drive.BaseUrl, accessToken = "test-token" }, DriveTestJson.Options));
        Assert.True(use.TryGetProperty("result", out _), use.GetRawText());
        var runtimeId = await jupyter.ConnectAsync(daemon);
        return new Setup { Drive = drive, Daemon = daemon, Folder = folder, Root = root, RuntimeId = runtimeId };
    }

    private string OnRuntime(string id) => Path.Combine(jupyter.Root, "colab-training", "jobs", id, "ckpt");

    [Fact]
    public async Task RemoteJob_CheckpointsReachDriveVerified_FlushCoversIt_AndANewJobOnAFreshRuntimeResumesFromDrive()
    {
        await using var s = await SetUpAsync("rdrive-ok");
        var ws = Workspace("ckpt.py", Script);

        var id = await StartAsync(s.Daemon, new TrainStartParams(["python3", "ckpt.py", "6"], WorkingDirectory: ws, MaxRestarts: 0, RuntimeId: s.RuntimeId, Keep: 3, DriveFolder: s.Folder));
        var info = await UntilAsync(s.Daemon, id, j => Succeeded(j) && DriveStep(j) == 6, "succeeded with step 6 on Drive");
        Assert.Null(DriveError(info));
        Assert.Equal(s.Folder, info.GetProperty("driveFolder").GetString());

        var flush = (await s.Daemon.RequestAsync("colab/drive/flush", "{}")).GetProperty("result");
        Assert.DoesNotContain(flush.GetProperty("uploads").EnumerateArray(), u => !u.GetProperty("verified").GetBoolean());

        // Drive holds the runtime's last three checkpoints byte for byte, named by its manifest; nothing else.
        var files = await s.FilesAsync();
        Assert.Equal([CheckpointStore.FileNameFor(4), CheckpointStore.FileNameFor(5), CheckpointStore.FileNameFor(6), CheckpointStore.ManifestName], files.Keys.Order(StringComparer.Ordinal).ToArray());
        var manifest = await s.ManifestAsync();
        Assert.Equal(Model, manifest.Model);
        Assert.Equal([4L, 5L, 6L], manifest.Checkpoints.Select(c => c.Step));
        foreach (var step in new long[] { 4, 5, 6 })
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(OnRuntime(id), CheckpointStore.FileNameFor(step))), await s.Drive.ContentAsync(files[CheckpointStore.FileNameFor(step)].Id));
        }
        // The verified local copy in the job's directory (the staging folder) is a checkpoint directory of its own.
        var staged = new CheckpointStore(Path.Combine(s.Root, id, "checkpoints"), Model);
        Assert.Equal([4L, 5L, 6L], staged.ReadManifest().Checkpoints.Select(c => c.Step));
        Assert.All(staged.Verify(), v => Assert.Null(v.Problem));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(s.Root, id, RemoteJobs.DriveStaging)));
        Assert.Contains("from the runtime for Drive", File.ReadAllText(Path.Combine(s.Root, id, "supervisor.log")), StringComparison.Ordinal);

        // The runtime is gone (its job folder with it): a new job on a fresh runtime folder resumes from Drive.
        Directory.Delete(Path.Combine(jupyter.Root, "colab-training", "jobs", id), recursive: true);
        var id2 = await StartAsync(s.Daemon, new TrainStartParams(["python3", "ckpt.py", "9"], WorkingDirectory: ws, MaxRestarts: 0, RuntimeId: s.RuntimeId, Keep: 3, DriveFolder: s.Folder));
        await UntilAsync(s.Daemon, id2, j => Succeeded(j) && DriveStep(j) == 9, "succeeded with step 9 on Drive");
        var log = File.ReadAllText(Path.Combine(s.Root, id2, "worker.log"));
        Assert.Contains("resumed at 6", log, StringComparison.Ordinal);
        Assert.Contains("finished at 9", log, StringComparison.Ordinal);
        var supervisor = File.ReadAllText(Path.Combine(s.Root, id2, "supervisor.log"));
        Assert.Contains("Drive: restored checkpoint step 6", supervisor, StringComparison.Ordinal);
        Assert.Contains($"resuming from Drive: uploaded checkpoint step 6", supervisor, StringComparison.Ordinal);
        Assert.Equal([7L, 8L, 9L], (await s.ManifestAsync()).Checkpoints.Select(c => c.Step));
    }

    [Fact]
    public async Task RemoteJob_ACorruptPayloadOrAManifestThatLiesAboutSize_OnTheRuntime_IsNotSent_DriveKeepsWhatItHad()
    {
        await using var s = await SetUpAsync("rdrive-hostile");
        // Drive already holds steps 1 and 2 of the model (an earlier run).
        var earlier = TempDirectory("rdrive-earlier");
        var store = new CheckpointStore(earlier, Model, keep: 3);
        foreach (var step in new long[] { 1, 2 })
        {
            await store.CommitAsync(step, 0, async (o, ct) => await o.WriteAsync(Enumerable.Repeat((byte)step, 4000).ToArray(), ct));
        }
        Assert.Null((await DriveCheckpointMirror.SyncAsync(s.Api, earlier, s.Folder, 3, TempDirectory("rdrive-work"), CancellationToken.None)).Error);
        var step2 = await s.Drive.ContentAsync((await s.FilesAsync())[CheckpointStore.FileNameFor(2)].Id);

        // The runtime is another machine: it commits step 3 and then flips a bit of its payload; then commits
        // step 4 and makes the payload longer than its manifest says.
        var ws = Workspace("evil.py", """
            import os, time, colab_resume as cr
            d = os.environ["COLAB_CHECKPOINT_DIR"]
            print("resume-from", os.environ.get("COLAB_RESUME_FROM", "-"), sorted(os.listdir(d)), flush=True)
            store = cr.CheckpointStore(d, "remote-drive-model", keep=3)
            store.commit(b"3" * 5000, 3, 0)
            p = os.path.join(d, "ckpt-0000000003.pt"); b = bytearray(open(p, "rb").read()); b[100] ^= 1; open(p, "wb").write(bytes(b))
            time.sleep(6)
            store.commit(b"4" * 5000, 4, 0)
            open(os.path.join(d, "ckpt-0000000004.pt"), "ab").write(b"x" * 1000)
            time.sleep(6)
            """);
        var id = await StartAsync(s.Daemon, new TrainStartParams(["python3", "evil.py"], WorkingDirectory: ws, MaxRestarts: 0, RuntimeId: s.RuntimeId, Keep: 3, DriveFolder: s.Folder));
        var info = await UntilAsync(s.Daemon, id, j => Succeeded(j) && DriveError(j) is not null, "succeeded with a Drive mirror error");

        // The job started from Drive's step 2 (uploaded to the runtime first), and succeeded: mirroring never fails a job.
        Assert.Contains("ckpt-0000000002.pt", File.ReadAllText(Path.Combine(s.Root, id, "worker.log")), StringComparison.Ordinal);
        Assert.Contains("checkpoint step 4 was not mirrored: the runtime's copy is 6000 bytes but its manifest says 5000", DriveError(info), StringComparison.Ordinal);
        var supervisor = File.ReadAllText(Path.Combine(s.Root, id, "supervisor.log"));
        Assert.Contains("checkpoint step 3 was not mirrored: the job's copy is corrupt (sha256 mismatch)", supervisor, StringComparison.Ordinal);

        // Drive: still steps 1 and 2, intact; neither the corrupt 3 nor the torn 4 was sent.
        var flush = (await s.Daemon.RequestAsync("colab/drive/flush", "{}")).GetProperty("result");
        Assert.DoesNotContain(flush.GetProperty("uploads").EnumerateArray(), u => !u.GetProperty("verified").GetBoolean());
        var files = await s.FilesAsync();
        Assert.False(files.ContainsKey(CheckpointStore.FileNameFor(3)));
        Assert.False(files.ContainsKey(CheckpointStore.FileNameFor(4)));
        Assert.Equal([1L, 2L], (await s.ManifestAsync()).Checkpoints.Select(c => c.Step));
        Assert.Equal(step2, await s.Drive.ContentAsync(files[CheckpointStore.FileNameFor(2)].Id));
        // The local staging folder holds only what verified.
        var staged = new CheckpointStore(Path.Combine(s.Root, id, "checkpoints"), Model);
        Assert.All(staged.Verify(), v => Assert.Null(v.Problem));
        Assert.DoesNotContain(staged.ReadManifest().Checkpoints, c => c.Step is 3 or 4);
    }

    [Fact]
    public async Task RemoteJob_WhenDriveStoresSomethingElse_TheErrorShows_NothingIsNamed_AndAFlushMendsIt()
    {
        await using var s = await SetUpAsync("rdrive-md5");
        var ws = Workspace("ckpt.py", Script);
        await s.Drive.FaultAsync(new { on = "upload", wrongMd5 = true, wrongSha256 = true });

        var id = await StartAsync(s.Daemon, new TrainStartParams(["python3", "ckpt.py", "2"], WorkingDirectory: ws, MaxRestarts: 0, RuntimeId: s.RuntimeId, Keep: 3, DriveFolder: s.Folder));
        var info = await UntilAsync(s.Daemon, id, j => DriveError(j) is not null, "a Drive mirror error");
        Assert.Contains("verification", DriveError(info), StringComparison.Ordinal);
        // Not named by a manifest on Drive: a reader of the folder never trusts what Drive got wrong.
        var files = await s.FilesAsync();
        if (files.ContainsKey(CheckpointStore.ManifestName))
        {
            Assert.DoesNotContain((await s.ManifestAsync()).Checkpoints, c => files.TryGetValue(c.File, out var f) && f.Md5Checksum == new string('0', 32));
        }
        await UntilAsync(s.Daemon, id, Succeeded, "succeeded");

        // Flush tries again now (not after the 30 s back-off) and waits: verified, and Drive holds both.
        var flush = (await s.Daemon.RequestAsync("colab/drive/flush", "{}")).GetProperty("result");
        Assert.Contains(flush.GetProperty("uploads").EnumerateArray(), u => u.GetProperty("verified").GetBoolean());
        info = await UntilAsync(s.Daemon, id, j => DriveStep(j) == 2 && DriveError(j) is null, "step 2 on Drive without error");
        Assert.Equal([1L, 2L], (await s.ManifestAsync()).Checkpoints.Select(c => c.Step));
        files = await s.FilesAsync();
        Assert.Equal(File.ReadAllBytes(Path.Combine(OnRuntime(id), CheckpointStore.FileNameFor(2))), await s.Drive.ContentAsync(files[CheckpointStore.FileNameFor(2)].Id));
    }
    [Fact]
    public async Task RemoteJob_DriveFolder_WithoutDrive_OrAFile_IsInvalidParams_AndNothingStartsOnTheRuntime()
    {
        await using var drive = await DriveStandIn.StartAsync();
        var file = await drive.AddFileAsync("weights.bin", [1, 2, 3]);
        var root = TempDirectory("rdrive-bad");
        await using var daemon = DaemonProcess.Start(environment: new Dictionary<string, string> { ["COLAB_TRAINING_JOBS"] = root, ["COLAB_PYTHON"] = PythonPath });
        await daemon.InitializeAsync();
        var runtimeId = await jupyter.ConnectAsync(daemon);
        var ws = Workspace("ckpt.py", Script);

        var noDrive = await daemon.RequestAsync(Methods.TrainStart, JsonSerializer.Serialize(
            new TrainStartParams(["python3", "ckpt.py", "2"], WorkingDirectory: ws, RuntimeId: runtimeId, DriveFolder: "abc"), TrainingProtocolJson.Default.TrainStartParams));
        Assert.Equal(ErrorCodes.InvalidParams, noDrive.GetProperty("error").GetProperty("code").GetInt32());
        Assert.Contains("driveFolder needs Google Drive", noDrive.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);

        await daemon.RequestAsync("colab/drive/use", JsonSerializer.Serialize(new { kind = "api", baseUrl = drive.BaseUrl, accessToken = "test-token" }, DriveTestJson.Options));
        var aFile = await daemon.RequestAsync(Methods.TrainStart, JsonSerializer.Serialize(
            new TrainStartParams(["python3", "ckpt.py", "2"], WorkingDirectory: ws, RuntimeId: runtimeId, DriveFolder: file), TrainingProtocolJson.Default.TrainStartParams));
        Assert.Equal(ErrorCodes.InvalidParams, aFile.GetProperty("error").GetProperty("code").GetInt32());
        Assert.Contains("is a file; give a Drive folder", aFile.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);

        var control = await daemon.RequestAsync(Methods.TrainStart, JsonSerializer.Serialize(
            new TrainStartParams(["python3", "ckpt.py", "2"], WorkingDirectory: ws, RuntimeId: runtimeId, DriveFolder: "bad\u0001id"), TrainingProtocolJson.Default.TrainStartParams));
        Assert.Equal(ErrorCodes.InvalidParams, control.GetProperty("error").GetProperty("code").GetInt32());

        // The job refused for the file was marked failed with the reason; nothing of it reached the runtime.
        var jobs = (await daemon.RequestAsync(Methods.TrainList, "{}")).GetProperty("result").GetProperty("jobs").EnumerateArray().ToList();
        var refused = Assert.Single(jobs);
        Assert.Equal("failed", refused.GetProperty("state").GetString());
        Assert.Contains("is a file", refused.GetProperty("lastError").GetString(), StringComparison.Ordinal);
        Assert.All(jobs, j => Assert.False(Directory.Exists(Path.Combine(jupyter.Root, "colab-training", "jobs", j.GetProperty("id").GetString()!))));
    }
}
