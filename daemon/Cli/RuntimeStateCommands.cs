using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using Colab.Daemon.Runtimes;
using Microsoft.Extensions.Configuration;

namespace Colab.Daemon.Cli;

/// <summary>A remote runtime remembered by the CLI: no token, ever (it comes from <c>COLAB_RUNTIME_TOKEN</c> or a prompt each time).</summary>
public sealed record SavedRuntime(string Id, string Url, string? ServerVersion, DateTimeOffset ConnectedAt);

public sealed record SavedRuntimes(IReadOnlyList<SavedRuntime> Runtimes);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = true,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(SavedRuntimes))]
internal sealed partial class RuntimeStateJson : JsonSerializerContext;

/// <summary>
/// <c>colab runtime connect|list|disconnect</c> for one-shot CLI processes: <c>connect</c> checks a
/// Jupyter server answers with the token and remembers its URL in
/// <c>$XDG_STATE_HOME/colab/runtimes.json</c> (default <c>~/.local/state/colab</c>; 0600, no
/// token); <c>colab run --url &lt;id&gt;</c> and <c>colab runtime run --url &lt;id&gt;</c> accept the id.
/// A local runtime lives as long as the process that started it, so only remote ones are remembered.
/// </summary>
internal static class RuntimeStateCommands
{
    public const string TokenVariable = "COLAB_RUNTIME_TOKEN";

    public static void AddTo(Command runtime, TextWriter output)
    {
        var url = new Argument<string>("url") { Description = "The Jupyter server's URL (the token comes from COLAB_RUNTIME_TOKEN, else a prompt; never put it on the command line)." };
        var connect = new Command("connect", "Check a remote Jupyter server answers with its token and remember it (without the token).") { url };
        connect.SetAction(async (parse, ct) => await ConnectAsync(parse.GetValue(url)!, output, ct).ConfigureAwait(false));

        var asJson = new Option<bool>("--json") { Description = "Print JSON for scripts." };
        var list = new Command("list", "The remembered runtimes, each checked for an answer.") { asJson };
        list.SetAction(async (parse, ct) => await ListAsync(parse.GetValue(asJson), output, ct).ConfigureAwait(false));

        var which = new Argument<string>("runtime") { Description = "The id or URL of a remembered runtime." };
        var disconnect = new Command("disconnect", "Forget a remembered runtime (kernels that colab run started were already shut down when it ended).") { which };
        disconnect.SetAction(async (parse, _) => await DisconnectAsync(parse.GetValue(which)!, output).ConfigureAwait(false));

        runtime.Subcommands.Add(connect);
        runtime.Subcommands.Add(list);
        runtime.Subcommands.Add(disconnect);
    }

    /// <summary>The state file: <c>$XDG_STATE_HOME/colab/runtimes.json</c>, else <c>~/.local/state/colab/runtimes.json</c>.</summary>
    public static string StatePath()
    {
        var state = Environment.GetEnvironmentVariable("XDG_STATE_HOME");
        if (string.IsNullOrEmpty(state) || !Path.IsPathRooted(state))
        {
            state = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "state");
        }
        return Path.Combine(state, "colab", "runtimes.json");
    }

    /// <summary>A saved runtime's URL when <paramref name="urlOrId"/> is one's id; otherwise the argument as given.</summary>
    public static string Resolve(string urlOrId)
        => urlOrId.Contains("://", StringComparison.Ordinal) ? urlOrId : Load().Runtimes.FirstOrDefault(r => r.Id == urlOrId)?.Url ?? urlOrId;

    private static async Task<int> ConnectAsync(string url, TextWriter output, CancellationToken cancellationToken)
    {
        JupyterEndpoint endpoint;
        try
        {
            endpoint = JupyterEndpoint.Parse(url, out var inUrl);
            if (inUrl is not null)
            {
                await Console.Error.WriteLineAsync($"colab runtime: take the token out of the URL (others can read the command line); set {TokenVariable} instead.").ConfigureAwait(false);
                return CommandLine.ExitFailure;
            }
        }
        catch (JupyterException e)
        {
            await Console.Error.WriteLineAsync($"colab runtime: {e.Message}").ConfigureAwait(false);
            return CommandLine.ExitFailure;
        }
        var token = Environment.GetEnvironmentVariable(TokenVariable);
        if (string.IsNullOrEmpty(token))
        {
            token = await PromptTokenAsync(endpoint.Display).ConfigureAwait(false);
        }
        var manager = new RuntimeManager(new Python.PythonLocator(new Hosting.ColabSettings()), new Hosting.ColabSettings());
        try
        {
            var info = await manager.ConnectRemoteAsync(endpoint.Display, string.IsNullOrEmpty(token) ? null : token, cancellationToken).ConfigureAwait(false);
            var saved = Load();
            var existing = saved.Runtimes.FirstOrDefault(r => r.Url == info.Url);
            var entry = new SavedRuntime(existing?.Id ?? $"remote-{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(3))}", info.Url, info.ServerVersion, info.ConnectedAt);
            Save(new SavedRuntimes([.. saved.Runtimes.Where(r => r.Url != info.Url), entry]));
            await output.WriteLineAsync($"{entry.Id}\t{entry.Url}\tJupyter Server {info.ServerVersion}").ConfigureAwait(false);
            if (info.InsecureTransport)
            {
                await Console.Error.WriteLineAsync("colab runtime: warning: plain http to another host — the token crosses the network unencrypted.").ConfigureAwait(false);
            }
            return CommandLine.ExitOk;
        }
        catch (JupyterException e)
        {
            await Console.Error.WriteLineAsync($"colab runtime: {e.Message}").ConfigureAwait(false);
            return CommandLine.ExitFailure;
        }
        finally
        {
            // Nothing was started on the server: the manager only closes its HTTP client.
            await manager.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static async Task<int> ListAsync(bool asJson, TextWriter output, CancellationToken cancellationToken)
    {
        var saved = Load();
        if (asJson)
        {
            await output.WriteLineAsync(JsonSerializer.Serialize(saved, RuntimeStateJson.Default.SavedRuntimes)).ConfigureAwait(false);
            return CommandLine.ExitOk;
        }
        if (saved.Runtimes.Count == 0)
        {
            await output.WriteLineAsync("No runtimes remembered. Add one with: colab runtime connect <url>").ConfigureAwait(false);
            return CommandLine.ExitOk;
        }
        foreach (var r in saved.Runtimes)
        {
            string state;
            try
            {
                // GET /api needs no token: this says whether a Jupyter server answers, nothing more.
                using var client = new JupyterClient(JupyterEndpoint.Parse(r.Url, out _), null, TimeSpan.FromSeconds(5));
                state = $"answers (Jupyter Server {(await client.GetVersionAsync(cancellationToken).ConfigureAwait(false)).Version})";
            }
            catch (JupyterException e)
            {
                state = $"not answering: {e.Message}";
            }
            await output.WriteLineAsync($"{r.Id}\t{r.Url}\t{state}").ConfigureAwait(false);
        }
        return CommandLine.ExitOk;
    }

    private static async Task<int> DisconnectAsync(string which, TextWriter output)
    {
        var saved = Load();
        var match = saved.Runtimes.FirstOrDefault(r => r.Id == which || r.Url == which || r.Url.TrimEnd('/') == which.TrimEnd('/'));
        if (match is null)
        {
            await Console.Error.WriteLineAsync($"colab runtime: no remembered runtime {which} (see colab runtime list)").ConfigureAwait(false);
            return CommandLine.ExitFailure;
        }
        Save(new SavedRuntimes([.. saved.Runtimes.Where(r => r != match)]));
        await output.WriteLineAsync($"Forgot {match.Id} ({match.Url}).").ConfigureAwait(false);
        return CommandLine.ExitOk;
    }

    private static async Task<string?> PromptTokenAsync(string url)
    {
        if (Console.IsInputRedirected)
        {
            return (await Console.In.ReadLineAsync().ConfigureAwait(false))?.Trim();
        }
        await Console.Error.WriteAsync($"Token for {url} (empty if none): ").ConfigureAwait(false);
        var token = new System.Text.StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
            {
                break;
            }
            if (key.Key == ConsoleKey.Backspace)
            {
                token.Length = Math.Max(0, token.Length - 1);
            }
            else if (!char.IsControl(key.KeyChar))
            {
                token.Append(key.KeyChar);
            }
        }
        await Console.Error.WriteLineAsync().ConfigureAwait(false);
        return token.ToString();
    }

    /// <summary>The saved runtimes; a missing file is none, a damaged one is reported and treated as none (it is rewritten on the next connect).</summary>
    internal static SavedRuntimes Load()
    {
        var path = StatePath();
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(path), RuntimeStateJson.Default.SavedRuntimes) ?? new SavedRuntimes([]);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return new SavedRuntimes([]);
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"colab runtime: ignoring {path}: {e.Message}");
            return new SavedRuntimes([]);
        }
    }

    private static void Save(SavedRuntimes runtimes)
    {
        var path = StatePath();
        var directory = Path.GetDirectoryName(path)!;
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(directory);
        }
        else
        {
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        var temp = $"{path}.{Environment.ProcessId}.tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        using (var file = new FileStream(temp, options))
        {
            JsonSerializer.Serialize(file, runtimes, RuntimeStateJson.Default.SavedRuntimes);
        }
        File.Move(temp, path, overwrite: true);
    }
}
