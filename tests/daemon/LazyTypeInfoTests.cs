using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Colab.Daemon.Hosting;
using Colab.Daemon.Protocol;
using Colab.Daemon.Tests.Infrastructure;

namespace Colab.Daemon.Tests;

/// <summary>
/// <see cref="LazyTypeInfo"/>: a method bound with its serializer metadata made on first call answers
/// every input exactly as the same method bound with the metadata at hand, and makes none before it is called.
/// </summary>
public sealed class LazyTypeInfoTests
{
    private static Task<DelayResult> Handler(DelayParams p, Colab.Daemon.JsonRpc.RequestContext _)
        => Task.FromResult(p.Milliseconds == 404 ? null! : new DelayResult(p.Milliseconds * 2L));

    [Theory]
    [InlineData(null)]
    [InlineData("{}")]
    [InlineData("null")]
    [InlineData("[]")]
    [InlineData("""{"milliseconds":"ten"}""")]
    [InlineData("""{"milliseconds":21}""")]
    [InlineData("""{"milliseconds":21,"reportProgress":true,"extra":[1,2]}""")]
    [InlineData("""{"milliseconds":404}""")]
    [InlineData("""{"milliseconds":1e99}""")]
    public async Task A_lazily_bound_method_answers_as_the_eagerly_bound_one(string? parameters)
    {
        await using var h = new ConnectionHarness(registerTestHandlers: false);
        var json = ProtocolJson.Default;
        h.Connection.OnRequest("eager/double", json.DelayParams, json.DelayResult, Handler);
        h.Connection.OnRequest("lazy/double", () => json.DelayParams, () => json.DelayResult, Handler);
        h.Start();

        var eager = await h.Client.RequestAsync(1, "eager/double", parameters);
        var lazy = await h.Client.RequestAsync(2, "lazy/double", parameters);

        Assert.Equal(eager.GetRawText().Replace("eager/double", "lazy/double", StringComparison.Ordinal).Replace("\"id\":1", "\"id\":2", StringComparison.Ordinal), lazy.GetRawText());
    }

    [Fact]
    public async Task The_metadata_is_made_on_the_first_call_not_when_bound()
    {
        await using var h = new ConnectionHarness(registerTestHandlers: false);
        var json = ProtocolJson.Default;
        int paramsMade = 0, resultMade = 0;
        JsonTypeInfo<DelayParams> Params()
        {
            Interlocked.Increment(ref paramsMade);
            return json.DelayParams;
        }
        JsonTypeInfo<DelayResult> Result()
        {
            Interlocked.Increment(ref resultMade);
            return json.DelayResult;
        }
        h.Connection.OnRequest("lazy/double", Params, Result, Handler);
        h.Start();
        Assert.Equal((0, 0), (paramsMade, resultMade));

        var answer = await h.Client.RequestAsync(1, "lazy/double", """{"milliseconds":5}""");

        Assert.Equal(10, answer.GetProperty("result").GetProperty("elapsedMilliseconds").GetInt64());
        Assert.Equal((1, 1), (paramsMade, resultMade));
    }

    [Fact]
    public async Task A_method_that_takes_a_JsonElement_is_bound_at_once_and_gets_null_when_params_are_absent()
    {
        await using var h = new ConnectionHarness(registerTestHandlers: false);
        var json = ProtocolJson.Default;
        h.Connection.OnRequest("lazy/echo", () => json.JsonElement, () => json.JsonElement, (p, _) => Task.FromResult(p));
        h.Start();

        var absent = await h.Client.RequestAsync(1, "lazy/echo");
        var given = await h.Client.RequestAsync(2, "lazy/echo", "[1,{\"a\":2}]");

        Assert.Equal(JsonValueKind.Null, absent.GetProperty("result").ValueKind);
        Assert.Equal("[1,{\"a\":2}]", given.GetProperty("result").GetRawText());
    }
}
