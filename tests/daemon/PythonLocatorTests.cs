using System.Diagnostics;
using Colab.Daemon.Python;
using Colab.Daemon.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;

namespace Colab.Daemon.Tests;

/// <summary>Finding Python, against fake interpreters (shell scripts) in a temp dir.</summary>
public sealed class PythonLocatorTests : IDisposable
{
    private readonly FakePython _fake = new();

    public void Dispose() => _fake.Dispose();

    private static PythonLocator Locator(string? python, string key = "Python")
        => new(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [key] = python }).Build());

    [Fact]
    public async Task Locate_ConfiguredInterpreterWithTheRuntimeModules_IsChosen()
    {
        var python = _fake.WithModules("python", "3.11.2", "jupyter_server", "ipykernel");

        var found = await Locator(python).LocateAsync(CancellationToken.None).Within("the probe");

        Assert.NotNull(found);
        Assert.Equal(python, found.Path);
        Assert.True(found.Usable);
        Assert.Equal("3.11.2", found.Version);
        Assert.True(found.Modules["jupyter_server"]);
        Assert.False(found.Modules["torch"]);
        Assert.Equal(["python3-torch", "python3-numpy"], found.Missing(PythonLocator.ProbedModules));
    }

    [Fact]
    public void Candidates_ConfiguredUnderEitherKey_ComeFirst()
    {
        Assert.Equal("/opt/py/bin/python3", Locator("/opt/py/bin/python3").Candidates().First());
        Assert.Equal("/opt/py/bin/python3", Locator("/opt/py/bin/python3", "Colab:Python").Candidates().First());
        Assert.Equal("/usr/bin/python3", Locator(null).Candidates().First());
        Assert.Equal("/usr/bin/python3", Locator("  ").Candidates().First());
    }

    [Fact]
    public async Task Probe_InterpreterThatLacksModules_NamesTheDebianPackages()
    {
        var python = _fake.WithModules("bare-python", "3.11.2");

        var probe = await PythonLocator.ProbeAsync(python, CancellationToken.None).Within("the probe");

        Assert.True(probe.Usable);
        Assert.Equal(["jupyter-server", "python3-ipykernel"], probe.Missing(PythonLocator.RuntimeModules));
    }

    [Fact]
    public async Task Probe_InterpreterThatExitsWithOne_IsUnusableWithItsLastErrorLine()
    {
        var python = _fake.Script("broken-python", "echo 'Traceback (most recent call last):' >&2\necho 'ImportError: no site' >&2\nexit 1");

        var probe = await PythonLocator.ProbeAsync(python, CancellationToken.None).Within("the probe");

        Assert.False(probe.Usable);
        Assert.Equal("exited with code 1: ImportError: no site", probe.Error);
        Assert.Null(probe.Version);
    }

    [Fact]
    public async Task Probe_InterpreterThatFillsStderrBeforeAnswering_IsReadWithoutDeadlock()
    {
        // 300 KB on stderr first: more than a pipe holds, so both streams must be read at once.
        var python = _fake.Script("noisy-python",
            "head -c 300000 /dev/zero | tr '\\0' w >&2\necho '{\"version\":\"3.12.1\",\"modules\":{\"jupyter_server\":true,\"ipykernel\":true,\"torch\":false,\"numpy\":true}}'");

        var probe = await PythonLocator.ProbeAsync(python, CancellationToken.None).Within("the probe");

        Assert.True(probe.Usable, probe.Error);
        Assert.Equal("3.12.1", probe.Version);
        Assert.False(probe.Modules["torch"]);
    }

    [Fact]
    public async Task Probe_InTheDaemon_InterpreterThatReadsStdin_NeitherStealsNorWaitsOnTheProtocolInput()
    {
        // The daemon's stdin is the protocol's input: an interpreter (or a wrapper script) that reads its
        // stdin must get an empty one, or it takes the client's next frame and waits for more.
        var python = _fake.Script("reading-python",
            "if read line; then echo \"read: $line\" >&2; exit 4; fi\necho '{\"version\":\"3.99.7\",\"modules\":{\"jupyter_server\":true,\"ipykernel\":true,\"torch\":true,\"numpy\":true}}'");
        await using var d = DaemonProcess.Start(environment: new Dictionary<string, string> { ["COLAB_PYTHON"] = python });
        await d.InitializeAsync();

        var echo = await d.RequestAsync("colab/diag/echo", "[\"after initialized\"]");
        var probed = await d.Client.WaitForAsync(m => TestClient.IsNotification(m, "colab/serverStatusChanged")
            && m.GetProperty("params").GetProperty("capabilities").EnumerateArray().All(c => c.GetProperty("state").GetString() != "probing"), "the probes");

        Assert.Equal("[\"after initialized\"]", echo.GetProperty("result").GetRawText());
        var py = probed.GetProperty("params").GetProperty("capabilities").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "python");
        Assert.Equal("available", py.GetProperty("state").GetString());
        Assert.Equal($"{python} (Python 3.99.7)", py.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Probe_InterpreterThatFloodsStdoutAndStderr_KeepsABoundedAmount_AndStderrsLastLine()
    {
        // 3 MB of each: the probe keeps at most MaxOutputChars of each, and stderr's end (the error's last line).
        var python = _fake.Script("flooding-python",
            "head -c 3000000 /dev/zero | tr '\\0' o &\nhead -c 3000000 /dev/zero | tr '\\0' e >&2\nwait\necho >&2\necho 'SystemError: the last line' >&2\nexit 3");

        var probe = await PythonLocator.ProbeAsync(python, CancellationToken.None).Within("the probe");

        Assert.False(probe.Usable);
        Assert.Equal("exited with code 3: SystemError: the last line", probe.Error);
    }

    [Theory]
    [InlineData("echo 'not json at all'")]
    [InlineData("echo '{\"modules\":{}}'")]
    [InlineData("echo '{\"version\":\"3.11\"}'")]
    [InlineData("true")]
    public async Task Probe_InterpreterThatAnswersNonsense_IsUnusable(string body)
    {
        var python = _fake.Script("odd-python", body);

        var probe = await PythonLocator.ProbeAsync(python, CancellationToken.None).Within("the probe");

        Assert.False(probe.Usable);
        Assert.False(string.IsNullOrEmpty(probe.Error));
    }

    [Fact]
    public async Task Probe_MissingFile_IsNotFound()
    {
        var probe = await PythonLocator.ProbeAsync(Path.Combine(_fake.Directory, "nope"), CancellationToken.None).Within("the probe");

        Assert.False(probe.Usable);
        Assert.Equal("not found", probe.Error);
    }

    [Fact]
    public async Task Probe_FileThatIsNotExecutable_IsUnusable()
    {
        var path = Path.Combine(_fake.Directory, "not-executable");
        File.WriteAllText(path, "#!/bin/sh\necho hi\n");

        var probe = await PythonLocator.ProbeAsync(path, CancellationToken.None).Within("the probe");

        Assert.False(probe.Usable);
    }

    [Fact]
    public async Task Probe_InterpreterThatHangs_IsKilledWhenCancelled()
    {
        // The probe's own 20 s timeout is too slow for a unit test; cancellation takes the same path.
        // The fake tells its pid through a FIFO, so the test waits on the fake, not on a clock.
        var fifo = Path.Combine(_fake.Directory, "pid");
        using (var mkfifo = Process.Start("mkfifo", [fifo]))
        {
            await mkfifo.WaitForExitAsync().Within("mkfifo");
        }
        var python = _fake.Script("hanging-python", $"echo $$ > '{fifo}'\nexec sleep 600");
        using var cts = new CancellationTokenSource();

        var probing = PythonLocator.ProbeAsync(python, cts.Token);
        var pid = int.Parse((await File.ReadAllTextAsync(fifo).Within("the fake's pid")).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => probing.Within("the cancelled probe"));
        try
        {
            using var hanging = Process.GetProcessById(pid);
            await hanging.WaitForExitAsync().Within($"the hanging interpreter (pid {pid}) to be killed");
        }
        catch (ArgumentException)
        {
            // Already gone.
        }
    }

    [Fact]
    public async Task Locate_WhenTheConfiguredInterpreterFails_FallsBackAndReportsTheBestItSaw()
    {
        var broken = _fake.Script("broken-python", "exit 1");

        var found = await Locator(broken).LocateAsync(CancellationToken.None).Within("the probe");

        // Whatever this host has, the broken one is only the answer when nothing better exists.
        Assert.NotNull(found);
        if (found.Path == broken)
        {
            Assert.False(found.Usable);
        }
        else
        {
            Assert.True(found.Usable, $"{found.Path}: {found.Error}");
        }
    }
}
