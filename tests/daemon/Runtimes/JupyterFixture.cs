using Colab.Daemon.Python;
using Colab.Daemon.Runtimes;
using Colab.Daemon.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;

namespace Colab.Daemon.Tests.Runtimes;

/// <summary>
/// Debian's interpreter, which the runtime tests need with jupyter-server and ipykernel.
/// When they are missing the tests fail (never skip) and say how to install them.
/// </summary>
internal static class DebianPython
{
    public const string Path = "/usr/bin/python3";

    private static readonly Lazy<Task<string>> s_checked = new(async () =>
    {
        var probe = await PythonLocator.ProbeAsync(Path, CancellationToken.None);
        var missing = probe.Usable ? probe.Missing(PythonLocator.RuntimeModules).ToList() : ["python3", .. PythonLocator.RuntimeModules.Select(PythonLocator.PackageFor)];
        if (missing.Count > 0)
        {
            throw new InvalidOperationException(
                $"The runtime tests need Debian's {Path} with jupyter-server and ipykernel; missing: {string.Join(", ", missing)}. " +
                $"Run scripts/setup.sh (it installs {string.Join(" ", missing)} with apt-get).");
        }
        return Path;
    });

    public static Task<string> RequireAsync() => s_checked.Value;

    public static IConfiguration Configuration() => new ConfigurationBuilder()
        .AddInMemoryCollection(new Dictionary<string, string?> { ["Python"] = Path })
        .Build();

    public static PythonLocator Locator() => new(Configuration());
}

/// <summary>A scratch workspace folder, deleted afterwards.</summary>
internal sealed class TempWorkspace : IDisposable
{
    public TempWorkspace()
    {
        Path = Directory.CreateTempSubdirectory("colab-runtime-test-").FullName;
    }

    public string Path { get; }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>One real local Jupyter server per test class (starting one costs about a second).</summary>
public class JupyterServerFixture : IAsyncLifetime
{
    private readonly TempWorkspace _workspace = new();
    private LocalJupyterServer? _server;
    private JupyterClient? _client;

    internal ListLogger Log { get; } = new();

    public LocalJupyterServer Server => _server ?? throw new InvalidOperationException("the server did not start");

    public JupyterClient Client => _client ?? throw new InvalidOperationException("the server did not start");

    public string Workspace => _workspace.Path;

    /// <summary>Extra server arguments for a subclass (e.g. forcing the legacy protocol).</summary>
    protected virtual IReadOnlyList<string> ExtraArguments => [];

    public virtual async Task InitializeAsync()
    {
        var python = await DebianPython.RequireAsync();
        _server = await LocalJupyterServer.StartAsync(DebianPython.Locator(),
            new LocalServerOptions { RootDirectory = _workspace.Path, Python = python, ExtraArguments = ExtraArguments, StopTimeout = TimeSpan.FromSeconds(5) },
            Log);
        _client = _server.CreateClient();
    }

    public virtual async Task DisposeAsync()
    {
        _client?.Dispose();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
        _workspace.Dispose();
    }
}

/// <summary>A server plus one kernel with its channels open, shared by a class's tests.</summary>
public class KernelFixture : JupyterServerFixture
{
    private KernelConnection? _kernel;

    public KernelConnection Kernel => _kernel ?? throw new InvalidOperationException("the kernel did not start");

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        var kernel = await Client.StartKernelAsync();
        _kernel = await KernelConnection.ConnectAsync(Client, kernel.Id, logger: Log);
    }

    public override async Task DisposeAsync()
    {
        if (_kernel is not null)
        {
            await _kernel.DisposeAsync();
        }
        await base.DisposeAsync();
    }
}

internal static class ExecutionExtensions
{
    /// <summary>Runs code and collects everything, bounded by the suite's timeout.</summary>
    public static async Task<ExecutionResult> RunAsync(this KernelConnection kernel, string code, ExecuteOptions? options = null)
    {
        var execution = await kernel.ExecuteAsync(code, options).WaitAsync(TestTimeouts.Default);
        return await execution.CollectAsync().Within($"the execution of `{code}`");
    }

    public static string Text(this IReadOnlyDictionary<string, System.Text.Json.JsonElement> bundle, string mime = "text/plain")
        => bundle.TryGetValue(mime, out var value) ? value.GetString() ?? "" : throw new Xunit.Sdk.XunitException($"no {mime} in the bundle: {string.Join(", ", bundle.Keys)}");
}
