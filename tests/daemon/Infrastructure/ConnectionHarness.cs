using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Text.Json;
using Colab.Daemon.JsonRpc;
using Colab.Daemon.Protocol;

namespace Colab.Daemon.Tests.Infrastructure;

/// <summary>
/// A <see cref="JsonRpcConnection"/> over two in-memory pipes, seen through Streams as in
/// production, with a <see cref="TestClient"/> on the other end and a few test handlers.
/// </summary>
internal sealed class ConnectionHarness : IAsyncDisposable
{
    private readonly Pipe _toServer = new();
    private readonly Pipe _toClient = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _started = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _release = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource<bool>> _sawCancellation = new();
    private Task? _running;

    public ConnectionHarness(int maxContentLength = FrameReader.DefaultMaxContentLength, bool registerTestHandlers = true)
    {
        Connection = new JsonRpcConnection(_toServer.Reader.AsStream(), _toClient.Writer.AsStream(), Log, maxContentLength);
        Client = new TestClient(_toServer.Writer.AsStream(), _toClient.Reader.AsStream());
        if (registerTestHandlers)
        {
            RegisterTestHandlers();
        }
    }

    public ListLogger Log { get; } = new();
    public JsonRpcConnection Connection { get; }
    public TestClient Client { get; }
    public ConcurrentQueue<int> Notes { get; } = new();

    /// <summary>The connection's read loop.</summary>
    public Task Running => _running ?? throw new InvalidOperationException("Start the harness first.");

    public ConnectionHarness Start()
    {
        _running = Connection.RunAsync();
        Client.Start();
        return this;
    }

    /// <summary>Completes when the "test/wait" handler for <paramref name="key"/> has started.</summary>
    public Task Started(string key) => Gate(_started, key).Task.Within($"test/wait {key} to start");

    /// <summary>Lets the "test/wait" handler for <paramref name="key"/> answer.</summary>
    public void Release(string key) => Gate(_release, key).TrySetResult();

    /// <summary>True once the "test/wait" handler for <paramref name="key"/> saw its token fire.</summary>
    public Task<bool> SawCancellation(string key)
        => _sawCancellation.GetOrAdd(key, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).Task.Within($"test/wait {key} to see cancellation");

    private static TaskCompletionSource Gate(ConcurrentDictionary<string, TaskCompletionSource> gates, string key)
        => gates.GetOrAdd(key, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    private void RegisterTestHandlers()
    {
        var json = TestJson.Default;
        Connection.OnRequest("test/echo", json.JsonElement, json.JsonElement, (p, _) => Task.FromResult(p));

        Connection.OnRequest("test/typed", json.TypedParams, json.TypedResult,
            (p, _) => Task.FromResult(new TypedResult($"{p.Number}:{p.Text}:{p.Inner?.Count}")));

        Connection.OnRequest("test/wait", json.JsonElement, json.JsonElement, async (p, ctx) =>
        {
            var key = p.GetProperty("key").GetString()!;
            Gate(_started, key).TrySetResult();
            var seen = _sawCancellation.GetOrAdd(key, _ => new(TaskCreationOptions.RunContinuationsAsynchronously));
            try
            {
                await Gate(_release, key).Task.WaitAsync(ctx.CancellationToken);
            }
            catch (OperationCanceledException)
            {
                seen.TrySetResult(true);
                throw;
            }
            return JsonDocument.Parse($$"""{"key":{{Frames.Str(key)}}}""").RootElement;
        });

        Connection.OnRequest("test/throw", json.JsonElement, json.JsonElement,
            (_, _) => throw new InvalidOperationException("boom while calling https://user:hunter2@example.com with token=s3cr3tvalue"));

        Connection.OnRequest("test/fail", json.JsonElement, json.JsonElement,
            (_, _) => throw new JsonRpcException(ErrorCodes.RequestFailed, "could not do it"));

        Connection.OnNotification("test/note", json.NoteParams, n => Notes.Enqueue(n.Seq));
    }

    /// <summary>Ends the input (the client goes away) and waits for the read loop to finish.</summary>
    public async Task CloseInputAsync()
    {
        await _toServer.Writer.CompleteAsync();
        await Running.Within("the connection's read loop to end");
    }

    public async ValueTask DisposeAsync()
    {
        await _toServer.Writer.CompleteAsync();
        if (_running is not null)
        {
            await _running.Within("the connection's read loop to end");
        }
        await Connection.DisposeAsync();
        await _toClient.Writer.CompleteAsync();
        if (_running is not null)
        {
            // Everything the server wrote must have been well-formed frames.
            await Client.Completion.Within("the client to read the server's output to the end");
        }
    }
}
