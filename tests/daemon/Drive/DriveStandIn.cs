using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Colab.Daemon.Tests.Infrastructure;

namespace Colab.Daemon.Tests.Drive;

/// <summary>
/// Runs tests/standins/drive-standin.mjs (the Drive v3 stand-in) in Node on a free loopback port
/// and drives its control API: seeding files, injecting faults, reading the request log.
/// </summary>
public sealed class DriveStandIn : IAsyncDisposable
{
    private readonly Process _process;
    private readonly HttpClient _control = new();

    private DriveStandIn(Process process, int port)
    {
        _process = process;
        Port = port;
        _control.BaseAddress = new Uri($"http://127.0.0.1:{port}/");
    }

    public int Port { get; }

    public string BaseUrl => $"http://127.0.0.1:{Port}/";

    public static async Task<DriveStandIn> StartAsync()
    {
        var psi = new ProcessStartInfo("node", RepoLayout.InRepo("tests", "standins", "drive-standin.mjs"))
        {
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var p = Process.Start(psi) ?? throw new InvalidOperationException("node did not start");
        var line = await p.StandardOutput.ReadLineAsync().WaitAsync(TestTimeouts.Default);
        if (line is null || !line.StartsWith("LISTENING ", StringComparison.Ordinal))
        {
            p.Kill();
            throw new InvalidOperationException($"The Drive stand-in did not start: {line} {await p.StandardError.ReadToEndAsync()}");
        }
        return new DriveStandIn(p, int.Parse(line["LISTENING ".Length..], System.Globalization.CultureInfo.InvariantCulture));
    }

    public async Task<JsonArray> AddFilesAsync(params object[] specs)
    {
        using var r = await _control.PostAsync("__control/files", Json(specs));
        r.EnsureSuccessStatusCode();
        return JsonNode.Parse(await r.Content.ReadAsStringAsync())!.AsArray();
    }

    public async Task<string> AddFileAsync(string name, byte[] content, string parent = "root", string? mimeType = null)
    {
        var arr = await AddFilesAsync(new Dictionary<string, object?> { ["name"] = name, ["contentBase64"] = Convert.ToBase64String(content), ["parents"] = new[] { parent }, ["mimeType"] = mimeType ?? "application/octet-stream" });
        return arr[0]!["id"]!.GetValue<string>();
    }

    public async Task BulkAsync(string parent, int count, string prefix = "item")
    {
        using var r = await _control.PostAsync("__control/bulk", Json(new { parent, count, prefix }));
        r.EnsureSuccessStatusCode();
    }

    public async Task FaultAsync(params object[] faults)
    {
        using var r = await _control.PostAsync("__control/faults", Json(faults));
        r.EnsureSuccessStatusCode();
    }

    public async Task TokensAsync(params string[] tokens)
    {
        using var r = await _control.PostAsync("__control/tokens", Json(new { tokens }));
        r.EnsureSuccessStatusCode();
    }

    public async Task<JsonArray> RequestsAsync()
    {
        using var r = await _control.PostAsync("__control/requests", new StringContent(""));
        return JsonNode.Parse(await r.Content.ReadAsStringAsync())!.AsArray();
    }

    public async Task<byte[]> ContentAsync(string id) => await _control.GetByteArrayAsync($"__control/content?id={id}");

    private static StringContent Json<T>(T value) => new(JsonSerializer.Serialize(value, DriveTestJson.Options), Encoding.UTF8, "application/json");

    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.StandardInput.Close();
            if (!_process.WaitForExit(5000))
            {
                _process.Kill();
            }
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
        _control.Dispose();
        await Task.CompletedTask;
    }
}

internal static class DriveTestJson
{
#pragma warning disable IL2026, IL3050 // test-only reflection JSON for anonymous control payloads
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web) { TypeInfoResolver = new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver() };
#pragma warning restore IL2026, IL3050
}

/// <summary>A token source whose refresh hands out the next token in line (the 401 path).</summary>
internal sealed class RotatingTokens(params string[] tokens) : Colab.Daemon.Drive.IDriveTokenSource
{
    private int _index;

    public int Refreshes { get; private set; }

    public Task<string?> GetTokenAsync(bool refresh, CancellationToken cancellationToken)
    {
        if (refresh)
        {
            Refreshes++;
            _index++;
        }
        return Task.FromResult(_index < tokens.Length ? tokens[_index] : null);
    }
}
