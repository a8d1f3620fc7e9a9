using System.Text.RegularExpressions;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Text.Unicode;
using Colab.Daemon.Protocol;
using Microsoft.Extensions.Logging;

namespace Colab.Daemon.JsonRpc;

/// <summary>
/// JSON-RPC 2.0 over the LSP base protocol, in both directions: requests are handled
/// concurrently, notifications in arrival order, and every frame goes out through one
/// ordered writer. Nothing a peer sends can throw out of <see cref="RunAsync"/>:
/// a bad message becomes an error response or a log line.
/// </summary>
public sealed partial class JsonRpcConnection : IAsyncDisposable
{
    private static readonly JsonElement s_null = JsonDocument.Parse("null").RootElement;
    private static readonly JsonElement s_emptyObject = JsonDocument.Parse("{}").RootElement;
    private static readonly JsonDocumentOptions s_documentOptions = new() { MaxDepth = 128 };

    private readonly FrameReader _frames;
    private readonly FrameWriter _writer;
    private readonly BodyTarget _enqueue;
    private readonly ILogger _logger;
    private readonly Dictionary<string, Handler> _handlers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<RequestId, CancellationTokenSource> _inFlight = new();
    private readonly ConcurrentDictionary<long, TaskCompletionSource<JsonElement>> _pending = new();
    private readonly CancellationTokenSource _closed = new();
    private long _nextId;

    public JsonRpcConnection(Stream input, Stream output, ILogger logger, int maxContentLength = FrameReader.DefaultMaxContentLength)
    {
        _frames = new FrameReader(PipeReader.Create(input, new StreamPipeReaderOptions(bufferSize: 64 * 1024)), maxContentLength);
        _writer = new FrameWriter(output);
        _enqueue = _writer.Enqueue;
        _logger = logger;
    }

    /// <summary>
    /// Consulted before each incoming method is dispatched (the LSP lifecycle uses it):
    /// a non-null error refuses a request with that error, or drops a notification.
    /// </summary>
    public Func<string, bool, JsonRpcException?>? Gate { get; set; }

    /// <summary>
    /// When set, only the first message is dispatched before this task completes; the ones after
    /// it wait for it, in order. The daemon answers <c>initialize</c> with this connection while its
    /// services are still being built, and releases the rest once their handlers are registered.
    /// </summary>
    public Task? HoldAfterFirst { get; set; }

    /// <summary>
    /// With <see cref="HoldAfterFirst"/>: the first message waits for it too. The daemon sets this when it
    /// has answered <c>initialize</c> itself before the connection existed (issue 8, cold start).
    /// </summary>
    public bool HoldFirst { get; set; }

    /// <summary>Fires when the input has ended.</summary>
    public CancellationToken Closed => _closed.Token;

    /// <summary>The methods with a handler (for tests: <c>initialize</c> must list what is served).</summary>
    internal IReadOnlyCollection<string> HandledMethods => _handlers.Keys;

    /// <summary>Requests currently being handled (for tests and diagnostics).</summary>
    public int InFlightCount => _inFlight.Count;

    /// <summary>
    /// Registers a request handler. Handlers run on the thread pool, concurrently; an
    /// <paramref name="ordered"/> one starts on the read loop instead, so that it runs before
    /// any message that arrived after it (the lifecycle's initialize and shutdown must not be
    /// overtaken by initialized or exit). An ordered handler must not block before its first await.
    /// </summary>
    public void OnRequest<TParams, TResult>(
        string method,
        JsonTypeInfo<TParams> paramsType,
        JsonTypeInfo<TResult> resultType,
        Func<TParams, RequestContext, Task<TResult>> handler,
        bool ordered = false)
        => _handlers[method] = new RequestHandler<TParams, TResult>(paramsType, resultType, handler, ordered);

    public void OnNotification<TParams>(string method, JsonTypeInfo<TParams> paramsType, Action<TParams> handler)
        => _handlers[method] = new NotificationHandler<TParams>(paramsType, handler);

    /// <summary>
    /// Registers a request handler that needs no serializer metadata (the lifecycle binds
    /// <c>initialize</c> this way, before any <c>JsonSerializerContext</c> exists: issue 8, cold start).
    /// <paramref name="parse"/> gets the params (<c>{}</c> when absent) and throws as a typed handler's
    /// deserialization would — its <see cref="JsonException"/> is answered as Invalid params the same way;
    /// the handler's answer writes the result value itself.
    /// </summary>
    public void OnRequest<TParams>(
        string method,
        Func<JsonElement, TParams> parse,
        Func<TParams, RequestContext, Task<Action<Utf8JsonWriter>>> handler,
        bool ordered = false)
        => _handlers[method] = new WriterRequestHandler<TParams>(parse, handler, ordered);

    /// <summary>A notification handler that gets the params as they came (<c>{}</c> when absent), with no serializer metadata.</summary>
    public void OnNotification(string method, Action<JsonElement> handler)
        => _handlers[method] = new ElementNotificationHandler(handler);

    /// <summary>Reads and dispatches messages until the input ends.</summary>
    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            for (var first = true; ; first = false)
            {
                Frame frame;
                try
                {
                    frame = await _frames.ReadAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is IOException or ObjectDisposedException)
                {
                    Log.InputFailed(_logger, ex.Message);
                    break;
                }
                if ((!first || HoldFirst) && HoldAfterFirst is { IsCompleted: false } hold)
                {
                    await hold.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                    cancellationToken.ThrowIfCancellationRequested();
                }
                switch (frame.Kind)
                {
                    case FrameKind.End:
                        return;
                    case FrameKind.HeaderError:
                        Log.BadFrame(_logger, frame.Error!);
                        SendError(null, ErrorCodes.ParseError, $"Parse error: {frame.Error}");
                        break;
                    case FrameKind.TooLarge:
                        Log.BadFrame(_logger, frame.Error!);
                        SendError(null, ErrorCodes.MessageTooLarge, $"Message too large: {frame.Error}");
                        break;
                    default:
                        try
                        {
                            Dispatch(frame.Body!);
                        }
                        catch (Exception ex)
                        {
                            // The last line of defence for the promise above: one message never ends the session.
                            Log.BadMessage(_logger, $"message could not be dispatched: {ex.GetType().Name}: {Redaction.Redact(ex.Message)}");
                            SendError(null, ErrorCodes.InternalError, "Internal error: the message could not be dispatched.");
                        }
                        break;
                }
            }
        }
        finally
        {
            // Every in-flight token is linked to this one. (Cancelling them one by one could
            // meet one its handler had just disposed, and throw out of here.)
            _closed.Cancel();
            foreach (var pending in _pending.Values)
            {
                pending.TrySetException(new IOException("The client closed the connection."));
            }
        }
    }

    private void Dispatch(byte[] body)
    {
        JsonDocument document;
        try
        {
            // JsonDocument checks UTF-8 only where it looks (not inside strings): check it all.
            if (!Utf8.IsValid(body))
            {
                throw new JsonException("invalid UTF-8");
            }
            document = LargeJson.Parse(body, s_documentOptions);
        }
        catch (JsonException)
        {
            Log.BadMessage(_logger, "body is not valid JSON in UTF-8");
            SendError(null, ErrorCodes.ParseError, "Parse error: the message body is not valid JSON in UTF-8.");
            return;
        }

        // Parsed by LargeJson, a large body's document holds only a trimmed index by now: disposing it returns that.
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Array)
            {
                SendError(null, ErrorCodes.InvalidRequest, "Invalid request: batches are not supported; send one message per frame.");
                return;
            }
            if (root.ValueKind != JsonValueKind.Object)
            {
                SendError(null, ErrorCodes.InvalidRequest, "Invalid request: a message must be a JSON object.");
                return;
            }

            var hasId = root.TryGetProperty("id", out var idElement);
            RequestId id = default;
            var idOk = hasId && RequestId.TryRead(idElement, out id);
            RequestId? replyId = idOk ? id : null;

            if (!root.TryGetProperty("jsonrpc", out var version) || version.ValueKind != JsonValueKind.String || !version.ValueEquals("2.0"u8))
            {
                SendError(replyId, ErrorCodes.InvalidRequest, "Invalid request: \"jsonrpc\" must be \"2.0\".");
                return;
            }

            if (root.TryGetProperty("method", out var methodElement))
            {
                if (methodElement.ValueKind != JsonValueKind.String)
                {
                    SendError(replyId, ErrorCodes.InvalidRequest, "Invalid request: \"method\" must be a string.");
                    return;
                }
                if (hasId && !idOk)
                {
                    SendError(null, ErrorCodes.InvalidRequest, "Invalid request: \"id\" must be a string or an integer.");
                    return;
                }
                if (!TryGetString(methodElement, out var method))
                {
                    SendError(replyId, ErrorCodes.InvalidRequest, "Invalid request: \"method\" is not valid Unicode.");
                    return;
                }
                JsonElement? parameters = root.TryGetProperty("params", out var p) ? p : null;
                if (parameters is { ValueKind: not (JsonValueKind.Object or JsonValueKind.Array) })
                {
                    if (idOk)
                    {
                        SendError(id, ErrorCodes.InvalidRequest, "Invalid request: \"params\" must be an object or an array.");
                    }
                    else
                    {
                        Log.BadMessage(_logger, $"notification {method} with params that are neither object nor array");
                    }
                    return;
                }
                if (idOk)
                {
                    DispatchRequest(id, method, parameters);
                }
                else
                {
                    DispatchNotification(method, parameters);
                }
                return;
            }

            if (hasId && (root.TryGetProperty("result", out var result) | root.TryGetProperty("error", out var error)))
            {
                HandleResponse(idElement, result, error);
                return;
            }

            SendError(replyId, ErrorCodes.InvalidRequest, "Invalid request: a message needs a \"method\", or an \"id\" with a \"result\" or \"error\".");
        }
    }

    private void DispatchRequest(RequestId id, string method, JsonElement? parameters)
    {
        if (Gate?.Invoke(method, true) is { } refused)
        {
            SendError(id, refused.Code, refused.Message);
            return;
        }
        if (!_handlers.TryGetValue(method, out var handler) || handler is not IRequestHandler request)
        {
            SendError(id, ErrorCodes.MethodNotFound, $"Method not found: {Truncate(method)}");
            return;
        }

        object? typed;
        try
        {
            typed = request.ParseParams(parameters ?? (request.ParamsAreJsonElement ? s_null : s_emptyObject));
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException or InvalidOperationException or ArgumentException)
        {
            SendError(id, ErrorCodes.InvalidParams, $"Invalid params for {method}: {DescribeJsonError(ex)}");
            return;
        }

        var workDoneToken = ReadWorkDoneToken(parameters);
        var cts = CancellationTokenSource.CreateLinkedTokenSource(_closed.Token);
        if (!_inFlight.TryAdd(id, cts))
        {
            cts.Dispose();
            SendError(id, ErrorCodes.InvalidRequest, $"Invalid request: id {id} is already in use by a request in flight.");
            return;
        }
        var context = new RequestContext(this, id, method, workDoneToken, cts.Token);
        _ = request.Ordered
            ? RunRequestAsync(request, typed, context, cts)
            : Task.Run(() => RunRequestAsync(request, typed, context, cts));
    }

    private async Task RunRequestAsync(IRequestHandler handler, object? parameters, RequestContext context, CancellationTokenSource cts)
    {
        try
        {
            await handler.InvokeAsync(parameters, context).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            SendError(context.Id, ErrorCodes.RequestCancelled, "Request cancelled.");
        }
        catch (JsonRpcException ex)
        {
            SendError(context.Id, ex.Code, Redaction.Redact(ex.Message));
        }
        catch (Exception ex)
        {
            Log.HandlerFailed(_logger, context.Method, Redaction.Redact(ex.ToString()));
            SendError(context.Id, ErrorCodes.InternalError, $"Internal error in {context.Method}: {ex.GetType().Name}: {Redaction.Redact(ex.Message)}");
        }
        finally
        {
            _inFlight.TryRemove(context.Id, out _);
            cts.Dispose();
        }
    }

    private void DispatchNotification(string method, JsonElement? parameters)
    {
        if (method == Methods.CancelRequest)
        {
            if (parameters is { ValueKind: JsonValueKind.Object } p && p.TryGetProperty("id", out var idElement)
                && RequestId.TryRead(idElement, out var id) && _inFlight.TryGetValue(id, out var cts))
            {
                try
                {
                    cts.Cancel();
                }
                catch (ObjectDisposedException)
                {
                    // It finished between the lookup and the cancel.
                }
            }
            return;
        }
        if (Gate?.Invoke(method, false) is { } refused)
        {
            Log.NotificationDropped(_logger, method, refused.Message);
            return;
        }
        if (!_handlers.TryGetValue(method, out var handler) || handler is not INotificationHandler notification)
        {
            if (!method.StartsWith("$/", StringComparison.Ordinal))
            {
                Log.NotificationDropped(_logger, Truncate(method), "no handler for this notification");
            }
            return;
        }
        try
        {
            notification.Invoke(parameters ?? s_emptyObject);
        }
        catch (Exception ex)
        {
            Log.HandlerFailed(_logger, method, Redaction.Redact(ex.Message));
        }
    }

    private void HandleResponse(JsonElement idElement, JsonElement result, JsonElement error)
    {
        if (idElement.ValueKind != JsonValueKind.Number || !idElement.TryGetInt64(out var id) || !_pending.TryRemove(id, out var pending))
        {
            Log.BadMessage(_logger, $"response to no request of ours (id {Truncate(idElement.GetRawText())})");
            return;
        }
        if (error.ValueKind == JsonValueKind.Object)
        {
            var code = error.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.Number && c.TryGetInt32(out var ci) ? ci : ErrorCodes.UnknownErrorCode;
            var message = error.TryGetProperty("message", out var m) && TryGetString(m, out var text) ? text : "the client answered with an error";
            pending.TrySetException(new JsonRpcException(code, message));
        }
        else
        {
            pending.TrySetResult(result.ValueKind == JsonValueKind.Undefined ? s_null : result.Clone());
        }
    }

    /// <summary>Sends a request to the client and waits for its answer.</summary>
    public async Task<TResult> SendRequestAsync<TParams, TResult>(
        string method, TParams parameters, JsonTypeInfo<TParams> paramsType, JsonTypeInfo<TResult> resultType,
        CancellationToken cancellationToken = default)
    {
        var id = Interlocked.Increment(ref _nextId);
        var answer = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = answer;
        if (_closed.IsCancellationRequested)
        {
            _pending.TryRemove(id, out _);
            throw new IOException("The client closed the connection.");
        }
        Write(w =>
        {
            w.WriteNumber("id", id);
            w.WriteString("method", method);
            w.WritePropertyName("params");
            JsonSerializer.Serialize(w, parameters, paramsType);
        });
        using var registration = cancellationToken.Register(() =>
        {
            if (_pending.TryRemove(id, out _))
            {
                Write(w =>
                {
                    w.WriteString("method", Methods.CancelRequest);
                    w.WriteStartObject("params");
                    w.WriteNumber("id", id);
                    w.WriteEndObject();
                });
                answer.TrySetCanceled(cancellationToken);
            }
        });
        var element = await answer.Task.ConfigureAwait(false);
        return element.Deserialize(resultType)!;
    }

    /// <summary>Sends a notification to the client.</summary>
    /// <summary>Completes once at most <paramref name="maxQueuedBytes"/> of outgoing frames wait to be written (backpressure for bulk notifications).</summary>
    public ValueTask WaitForWriteRoomAsync(long maxQueuedBytes, CancellationToken cancellationToken = default)
        => _writer.WaitForRoomAsync(maxQueuedBytes, cancellationToken);

    public void Notify<TParams>(string method, TParams parameters, JsonTypeInfo<TParams> paramsType)
        => Write(w =>
        {
            w.WriteString("method", method);
            w.WritePropertyName("params");
            JsonSerializer.Serialize(w, parameters, paramsType);
        });

    internal void SendResult<TResult>(RequestId id, TResult result, JsonTypeInfo<TResult> resultType)
        => Write(w =>
        {
            w.WritePropertyName("id");
            id.WriteTo(w);
            w.WritePropertyName("result");
            if (result is null or JsonElement { ValueKind: JsonValueKind.Undefined })
            {
                w.WriteNullValue();
            }
            else
            {
                JsonSerializer.Serialize(w, result, resultType);
            }
        });

    internal void SendResult(RequestId id, Action<Utf8JsonWriter> writeResult)
        => Write(w =>
        {
            w.WritePropertyName("id");
            id.WriteTo(w);
            w.WritePropertyName("result");
            writeResult(w);
        });

    internal void SendError(RequestId? id, int code, string message)
        => Write(w =>
        {
            w.WritePropertyName("id");
            if (id is { } i)
            {
                i.WriteTo(w);
            }
            else
            {
                w.WriteNullValue();
            }
            w.WriteStartObject("error");
            w.WriteNumber("code", code);
            w.WriteString("message", message);
            w.WriteEndObject();
        });

    [ThreadStatic]
    private static Utf8JsonWriter? t_jsonWriter;

    private void Write(Action<Utf8JsonWriter> body) => Write(body, _enqueue);

    /// <summary>
    /// One whole frame of the answer <see cref="SendResult(RequestId, Action{Utf8JsonWriter})"/> sends, byte for byte:
    /// the daemon writes its first answer with this before any connection exists (issue 8, cold start).
    /// </summary>
    internal static byte[] ResultFrame(RequestId id, Action<Utf8JsonWriter> writeResult)
    {
        byte[] frame = [];
        Write(w =>
        {
            w.WritePropertyName("id");
            id.WriteTo(w);
            w.WritePropertyName("result");
            writeResult(w);
        }, body => frame = FrameWriter.Frame(body));
        return frame;
    }

    private static void Write(Action<Utf8JsonWriter> body, BodyTarget target)
    {
        var buffer = ArrayBufferWriterPool.Rent();
        var writer = t_jsonWriter ??= new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true });
        writer.Reset(buffer);
        try
        {
            writer.WriteStartObject();
            writer.WriteString("jsonrpc", "2.0");
            body(writer);
            writer.WriteEndObject();
            writer.Flush();
            target(buffer.WrittenSpan);
        }
        finally
        {
            writer.Reset(Stream.Null);
            ArrayBufferWriterPool.Return(buffer);
        }
    }

    private delegate void BodyTarget(ReadOnlySpan<byte> body);

    /// <summary>The client's progress token (LSP: an integer or a string), kept as it came so <c>$/progress</c> echoes it exactly.</summary>
    private static JsonElement? ReadWorkDoneToken(JsonElement? parameters)
    {
        if (parameters is { ValueKind: JsonValueKind.Object } p && p.TryGetProperty("workDoneToken", out var t)
            && (TryGetString(t, out _) || (t.ValueKind == JsonValueKind.Number && t.TryGetInt64(out _))))
        {
            return t.Clone();
        }
        return null;
    }

    /// <summary>Reads a JSON string; false for other kinds and for escapes that are not valid Unicode (a lone surrogate).</summary>
    internal static bool TryGetString(JsonElement element, out string text)
    {
        text = "";
        if (element.ValueKind != JsonValueKind.String)
        {
            return false;
        }
        try
        {
            text = element.GetString()!;
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static string DescribeJsonError(Exception ex)
    {
        if (ex is JsonException { Path: { } at } && ex.Message.StartsWith("The JSON value could not be converted", StringComparison.Ordinal))
        {
            // The reader's own complaint names JSON token kinds ("token type 'String' as a number").
            var token = ex.InnerException is { } inner ? TokenMismatch().Match(inner.Message) : Match.Empty;
            return token.Success
                ? $"{at} is {Article(token.Groups["got"].Value.ToLowerInvariant())} where {Article(token.Groups["want"].Value.ToLowerInvariant())} is expected"
                : $"{at} has the wrong type";
        }
        var text = ex is JsonException { Path: { } path } ? $"{FirstSentence(ex.Message)} (at {path})" : FirstSentence(ex.Message);
        return Truncate(WithoutDotNetNames(text), 300);
    }

    private static string Article(string kind) => kind switch
    {
        "startobject" => "an object",
        "startarray" => "an array",
        "true" or "false" => kind,
        "null" => "null",
        _ when kind.Length > 0 && "aeiou".Contains(kind[0], StringComparison.Ordinal) => "an " + kind,
        _ => "a " + kind,
    };

    [GeneratedRegex(@"token type '(?<got>\w+)' as an? (?<want>\w+)")]
    private static partial Regex TokenMismatch();

    /// <summary>System.Text.Json names .NET types ("could not be converted to System.Int32"); the client speaks JSON.</summary>
    internal static string WithoutDotNetNames(string text)
    {
        text = MissingRequired().Replace(text, m => $"missing required {m.Groups["props"].Value}");
        return DotNetTypeName().Replace(text, m => JsonKind(m.Value));
    }

    private static string JsonKind(string typeName) => typeName switch
    {
        _ when typeName.StartsWith("System.Nullable", StringComparison.Ordinal) => JsonKind(typeName[(typeName.IndexOf('[') + 1)..].TrimEnd(']')),
        "System.Int16" or "System.Int32" or "System.Int64" or "System.UInt16" or "System.UInt32" or "System.UInt64" or "System.Byte" => "an integer",
        "System.Double" or "System.Single" or "System.Decimal" => "a number",
        "System.String" or "System.Char" or "System.Guid" or "System.Uri" or "System.DateTime" or "System.DateTimeOffset" or "System.TimeSpan" => "a string",
        "System.Boolean" => "true or false",
        _ when typeName.Contains("List", StringComparison.Ordinal) || typeName.Contains("[]", StringComparison.Ordinal) || typeName.Contains("Enumerable", StringComparison.Ordinal) => "an array",
        _ when typeName.Contains("Dictionary", StringComparison.Ordinal) => "an object",
        _ when typeName.StartsWith("Colab.", StringComparison.Ordinal) => "the expected shape",
        _ => "the expected type",
    };

    [GeneratedRegex(@"JSON deserialization for type '[^']+' was missing required (?<props>properties including: [^.]+|property [^.]+)")]
    private static partial Regex MissingRequired();

    [GeneratedRegex(@"(?:System|Colab)\.[A-Za-z0-9_.`]+(?:\[[^\]]*\])?")]
    private static partial Regex DotNetTypeName();

    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(". Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }

    private static string Truncate(string text, int max = 100) => text.Length <= max ? text : text[..max] + "…";

    public async ValueTask DisposeAsync()
    {
        await _writer.DisposeAsync().ConfigureAwait(false);
        _closed.Dispose();
    }

    private abstract class Handler;

    private interface IRequestHandler
    {
        bool Ordered { get; }
        bool ParamsAreJsonElement { get; }
        object? ParseParams(JsonElement element);
        Task InvokeAsync(object? parameters, RequestContext context);
    }

    private interface INotificationHandler
    {
        void Invoke(JsonElement element);
    }

    private sealed class RequestHandler<TParams, TResult>(
        JsonTypeInfo<TParams> paramsType,
        JsonTypeInfo<TResult> resultType,
        Func<TParams, RequestContext, Task<TResult>> handler,
        bool ordered) : Handler, IRequestHandler
    {
        public bool Ordered => ordered;

        public bool ParamsAreJsonElement => typeof(TParams) == typeof(JsonElement);

        public object? ParseParams(JsonElement element)
            => typeof(TParams) == typeof(JsonElement) ? element.Clone() : element.Deserialize(paramsType)
                ?? throw new JsonException("params must not be null");

        public async Task InvokeAsync(object? parameters, RequestContext context)
        {
            var result = await handler((TParams)parameters!, context).ConfigureAwait(false);
            context.Connection.SendResult(context.Id, result, resultType);
        }
    }

    private sealed class WriterRequestHandler<TParams>(
        Func<JsonElement, TParams> parse,
        Func<TParams, RequestContext, Task<Action<Utf8JsonWriter>>> handler,
        bool ordered) : Handler, IRequestHandler
    {
        public bool Ordered => ordered;

        public bool ParamsAreJsonElement => false;

        public object? ParseParams(JsonElement element) => parse(element);

        public async Task InvokeAsync(object? parameters, RequestContext context)
        {
            var writeResult = await handler((TParams)parameters!, context).ConfigureAwait(false);
            context.Connection.SendResult(context.Id, writeResult);
        }
    }

    private sealed class ElementNotificationHandler(Action<JsonElement> handler) : Handler, INotificationHandler
    {
        public void Invoke(JsonElement element) => handler(element);
    }

    private sealed class NotificationHandler<TParams>(JsonTypeInfo<TParams> paramsType, Action<TParams> handler) : Handler, INotificationHandler
    {
        public void Invoke(JsonElement element) => handler(element.Deserialize(paramsType)!);
    }

    private static partial class Log
    {
        [LoggerMessage(1001, LogLevel.Warning, "Dropped a frame: {Reason}")]
        public static partial void BadFrame(ILogger logger, string reason);

        [LoggerMessage(1002, LogLevel.Warning, "Dropped a message: {Reason}")]
        public static partial void BadMessage(ILogger logger, string reason);

        [LoggerMessage(1003, LogLevel.Error, "Handler for {Method} failed: {Error}")]
        public static partial void HandlerFailed(ILogger logger, string method, string error);

        [LoggerMessage(1004, LogLevel.Debug, "Notification {Method} dropped: {Reason}")]
        public static partial void NotificationDropped(ILogger logger, string method, string reason);

        [LoggerMessage(1005, LogLevel.Warning, "Reading the input failed: {Error}")]
        public static partial void InputFailed(ILogger logger, string error);
    }
}
