using Colab.Daemon.Runtimes;
using Colab.Daemon.Tests.Infrastructure;

namespace Colab.Daemon.Tests.Runtimes;

/// <summary>The manager over a real local runtime; the same server doubles as a "remote" one by URL and token.</summary>
public class RuntimeManagerTests : IAsyncLifetime
{
    private readonly TempWorkspace _workspace = new();
    private RuntimeManager _manager = null!;
    private RuntimeInfo _local = null!;
    private readonly List<string> _changes = [];

    public async Task InitializeAsync()
    {
        await DebianPython.RequireAsync();
        _manager = new RuntimeManager(DebianPython.Locator(), DebianPython.Configuration())
        {
            LocalOptionsOverride = o => o with { StopTimeout = TimeSpan.FromSeconds(5) },
        };
        _manager.Changed += () => { lock (_changes) { _changes.Add("changed"); } };
        _local = await _manager.ConnectLocalAsync(_workspace.Path);
    }

    public async Task DisposeAsync()
    {
        await _manager.DisposeAsync();
        _workspace.Dispose();
    }

    [Fact]
    public async Task A_local_runtime_lists_runs_kernels_and_disconnects_cleanly()
    {
        Assert.Equal(RuntimeKinds.Local, _local.Kind);
        Assert.StartsWith("http://127.0.0.1:", _local.Url);
        Assert.Equal(RuntimeStates.Connected, _local.State);
        Assert.False(_local.InsecureTransport);
        Assert.Equal(_workspace.Path, _local.RootDirectory);
        Assert.False(string.IsNullOrEmpty(_local.ServerVersion));
        Assert.Equal(_local, Assert.Single(_manager.List()));

        var specs = await _manager.GetKernelSpecsAsync(_local.Id);
        Assert.Contains(specs.Default, specs.Kernelspecs.Keys);

        var started = await _manager.StartKernelAsync(_local.Id);
        Assert.True(started.StartedHere);
        var kernel = await _manager.OpenKernelAsync(_local.Id, started.Id);
        Assert.Same(kernel, await _manager.OpenKernelAsync(_local.Id, started.Id));
        Assert.Equal("hi\n", (await kernel.RunAsync("print('hi')")).Stdout);

        var listed = Assert.Single(await _manager.ListKernelsAsync(_local.Id));
        Assert.Equal(started.Id, listed.Id);
        Assert.Equal("idle", listed.ExecutionState);
        Assert.True(listed.Connected);
        Assert.True(listed.StartedHere);
        Assert.NotNull(listed.LastActivity);
        Assert.True(listed.LastActivity > DateTimeOffset.UtcNow.AddMinutes(-1));

        await _manager.RestartKernelAsync(_local.Id, started.Id);
        await _manager.InterruptKernelAsync(_local.Id, started.Id);

        var port = new Uri(_local.Url).Port;
        await _manager.DisconnectAsync(_local.Id);
        Assert.Empty(_manager.List());
        Assert.Equal(KernelConnectionState.Closed, kernel.State);
        Assert.False(LocalJupyterServerTests.PortOpen(port));
        Assert.False(LocalJupyterServerTests.IsAlive(_local.ProcessId!.Value));
        var gone = await Assert.ThrowsAsync<JupyterException>(() => _manager.ListKernelsAsync(_local.Id));
        Assert.Equal(JupyterErrorKind.NotFound, gone.Kind);
        lock (_changes)
        {
            Assert.True(_changes.Count >= 3);
        }
    }

    [Fact]
    public async Task A_remote_runtime_by_url_and_token_shuts_down_only_its_own_kernels_on_disconnect()
    {
        var local = _manager.Client(_local.Id);
        var foreign = await local.StartKernelAsync();

        // The URL as Jupyter prints it, token in the query.
        var remote = await _manager.ConnectRemoteAsync($"{_local.Url}lab?token={local.Token}", token: null);
        Assert.Equal(RuntimeKinds.Remote, remote.Kind);
        Assert.Equal(_local.Url, remote.Url);
        Assert.DoesNotContain(local.Token!, remote.Url);
        Assert.Null(remote.ProcessId);
        Assert.Equal(2, _manager.List().Count);

        var mine = await _manager.StartKernelAsync(remote.Id);
        var kernels = await _manager.ListKernelsAsync(remote.Id);
        Assert.Equal(2, kernels.Count);
        Assert.False(kernels.Single(k => k.Id == foreign.Id).StartedHere);

        await _manager.DisconnectAsync(remote.Id);
        var left = await local.ListKernelsAsync();
        Assert.Equal(foreign.Id, Assert.Single(left).Id);
        Assert.DoesNotContain(left, k => k.Id == mine.Id);
        Assert.Equal(_local.Id, Assert.Single(_manager.List()).Id);
    }

    [Fact]
    public async Task Kernels_know_where_they_run_COLAB_VSCODE_and_the_runtime_kind_also_after_a_restart()
    {
        const string where = "import os; print(os.environ.get('COLAB_VSCODE'), os.environ.get('COLAB_VSCODE_RUNTIME'))";
        var localKernel = await _manager.StartKernelAsync(_local.Id);
        Assert.Equal("1 local\n", (await (await _manager.OpenKernelAsync(_local.Id, localKernel.Id)).RunAsync(where)).Stdout);

        // The same server connected by URL is a remote runtime to this daemon: the kernel is told so.
        var remote = await _manager.ConnectRemoteAsync(_local.Url, _manager.Client(_local.Id).Token);
        var kernel = await _manager.StartKernelAsync(remote.Id);
        var connection = await _manager.OpenKernelAsync(remote.Id, kernel.Id);
        var first = await connection.RunAsync(where);
        Assert.Equal("1 remote\n", first.Stdout);

        await _manager.RestartKernelAsync(remote.Id, kernel.Id);
        var again = await (await _manager.OpenKernelAsync(remote.Id, kernel.Id)).RunAsync(where + "; print(_colab_os if '_colab_os' in dir() else 'clean')");
        Assert.Equal("1 remote\nclean\n", again.Stdout);
        // The marker ran silently: it took no execution count from the user.
        Assert.Equal(1, first.Reply.ExecutionCount);
    }

    [Fact]
    public async Task A_wrong_token_is_rejected_and_leaves_no_runtime_behind()
    {
        var token = _manager.Client(_local.Id).Token!;
        var wrong = "f" + token[1..^1] + "0";
        var e = await Assert.ThrowsAsync<JupyterException>(() => _manager.ConnectRemoteAsync(_local.Url, wrong));
        Assert.Equal(JupyterErrorKind.TokenRejected, e.Kind);
        Assert.StartsWith("the token was rejected", e.Message);
        Assert.DoesNotContain(wrong, e.ToString());
        Assert.DoesNotContain(token, e.ToString());
        Assert.Equal(_local.Id, Assert.Single(_manager.List()).Id);
    }

    [Fact]
    public async Task Nothing_listening_and_bad_urls_are_clear_errors()
    {
        var port = StandInServer.FreePort();
        var e = await Assert.ThrowsAsync<JupyterException>(() => _manager.ConnectRemoteAsync($"http://127.0.0.1:{port}/", "t0ken-t0ken-t0ken"));
        Assert.Equal(JupyterErrorKind.Unreachable, e.Kind);
        Assert.Contains($"no Jupyter server at http://127.0.0.1:{port}/", e.Message);
        Assert.DoesNotContain("t0ken-t0ken-t0ken", e.ToString());

        var bad = await Assert.ThrowsAsync<JupyterException>(() => _manager.ConnectRemoteAsync("gopher://x/", null));
        Assert.Equal(JupyterErrorKind.InvalidUrl, bad.Kind);

        using var html = new StandInServer(_ => (200, "text/html", "<html>hello</html>", null));
        var notJupyter = await Assert.ThrowsAsync<JupyterException>(() => _manager.ConnectRemoteAsync(html.Url, "t0ken-t0ken-t0ken"));
        Assert.Equal(JupyterErrorKind.NotJupyter, notJupyter.Kind);
        Assert.Single(_manager.List());
    }

    [Fact]
    public async Task The_token_never_appears_in_any_error()
    {
        var client = _manager.Client(_local.Id);
        var token = client.Token!;
        var errors = new List<Exception>
        {
            await Assert.ThrowsAsync<JupyterException>(() => client.GetKernelAsync("00000000-0000-0000-0000-000000000000")),
            await Assert.ThrowsAsync<JupyterException>(() => client.DeleteKernelAsync("not-a-kernel")),
            await Assert.ThrowsAsync<JupyterException>(() => client.StartKernelAsync("no-such-kernelspec")),
            await Assert.ThrowsAsync<JupyterException>(() => KernelConnection.ConnectAsync(client, Guid.NewGuid().ToString())),
            await Assert.ThrowsAsync<JupyterException>(() => _manager.ConnectRemoteAsync(_local.Url + "?token=" + token + "x", null)),
            await Assert.ThrowsAsync<JupyterException>(() => _manager.ConnectRemoteAsync("http://127.0.0.1:1/?token=" + token, null)),
            Assert.Throws<JupyterException>(() => JupyterEndpoint.Parse("ftp://host/?token=" + token)),
        };
        foreach (var error in errors)
        {
            for (Exception? x = error; x is not null; x = x.InnerException)
            {
                Assert.DoesNotContain(token, x.Message);
            }
            Assert.DoesNotContain(token, error.ToString());
        }
        Assert.Equal(JupyterErrorKind.NotFound, ((JupyterException)errors[0]).Kind);
    }
}
