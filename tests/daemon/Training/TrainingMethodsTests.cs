using System.Text.Json;
using Colab.Daemon.Protocol;
using Colab.Daemon.Tests.Infrastructure;
using static Colab.Daemon.Tests.Training.TrainingTestSupport;

namespace Colab.Daemon.Tests.Training;

/// <summary><c>colab/train/*</c> against the real daemon process, with real detached supervisors.</summary>
public sealed class TrainingMethodsTests
{
    [Fact]
    public async Task Start_StreamsChangedWithProgress_LogsAndListAfterReattach()
    {
        var root = TempDirectory("rpc");
        var env = new Dictionary<string, string> { ["COLAB_TRAINING_JOBS"] = root };
        string id;
        await using (var daemon = DaemonProcess.Start(environment: env))
        {
            await daemon.InitializeAsync();
            var script = "echo \"hello from the worker é\"; " +
                         "printf '{\"step\": 3, \"total_steps\": 10, \"epoch\": 0, \"loss\": 0.5, \"samples_per_s\": 120.5, \"eta_s\": 7}\\n' >> \"$COLAB_METRICS_FILE\"; " +
                         "echo 'not json' >> \"$COLAB_METRICS_FILE\"; printf '{\"step\": 4, \"accuracy\": 0.9}\\n' >> \"$COLAB_METRICS_FILE\"; sleep 1.5";
            var started = await daemon.RequestAsync(Methods.TrainStart, JsonSerializer.Serialize(
                new TrainStartParams(["/bin/sh", "-c", script], MaxRestarts: 0), TrainingProtocolJson.Default.TrainStartParams));
            Assert.True(started.TryGetProperty("result", out var info), started.GetRawText());
            id = info.GetProperty("id").GetString()!;
            Assert.Contains(info.GetProperty("state").GetString(), new[] { "starting", "running", "succeeded" });

            var done = await daemon.Client.WaitForAsync(m => TestClient.IsNotification(m, Methods.TrainChanged)
                && m.GetProperty("params").GetProperty("id").GetString() == id
                && m.GetProperty("params").GetProperty("state").GetString() == "succeeded", "the job to succeed");
            var progress = done.GetProperty("params").GetProperty("progress");
            Assert.Equal(4, progress.GetProperty("step").GetInt64());
            Assert.Equal(10, progress.GetProperty("totalSteps").GetInt64());
            Assert.Equal(0.5, progress.GetProperty("loss").GetDouble());
            Assert.Equal(0.9, progress.GetProperty("accuracy").GetDouble());
            Assert.Equal(120.5, progress.GetProperty("samplesPerSecond").GetDouble());

            var metrics = (await daemon.RequestAsync(Methods.TrainMetrics, $$"""{"jobId":"{{id}}"}""")).GetProperty("result");
            var records = metrics.GetProperty("records").EnumerateArray().ToList();
            Assert.Equal(2, records.Count); // the malformed line in between is skipped
            Assert.Contains(records, r => r.TryGetProperty("loss", out var l) && l.GetDouble() == 0.5);
            Assert.Contains(records, r => r.TryGetProperty("accuracy", out var a) && a.GetDouble() == 0.9);
            Assert.Equal(new FileInfo(Path.Combine(root, id, "metrics.jsonl")).Length, metrics.GetProperty("nextOffset").GetInt64());

            var logs = await daemon.RequestAsync(Methods.TrainLogs, $$"""{"jobId":"{{id}}"}""");
            var text = logs.GetProperty("result").GetProperty("text").GetString()!;
            Assert.Contains("hello from the worker é", text, StringComparison.Ordinal);
            Assert.True(logs.GetProperty("result").GetProperty("ended").GetBoolean());

            // Small chunks never split the UTF-8 'é' and add up to the whole log.
            var all = new System.Text.StringBuilder();
            long offset = 0;
            while (true)
            {
                var chunk = (await daemon.RequestAsync(Methods.TrainLogs, $$"""{"jobId":"{{id}}","offset":{{offset}},"maxBytes":7}""")).GetProperty("result");
                all.Append(chunk.GetProperty("text").GetString());
                var next = chunk.GetProperty("nextOffset").GetInt64();
                if (next == offset)
                {
                    break;
                }
                offset = next;
            }
            Assert.Equal(text, all.ToString());
        }

        // A new daemon session (the editor reloaded) sees the job the earlier one started.
        await using (var daemon = DaemonProcess.Start(environment: env))
        {
            await daemon.InitializeAsync();
            var list = await daemon.RequestAsync(Methods.TrainList, "{}");
            var jobs = list.GetProperty("result").GetProperty("jobs");
            Assert.Contains(jobs.EnumerateArray(), j => j.GetProperty("id").GetString() == id && j.GetProperty("state").GetString() == "succeeded");
            var status = await daemon.RequestAsync(Methods.TrainStatus, $$"""{"jobId":"{{id}}"}""");
            Assert.Equal("/bin/sh", status.GetProperty("result").GetProperty("command")[0].GetString());
        }
    }

    [Theory]
    [InlineData("colab/train/status", """{"jobId":"../../etc"}""", "is not a training job id")]
    [InlineData("colab/train/status", """{"jobId":"missing"}""", "no training job 'missing'")]
    [InlineData("colab/train/status", """{}""", "")]
    [InlineData("colab/train/logs", """{"jobId":"missing","offset":-1}""", "")]
    [InlineData("colab/train/start", """{}""", "give a command (argv) or example: true")]
    [InlineData("colab/train/start", """{"command":[""]}""", "give a command")]
    [InlineData("colab/train/start", """{"command":["/bin/true"],"maxRestarts":-1}""", "maxRestarts 0–1000")]
    [InlineData("colab/train/start", """{"command":["/bin/true"],"workingDirectory":"/nonexistent/dir"}""", "does not exist")]
    [InlineData("colab/train/stop", """{"jobId":7}""", "")]
    public async Task MalformedOrHostileParams_InvalidParams(string method, string paramsJson, string message)
    {
        await using var daemon = DaemonProcess.Start(environment: new Dictionary<string, string> { ["COLAB_TRAINING_JOBS"] = TempDirectory("rpcbad") });
        await daemon.InitializeAsync();
        var answer = await daemon.RequestAsync(method, paramsJson);
        Assert.Equal(ErrorCodes.InvalidParams, TestClient.ErrorCode(answer));
        Assert.Contains(message, TestClient.ErrorMessage(answer), StringComparison.Ordinal);
    }
}
