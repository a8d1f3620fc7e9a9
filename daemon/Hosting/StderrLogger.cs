using System.Text;
using Microsoft.Extensions.Logging;

namespace Colab.Daemon.Hosting;

/// <summary>
/// The daemon's and the CLI's log: one line per event on stderr, written on the caller's thread, in
/// the format the console logger's single-line mode wrote (<c>HH:mm:ss.fff info: Category[id] message</c>,
/// an exception on the same line). It replaces <c>Microsoft.Extensions.Logging.Console</c> (issue 8,
/// idle memory): that provider kept a thread of its own for the whole session (a stack and a malloc
/// arena), bound its options through configuration and built its formatter by reflection, all before
/// the first line — and the daemon logs little (a line per dropped frame or failed request).
/// </summary>
internal sealed class StderrLoggerProvider : ILoggerProvider
{
    private readonly Lock _write = new();

    public ILogger CreateLogger(string categoryName) => new StderrLogger(categoryName, this);

    public void Dispose()
    {
    }

    /// <summary>Writes one whole line; lines from different threads never interleave.</summary>
    internal void WriteLine(string line)
    {
        lock (_write)
        {
            try
            {
                Console.Error.Write(line);
            }
            catch (IOException)
            {
                // stderr is gone (the client closed its end): a log line is not worth ending the daemon for
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    /// <summary>The line for one event (without scopes, as the console logger wrote it by default).</summary>
    internal static string Format(DateTimeOffset at, LogLevel level, string category, EventId eventId, string? message, Exception? exception)
    {
        var line = new StringBuilder(64 + category.Length + (message?.Length ?? 0));
        line.Append(at.ToString("HH:mm:ss.fff ", System.Globalization.CultureInfo.InvariantCulture));
        line.Append(LevelName(level)).Append(": ").Append(category).Append('[').Append(eventId.Id).Append(']');
        AppendSingleLine(line, message);
        AppendSingleLine(line, exception?.ToString());
        line.Append(Environment.NewLine);
        return line.ToString();
    }

    private static void AppendSingleLine(StringBuilder line, string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return;
        }
        line.Append(' ');
        // One event, one line: the reader on the other side (the extension's output channel) splits on newlines.
        line.Append(text.Replace("\r\n", " ", StringComparison.Ordinal).Replace('\n', ' ').Replace('\r', ' '));
    }

    private static string LevelName(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        LogLevel.Critical => "crit",
        _ => level.ToString().ToLowerInvariant(),
    };

    private sealed class StderrLogger(string category, StderrLoggerProvider provider) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        // The minimum level is the logger factory's filter (StderrLoggerFactory); this provider adds none.
        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }
            provider.WriteLine(Format(DateTimeOffset.Now, logLevel, category, eventId, formatter(state, exception), exception));
        }
    }
}

/// <summary>
/// The daemon's and the CLI's logger factory: every category logs through one <see cref="StderrLoggerProvider"/>
/// at or above one minimum level (<c>COLAB_LOGLEVEL</c> / <c>--LogLevel</c>). It stands in for
/// <c>Microsoft.Extensions.Logging</c>'s factory, whose filter rules, options monitor and provider
/// bookkeeping this process never used (issue 8, idle memory); <c>ILogger&lt;T&gt;</c> is the abstractions'
/// <see cref="Logger{T}"/> over it, so categories are the type names they always were.
/// </summary>
internal sealed class StderrLoggerFactory(LogLevel minimumLevel) : ILoggerFactory
{
    private readonly StderrLoggerProvider _stderr = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, ILogger> _loggers = new(StringComparer.Ordinal);

    public LogLevel MinimumLevel => minimumLevel;

    public ILogger CreateLogger(string categoryName)
        => _loggers.GetOrAdd(categoryName, static (c, f) => new Filtered(f._stderr.CreateLogger(c), f.MinimumLevel), this);

    /// <summary>Not supported: the daemon's log has one destination, stderr (stdout belongs to the protocol).</summary>
    public void AddProvider(ILoggerProvider provider)
        => throw new NotSupportedException("The daemon logs to stderr only; it takes no other logger provider.");

    public void Dispose()
    {
    }

    private sealed class Filtered(ILogger inner, LogLevel minimumLevel) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= minimumLevel && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                inner.Log(logLevel, eventId, state, exception, formatter);
            }
        }
    }
}
