using System.IO.Pipelines;
using Colab.Daemon.Hosting;
using Colab.Daemon.Tests.Infrastructure;

namespace Colab.Daemon.Tests;

/// <summary>
/// <see cref="DaemonHost.RunDaemonAsync"/> in this process over in-memory streams: the whole
/// host (DaemonSession, Lifecycle, MethodTable) and the exit code it returns.
/// </summary>
public sealed class DaemonSessionTests
{
    private sealed class Session : IAsyncDisposable
    {
        private readonly Pipe _toServer = new();
        private readonly Pipe _toClient = new();
        private readonly FakePython _python = new();

        public Session()
        {
            Client = new TestClient(_toServer.Writer.AsStream(), _toClient.Reader.AsStream()).Start();
            string[] args = ["--LogLevel=Warning", $"--Python={_python.Complete()}", $"--NvmlLibrary={Path.Combine(_python.Directory, "none.so")}"];
            Running = Task.Run(async () =>
            {
                try
                {
                    return await DaemonHost.RunDaemonAsync(args, _toServer.Reader.AsStream(), _toClient.Writer.AsStream());
                }
                finally
                {
                    await _toClient.Writer.CompleteAsync();
                }
            });
        }

        public TestClient Client { get; }
        public Task<int> Running { get; }

        public async Task InitializeAsync()
        {
            await Client.RequestAsync("init", "initialize", "{}");
            await Client.NotifyAsync("initialized", "{}");
        }

        public Task CloseInputAsync() => _toServer.Writer.CompleteAsync().AsTask();

        public async ValueTask DisposeAsync()
        {
            await _toServer.Writer.CompleteAsync();
            await Running.Within("the daemon host to stop");
            await Client.Completion.Within("the daemon's output to end");
            _python.Dispose();
        }
    }

    [Fact]
    public async Task ExitAfterShutdown_ReturnsExitCodeZero()
    {
        await using var s = new Session();
        await s.InitializeAsync();
        await s.Client.RequestAsync("s", "shutdown");

        await s.Client.NotifyAsync("exit");

        Assert.Equal(0, await s.Running.Within("the exit code"));
    }

    [Fact]
    public async Task ExitWithoutShutdown_ReturnsExitCodeOne()
    {
        await using var s = new Session();
        await s.InitializeAsync();

        await s.Client.NotifyAsync("exit");

        Assert.Equal(1, await s.Running.Within("the exit code"));
    }

    [Fact]
    public async Task InputClosedWithoutShutdown_ReturnsExitCodeOne()
    {
        await using var s = new Session();
        await s.InitializeAsync();

        await s.CloseInputAsync();

        Assert.Equal(1, await s.Running.Within("the exit code"));
    }

    [Fact]
    public async Task InputClosedAfterShutdown_ReturnsExitCodeZero()
    {
        await using var s = new Session();
        await s.InitializeAsync();
        await s.Client.RequestAsync("s", "shutdown");

        await s.CloseInputAsync();

        Assert.Equal(0, await s.Running.Within("the exit code"));
    }

    [Fact]
    public async Task Exit_WithARequestStillRunning_StillEndsTheSession()
    {
        await using var s = new Session();
        await s.InitializeAsync();
        _ = s.Client.RequestAsync("long", "colab/diag/delay", """{"milliseconds":600000}""");
        await s.Client.RequestAsync("s", "shutdown");

        await s.Client.NotifyAsync("exit");

        Assert.Equal(0, await s.Running.Within("the exit code"));
    }
}
