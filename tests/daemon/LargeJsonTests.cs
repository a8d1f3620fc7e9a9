using System.Diagnostics.Tracing;
using System.Text;
using System.Text.Json;
using Colab.Daemon.JsonRpc;

namespace Colab.Daemon.Tests;

/// <summary>
/// <see cref="LargeJson"/>: large documents parse the same, errors come through, and the index
/// <see cref="JsonDocument"/> rents is never handed back to the shared pool on the caller's thread
/// (where it stayed: 128 MiB per 100 MB kernel message).
/// </summary>
public sealed class LargeJsonTests
{
    [Fact]
    public void A_large_document_parses_on_its_own_thread_and_leaves_no_large_array_in_the_callers_pool()
    {
        var text = new string('x', LargeJson.Threshold * 4);
        var utf8 = Encoding.UTF8.GetBytes($$"""{"name":"stdout","text":"{{text}}","n":[1,2,3]}""");
        using var returns = new PoolReturns(Environment.CurrentManagedThreadId);

        var document = LargeJson.Parse(utf8);

        Assert.Equal(text.Length, document.RootElement.GetProperty("text").GetString()!.Length);
        Assert.Equal(3, document.RootElement.GetProperty("n").GetArrayLength());
        Assert.Empty(returns.OnThisThread);

        // The control: the same parse on this thread returns its large index here (so the check above can fail).
        using (JsonDocument.Parse(utf8))
        {
        }
        Assert.NotEmpty(returns.OnThisThread);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Malformed_input_throws_the_parsers_JsonException_small_or_large(bool large)
    {
        var padding = large ? new string('y', LargeJson.Threshold + 10) : "y";
        foreach (var bad in new[] { $$"""{"a":"{{padding}}" """, $$"""{"a":"{{padding}}"} trailing""", $$"""[{"a":"{{padding}}"},]""" })
        {
            Assert.ThrowsAny<JsonException>(() => LargeJson.Parse(Encoding.UTF8.GetBytes(bad)));
        }
        var deep = new string('[', 100) + '"' + padding + '"' + new string(']', 100);
        Assert.ThrowsAny<JsonException>(() => LargeJson.Parse(Encoding.UTF8.GetBytes(deep), new JsonDocumentOptions { MaxDepth = 64 }));
    }

    /// <summary>Large arrays (8 MiB and more) handed back to the shared ArrayPool on one thread.</summary>
    private sealed class PoolReturns(int threadId) : EventListener
    {
        private readonly List<long> _returns = [];

        public IReadOnlyList<long> OnThisThread
        {
            get
            {
                lock (_returns)
                {
                    return [.. _returns];
                }
            }
        }

        protected override void OnEventSourceCreated(EventSource source)
        {
            if (source.Name == "System.Buffers.ArrayPoolEventSource")
            {
                EnableEvents(source, EventLevel.Verbose, EventKeywords.All);
            }
        }

        protected override void OnEventWritten(EventWrittenEventArgs e)
        {
            // Events can arrive while the base constructor runs, before this object is complete.
            if (_returns is null || e.EventName != "BufferReturned" || e.Payload is null || Environment.CurrentManagedThreadId != threadId)
            {
                return;
            }
            var i = e.PayloadNames?.IndexOf("bufferSize") ?? -1;
            if (i >= 0 && Convert.ToInt64(e.Payload[i], System.Globalization.CultureInfo.InvariantCulture) >= 8 * 1024 * 1024)
            {
                lock (_returns)
                {
                    _returns.Add(Convert.ToInt64(e.Payload[i], System.Globalization.CultureInfo.InvariantCulture));
                }
            }
        }
    }
}
