using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Colab.Daemon.Runtimes;

namespace Colab.Daemon.Tests.Runtimes;

/// <summary>
/// Both framings of the kernel channels WebSocket against byte fixtures: two produced by
/// jupyter_server 1.23's own serializers (<c>serialize_msg_to_ws_v1</c>,
/// <c>serialize_binary_message</c>), others built by hand from the spec; round trips;
/// and malformed frames, which must be refused with a reason, never an exception.
/// </summary>
public class KernelWireTests
{
    // jupyter_server.base.zmqhandlers.serialize_msg_to_ws_v1([header, parent, b'{}', content, b'\x01\x02\x03'], 'iopub')
    private const string ServerV1Frame =
        "070000000000000040000000000000004500000000000000c5000000000000004e01000000000000500100000000000072010000000000007501000000000000" +
        "696f7075627b226d73675f6964223a20226d31222c20226d73675f74797065223a202273747265616d222c202273657373696f6e223a20226b222c2022757365" +
        "726e616d65223a202275222c202264617465223a2022323032342d30312d30315430303a30303a30302e3030303030305a222c202276657273696f6e223a2022" +
        "352e33227d7b226d73675f6964223a20227031222c20226d73675f74797065223a2022657865637574655f72657175657374222c202273657373696f6e223a20" +
        "2263222c2022757365726e616d65223a202275222c202264617465223a2022323032342d30312d30315430303a30303a30302e3030303030305a222c20227665" +
        "7273696f6e223a2022352e33227d7b7d7b226e616d65223a20227374646f7574222c202274657874223a202268695c6e227d010203";

    // jupyter_server.base.zmqhandlers.serialize_binary_message({... the same message ..., 'channel': 'iopub', 'buffers': [b'\x01\x02\x03', b'xy']})
    private const string ServerLegacyBinaryFrame =
        "00000003000000100000018b0000018e7b22686561646572223a207b226d73675f6964223a20226d31222c20226d73675f74797065223a202273747265616d22" +
        "2c202273657373696f6e223a20226b222c2022757365726e616d65223a202275222c202264617465223a2022323032342d30312d30315430303a30303a30302e" +
        "3030303030305a222c202276657273696f6e223a2022352e33227d2c2022706172656e745f686561646572223a207b226d73675f6964223a20227031222c2022" +
        "6d73675f74797065223a2022657865637574655f72657175657374222c202273657373696f6e223a202263222c2022757365726e616d65223a202275222c2022" +
        "64617465223a2022323032342d30312d30315430303a30303a30302e3030303030305a222c202276657273696f6e223a2022352e33227d2c20226d6574616461" +
        "7461223a207b7d2c2022636f6e74656e74223a207b226e616d65223a20227374646f7574222c202274657874223a202268695c6e227d2c20226368616e6e656c" +
        "223a2022696f707562227d0102037879";

    [Fact]
    public void Decodes_the_servers_v1_frame()
    {
        Assert.True(KernelWire.TryDecodeV1(Convert.FromHexString(ServerV1Frame), out var message, out var error), error);
        AssertServerMessage(message!);
        Assert.Equal([1, 2, 3], Assert.Single(message!.Buffers).ToArray());
    }

    [Fact]
    public void Decodes_the_servers_legacy_binary_frame()
    {
        Assert.True(KernelWire.TryDecodeLegacyBinary(Convert.FromHexString(ServerLegacyBinaryFrame), out var message, out var error), error);
        AssertServerMessage(message!);
        Assert.Equal(2, message!.Buffers.Count);
        Assert.Equal([1, 2, 3], message.Buffers[0].ToArray());
        Assert.Equal("xy"u8.ToArray(), message.Buffers[1].ToArray());
    }

    [Fact]
    public void Decodes_a_legacy_text_frame_as_the_server_sends_it()
    {
        var text = """
            {"header": {"msg_id": "m1", "msg_type": "stream", "session": "k", "username": "u", "date": "2024-01-01T00:00:00.000000Z", "version": "5.3"},
             "msg_id": "m1", "msg_type": "stream",
             "parent_header": {"msg_id": "p1", "msg_type": "execute_request", "session": "c", "username": "u", "date": "2024-01-01T00:00:00.000000Z", "version": "5.3"},
             "metadata": {}, "content": {"name": "stdout", "text": "hi\n"}, "buffers": [], "channel": "iopub"}
            """;
        Assert.True(KernelWire.TryDecodeLegacyText(Encoding.UTF8.GetBytes(text), out var message, out var error), error);
        AssertServerMessage(message!);
        Assert.Empty(message!.Buffers);
    }

    [Fact]
    public void A_hand_built_v1_frame_from_the_spec_decodes()
    {
        // offset_number = 6 (no buffers): channel start, channel end, ends of header, parent, metadata, content.
        var parts = new[] { "shell", """{"msg_id":"a","msg_type":"kernel_info_request"}""", "{}", "{}", "{}" }.Select(Encoding.UTF8.GetBytes).ToList();
        var frame = new List<byte>();
        var offsets = new List<ulong> { 8 * 7 };
        foreach (var p in parts)
        {
            offsets.Add(offsets[^1] + (ulong)p.Length);
        }
        var table = new byte[8 * 7];
        BinaryPrimitives.WriteUInt64LittleEndian(table, 6);
        for (var i = 0; i < 6; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(table.AsSpan(8 * (i + 1)), offsets[i]);
        }
        frame.AddRange(table);
        parts.ForEach(frame.AddRange);

        Assert.True(KernelWire.TryDecodeV1(frame.ToArray(), out var message, out var error), error);
        Assert.Equal("shell", message!.Channel);
        Assert.Equal("kernel_info_request", message.MsgType);
        Assert.Null(message.ParentHeader);
        Assert.Equal(JsonValueKind.Object, message.Content.ValueKind);
    }

    [Fact]
    public void V1_round_trips_with_buffers_and_the_layout_matches_the_spec()
    {
        var original = Sample(buffers: [new byte[] { 9, 8, 7 }, Array.Empty<byte>(), "abc"u8.ToArray()]);
        var frame = KernelWire.EncodeV1(original);

        // The layout: 5 parts + 3 buffers = 8 parts → 9 offsets, the first right after the table.
        Assert.Equal(9UL, BinaryPrimitives.ReadUInt64LittleEndian(frame));
        Assert.Equal(8UL * 10, BinaryPrimitives.ReadUInt64LittleEndian(frame.AsSpan(8)));
        Assert.Equal((ulong)frame.Length, BinaryPrimitives.ReadUInt64LittleEndian(frame.AsSpan(8 * 9)));
        Assert.Equal("shell", Encoding.UTF8.GetString(frame, 80, 5));

        Assert.True(KernelWire.TryDecodeV1(frame, out var decoded, out var error), error);
        AssertSame(original, decoded!);
    }

    [Fact]
    public void Non_ascii_text_goes_out_as_utf8_not_escaped()
    {
        var text = KernelWire.EncodeLegacyText(Sample(buffers: []));
        Assert.Contains("print('héllo')", text);
    }

    [Fact]
    public void Legacy_text_and_binary_round_trip()
    {
        var plain = Sample(buffers: []);
        Assert.True(KernelWire.TryDecodeLegacyText(Encoding.UTF8.GetBytes(KernelWire.EncodeLegacyText(plain)), out var fromText, out var error), error);
        AssertSame(plain, fromText!);

        var withBuffers = Sample(buffers: ["xyz"u8.ToArray(), new byte[] { 0, 255 }]);
        var frame = KernelWire.EncodeLegacyBinary(withBuffers);
        Assert.Equal(3u, BinaryPrimitives.ReadUInt32BigEndian(frame));
        Assert.Equal(16u, BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(4)));
        Assert.True(KernelWire.TryDecodeLegacyBinary(frame, out var fromBinary, out error), error);
        AssertSame(withBuffers, fromBinary!);
    }

    public static TheoryData<string, string, string> MalformedV1 => new()
    {
        { "empty", "", "shorter than its 8-byte offset count" },
        { "short", "0700000000", "shorter than its 8-byte offset count" },
        { "too few offsets", "0200000000000000" + "1800000000000000" + "1800000000000000", "at least 6" },
        { "absurd offset count", "ffffffffffffffff" + new string('0', 96), "do not fit" },
        { "count larger than the frame", "6400000000000000" + new string('0', 96), "do not fit" },
        { "offset past the end", V1Table(6, 56, 57, 58, 59, 60, 9999) + "7368656c6c", "past the end" },
        { "offset into the table", V1Table(6, 8, 9, 10, 11, 12, 13) + "7368656c6c", "points into the offset table" },
        { "offsets going backwards", V1Table(6, 56, 60, 58, 61, 61, 61) + "7368656c6c", "is before offset" },
        { "header not JSON", V1Table(6, 56, 61, 62, 62, 62, 62) + "7368656c6c" + "7b", "header is not valid JSON" },
        { "channel not UTF-8", V1Table(6, 56, 57, 57, 57, 57, 57) + "ff", "not UTF-8" },
        { "content not UTF-8", V1Table(6, 56, 61, 63, 65, 67, 76) + "7368656c6c" + "7b7d7b7d7b7d" + "7b2261223a22ff227d", "content is not valid UTF-8" },
    };

    [Theory]
    [MemberData(nameof(MalformedV1))]
    public void Malformed_v1_frames_are_refused_with_a_reason(string what, string hex, string reason)
    {
        var ok = KernelWire.TryDecodeV1(Convert.FromHexString(hex), out var message, out var error);
        Assert.False(ok, what);
        Assert.Null(message);
        Assert.Contains(reason, error);
    }

    [Fact]
    public void A_v1_frame_with_a_header_lacking_msg_id_is_refused()
    {
        var frame = KernelWire.EncodeV1(Sample(buffers: []));
        var text = Encoding.Latin1.GetString(frame).Replace("\"msg_id\"", "\"msg_xx\"", StringComparison.Ordinal);
        Assert.False(KernelWire.TryDecodeV1(Encoding.Latin1.GetBytes(text), out _, out var error));
        Assert.Contains("msg_id and msg_type", error);
    }

    public static TheoryData<string, string, string> MalformedLegacyBinary => new()
    {
        { "empty", "", "too short" },
        { "no parts", "00000000" + "00000000", "no parts" },
        { "absurd count", "ffffffff" + "00000008", "do not fit" },
        { "offset past the end", "00000001" + "00001000", "past the end" },
        { "offset into the table", "00000002" + "00000004" + "0000000c" + "7b7d", "points into the offset table" },
        { "offsets going backwards", "00000002" + "0000000e" + "0000000c" + "7b7d7b7d", "is before offset" },
        { "json not an object", "00000001" + "00000008" + "5b5d", "not an object" },
        { "json missing the channel", "00000001" + "00000008" + "7b7d", "no channel" },
    };

    [Theory]
    [MemberData(nameof(MalformedLegacyBinary))]
    public void Malformed_legacy_binary_frames_are_refused_with_a_reason(string what, string hex, string reason)
    {
        var ok = KernelWire.TryDecodeLegacyBinary(Convert.FromHexString(hex), out var message, out var error);
        Assert.False(ok, what);
        Assert.Null(message);
        Assert.Contains(reason, error);
    }

    [Theory]
    [InlineData("", "not valid JSON")]
    [InlineData("{\"channel\":\"iopub\"", "not valid JSON")]
    [InlineData("{\"channel\":\"iopub\"} trailing", "not valid JSON")]
    [InlineData("{\"channel\":\"iopub\",\"header\":{}}", "msg_id and msg_type")]
    [InlineData("{\"channel\":\"iopub\",\"header\":{\"msg_id\":\"a\",\"msg_type\":\"b\"},\"content\":[1]}", "not an object")]
    [InlineData("{\"channel\":\"\",\"header\":{\"msg_id\":\"a\",\"msg_type\":\"b\"}}", "empty channel")]
    public void Malformed_legacy_text_is_refused_with_a_reason(string text, string reason)
    {
        Assert.False(KernelWire.TryDecodeLegacyText(Encoding.UTF8.GetBytes(text), out var message, out var error));
        Assert.Null(message);
        Assert.Contains(reason, error);
    }

    [Fact]
    public void A_legacy_text_frame_larger_than_the_pooled_parse_limit_decodes_copied_or_in_place()
    {
        var big = new string('x', KernelWire.PooledParseLimit * 3) + "\\u00e9\\n"; // escaped in the JSON
        var text = $$"""
            {"header": {"msg_id": "m1", "msg_type": "stream", "session": "k", "username": "u", "date": "2024-01-01T00:00:00.000000Z", "version": "5.3"},
             "parent_header": {"msg_id": "p1", "msg_type": "execute_request", "session": "c", "username": "u", "date": "2024-01-01T00:00:00.000000Z", "version": "5.3"},
             "metadata": {}, "content": {"name": "stdout", "text": "{{big}}"}, "buffers": [], "channel": "iopub"}
            """;
        var bytes = Encoding.UTF8.GetBytes(text);
        Assert.True(KernelWire.TryDecodeLegacyText(bytes, out var copied, out var error), error);
        Assert.True(KernelWire.TryDecodeLegacyText(bytes, bytes, out var inPlace, out error), error);
        foreach (var message in new[] { copied!, inPlace! })
        {
            Assert.Equal("stream", message.MsgType);
            Assert.Equal("p1", message.ParentMsgId);
            var decoded = message.Content.GetProperty("text").GetString()!;
            Assert.Equal(KernelWire.PooledParseLimit * 3 + 2, decoded.Length);
            Assert.EndsWith("\u00e9\n", decoded, StringComparison.Ordinal);
        }
        // Bytes that are not the frame's own are never parsed in place.
        Assert.True(KernelWire.TryDecodeLegacyText(bytes, new byte[10], out var fallback, out error), error);
        Assert.Equal("m1", fallback!.Header.MsgId);
    }

    [Theory]
    [InlineData("truncated")]
    [InlineData("trailing")]
    [InlineData("invalid utf-8")]
    [InlineData("not an object")]
    public void A_malformed_legacy_text_frame_larger_than_the_pooled_parse_limit_is_refused_with_a_reason(string damage)
    {
        var body = $"{{\"channel\":\"iopub\",\"header\":{{\"msg_id\":\"a\",\"msg_type\":\"stream\"}},\"content\":{{\"text\":\"{new string('y', KernelWire.PooledParseLimit * 2)}\"}}}}";
        var bytes = damage switch
        {
            "truncated" => Encoding.UTF8.GetBytes(body[..^3]),
            "trailing" => Encoding.UTF8.GetBytes(body + " {}"),
            "invalid utf-8" => [.. Encoding.UTF8.GetBytes(body[..^4]), 0xC3, 0x28, (byte)'"', (byte)'}', (byte)'}'],
            _ => Encoding.UTF8.GetBytes($"[{body}]"),
        };
        foreach (var owned in new[] { ReadOnlyMemory<byte>.Empty, bytes })
        {
            Assert.False(KernelWire.TryDecodeLegacyText(bytes, owned, out var message, out var error));
            Assert.Null(message);
            Assert.Contains(damage switch { "invalid utf-8" => "UTF-8", "not an object" => "not an object", _ => "JSON" }, error);
        }
    }

    [Fact]
    public void Random_and_truncated_frames_never_throw()
    {
        var random = new Random(1234);
        var good = KernelWire.EncodeV1(Sample(buffers: [new byte[] { 1, 2 }]));
        var goodLegacy = KernelWire.EncodeLegacyBinary(Sample(buffers: [new byte[] { 1, 2 }]));
        for (var i = 0; i < 5000; i++)
        {
            var bytes = new byte[random.Next(0, 200)];
            random.NextBytes(bytes);
            if (i % 3 == 0 && bytes.Length >= 8)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)random.Next(0, 12));
            }
            KernelWire.TryDecodeV1(bytes, out _, out _);
            KernelWire.TryDecodeLegacyBinary(bytes, out _, out _);
            KernelWire.TryDecodeLegacyText(bytes, out _, out _);

            // A good frame cut short or with one byte flipped.
            var cut = good[..random.Next(0, good.Length)];
            Assert.False(KernelWire.TryDecodeV1(cut, out _, out _));
            var flipped = (byte[])(i % 2 == 0 ? good : goodLegacy).Clone();
            flipped[random.Next(flipped.Length)] ^= (byte)random.Next(1, 256);
            KernelWire.TryDecodeV1(flipped, out _, out _);
            KernelWire.TryDecodeLegacyBinary(flipped, out _, out _);
        }
    }

    private static string V1Table(params ulong[] values)
    {
        var table = new byte[8 * values.Length];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(table.AsSpan(8 * i), values[i]);
        }
        return Convert.ToHexString(table);
    }

    private static KernelMessage Sample(ReadOnlyMemory<byte>[] buffers)
    {
        using var content = JsonDocument.Parse("""{"code":"print('héllo')","silent":false,"user_expressions":{},"nested":{"a":[1,2.5,null,true]}}""");
        using var metadata = JsonDocument.Parse("""{"deletedCells":[],"cellId":"c-1"}""");
        return new KernelMessage
        {
            Channel = "shell",
            Header = KernelHeader.Create("execute_request", "session-1", "colab"),
            ParentHeader = KernelHeader.Create("kernel_info_request", "session-0", "someone"),
            Metadata = metadata.RootElement.Clone(),
            Content = content.RootElement.Clone(),
            Buffers = buffers,
        };
    }

    private static void AssertSame(KernelMessage expected, KernelMessage actual)
    {
        Assert.Equal(expected.Channel, actual.Channel);
        Assert.Equal(expected.Header, actual.Header);
        Assert.Equal(expected.ParentHeader, actual.ParentHeader);
        Assert.True(JsonElement.DeepEquals(expected.Metadata, actual.Metadata), actual.Metadata.GetRawText());
        Assert.True(JsonElement.DeepEquals(expected.Content, actual.Content), actual.Content.GetRawText());
        Assert.Equal(expected.Buffers.Count, actual.Buffers.Count);
        for (var i = 0; i < expected.Buffers.Count; i++)
        {
            Assert.Equal(expected.Buffers[i].ToArray(), actual.Buffers[i].ToArray());
        }
    }

    private static void AssertServerMessage(KernelMessage message)
    {
        Assert.Equal("iopub", message.Channel);
        Assert.Equal("stream", message.MsgType);
        Assert.Equal("m1", message.Header.MsgId);
        Assert.Equal("k", message.Header.Session);
        Assert.Equal("p1", message.ParentMsgId);
        Assert.Equal("execute_request", message.ParentHeader!.MsgType);
        Assert.Equal("stdout", message.Content.GetProperty("name").GetString());
        Assert.Equal("hi\n", message.Content.GetProperty("text").GetString());
    }
}
