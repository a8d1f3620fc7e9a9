using System.Diagnostics;
using System.Text.Json;
using Colab.Daemon.Tests.Infrastructure;

namespace Colab.Daemon.Tests;

/// <summary>The <c>colab</c> command line, run as the built executable.</summary>
public sealed class CommandLineTests : IDisposable
{
    private readonly FakePython _python = new();

    public void Dispose() => _python.Dispose();

    private Task<(int Code, string Stdout, string Stderr)> RunAsync(params string[] args)
        => RepoLayout.RunColabAsync(
            new Dictionary<string, string>
            {
                ["COLAB_PYTHON"] = _python.Complete(),
                ["COLAB_NVMLLIBRARY"] = Path.Combine(_python.Directory, "no-libnvidia-ml.so.1"),
            },
            args);

    [Fact]
    public async Task StatusJson_PrintsOnlyParseableJsonWithTheCapabilities_AndExitsZero()
    {
        var (code, stdout, stderr) = await RunAsync("status", "--json");

        Assert.True(code == 0, $"exit {code}; stderr: {stderr}");
        // The whole of stdout is one JSON document and a newline: nothing else.
        using var json = JsonDocument.Parse(stdout);
        Assert.EndsWith("\n", stdout);
        Assert.Single(stdout.TrimEnd('\n', '\r').Split('\n'));
        var root = json.RootElement;
        Assert.Equal("ready", root.GetProperty("health").GetString());
        Assert.False(string.IsNullOrEmpty(root.GetProperty("version").GetString()));
        var capabilities = root.GetProperty("capabilities").EnumerateArray().ToDictionary(c => c.GetProperty("name").GetString()!, c => c);
        Assert.Equal(["gpu", "localRuntime", "python", "torch"], capabilities.Keys.Order());
        Assert.All(capabilities.Values, c => Assert.Contains(c.GetProperty("state").GetString(), new[] { "available", "unavailable" }));
        Assert.Equal("available", capabilities["python"].GetProperty("state").GetString());
        Assert.Contains("3.12.1", capabilities["python"].GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Status_PrintsTextForPeople_AndExitsZero()
    {
        var (code, stdout, stderr) = await RunAsync("status");

        Assert.True(code == 0, $"exit {code}; stderr: {stderr}");
        Assert.StartsWith("Colab daemon ", stdout);
        foreach (var name in new[] { "gpu", "python", "localRuntime", "torch" })
        {
            Assert.Contains($"  {name} ", stdout);
        }
        Assert.ThrowsAny<JsonException>(() => JsonDocument.Parse(stdout));
    }

    [Fact]
    public async Task UnknownCommand_ExitsNonZeroAndSaysSo()
    {
        var (code, stdout, stderr) = await RunAsync("nonsense");

        Assert.NotEqual(0, code);
        Assert.Contains("nonsense", stderr + stdout);
    }

    [Fact]
    public async Task UnknownOption_ExitsNonZero()
    {
        var (code, _, _) = await RunAsync("status", "--no-such-option");

        Assert.NotEqual(0, code);
    }

    [Fact]
    public async Task Help_ListsTheCommands_AndExitsZero()
    {
        var (code, stdout, _) = await RunAsync("--help");

        Assert.Equal(0, code);
        Assert.Contains("daemon", stdout);
        Assert.Contains("status", stdout);
    }
}
