using System.Text.Json;
using Colab.Daemon.Protocol;
using Colab.Daemon.Tests.Infrastructure;

namespace Colab.Daemon.Tests;

/// <summary>
/// The built daemon as the editor starts it (<c>colab daemon --stdio</c>), over real stdio.
/// The test client parses everything on stdout as frames, so one stray byte fails the test.
/// </summary>
public sealed class DaemonProcessTests
{
    [Fact]
    public async Task Session_InitializeStatusShutdownExit_ExitsWithCodeZero()
    {
        await using var d = DaemonProcess.Start();

        var init = await d.InitializeAsync();
        Assert.Equal("colab-daemon", init.GetProperty("serverInfo").GetProperty("name").GetString());
        var status = (await d.RequestAsync("colab/serverStatus")).GetProperty("result");
        Assert.Equal("ready", status.GetProperty("health").GetString());
        Assert.Equal(d.Pid, status.GetProperty("pid").GetInt32());
        var echo = await d.RequestAsync("colab/diag/echo", """{"ü":[1,"✓"]}""");
        Assert.True(JsonElement.DeepEquals(JsonDocument.Parse("""{"ü":[1,"✓"]}""").RootElement, echo.GetProperty("result")));

        Assert.Equal(0, await d.ShutdownAndExitAsync());
    }

    [Fact]
    public async Task Session_StartedAsVsCodeStartsIt_WithClientProcessId_Works()
    {
        await using var d = DaemonProcess.Start(args: $"--clientProcessId={Environment.ProcessId}");

        await d.InitializeAsync();

        Assert.Equal(0, await d.ShutdownAndExitAsync());
    }

    [Fact]
    public async Task Lifecycle_SentAllAtOnceWithoutWaiting_IsHandledInOrderAndExitsWithCodeZero()
    {
        // initialize, initialized, shutdown and exit in one write: initialized must not overtake
        // initialize (the daemon would never get ready) and exit must not overtake shutdown (code 1).
        await using var d = DaemonProcess.Start();
        var burst = new List<byte>();
        burst.AddRange(Frames.Frame(Frames.Request("i", "initialize", """{"processId":null,"capabilities":{}}""")));
        burst.AddRange(Frames.Frame(Frames.Notification("initialized", "{}")));
        burst.AddRange(Frames.Frame(Frames.Request("s", "shutdown")));
        burst.AddRange(Frames.Frame(Frames.Notification("exit")));
        await d.Client.SendAsync(burst.ToArray());

        Assert.Equal(0, await d.WaitForExitAsync());
        var messages = d.Client.Messages;
        Assert.Contains(messages, m => TestClient.IsResponse(m) && m.GetProperty("id").GetString() == "i" && m.TryGetProperty("result", out _));
        Assert.Contains(messages, m => TestClient.IsResponse(m) && m.GetProperty("id").GetString() == "s" && m.TryGetProperty("result", out _));
        Assert.Contains(messages, m => TestClient.IsNotification(m, "colab/serverStatusChanged")
            && m.GetProperty("params").GetProperty("health").GetString() == "ready");
    }

    [Fact]
    public async Task Exit_WithoutShutdown_ExitsWithCodeOne()
    {
        await using var d = DaemonProcess.Start();
        await d.InitializeAsync();

        await d.Client.NotifyAsync("exit");

        Assert.Equal(1, await d.WaitForExitAsync());
    }

    [Fact]
    public async Task ClosingStdin_WithoutShutdown_EndsTheProcessWithCodeOne()
    {
        await using var d = DaemonProcess.Start();
        await d.InitializeAsync();

        d.CloseStdin();

        Assert.Equal(1, await d.WaitForExitAsync());
        Assert.Contains("stdin closed", d.Stderr);
    }

    [Fact]
    public async Task ClosingStdin_AfterShutdown_EndsTheProcessWithCodeZero()
    {
        await using var d = DaemonProcess.Start();
        await d.InitializeAsync();
        await d.RequestAsync("shutdown");

        d.CloseStdin();

        Assert.Equal(0, await d.WaitForExitAsync());
    }

    [Fact]
    public async Task ClosingStdin_BeforeAnything_EndsTheProcess()
    {
        await using var d = DaemonProcess.Start();

        d.CloseStdin();

        Assert.Equal(1, await d.WaitForExitAsync());
        Assert.Empty(d.Client.Messages);
    }

    [Fact]
    public async Task Stdout_HoldsNothingButFrames_WhileLogsGoToStderr()
    {
        await using var d = DaemonProcess.Start(environment: new Dictionary<string, string> { ["COLAB_LOGLEVEL"] = "Debug" });
        await d.InitializeAsync();
        await d.Client.WaitForAsync(m => TestClient.IsNotification(m, "colab/serverStatusChanged")
            && m.GetProperty("params").GetProperty("capabilities").EnumerateArray().All(c => c.GetProperty("state").GetString() != "probing"), "the probes");

        // Bad input makes the daemon log warnings; none of it may reach stdout.
        await d.Client.SendAsync(Frames.Utf8("this is not a frame\r\n\r\n"));
        var parseError = await d.Client.ResponseAsync(null);
        Assert.Equal(ErrorCodes.ParseError, TestClient.ErrorCode(parseError));
        await d.Client.SendAsync(Frames.Frame(Frames.Result("12345", "{}")));
        await d.RequestAsync("colab/noSuchThing");
        var delay = await d.RequestAsync("colab/diag/delay", """{"milliseconds":20,"reportProgress":true}""");
        Assert.True(delay.TryGetProperty("result", out _));

        Assert.Equal(0, await d.ShutdownAndExitAsync());
        // WaitForExitAsync has read stdout to its end through the strict frame parser.
        await d.Client.Completion;
        Assert.True(d.Client.BytesReceived > 0);
        var stderr = d.Stderr;
        Assert.Contains("Dropped a frame", stderr);
        Assert.Contains("response to no request of ours", stderr);
        Assert.Contains("dbug:", stderr);
    }

    [Fact]
    public async Task Requests_FromManyTasksAtOnce_AreAllAnswered()
    {
        await using var d = DaemonProcess.Start();
        await d.InitializeAsync();

        var answers = await Task.WhenAll(Enumerable.Range(0, 300).Select(i =>
            Task.Run(() => d.Client.RequestAsync(i, "colab/diag/echo", $"[{i},{Frames.Str(new string('x', i * 100))}]")))).Within("300 answers");

        for (var i = 0; i < answers.Length; i++)
        {
            Assert.Equal(i, answers[i].GetProperty("result")[0].GetInt32());
        }
        Assert.Equal(0, await d.ShutdownAndExitAsync());
    }

    [Fact]
    public async Task Exit_WithARequestStillRunning_EndsTheProcessAtOnce()
    {
        await using var d = DaemonProcess.Start();
        await d.InitializeAsync();
        _ = d.Client.RequestAsync("long", "colab/diag/delay", """{"milliseconds":600000}""");

        Assert.Equal(0, await d.ShutdownAndExitAsync());
    }
}
