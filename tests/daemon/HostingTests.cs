using System.Collections;
using Colab.Daemon.Hosting;
using Colab.Daemon.Python;
using Colab.Daemon.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Colab.Daemon.Tests;

/// <summary>
/// The daemon's own host (issue 8, sixth round): the settings from <c>COLAB_</c> variables and
/// <c>--Key=value</c> arguments, the logger factory's level, and the shutdown signals.
/// </summary>
public sealed class HostingTests
{
    private static ColabSettings Settings(IDictionary environment, params string[] args) => new(environment, args);

    [Fact]
    public void Settings_TakeColabVariables_WithoutThePrefix_InAnyCase_AndDoubleUnderscoreAsColon()
    {
        var s = Settings(new Hashtable
        {
            ["COLAB_PYTHON"] = "/opt/py/bin/python3",
            ["colab_IdleCheckSeconds"] = "2",
            ["COLAB_GITHUB__BASEURL"] = "http://127.0.0.1:9/api",
            ["PYTHON"] = "/not/this/one",
            ["XCOLAB_NVMLLIBRARY"] = "/nor/this",
            ["COLAB_"] = "no key",
        });

        Assert.Equal("/opt/py/bin/python3", s["Python"]);
        Assert.Equal("/opt/py/bin/python3", s["python"]);
        Assert.Equal("2", s["IdleCheckSeconds"]);
        Assert.Equal("http://127.0.0.1:9/api", s["GitHub:BaseUrl"]);
        Assert.Equal("http://127.0.0.1:9/api", s.GetSection("GitHub")["BaseUrl"]);
        Assert.Null(s["NvmlLibrary"]);
        Assert.Null(s[""]);
    }

    [Fact]
    public void Settings_Arguments_FollowTheCommandLineGrammar_AndWinOverTheEnvironment()
    {
        var s = Settings(new Hashtable { ["COLAB_PYTHON"] = "/env/python3", ["COLAB_LOGLEVEL"] = "Error" },
            "--Python=/arg/python3", "--LogLevel", "Debug", "/Workspace=/w", "/NvmlLibrary", "/lib/nvml.so", "GitHub:MaxNotebookBytes=5",
            "--Empty=", "-x", "-y=1", "stray", "--Last");

        Assert.Equal("/arg/python3", s["Python"]);
        Assert.Equal("Debug", s["LogLevel"]);
        Assert.Equal("/w", s["Workspace"]);
        Assert.Equal("/lib/nvml.so", s["NvmlLibrary"]);
        Assert.Equal("5", s["GitHub:MaxNotebookBytes"]);
        Assert.Equal("", s["Empty"]);
        // A short switch has no mapping: ignored, with or without a value; so is a bare word and a last key without its value.
        Assert.Null(s["x"]);
        Assert.Null(s["y"]);
        Assert.Null(s["stray"]);
        Assert.Null(s["Last"]);
        Assert.Equal(["Empty", "GitHub", "LogLevel", "NvmlLibrary", "Python", "Workspace"], s.GetChildren().Select(c => c.Key), StringComparer.OrdinalIgnoreCase);
    }

    [Fact]
    public void Settings_Sections_ReadAndWriteThroughToTheRoot_AndNeverSignalAReload()
    {
        var s = new ColabSettings();
        var github = s.GetSection("GitHub");
        Assert.Equal("GitHub", github.Key);
        Assert.Null(github.Value);
        github["BaseUrl"] = "http://x";
        s["GitHub:Hosts:Enterprise"] = "e";

        Assert.Equal("http://x", s["github:baseurl"]);
        Assert.Equal("GitHub:Hosts", Assert.Single(github.GetChildren(), c => c.Key == "Hosts").Path);
        Assert.Equal("e", s.GetSection("GitHub:Hosts").GetSection("Enterprise").Value);
        Assert.Equal(["GitHub"], s.GetChildren().Select(c => c.Key));
        var token = s.GetReloadToken();
        Assert.False(token.HasChanged);
        Assert.False(token.ActiveChangeCallbacks);
        token.RegisterChangeCallback(_ => Assert.Fail("no reload"), null).Dispose();
    }

    [Fact]
    public async Task Builder_LogLevelSetting_SetsTheLoggersLevel_AndTheServicesReadTheSettings()
    {
        var builder = DaemonHost.CreateBuilder(["--LogLevel=Debug", "--Python=/from/args/python3"], LogLevel.Warning);
        await using var host = builder.Build();
        var logger = host.Services.GetRequiredService<ILogger<HostingTests>>();
        Assert.True(logger.IsEnabled(LogLevel.Debug));
        Assert.False(logger.IsEnabled(LogLevel.Trace));
        Assert.Equal("/from/args/python3", host.Services.GetRequiredService<PythonLocator>().Candidates().First());
        Assert.Same(builder.Configuration, host.Services.GetRequiredService<IConfiguration>());
        Assert.Throws<NotSupportedException>(() => host.Services.GetRequiredService<ILoggerFactory>().AddProvider(new StderrLoggerProvider()));

        var fallback = DaemonHost.CreateBuilder(["--LogLevel=loud"], LogLevel.Warning);
        await using var quiet = fallback.Build();
        Assert.False(quiet.Services.GetRequiredService<ILoggerFactory>().CreateLogger("x").IsEnabled(LogLevel.Information));
        Assert.True(quiet.Services.GetRequiredService<ILoggerFactory>().CreateLogger("x").IsEnabled(LogLevel.Warning));
    }

    private static int kill(int pid, int signal) => Colab.Daemon.Training.TrainingJobs.Kill(pid, signal);

    [Theory]
    [InlineData(15)] // SIGTERM
    [InlineData(2)] // SIGINT
    public async Task Daemon_StopSignal_StopsTheSession_WithinTheShutdownTimeout_ExitCodeOne(int signal)
    {
        await using var d = DaemonProcess.Start(environment: new Dictionary<string, string> { ["COLAB_LOGLEVEL"] = "Debug" });
        await d.InitializeAsync();
        await d.Client.WaitForAsync(m => TestClient.IsNotification(m, "colab/serverStatusChanged"), "the first status");
        Assert.Contains("Hosting started", d.Stderr);

        Assert.Equal(0, kill(d.Pid, signal));

        Assert.Equal(1, await d.WaitForExitAsync());
        Assert.Contains("Hosting stopping", d.Stderr);
        Assert.Contains("stopped by a signal; exiting with code 1", d.Stderr);
        Assert.Contains("Hosting stopped", d.Stderr);
        // The session ended on the signal, not when the shutdown timeout gave up on it.
        Assert.DoesNotContain("did not stop within", d.Stderr);
    }

    [Fact]
    public async Task Daemon_Sigterm_AfterShutdown_ExitsZero()
    {
        await using var d = DaemonProcess.Start(environment: new Dictionary<string, string> { ["COLAB_LOGLEVEL"] = "Debug" });
        await d.InitializeAsync();
        Assert.True((await d.RequestAsync("shutdown")).TryGetProperty("result", out _));

        Assert.Equal(0, kill(d.Pid, 15));

        Assert.Equal(0, await d.WaitForExitAsync());
        Assert.DoesNotContain("did not stop within", d.Stderr);
    }

    [Fact]
    public async Task Daemon_Sighup_KeepsItsDefault_TheProcessEnds()
    {
        await using var d = DaemonProcess.Start();
        await d.InitializeAsync();

        Assert.Equal(0, kill(d.Pid, 1));

        if (SighupIgnoredHere())
        {
            // Started under nohup (or anything else that ignores SIGHUP): the ignore is inherited, and a
            // daemon that keeps the default keeps ignoring it — still alive, still answering.
            await Task.Delay(500);
            Assert.True((await d.RequestAsync("colab/runtime/list", "{}")).TryGetProperty("result", out _));
            Assert.Equal(0, await d.ShutdownAndExitAsync());
            return;
        }
        // Ended by the signal (128 + 1 as .NET reports it), not by the host.
        Assert.Equal(129, await d.WaitForExitAsync());
    }

    /// <summary>Whether this test process ignores SIGHUP (its <c>SigIgn</c> mask), which the daemon it starts inherits.</summary>
    private static bool SighupIgnoredHere()
    {
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        return (Convert.ToUInt64(line["SigIgn:".Length..].Trim(), 16) & 1UL) != 0;
    }
}
