using Colab.Daemon.Hosting;
using Colab.Daemon.Status;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Colab.Daemon.Tests.Infrastructure;

/// <summary>
/// The daemon's real <see cref="MethodTable"/>, <see cref="Lifecycle"/> and services, built
/// by the same host builder as the daemon, bound to a connection over in-memory pipes. A
/// fake Python answers the probe and no NVML library is loaded, so the probes finish fast.
/// </summary>
internal sealed class LifecycleHarness : IAsyncDisposable
{
    private readonly DaemonServices _host;
    private readonly FakePython _python = new();
    private int _nextId;

    public LifecycleHarness()
    {
        var builder = DaemonHost.CreateBuilder([], LogLevel.Warning);
        builder.Configuration["Python"] = PythonPath = _python.Complete();
        builder.Configuration["NvmlLibrary"] = Path.Combine(_python.Directory, "no-libnvidia-ml.so.1");
        DaemonHost.AddSessionServices(builder.Services);
        _host = builder.Build();

        Lifecycle = _host.Services.GetRequiredService<Lifecycle>();
        Status = _host.Services.GetRequiredService<ServerStatusService>();
        Inner = new ConnectionHarness(registerTestHandlers: false);
        _host.Services.GetRequiredService<ClientWindow>().Attach(Inner.Connection);
        _host.Services.GetRequiredService<MethodTable>().Register(Inner.Connection);
        Inner.Start();
    }

    public string PythonPath { get; }
    public Lifecycle Lifecycle { get; }
    public ServerStatusService Status { get; }
    public ConnectionHarness Inner { get; }
    public TestClient Client => Inner.Client;

    public Task<System.Text.Json.JsonElement> RequestAsync(string method, string? paramsJson = null)
        => Client.RequestAsync(Interlocked.Increment(ref _nextId), method, paramsJson);

    /// <summary>initialize and wait for its answer, then initialized.</summary>
    public async Task<System.Text.Json.JsonElement> InitializeAsync()
    {
        var answer = await RequestAsync("initialize", """{"processId":null,"capabilities":{}}""");
        Assert.True(answer.TryGetProperty("result", out var result), answer.GetRawText());
        await Client.NotifyAsync("initialized", "{}");
        return result;
    }

    public async ValueTask DisposeAsync()
    {
        await Inner.DisposeAsync();
        await _host.DisposeAsync();
        _python.Dispose();
    }
}
