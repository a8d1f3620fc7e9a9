using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Colab.Daemon.Runtimes.Terminals;

/// <summary>What <c>colab/terminal/open</c> answers.</summary>
/// <param name="TerminalId">This daemon's id for the open terminal (used by input, resize, close and the notifications).</param>
/// <param name="Name">The terminal's name on the server: give it to <c>open</c> again to reattach after a daemon restart.</param>
/// <param name="Reattached">An existing terminal was opened (its recent output is replayed), rather than a new one.</param>
public sealed record TerminalInfo(string TerminalId, string RuntimeId, string Name, bool Reattached);

/// <summary>
/// The terminals this daemon has open on its runtimes (Jupyter's terminals API). Output and
/// the end of a terminal are raised as events; the method group turns them into notifications.
/// A runtime that goes away closes its terminals here.
/// </summary>
public sealed class TerminalService : IAsyncDisposable
{
    private readonly RuntimeManager _runtimes;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, TerminalSession> _open = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, RuntimeHttp> _http = new(StringComparer.Ordinal);

    public TerminalService(RuntimeManager runtimes, ILogger<TerminalService>? logger = null)
    {
        _runtimes = runtimes;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _runtimes.Changed += OnRuntimesChanged;
    }

    /// <summary>Output of an open terminal: (terminalId, text), in order.</summary>
    public event Action<string, string>? Output;

    /// <summary>An open terminal ended: (terminalId, reason).</summary>
    public event Action<string, string>? Closed;

    /// <summary>The names of the terminals on the runtime's server.</summary>
    public async Task<IReadOnlyList<string>> ListAsync(string runtimeId, CancellationToken cancellationToken = default)
    {
        var http = Http(runtimeId);
        using var request = http.Request(HttpMethod.Get, "api/terminals");
        using var doc = await Terminals(http, request, cancellationToken).ConfigureAwait(false);
        if (doc.RootElement.ValueKind != JsonValueKind.Array)
        {
            throw http.Error(JupyterErrorKind.BadResponse, $"{http.Endpoint.Display}api/terminals did not answer a list");
        }
        return [.. doc.RootElement.EnumerateArray().Select(NameOf).Where(n => n is not null).Select(n => n!)];
    }

    /// <summary>Opens a new terminal, or reattaches to the terminal <paramref name="name"/> (which must exist).</summary>
    public async Task<TerminalInfo> OpenAsync(string runtimeId, string? name = null, int? rows = null, int? cols = null, CancellationToken cancellationToken = default)
    {
        var http = Http(runtimeId);
        var reattached = name is not null;
        if (name is null)
        {
            using var request = http.Request(HttpMethod.Post, "api/terminals", new StringContent("{}", Encoding.UTF8, "application/json"));
            using var doc = await Terminals(http, request, cancellationToken).ConfigureAwait(false);
            name = NameOf(doc.RootElement) ?? throw http.Error(JupyterErrorKind.BadResponse, $"{http.Endpoint.Display}api/terminals answered a new terminal without a name");
        }
        else
        {
            ValidateName(name);
            var names = await ListAsync(runtimeId, cancellationToken).ConfigureAwait(false);
            if (!names.Contains(name, StringComparer.Ordinal))
            {
                throw new JupyterException(JupyterErrorKind.NotFound,
                    $"no terminal named '{name}' on {http.Endpoint.Display} (it ended or the server restarted); open a new one");
            }
        }
        var id = $"term-{Guid.NewGuid():N}"[..17];
        TerminalSession? session = null;
        session = new TerminalSession(id, runtimeId, name, http, _logger,
            text => Output?.Invoke(id, text),
            reason =>
            {
                _open.TryRemove(id, out _);
                Closed?.Invoke(id, reason);
            });
        _open[id] = session;
        try
        {
            await session.StartAsync(rows, cols, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            _open.TryRemove(id, out _);
            if (!reattached)
            {
                // Do not leave a shell behind for a terminal nobody will see.
                try
                {
                    using var delete = http.Request(HttpMethod.Delete, $"api/terminals/{Uri.EscapeDataString(name)}");
                    using var _ = await http.SendAsync(delete, null, CancellationToken.None).ConfigureAwait(false);
                }
                catch (JupyterException)
                {
                }
            }
            throw;
        }
        _logger.LogInformation("terminal {Name} opened on {Runtime} as {Id}", name, runtimeId, id);
        return new TerminalInfo(id, runtimeId, name, reattached);
    }

    public Task InputAsync(string terminalId, string data, CancellationToken cancellationToken = default)
        => Find(terminalId).InputAsync(data, cancellationToken);

    public Task ResizeAsync(string terminalId, int rows, int cols, CancellationToken cancellationToken = default)
    {
        if (rows is < 1 or > 1000 || cols is < 1 or > 1000)
        {
            throw new ArgumentOutOfRangeException(nameof(rows), "rows and cols must be between 1 and 1000");
        }
        return Find(terminalId).ResizeAsync(rows, cols, cancellationToken);
    }

    /// <summary>Closes a terminal here; with <paramref name="shutdown"/> (the default) its shell ends on the runtime too.</summary>
    public Task CloseAsync(string terminalId, bool shutdown = true, CancellationToken cancellationToken = default)
        => Find(terminalId).CloseAsync(shutdown, shutdown ? "closed" : "detached", cancellationToken);

    internal TerminalSession Session(string terminalId) => Find(terminalId);

    public async ValueTask DisposeAsync()
    {
        _runtimes.Changed -= OnRuntimesChanged;
        foreach (var session in _open.Values.ToList())
        {
            await session.DisposeAsync().ConfigureAwait(false);
        }
        foreach (var http in _http.Values)
        {
            http.Dispose();
        }
        _http.Clear();
    }

    internal static void ValidateName(string name)
    {
        if (name.Length is 0 or > 100 || name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')) || name is "." or "..")
        {
            throw new ArgumentException($"'{Shorten(name)}' is not a terminal name (letters, digits, '-', '_', '.'; at most 100)");
        }
    }

    private static string Shorten(string s)
    {
        var clean = new string([.. s.Take(40).Select(c => char.IsControl(c) ? '?' : c)]);
        return s.Length > 40 ? clean + "…" : clean;
    }

    private TerminalSession Find(string terminalId)
        => _open.TryGetValue(terminalId, out var session)
            ? session
            : throw new JupyterException(JupyterErrorKind.NotFound, $"no open terminal {Shorten(terminalId)} (it was closed, or its shell ended)");

    private RuntimeHttp Http(string runtimeId)
    {
        var client = _runtimes.Client(runtimeId);
        // One HTTP client per runtime; a runtime id is never reused, so a stale entry is only ever removed.
        return _http.GetOrAdd(runtimeId, _ => new RuntimeHttp(client));
    }

    /// <summary>A call to <c>api/terminals</c>; a 404 there means the server has no terminals at all.</summary>
    private static async Task<JsonDocument> Terminals(RuntimeHttp http, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        try
        {
            return await http.SendJsonAsync(request, NoTerminals(http), cancellationToken).ConfigureAwait(false);
        }
        catch (JupyterException e) when (e.Kind == JupyterErrorKind.NotFound)
        {
            throw new NotSupportedException(e.Message, e);
        }
    }

    private static string NoTerminals(RuntimeHttp http)
        => $"the Jupyter server at {http.Endpoint.Display} has no terminals: terminado is not installed there " +
           "(Debian: apt-get install python3-terminado; pip: pip install terminado) or terminals are turned off (ServerApp.terminals_enabled)";

    private static string? NameOf(JsonElement element)
        => element.ValueKind == JsonValueKind.Object && element.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;

    private void OnRuntimesChanged()
    {
        var live = _runtimes.List().Select(r => r.Id).ToHashSet(StringComparer.Ordinal);
        foreach (var session in _open.Values.Where(s => !live.Contains(s.RuntimeId)).ToList())
        {
            _ = session.CloseAsync(shutdown: false, "the runtime was disconnected", CancellationToken.None);
        }
        foreach (var gone in _http.Keys.Where(k => !live.Contains(k)).ToList())
        {
            if (_http.TryRemove(gone, out var http))
            {
                http.Dispose();
            }
        }
    }
}
