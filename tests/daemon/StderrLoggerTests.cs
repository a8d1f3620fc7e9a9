using Colab.Daemon.Hosting;
using Microsoft.Extensions.Logging;

namespace Colab.Daemon.Tests;

/// <summary>
/// The daemon's stderr log (<see cref="StderrLoggerProvider"/>, issue 8): one line per event in the
/// format the console logger's single-line mode wrote, whatever the message or exception holds.
/// </summary>
public sealed class StderrLoggerTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 22, 7, 5, 9, 42, TimeSpan.Zero);

    [Theory]
    [InlineData(LogLevel.Trace, "trce")]
    [InlineData(LogLevel.Debug, "dbug")]
    [InlineData(LogLevel.Information, "info")]
    [InlineData(LogLevel.Warning, "warn")]
    [InlineData(LogLevel.Error, "fail")]
    [InlineData(LogLevel.Critical, "crit")]
    public void Format_WritesTimestampLevelCategoryIdAndMessage_OnOneLine(LogLevel level, string name)
    {
        var line = StderrLoggerProvider.Format(At, level, "Colab.Daemon.JsonRpc", new EventId(7), "Dropped a frame", null);

        Assert.Equal($"07:05:09.042 {name}: Colab.Daemon.JsonRpc[7] Dropped a frame{Environment.NewLine}", line);
    }

    [Fact]
    public void Format_PutsMultiLineMessagesAndExceptions_OnTheSameLine()
    {
        Exception error;
        try
        {
            throw new InvalidOperationException("first\nsecond");
        }
        catch (InvalidOperationException e)
        {
            error = e;
        }

        var line = StderrLoggerProvider.Format(At, LogLevel.Error, "Cat", default, "a\r\nb\rc\nd", error);

        Assert.EndsWith(Environment.NewLine, line);
        var body = line[..^Environment.NewLine.Length];
        Assert.DoesNotContain('\n', body);
        Assert.DoesNotContain('\r', body);
        Assert.StartsWith("07:05:09.042 fail: Cat[0] a b c d System.InvalidOperationException: first second", body);
        Assert.Contains(nameof(Format_PutsMultiLineMessagesAndExceptions_OnTheSameLine), body);
    }

    [Fact]
    public void Format_WithoutMessageOrException_EndsAfterTheEventId()
    {
        Assert.Equal($"07:05:09.042 info: Cat[3]{Environment.NewLine}", StderrLoggerProvider.Format(At, LogLevel.Information, "Cat", new EventId(3), "", null));
    }

    [Fact]
    public void Logger_HonoursTheFactoryMinimumLevel_AndNone()
    {
        using var factory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Warning).AddProvider(new StderrLoggerProvider()));
        var logger = factory.CreateLogger("Cat");

        Assert.False(logger.IsEnabled(LogLevel.Information));
        Assert.True(logger.IsEnabled(LogLevel.Warning));
        Assert.False(new StderrLoggerProvider().CreateLogger("Cat").IsEnabled(LogLevel.None));
    }
}
