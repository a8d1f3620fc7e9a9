using Colab.Daemon.Runtimes;

namespace Colab.Daemon.Tests.Runtimes;

/// <summary>The REST client against a real jupyter-server 1.23.</summary>
public class JupyterRestTests(JupyterServerFixture fixture) : IClassFixture<JupyterServerFixture>
{
    private JupyterClient Client => fixture.Client;

    [Fact]
    public async Task Version_status_and_kernel_specs()
    {
        var version = await Client.GetVersionAsync();
        Assert.Matches(@"^\d+\.\d+", version.Version);
        Assert.Equal(fixture.Server.ServerVersion, version.Version);

        var status = await Client.GetStatusAsync();
        Assert.NotNull(status.Started);
        Assert.True(status.Started <= DateTimeOffset.UtcNow.AddSeconds(5));

        var specs = await Client.GetKernelSpecsAsync();
        Assert.Equal("python3", specs.Default);
        var python = specs.Kernelspecs["python3"];
        Assert.Equal("python", python.Spec.Language);
        Assert.False(string.IsNullOrEmpty(python.Spec.DisplayName));
    }

    [Fact]
    public async Task Kernels_start_list_get_interrupt_restart_and_delete()
    {
        var kernel = await Client.StartKernelAsync("python3");
        try
        {
            Assert.Equal("python3", kernel.Name);
            Assert.Contains(await Client.ListKernelsAsync(), k => k.Id == kernel.Id);
            var got = await Client.GetKernelAsync(kernel.Id);
            Assert.Equal(kernel.Id, got.Id);
            Assert.NotNull(got.LastActivity);
            Assert.Contains(got.ExecutionState, new[] { "starting", "idle", "busy" });

            await Client.InterruptKernelAsync(kernel.Id);
            var restarted = await Client.RestartKernelAsync(kernel.Id);
            Assert.Equal(kernel.Id, restarted.Id);
        }
        finally
        {
            await Client.DeleteKernelAsync(kernel.Id);
        }
        Assert.DoesNotContain(await Client.ListKernelsAsync(), k => k.Id == kernel.Id);
        var e = await Assert.ThrowsAsync<JupyterException>(() => Client.GetKernelAsync(kernel.Id));
        Assert.Equal(JupyterErrorKind.NotFound, e.Kind);
        Assert.Contains(kernel.Id, e.Message);
        e = await Assert.ThrowsAsync<JupyterException>(() => Client.InterruptKernelAsync(kernel.Id));
        Assert.Equal(JupyterErrorKind.NotFound, e.Kind);
    }

    [Fact]
    public async Task An_unknown_kernel_spec_is_refused_in_words()
    {
        var e = await Assert.ThrowsAsync<JupyterException>(() => Client.StartKernelAsync("no-such-language"));
        Assert.Equal(JupyterErrorKind.NotFound, e.Kind);
        Assert.Contains("no kernel spec named 'no-such-language'", e.Message);
        Assert.Contains("python3", e.Message);
    }

    [Fact]
    public async Task Sessions_create_list_and_delete()
    {
        File.WriteAllText(Path.Combine(fixture.Workspace, "analysis.ipynb"), "");
        var session = await Client.CreateSessionAsync("analysis.ipynb", kernelName: "python3");
        try
        {
            Assert.Equal("analysis.ipynb", session.Path);
            Assert.Equal("notebook", session.Type);
            Assert.NotNull(session.Kernel);
            var listed = Assert.Single(await Client.ListSessionsAsync(), s => s.Id == session.Id);
            Assert.Equal(session.Kernel!.Id, listed.Kernel!.Id);

            // A second session bound to the same running kernel.
            var second = await Client.CreateSessionAsync("other.ipynb", kernelId: session.Kernel.Id);
            Assert.Equal(session.Kernel.Id, second.Kernel!.Id);
            Assert.Equal(2, (await Client.ListSessionsAsync()).Count(s => s.Kernel?.Id == session.Kernel.Id));
        }
        finally
        {
            await Client.DeleteSessionAsync(session.Id);
        }
        // Deleting a session shuts its kernel down, and Jupyter drops the sessions that shared it.
        Assert.DoesNotContain(await Client.ListSessionsAsync(), s => s.Kernel?.Id == session.Kernel!.Id);
        var e = await Assert.ThrowsAsync<JupyterException>(() => Client.DeleteSessionAsync(session.Id));
        Assert.Equal(JupyterErrorKind.NotFound, e.Kind);
    }

    [Fact]
    public async Task No_token_and_a_wrong_token_are_told_apart()
    {
        using var none = new JupyterClient(fixture.Server.Endpoint, null);
        var e = await Assert.ThrowsAsync<JupyterException>(() => none.ListKernelsAsync());
        Assert.Equal(JupyterErrorKind.TokenRejected, e.Kind);
        Assert.Contains("needs a token", e.Message);

        using var wrong = new JupyterClient(fixture.Server.Endpoint, "not-the-right-token-at-all");
        e = await Assert.ThrowsAsync<JupyterException>(() => wrong.ListKernelsAsync());
        Assert.Equal(JupyterErrorKind.TokenRejected, e.Kind);
        Assert.StartsWith("the token was rejected", e.Message);
        Assert.DoesNotContain("not-the-right-token-at-all", e.ToString());
    }
}
