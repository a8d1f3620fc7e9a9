using System.Diagnostics;
using System.Text.Json;
using Colab.Daemon.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Colab.Daemon.Tests;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FuzzCollection
{
    public const string Name = "Fuzz (runs alone)";
}

/// <summary>
/// The real daemon process against 100,000 random and mutated frames, written while its
/// stdout is drained and parsed; afterwards it must still be alive and answer normally.
/// Set COLAB_FUZZ_SEED to replay a run; the seed is printed either way.
/// </summary>
[Collection(FuzzCollection.Name)]
public sealed class FuzzTests(ITestOutputHelper output)
{
    private const int FrameCount = 100_000;

    [Fact]
    public async Task Daemon_After100000RandomAndMutatedFrames_IsAliveAndAnswers()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("COLAB_FUZZ_SEED"), out var s) ? s : Random.Shared.Next();
        output.WriteLine($"fuzz seed {seed} (replay with COLAB_FUZZ_SEED={seed})");
        var watch = Stopwatch.StartNew();

        var fuzz = new FuzzFrames(seed).Stream(FrameCount);
        // Padding: more well-formed frames than any Content-Length can have claimed. Whatever
        // state the fuzz left the reader in (inside a lying body, inside a broken header), it
        // is back in step before the padding ends. "$/" notifications are dropped silently.
        var pad = Frames.Frame(Frames.Notification("$/fuzz/pad", """{"p":"padding padding padding"}"""));
        var padding = Frames.Concat(Enumerable.Repeat(pad, FuzzFrames.MaxClaim * 2 / pad.Length + 100).ToArray());
        var generated = watch.Elapsed;

        // Only errors are logged, so stderr does not slow the daemon down.
        await using var d = DaemonProcess.Start(retainMessages: false, environment: new Dictionary<string, string> { ["COLAB_LOGLEVEL"] = "Error" });
        await d.InitializeAsync();
        d.Client.AnswerServerRequests = false; // what the daemon reads stays the seed's alone

        const int chunk = 64 * 1024;
        try
        {
            for (var at = 0; at < fuzz.Length; at += chunk)
            {
                await d.Client.SendAsync(fuzz.AsSpan(at, Math.Min(chunk, fuzz.Length - at)).ToArray());
            }
            await d.Client.SendAsync(padding);
        }
        catch (IOException ex)
        {
            var code = await d.WaitForExitAsync().ContinueWith(t => t.IsCompletedSuccessfully ? t.Result.ToString(System.Globalization.CultureInfo.InvariantCulture) : "?", TaskScheduler.Default);
            Assert.Fail($"seed {seed}: the daemon stopped reading during the fuzz ({ex.Message}); exit code {code}; stderr:\n{Tail(d.Stderr)}");
        }
        var written = watch.Elapsed;

        var finalId = $"final-{Guid.NewGuid():N}";
        var status = await d.Client.RequestAsync(finalId, "colab/serverStatus");
        var answered = watch.Elapsed;

        output.WriteLine($"{FrameCount} frames, {fuzz.Length / 1024.0 / 1024.0:0.0} MiB; {d.Client.MessageCount} messages and {d.Client.BytesReceived / 1024.0 / 1024.0:0.0} MiB back; " +
            $"generated in {generated.TotalSeconds:0.0} s, written by {written.TotalSeconds:0.0} s, answered by {answered.TotalSeconds:0.0} s");
        Assert.True(status.TryGetProperty("result", out var result), $"seed {seed}: colab/serverStatus failed after the fuzz: {status.GetRawText()}");
        Assert.Equal("ready", result.GetProperty("health").GetString());
        Assert.False(d.HasExited, $"seed {seed}: the daemon exited; stderr:\n{d.Stderr}");
        var echo = await d.Client.RequestAsync("echo-after", "colab/diag/echo", """{"still":"here"}""");
        Assert.Equal("here", echo.GetProperty("result").GetProperty("still").GetString());

        Assert.Equal(0, await d.ShutdownAndExitAsync());
        Assert.DoesNotContain("Unhandled exception", d.Stderr);
    }

    private static string Tail(string text) => text.Length <= 4000 ? text : "…" + text[^4000..];

    [Fact]
    public void MakeSafe_SpoilsEveryWayToSpellExitOrShutdown()
    {
        var bytes = Frames.Utf8("""{"method":"exit"} {"method":"shutdown"} "\u0065xit" "\u0073hutdown" "\u00e9" "exexitit" """);

        FuzzFrames.MakeSafe(bytes);

        var text = System.Text.Encoding.UTF8.GetString(bytes);
        Assert.DoesNotContain("exit", text);
        Assert.DoesNotContain("shutdown", text);
        Assert.DoesNotContain("\\u0065", text);
        Assert.DoesNotContain("\\u0073", text);
        Assert.Contains("\\u00e9", text);
        Assert.Equal(bytes.Length, System.Text.Encoding.UTF8.GetByteCount(text));
        Assert.NotEqual("exit", JsonDocument.Parse(bytes.AsMemory(0, 17)).RootElement.GetProperty("method").GetString());
    }
}
