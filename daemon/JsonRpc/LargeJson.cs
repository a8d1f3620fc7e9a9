using System.Runtime.ExceptionServices;
using System.Text.Json;

namespace Colab.Daemon.JsonRpc;

/// <summary>
/// Parses large JSON without leaving its index behind. <see cref="JsonDocument"/> rents an index as
/// large as the input from the shared <c>ArrayPool</c> and, once parsed, returns it there: the pool
/// keeps the most recent array per thread, so every 100 MB kernel message left a 128 MiB array on
/// some thread-pool thread for a minute or more (seen with an <c>ArrayPoolEventSource</c> listener).
/// Above <see cref="Threshold"/> the parse runs on a thread of its own, whose pooled arrays become
/// garbage when it ends.
/// </summary>
internal static class LargeJson
{
    /// <summary>Inputs up to this size are parsed on the caller's thread.</summary>
    public const int Threshold = 1024 * 1024;

    public static JsonDocument Parse(ReadOnlyMemory<byte> utf8, JsonDocumentOptions options = default)
    {
        if (utf8.Length <= Threshold)
        {
            return JsonDocument.Parse(utf8, options);
        }
        JsonDocument? document = null;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                document = JsonDocument.Parse(utf8, options);
            }
            catch (Exception e)
            {
                error = e;
            }
        }, maxStackSize: 1024 * 1024)
        {
            IsBackground = true,
            Name = "colab large json",
        };
        thread.Start();
        thread.Join();
        if (error is not null)
        {
            ExceptionDispatchInfo.Throw(error);
        }
        return document!;
    }
}
