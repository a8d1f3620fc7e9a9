using System.Text.Json;
using Colab.Daemon.Drive;
using Colab.Daemon.Protocol;
using Colab.Daemon.Tests.Drive;
using Colab.Daemon.Tests.Infrastructure;
using Colab.Daemon.Training;
using static Colab.Daemon.Tests.Training.TrainingTestSupport;

namespace Colab.Daemon.Tests.Training;

/// <summary>
/// <c>driveFolder</c> in <c>colab/train/start</c>, against the real daemon process signed in to the Drive
/// stand-in over real HTTP, with real detached supervisors and the Python checkpoint helper: each
/// committed checkpoint reaches the Drive folder, Flush waits for it, and a new job on an empty
/// machine resumes from what Drive holds.
/// </summary>
public sealed class TrainingDriveMirrorTests
{
    private const string Worker =
        "import os,sys,time\n" +
        "from colab_resume import CheckpointStore\n" +
        "print('resume-from', os.environ.get('COLAB_RESUME_FROM', '-'), flush=True)\n" +
        "s=CheckpointStore(os.environ['COLAB_CHECKPOINT_DIR'],'m',int(os.environ['COLAB_CHECKPOINT_KEEP']))\n" +
        "first=int(sys.argv[1])\n" +
        "for i in range(first, first+3):\n" +
        "    s.commit(bytes([i])*5000, i, 0); time.sleep(1.5)\n";

    /// <summary>Polls colab/train/status until the job succeeded and Drive holds <paramref name="step"/> (generous: a loaded machine starts Python slowly).</summary>
    private static async Task<JsonElement> UntilAsync(DaemonProcess daemon, string id, long step)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        JsonElement last = default;
        while (DateTime.UtcNow < deadline)
        {
            last = (await daemon.RequestAsync(Methods.TrainStatus, $$"""{"jobId":"{{id}}"}""")).GetProperty("result");
            var state = last.GetProperty("state").GetString();
            if (state is "failed" or "stopped" or "lost")
            {
                Assert.Fail($"job {id} ended {state}: {last.GetRawText()}");
            }
            if (state == "succeeded" && last.TryGetProperty("driveMirroredStep", out var s) && s.ValueKind == JsonValueKind.Number && s.GetInt64() == step)
            {
                return last;
            }
            await Task.Delay(200);
        }
        throw new TimeoutException($"job {id}: not succeeded with step {step} on Drive: {last.GetRawText()}");
    }

    private static string J<T>(T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> info) => JsonSerializer.Serialize(value, info);

    [Fact]
    public async Task EachCheckpointReachesTheDriveFolder_FlushWaitsForIt_AndANewJobResumesFromDrive()
    {
        await using var drive = await DriveStandIn.StartAsync();
        var folder = (await drive.AddFilesAsync(new { name = "run1", mimeType = DriveMime.Folder }))[0]!["id"]!.GetValue<string>();
        var root = TempDirectory("drvjob");
        var env = new Dictionary<string, string> { ["COLAB_TRAINING_JOBS"] = root, ["COLAB_PYTHON"] = PythonPath };
        await using var daemon = DaemonProcess.Start(environment: env);
        await daemon.InitializeAsync();
        var use = await daemon.RequestAsync("colab/drive/use", JsonSerializer.Serialize(new { kind = "api", baseUrl = drive.BaseUrl, accessToken = "test-token" }, DriveTestJson.Options));
        Assert.True(use.TryGetProperty("result", out _), use.GetRawText());

        var started = await daemon.RequestAsync(Methods.TrainStart, J(
            new TrainStartParams([PythonPath, "-c", Worker, "1"], MaxRestarts: 0, Keep: 2, DriveFolder: folder), TrainingProtocolJson.Default.TrainStartParams));
        Assert.True(started.TryGetProperty("result", out var info), started.GetRawText());
        var id = info.GetProperty("id").GetString()!;
        Assert.Equal(folder, info.GetProperty("driveFolder").GetString());

        var done = await UntilAsync(daemon, id, 3);
        Assert.False(done.TryGetProperty("driveMirrorError", out var err) && err.ValueKind == JsonValueKind.String, err.ToString());
        // The editor heard of it too: a colab/train/changed with the step on Drive.
        await daemon.Client.WaitForAsync(m => TestClient.IsNotification(m, Methods.TrainChanged)
            && m.GetProperty("params").GetProperty("id").GetString() == id
            && m.GetProperty("params").TryGetProperty("driveMirroredStep", out var step) && step.GetInt64() == 3, "a train/changed with driveMirroredStep 3");

        var flush = (await daemon.RequestAsync("colab/drive/flush", "{}")).GetProperty("result");
        Assert.DoesNotContain(flush.GetProperty("uploads").EnumerateArray(), u => !u.GetProperty("verified").GetBoolean());

        var api = new DriveApiBackend(new HttpClient(), drive.BaseUrl, new StaticDriveToken("test-token"));
        var files = (await api.ListAsync(new DriveListRequest(folder), CancellationToken.None)).Items.ToDictionary(i => i.Name);
        Assert.Equal([CheckpointStore.FileNameFor(2), CheckpointStore.FileNameFor(3), CheckpointStore.ManifestName], files.Keys.Order(StringComparer.Ordinal).ToArray());
        Assert.Equal(Enumerable.Repeat((byte)3, 5000).ToArray(), await drive.ContentAsync(files[CheckpointStore.FileNameFor(3)].Id));

        // A new job whose checkpoint directory is empty (a new machine): step 3 comes back from Drive first.
        started = await daemon.RequestAsync(Methods.TrainStart, J(
            new TrainStartParams([PythonPath, "-c", Worker, "4"], MaxRestarts: 0, Keep: 2, DriveFolder: folder), TrainingProtocolJson.Default.TrainStartParams));
        Assert.True(started.TryGetProperty("result", out info), started.GetRawText());
        var second = info.GetProperty("id").GetString()!;
        await UntilAsync(daemon, second, 6);
        var log = await File.ReadAllTextAsync(Path.Combine(root, second, "worker.log"));
        Assert.Contains($"resume-from {Path.Combine(root, second, "checkpoints", CheckpointStore.FileNameFor(3))}", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DriveFolder_IsRefused_WithoutDrive_ForAFile_AndOnARemoteRuntime_WithClearErrors()
    {
        await using var drive = await DriveStandIn.StartAsync();
        var file = await drive.AddFileAsync("weights.bin", [1, 2, 3]);
        var root = TempDirectory("drvbad");
        var env = new Dictionary<string, string> { ["COLAB_TRAINING_JOBS"] = root, ["COLAB_PYTHON"] = PythonPath };
        await using var daemon = DaemonProcess.Start(environment: env);
        await daemon.InitializeAsync();

        var noDrive = await daemon.RequestAsync(Methods.TrainStart, J(new TrainStartParams(["/bin/true"], DriveFolder: "abc"), TrainingProtocolJson.Default.TrainStartParams));
        Assert.Equal(ErrorCodes.InvalidParams, noDrive.GetProperty("error").GetProperty("code").GetInt32());
        Assert.Contains("driveFolder needs Google Drive", noDrive.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);

        await daemon.RequestAsync("colab/drive/use", JsonSerializer.Serialize(new { kind = "api", baseUrl = drive.BaseUrl, accessToken = "test-token" }, DriveTestJson.Options));
        var aFile = await daemon.RequestAsync(Methods.TrainStart, J(new TrainStartParams(["/bin/true"], DriveFolder: file), TrainingProtocolJson.Default.TrainStartParams));
        Assert.Equal(ErrorCodes.InvalidParams, aFile.GetProperty("error").GetProperty("code").GetInt32());
        Assert.Contains("is a file; give a Drive folder", aFile.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);

        var control = await daemon.RequestAsync(Methods.TrainStart, J(new TrainStartParams(["/bin/true"], DriveFolder: "bad\u0001id"), TrainingProtocolJson.Default.TrainStartParams));
        Assert.Equal(ErrorCodes.InvalidParams, control.GetProperty("error").GetProperty("code").GetInt32());

        // Nothing was started for the refused ones: their jobs are marked failed with the reason, none running.
        var jobs = (await daemon.RequestAsync(Methods.TrainList, "{}")).GetProperty("result").GetProperty("jobs").EnumerateArray().ToList();
        Assert.All(jobs, j => Assert.Equal("failed", j.GetProperty("state").GetString()));
    }
}
