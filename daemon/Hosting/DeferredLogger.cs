using Microsoft.Extensions.Logging;

namespace Colab.Daemon.Hosting;

/// <summary>
/// The JSON-RPC connection's logger while the host (and its logging) is still being built:
/// events are kept, formatted, and replayed to the real logger once <see cref="Attach"/>
/// gives it, so nothing logged while <c>initialize</c> is answered early is lost.
/// </summary>
internal sealed class DeferredLogger : ILogger
{
    private const int MaxKept = 256;

    private readonly Lock _gate = new();
    private List<(LogLevel Level, EventId Id, string Message, Exception? Error)>? _kept = [];
    private ILogger? _target;

    public void Attach(ILogger target)
    {
        List<(LogLevel Level, EventId Id, string Message, Exception? Error)>? kept;
        lock (_gate)
        {
            kept = _kept;
            _kept = null;
            _target = target;
        }
        foreach (var (level, id, message, error) in kept ?? [])
        {
            target.Log(level, id, message, error, static (m, _) => m);
        }
    }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => Volatile.Read(ref _target)?.BeginScope(state);

    public bool IsEnabled(LogLevel logLevel) => Volatile.Read(ref _target) is { } t ? t.IsEnabled(logLevel) : logLevel != LogLevel.None;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (Volatile.Read(ref _target) is { } target)
        {
            target.Log(logLevel, eventId, state, exception, formatter);
            return;
        }
        lock (_gate)
        {
            if (_kept is { } kept)
            {
                if (kept.Count < MaxKept)
                {
                    kept.Add((logLevel, eventId, formatter(state, exception), exception));
                }
                return;
            }
        }
        _target!.Log(logLevel, eventId, state, exception, formatter);
    }
}
