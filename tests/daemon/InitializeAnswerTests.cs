using System.Text;
using System.Text.Json;
using Colab.Daemon.Hosting;
using Colab.Daemon.Protocol;
using Colab.Daemon.Tests.Infrastructure;

namespace Colab.Daemon.Tests;

/// <summary>
/// <c>initialize</c> answered without serializer metadata (issue 8, cold start): the hand-written
/// answer must be what <see cref="ProtocolJson"/> writes, list what the method table serves, and the
/// params check must never accept what <see cref="ProtocolJson"/> refuses.
/// </summary>
public sealed class InitializeAnswerTests
{
    [Fact]
    public void Write_IsByteForByteWhatProtocolJsonWritesForTheResult()
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            InitializeAnswer.Write(w);
        }
        var typed = JsonSerializer.Serialize(InitializeAnswer.Result(), ProtocolJson.Default.InitializeResult);

        Assert.Equal(typed, Encoding.UTF8.GetString(buffer.WrittenSpan));
    }

    [Fact]
    public async Task Initialize_ListsExactlyTheMethodsTheFullMethodTableServes()
    {
        await using var h = new LifecycleHarness();
        var result = await h.InitializeAsync();

        var listed = result.GetProperty("capabilities").GetProperty("experimental").GetProperty("colab").GetProperty("methods")
            .EnumerateArray().Select(m => m.GetString()!).ToList();
        Assert.Equal(Methods.All.Select(m => m.Name), listed);

        var served = h.Inner.Connection.HandledMethods.ToHashSet();
        var clientToServer = Methods.All.Where(m => m.Direction == MethodDirection.ClientToServer).Select(m => m.Name)
            .Where(n => n != Methods.CancelRequest) // answered by the connection itself
            .ToHashSet();
        Assert.Empty(clientToServer.Except(served));
        Assert.Empty(served.Except(clientToServer));
        Assert.Equal("colab-daemon", result.GetProperty("serverInfo").GetProperty("name").GetString());
    }

    [Theory]
    [InlineData("""{}""", true)]
    [InlineData("""{"processId":123,"clientInfo":{"name":"VS Code","version":"1.99"},"locale":"en","rootUri":null,"capabilities":{"x":[1,{"y":2}]}}""", true)]
    [InlineData("""{"processId":null,"clientInfo":null,"trace":"off","workspaceFolders":null,"somethingElse":{"a":[]}}""", true)]
    [InlineData("""{"clientInfo":{"name":"x","extra":1}}""", true)]
    [InlineData("""{"ProcessId":"ignored: not the field's name"}""", true)]
    [InlineData("""{"processId":"not a number"}""", false)]
    [InlineData("""{"processId":1.5}""", false)]
    [InlineData("""{"processId":1e3}""", false)]
    [InlineData("""{"processId":99999999999}""", false)]
    [InlineData("""{"clientInfo":{}}""", false)]
    [InlineData("""{"clientInfo":{"name":null}}""", false)]
    [InlineData("""{"clientInfo":{"name":1}}""", false)]
    [InlineData("""{"clientInfo":{"name":"a","version":2}}""", false)]
    [InlineData("""{"clientInfo":"VS Code"}""", false)]
    [InlineData("""{"clientInfo":{"name":"\ud800"}}""", false)]
    [InlineData("""{"locale":5}""", false)]
    [InlineData("""{"rootUri":{}}""", false)]
    [InlineData("""{"rootPath":["a"]}""", false)]
    [InlineData("""{"processId":1,"processId":"x"}""", false)]
    [InlineData("""[1,2]""", false)]
    public void Check_AcceptsOnlyWhatProtocolJsonAccepts_AndThrowsItsErrorOtherwise(string json, bool fast)
    {
        using var doc = JsonDocument.Parse(json);
        var p = doc.RootElement;
        Assert.Equal(fast, InitializeAnswer.LooksValid(p));

        Exception? typed = null;
        try
        {
            _ = p.Deserialize(ProtocolJson.Default.InitializeParams);
        }
        catch (Exception e)
        {
            typed = e;
        }
        Exception? ours = null;
        try
        {
            InitializeAnswer.Check(p);
        }
        catch (Exception e)
        {
            ours = e;
        }
        if (fast)
        {
            Assert.Null(typed); // accepted here only when ProtocolJson accepts it too
        }
        Assert.Equal(typed?.GetType(), ours?.GetType());
        Assert.Equal(typed?.Message, ours?.Message);
    }

    [Fact]
    public void Check_DeepCapabilities_AreLeftToProtocolJson()
    {
        var deep = "{\"capabilities\":" + string.Concat(Enumerable.Repeat("[", 70)) + string.Concat(Enumerable.Repeat("]", 70)) + "}";
        using var doc = JsonDocument.Parse(deep, new JsonDocumentOptions { MaxDepth = 128 });
        Assert.False(InitializeAnswer.LooksValid(doc.RootElement));
        Assert.Throws<JsonException>(() => InitializeAnswer.Check(doc.RootElement));
    }

    [Fact]
    public async Task Initialize_WithBadParams_GetsTheSameInvalidParamsAnswerAsATypedHandler()
    {
        await using var h = new LifecycleHarness();

        var answer = await h.RequestAsync("initialize", """{"clientInfo":{"version":"1"}}""");

        Assert.Equal(ErrorCodes.InvalidParams, TestClient.ErrorCode(answer));
        Assert.StartsWith("Invalid params for initialize: missing required", TestClient.ErrorMessage(answer));
        Assert.Contains("name", TestClient.ErrorMessage(answer));
        await h.InitializeAsync();
    }
}
