using Colab.Daemon.Runtimes;
using Colab.Daemon.Runtimes.Setup;
using Colab.Daemon.Tests.Runtimes;

namespace Colab.Daemon.Tests.Terminals;

/// <summary>Setup commands on a real local runtime; each test uses commands of its own, so its marker is its own (and removed afterwards).</summary>
public class SetupRunnerTests : IAsyncLifetime
{
    private readonly TempWorkspace _root = new();
    private readonly string _unique = Guid.NewGuid().ToString("N")[..8];
    private readonly List<string> _markers = [];
    private RuntimeManager _manager = null!;
    private SetupRunner _setup = null!;
    private RuntimeInfo _runtime = null!;

    public async Task InitializeAsync()
    {
        await DebianPython.RequireAsync();
        _manager = new RuntimeManager(DebianPython.Locator(), DebianPython.Configuration())
        {
            LocalOptionsOverride = o => o with { StopTimeout = TimeSpan.FromSeconds(5) },
        };
        _setup = new SetupRunner(_manager);
        _runtime = await _manager.ConnectLocalAsync(_root.Path);
    }

    public async Task DisposeAsync()
    {
        foreach (var marker in _markers)
        {
            File.Delete(marker);
        }
        await _manager.DisposeAsync();
        _root.Dispose();
    }

    private string[] Commands(params string[] commands)
    {
        string[] all = [$"echo run-{_unique}", .. commands];
        _markers.Add(Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".colab-vscode", SetupRunner.MarkerName(all)));
        return all;
    }

    [Fact]
    public async Task Setup_runs_once_then_is_skipped_until_forced()
    {
        var commands = Commands("echo two=$((1+1))", "python3 -c 'print(3*3)' && echo \"where=$COLAB_VSCODE_RUNTIME\"");
        var streamed = new List<string>();
        var first = await _setup.RunAsync(_runtime.Id, commands, force: false, streamed.Add);
        Assert.True(first.Ran);
        Assert.True(first.Ok, first.Output);
        Assert.Contains("two=2\n", first.Output);
        Assert.Contains("9\nwhere=local\n", first.Output);
        Assert.Contains("$ echo two=$((1+1))", first.Output);
        Assert.DoesNotContain("colab-setup", first.Output);
        Assert.Contains("two=2", string.Concat(streamed));
        Assert.True(File.Exists(_markers[0]));

        var second = await _setup.RunAsync(_runtime.Id, commands, force: false);
        Assert.False(second.Ran);
        Assert.True(second.Ok);
        Assert.DoesNotContain("two=2", second.Output);

        var forced = await _setup.RunAsync(_runtime.Id, commands, force: true);
        Assert.True(forced.Ran);
        Assert.Contains("two=2", forced.Output);
        // The setup kernel is shut down each time.
        Assert.Empty(await _manager.ListKernelsAsync(_runtime.Id));
    }

    [Fact]
    public async Task A_failing_command_stops_the_setup_and_leaves_no_marker()
    {
        var commands = Commands("echo before", "exit 3", "echo never-reached");
        var result = await _setup.RunAsync(_runtime.Id, commands, force: false);
        Assert.True(result.Ran);
        Assert.False(result.Ok);
        Assert.Contains("before", result.Output);
        Assert.Contains("exit code 3", result.Output);
        Assert.DoesNotContain("never-reached\n", result.Output.Replace("$ echo never-reached", "", StringComparison.Ordinal));
        Assert.False(File.Exists(_markers[0]));
    }

    [Fact]
    public async Task Commands_with_quotes_and_python_syntax_reach_the_shell_unchanged()
    {
        var commands = Commands("echo '\"\"\" ) ; import os' \"$((2*21))\"");
        var result = await _setup.RunAsync(_runtime.Id, commands, force: false);
        Assert.True(result.Ok, result.Output);
        Assert.Contains("\"\"\" ) ; import os 42", result.Output);
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData("a\0b")]
    public async Task Empty_or_malformed_commands_are_refused(string command)
    {
        string[] commands = command.Length == 0 ? [] : [command];
        await Assert.ThrowsAsync<ArgumentException>(() => _setup.RunAsync(_runtime.Id, commands, force: false));
    }
}
