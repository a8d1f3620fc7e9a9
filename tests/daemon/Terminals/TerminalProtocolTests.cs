using System.Text.Json;
using Colab.Daemon.Protocol;
using Colab.Daemon.Tests.Infrastructure;
using Colab.Daemon.Tests.Runtimes;

namespace Colab.Daemon.Tests.Terminals;

/// <summary>The terminal and file methods over the real daemon process (stdio JSON-RPC) with a real local runtime.</summary>
public sealed class TerminalProtocolTests : IAsyncLifetime
{
    private readonly TempWorkspace _workspace = new();
    private DaemonProcess _d = null!;
    private string _runtimeId = "";

    public async Task InitializeAsync()
    {
        var python = await DebianPython.RequireAsync();
        _d = RuntimeDaemonFixture.StartDaemon(python, _workspace.Path);
        await _d.InitializeAsync();
        var runtime = RuntimeProtocolTests.Result(await _d.RequestAsync(Methods.RuntimeConnect, $$"""{"kind":"local","root":{{Frames.Str(_workspace.Path)}}}"""));
        _runtimeId = runtime.GetProperty("id").GetString()!;
    }

    public async Task DisposeAsync()
    {
        await _d.DisposeAsync();
        _workspace.Dispose();
    }

    [Fact]
    public async Task A_terminal_opened_over_the_protocol_streams_output_as_notifications()
    {
        var info = RuntimeProtocolTests.Result(await _d.RequestAsync(Methods.TerminalOpen, $$"""{"runtimeId":"{{_runtimeId}}","rows":24,"cols":80}"""));
        var id = info.GetProperty("terminalId").GetString()!;
        RuntimeProtocolTests.Result(await _d.RequestAsync(Methods.TerminalInput, $$"""{"terminalId":"{{id}}","data":"echo wire=$((20+22))\r"}"""));
        var text = "";
        await _d.Client.WaitForAsync(m =>
        {
            if (TestClient.IsNotification(m, Methods.TerminalOutput) && m.GetProperty("params").GetProperty("terminalId").GetString() == id)
            {
                text += m.GetProperty("params").GetProperty("data").GetString();
            }
            return text.Contains("wire=42", StringComparison.Ordinal);
        }, "wire=42 in colab/terminal/output");

        RuntimeProtocolTests.Result(await _d.RequestAsync(Methods.TerminalClose, $$"""{"terminalId":"{{id}}"}"""));
        var closed = await _d.Client.WaitForAsync(m => TestClient.IsNotification(m, Methods.TerminalClosed), "colab/terminal/closed");
        Assert.Equal(id, closed.GetProperty("params").GetProperty("terminalId").GetString());

        var gone = await _d.RequestAsync(Methods.TerminalInput, $$"""{"terminalId":"{{id}}","data":"x"}""");
        Assert.Equal(ErrorCodes.InvalidParams, TestClient.ErrorCode(gone));
    }

    [Fact]
    public async Task Hostile_paths_and_existing_targets_get_their_codes_and_nothing_is_written()
    {
        var local = Path.Combine(_workspace.Path, "in.txt");
        await File.WriteAllTextAsync(local, "mine");
        var hostile = await _d.RequestAsync(Methods.FilesUpload, $$"""{"runtimeId":"{{_runtimeId}}","localPath":{{Frames.Str(local)}},"remotePath":"../../etc/x"}""");
        Assert.Equal(ErrorCodes.InvalidParams, TestClient.ErrorCode(hostile));
        Assert.Contains("contains '..'", TestClient.ErrorMessage(hostile));

        var exists = await _d.RequestAsync(Methods.FilesUpload, $$"""{"runtimeId":"{{_runtimeId}}","localPath":{{Frames.Str(local)}},"remotePath":"in.txt"}""");
        Assert.Equal(ErrorCodes.TargetExists, TestClient.ErrorCode(exists));
        Assert.Equal("mine", await File.ReadAllTextAsync(local));

        var up = RuntimeProtocolTests.Result(await _d.RequestAsync(Methods.FilesUpload, $$"""{"runtimeId":"{{_runtimeId}}","localPath":{{Frames.Str(local)}},"remotePath":"copy/in.txt"}"""));
        Assert.Equal(1, up.GetProperty("files").GetInt32());
        Assert.Equal("mine", await File.ReadAllTextAsync(Path.Combine(_workspace.Path, "copy", "in.txt")));
        // The daemon asked for a progress token and reported on it.
        await _d.Client.WaitForAsync(m => TestClient.IsNotification(m, Methods.Progress), "$/progress for the upload");

        var listed = RuntimeProtocolTests.Result(await _d.RequestAsync(Methods.FilesList, $$"""{"runtimeId":"{{_runtimeId}}","path":"copy"}"""));
        Assert.Equal("in.txt", listed.GetProperty("entries")[0].GetProperty("name").GetString());
        Assert.Equal(JsonValueKind.Number, listed.GetProperty("entries")[0].GetProperty("size").ValueKind);
    }
}
