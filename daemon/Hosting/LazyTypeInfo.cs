using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Colab.Daemon.JsonRpc;

namespace Colab.Daemon.Hosting;

/// <summary>
/// Binds a typed handler whose serializer metadata is made when the method is first called, not when
/// it is bound (issue 8, idle memory): a source-generated context builds a type's <see cref="JsonTypeInfo"/>
/// the first time its property is read, and binding ~60 methods read ~100 of them at start, for methods
/// most sessions never call. The answers are those of <see cref="JsonRpcConnection.OnRequest{TParams, TResult}(string, JsonTypeInfo{TParams}, JsonTypeInfo{TResult}, Func{TParams, RequestContext, Task{TResult}}, bool)"/>:
/// the params deserialized the same way (<c>{}</c> when absent, <c>null</c> refused as Invalid params),
/// the result written the same way (<c>null</c> for a null or undefined result).
/// </summary>
internal static class LazyTypeInfo
{
    public static void OnRequest<TParams, TResult>(
        this JsonRpcConnection connection,
        string method,
        Func<JsonTypeInfo<TParams>> paramsType,
        Func<JsonTypeInfo<TResult>> resultType,
        Func<TParams, RequestContext, Task<TResult>> handler,
        bool ordered = false)
    {
        if (typeof(TParams) == typeof(JsonElement))
        {
            // Absent params are null, not {}, for a JsonElement handler: the connection's own handler knows that.
            connection.OnRequest(method, paramsType(), resultType(), handler, ordered);
            return;
        }
        connection.OnRequest<TParams>(
            method,
            element => element.Deserialize(paramsType()) ?? throw new JsonException("params must not be null"),
            async (parameters, context) =>
            {
                var result = await handler(parameters, context).ConfigureAwait(false);
                return writer => Write(writer, result, resultType);
            },
            ordered);
    }

    private static void Write<TResult>(Utf8JsonWriter writer, TResult result, Func<JsonTypeInfo<TResult>> resultType)
    {
        if (result is null or JsonElement { ValueKind: JsonValueKind.Undefined })
        {
            writer.WriteNullValue();
        }
        else
        {
            JsonSerializer.Serialize(writer, result, resultType());
        }
    }
}
