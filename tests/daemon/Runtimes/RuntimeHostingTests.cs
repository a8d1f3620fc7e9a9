using Colab.Daemon.Hosting;
using Colab.Daemon.Runtimes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Colab.Daemon.Tests.Runtimes;

public class RuntimeHostingTests
{
    [Fact]
    public void The_host_provides_one_runtime_manager_and_disposes_it()
    {
        var builder = DaemonHost.CreateBuilder([], LogLevel.Warning);
        RuntimeManager manager;
        using (var host = builder.Build())
        {
            manager = host.Services.GetRequiredService<RuntimeManager>();
            Assert.Same(manager, host.Services.GetRequiredService<RuntimeManager>());
            Assert.Empty(manager.List());
        }
        var e = Assert.Throws<JupyterException>(() => manager.Get("x"));
        Assert.Equal(JupyterErrorKind.Disconnected, e.Kind);
    }
}
