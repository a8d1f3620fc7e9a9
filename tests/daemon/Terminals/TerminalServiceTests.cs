using System.Text;
using Colab.Daemon.Runtimes;
using Colab.Daemon.Runtimes.Terminals;
using Colab.Daemon.Tests.Infrastructure;
using Colab.Daemon.Tests.Runtimes;

namespace Colab.Daemon.Tests.Terminals;

/// <summary>Collects one terminal's output and lets a test wait for a piece of text in it.</summary>
internal sealed class TerminalOutput
{
    private readonly StringBuilder _text = new();
    private readonly List<(string Needle, int Count, TaskCompletionSource Seen)> _waits = [];

    public TaskCompletionSource<string> Closed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string Text
    {
        get
        {
            lock (_text)
            {
                return _text.ToString();
            }
        }
    }

    public void Add(string data)
    {
        lock (_text)
        {
            _text.Append(data);
            var all = _text.ToString();
            foreach (var wait in _waits.Where(w => Occurrences(all, w.Needle) >= w.Count).ToList())
            {
                wait.Seen.TrySetResult();
                _waits.Remove(wait);
            }
        }
    }

    public Task WaitForAsync(string needle, int count = 1)
    {
        lock (_text)
        {
            if (Occurrences(_text.ToString(), needle) >= count)
            {
                return Task.CompletedTask;
            }
            var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waits.Add((needle, count, seen));
            return seen.Task.Within($"'{needle}' (x{count}) in the terminal; it showed: {_text.ToString()[^Math.Min(_text.Length, 400)..]}");
        }
    }

    public static int Occurrences(string text, string needle)
    {
        var count = 0;
        for (var at = text.IndexOf(needle, StringComparison.Ordinal); at >= 0; at = text.IndexOf(needle, at + needle.Length, StringComparison.Ordinal))
        {
            count++;
        }
        return count;
    }
}

/// <summary>Terminals on a real local Jupyter server (jupyter-server 1.23 with terminado).</summary>
public class TerminalServiceTests : IAsyncLifetime
{
    private readonly TempWorkspace _workspace = new();
    private readonly Dictionary<string, TerminalOutput> _outputs = [];
    private RuntimeManager _manager = null!;
    private TerminalService _terminals = null!;
    private RuntimeInfo _runtime = null!;

    public async Task InitializeAsync()
    {
        await DebianPython.RequireAsync();
        _manager = new RuntimeManager(DebianPython.Locator(), DebianPython.Configuration())
        {
            LocalOptionsOverride = o => o with { StopTimeout = TimeSpan.FromSeconds(5) },
        };
        _terminals = new TerminalService(_manager);
        _terminals.Output += (id, data) => Output(id).Add(data);
        _terminals.Closed += (id, reason) => Output(id).Closed.TrySetResult(reason);
        _runtime = await _manager.ConnectLocalAsync(_workspace.Path);
    }

    public async Task DisposeAsync()
    {
        await _terminals.DisposeAsync();
        await _manager.DisposeAsync();
        _workspace.Dispose();
    }

    private TerminalOutput Output(string id)
    {
        lock (_outputs)
        {
            if (!_outputs.TryGetValue(id, out var output))
            {
                _outputs[id] = output = new TerminalOutput();
            }
            return output;
        }
    }

    [Fact]
    public async Task Echo_in_a_terminal_shows_the_commands_output_and_the_product_environment()
    {
        var info = await _terminals.OpenAsync(_runtime.Id, rows: 24, cols: 80);
        Assert.False(info.Reattached);
        Assert.Contains(info.Name, await _terminals.ListAsync(_runtime.Id));

        // The arithmetic makes the output differ from the echoed command line.
        await _terminals.InputAsync(info.TerminalId, "echo \"sum=$((40+2)) where=$COLAB_VSCODE_RUNTIME/$COLAB_VSCODE\"\r");
        await Output(info.TerminalId).WaitForAsync("sum=42 where=local/1");
    }

    [Fact]
    public async Task Resize_reaches_the_shell()
    {
        var info = await _terminals.OpenAsync(_runtime.Id);
        await _terminals.ResizeAsync(info.TerminalId, 33, 101);
        await _terminals.InputAsync(info.TerminalId, "echo size=$(stty size | tr ' ' x)\r");
        await Output(info.TerminalId).WaitForAsync("size=33x101");

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => _terminals.ResizeAsync(info.TerminalId, 0, 80));
    }

    [Fact]
    public async Task A_dropped_socket_reconnects_to_the_same_terminal_without_repeating_output()
    {
        var info = await _terminals.OpenAsync(_runtime.Id);
        var output = Output(info.TerminalId);
        await _terminals.InputAsync(info.TerminalId, "export KEEP=kept; echo first=$((1+1))\r");
        await output.WaitForAsync("first=2");

        var session = _terminals.Session(info.TerminalId);
        await session.DropConnectionAsync();
        // Input waits for the socket to be reopened, then reaches the same shell (its variable survives).
        await _terminals.InputAsync(info.TerminalId, "echo second=$((2+2)) $KEEP\r");
        await output.WaitForAsync("second=4 kept");
        Assert.True(session.Reconnects >= 1);
        Assert.Equal(info.Name, session.Name);
        Assert.Equal(1, TerminalOutput.Occurrences(output.Text, "first=2"));
        Assert.False(output.Closed.Task.IsCompleted);
    }

    [Fact]
    public async Task Reattaching_by_name_reaches_the_running_shell()
    {
        var first = await _terminals.OpenAsync(_runtime.Id);
        await _terminals.InputAsync(first.TerminalId, "export MARK=here$((3*3))\r");
        await _terminals.CloseAsync(first.TerminalId, shutdown: false);
        Assert.Equal("detached", await Output(first.TerminalId).Closed.Task.Within("the detach"));
        Assert.Contains(first.Name, await _terminals.ListAsync(_runtime.Id));

        var again = await _terminals.OpenAsync(_runtime.Id, first.Name);
        Assert.True(again.Reattached);
        Assert.Equal(first.Name, again.Name);
        await _terminals.InputAsync(again.TerminalId, "echo got=$MARK\r");
        await Output(again.TerminalId).WaitForAsync("got=here9");
    }

    [Fact]
    public async Task Exiting_the_shell_closes_the_terminal_and_later_input_is_refused()
    {
        var info = await _terminals.OpenAsync(_runtime.Id);
        await _terminals.InputAsync(info.TerminalId, "exit\r");
        var reason = await Output(info.TerminalId).Closed.Task.Within("the terminal to end");
        Assert.Contains("shell ended", reason);

        var e = await Assert.ThrowsAsync<JupyterException>(() => _terminals.InputAsync(info.TerminalId, "ls\r"));
        Assert.Equal(JupyterErrorKind.NotFound, e.Kind);
        Assert.Contains("no open terminal", e.Message);
    }

    [Fact]
    public async Task Closing_ends_the_shell_on_the_runtime()
    {
        var info = await _terminals.OpenAsync(_runtime.Id);
        await _terminals.CloseAsync(info.TerminalId);
        Assert.Equal("closed", await Output(info.TerminalId).Closed.Task.Within("the close"));
        Assert.DoesNotContain(info.Name, await _terminals.ListAsync(_runtime.Id));
        var e = await Assert.ThrowsAsync<JupyterException>(() => _terminals.OpenAsync(_runtime.Id, info.Name));
        Assert.Equal(JupyterErrorKind.NotFound, e.Kind);
        Assert.Contains($"no terminal named '{info.Name}'", e.Message);
    }

    [Theory]
    [InlineData("../1")]
    [InlineData("1/2")]
    [InlineData("")]
    [InlineData("a\u0007b")]
    public async Task A_hostile_terminal_name_is_refused(string name)
    {
        var e = await Assert.ThrowsAsync<ArgumentException>(() => _terminals.OpenAsync(_runtime.Id, name));
        Assert.Contains("not a terminal name", e.Message);
        Assert.DoesNotContain("\u0007", e.Message);
    }

    [Fact]
    public async Task Disconnecting_the_runtime_closes_its_terminals()
    {
        var info = await _terminals.OpenAsync(_runtime.Id);
        await _manager.DisconnectAsync(_runtime.Id);
        var reason = await Output(info.TerminalId).Closed.Task.Within("the terminal to close with its runtime");
        Assert.True(reason.Contains("runtime was disconnected") || reason.Contains("shell ended") || reason.Contains("could not be reached"), reason);
    }

    [Fact]
    public async Task An_unknown_runtime_is_refused()
    {
        var e = await Assert.ThrowsAsync<JupyterException>(() => _terminals.OpenAsync("local-nothere"));
        Assert.Equal(JupyterErrorKind.NotFound, e.Kind);
    }
}

/// <summary>A server started with terminals turned off answers with a clear message.</summary>
public class TerminalsDisabledTests : IAsyncLifetime
{
    private readonly TempWorkspace _workspace = new();
    private RuntimeManager _manager = null!;
    private TerminalService _terminals = null!;
    private RuntimeInfo _runtime = null!;

    public async Task InitializeAsync()
    {
        await DebianPython.RequireAsync();
        _manager = new RuntimeManager(DebianPython.Locator(), DebianPython.Configuration())
        {
            LocalOptionsOverride = o => o with { StopTimeout = TimeSpan.FromSeconds(5), ExtraArguments = ["--ServerApp.terminals_enabled=False"] },
        };
        _terminals = new TerminalService(_manager);
        _runtime = await _manager.ConnectLocalAsync(_workspace.Path);
    }

    public async Task DisposeAsync()
    {
        await _terminals.DisposeAsync();
        await _manager.DisposeAsync();
        _workspace.Dispose();
    }

    [Fact]
    public async Task Opening_a_terminal_says_the_server_has_none_and_how_to_get_them()
    {
        var e = await Assert.ThrowsAsync<NotSupportedException>(() => _terminals.OpenAsync(_runtime.Id));
        Assert.Contains("has no terminals", e.Message);
        Assert.Contains("terminado", e.Message);
        Assert.Contains("terminals_enabled", e.Message);
        await Assert.ThrowsAsync<NotSupportedException>(() => _terminals.ListAsync(_runtime.Id));
    }
}
