using System.Text.Json;
using Colab.Daemon.Protocol;
using Colab.Daemon.Tests.Infrastructure;
using Colab.Daemon.Training;
using static Colab.Daemon.Tests.Training.TrainingTestSupport;

namespace Colab.Daemon.Tests.Training;

/// <summary><c>$/progress</c> for jobs started with a <c>workDoneToken</c>, against the real daemon and a real detached supervisor.</summary>
public sealed class TrainingProgressTests
{
    private static List<JsonElement> ProgressFor(DaemonProcess daemon, string token)
        => daemon.Client.MessagesSince(0)
            .Where(m => TestClient.IsNotification(m, Methods.Progress) && m.GetProperty("params").GetProperty("token").GetRawText() == token)
            .Select(m => m.GetProperty("params").GetProperty("value"))
            .ToList();

    [Fact]
    public async Task Start_WithWorkDoneToken_BeginsReportsPercentageAndEnds_WithoutTokenNoProgress()
    {
        var root = TempDirectory("prog");
        await using var daemon = DaemonProcess.Start(environment: new Dictionary<string, string> { ["COLAB_TRAINING_JOBS"] = root });
        await daemon.InitializeAsync();
        var script = "sleep 1; printf '{\"step\": 30, \"total_steps\": 120, \"epoch\": 3, \"loss\": 0.2107}\\n' >> \"$COLAB_METRICS_FILE\"; sleep 2; " +
                     "printf '{\"step\": 120, \"total_steps\": 120, \"epoch\": 4, \"loss\": 0.05, \"accuracy\": 0.98}\\n' >> \"$COLAB_METRICS_FILE\"; sleep 1.5";
        var file = Path.Combine(TempDirectory("progw"), "train.py");
        File.WriteAllText(file, script);
        var started = await daemon.RequestAsync(Methods.TrainStart, $$"""
            {"command": ["/bin/sh", {{JsonSerializer.Serialize(file)}}], "maxRestarts": 0, "workDoneToken": "train-1"}
            """);
        Assert.True(started.TryGetProperty("result", out var info), started.GetRawText());
        var id = info.GetProperty("id").GetString()!;

        await daemon.Client.WaitForAsync(m => TestClient.IsNotification(m, Methods.Progress)
            && m.GetProperty("params").GetProperty("value").GetProperty("kind").GetString() == "end", "the progress to end", 0);
        var values = ProgressFor(daemon, "\"train-1\"");
        Assert.Equal("begin", values[0].GetProperty("kind").GetString());
        Assert.Equal("Training: train.py", values[0].GetProperty("title").GetString());
        var reports = values.Where(v => v.GetProperty("kind").GetString() == "report").ToList();
        Assert.Contains(reports, r => r.TryGetProperty("percentage", out var pc) && pc.GetInt32() == 25
            && r.GetProperty("message").GetString() == "epoch 3 · step 30/120 · loss 0.2107");
        var end = values[^1];
        Assert.Equal("end", end.GetProperty("kind").GetString());
        Assert.Equal("succeeded · epoch 4 · step 120/120 · loss 0.05 · accuracy 0.98", end.GetProperty("message").GetString());
        Assert.Single(values, v => v.GetProperty("kind").GetString() == "end");
        var changed = await daemon.Client.WaitForAsync(m => TestClient.IsNotification(m, Methods.TrainChanged)
            && m.GetProperty("params").GetProperty("id").GetString() == id && m.GetProperty("params").GetProperty("state").GetString() == "succeeded", "train/changed");
        Assert.Equal(120, changed.GetProperty("params").GetProperty("progress").GetProperty("step").GetInt64());

        // Without a token: colab/train/changed only, no $/progress and no window/workDoneProgress/create.
        var mark = daemon.Client.MessagesSince(0).Count;
        var plain = await daemon.RequestAsync(Methods.TrainStart, """{"command": ["/bin/sh", "-c", "exit 0"], "maxRestarts": 0}""");
        var plainId = plain.GetProperty("result").GetProperty("id").GetString()!;
        await daemon.Client.WaitForAsync(m => TestClient.IsNotification(m, Methods.TrainChanged)
            && m.GetProperty("params").GetProperty("id").GetString() == plainId && m.GetProperty("params").GetProperty("state").GetString() == "succeeded", "the plain job", mark);
        Assert.DoesNotContain(daemon.Client.MessagesSince(mark), m => TestClient.IsNotification(m, Methods.Progress) || TestClient.IsServerRequest(m, Methods.WorkDoneProgressCreate));
    }

    [Fact]
    public async Task Start_Refused_EndsTheProgressWithTheReason()
    {
        var root = TempDirectory("progbad");
        await using var daemon = DaemonProcess.Start(environment: new Dictionary<string, string> { ["COLAB_TRAINING_JOBS"] = root });
        await daemon.InitializeAsync();
        var refused = await daemon.RequestAsync(Methods.TrainStart, """{"command": ["python3", "x.py"], "keep": 0, "workDoneToken": 7}""");
        Assert.Equal(ErrorCodes.InvalidParams, TestClient.ErrorCode(refused));
        var values = ProgressFor(daemon, "7");
        Assert.Equal(["begin", "end"], values.Select(v => v.GetProperty("kind").GetString()));
        Assert.StartsWith("not started: Invalid params: maxRestarts 0–1000, keep 1–1000", values[1].GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public void ProgressReport_States_Restarts_MirrorAndFailures()
    {
        static TrainJobInfo Job(string state, TrainProgress? p, int restarts = 0, string? error = null, string? mirrorError = null)
            => new("j", state, restarts, 3, null, null, error, ["python3", "train.py"], "/c", p, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch,
                MirrorError: mirrorError);

        Assert.Equal(("epoch 1 · step 50/200 · loss 0.5 · 1234.5 samples/s · ETA 2m05s · 2 restarts", 25),
            TrainingService.ProgressReport(Job("running", new TrainProgress(50, 200, 1, 0.5, 0.7, 1234.5, 125), 2)));
        Assert.Equal(("step 7 · ETA 1h01m · 1 restart · mirror failing", (int?)null),
            TrainingService.ProgressReport(Job("running", new TrainProgress(7, null, null, null, null, null, 3660), 1, mirrorError: "gone")));
        Assert.Equal(("restarting · step 7", (int?)null), TrainingService.ProgressReport(Job("restarting", new TrainProgress(7, 0, null, null, null, null, null))));
        Assert.Equal(("starting", (int?)null), TrainingService.ProgressReport(Job("starting", null)));
        Assert.Equal(("failed · 3 restarts · boom", (int?)null), TrainingService.ProgressReport(Job("failed", null, 3, "boom")));
        Assert.Equal("Training: the digits example", TrainingService.ProgressTitle(new TrainStartParams(Example: true)));
        Assert.Equal("Training: train.py", TrainingService.ProgressTitle(new TrainStartParams(["python3", "-u", "/w/src/train.py", "--lr", "0.1"])));
    }
}
