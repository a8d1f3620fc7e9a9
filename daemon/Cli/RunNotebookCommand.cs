using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Colab.Daemon.Hosting;
using Colab.Daemon.Runtimes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Colab.Daemon.Cli;

/// <summary>
/// <c>colab run notebook.ipynb</c>: runs every code cell in order on a fresh kernel (a local
/// runtime, or <c>--url</c> — a URL or a remembered runtime's id — with the token from <c>COLAB_RUNTIME_TOKEN</c>), writes the outputs and
/// execution counts back into the notebook (nbformat 4; everything else — metadata, markdown cells,
/// ids — kept as it was), and stops at the first cell that fails. Exit codes: 0 all cells ran,
/// 1 a cell failed (its error is printed) or the runtime failed, 2 the file is not a notebook.
/// </summary>
internal static partial class RunNotebookCommand
{
    public const int ExitInvalidNotebook = 2;

    public static Command Create(TextWriter output)
    {
        var url = new Option<string?>("--url") { Description = "A Jupyter server (URL, or the id of one remembered by colab runtime connect) to run on (default: a fresh local runtime); its token comes from COLAB_RUNTIME_TOKEN." };
        var kernel = new Option<string?>("--kernel") { Description = "The kernel spec name (default: the server's default kernel)." };
        var timeout = new Option<double>("--cell-timeout") { Description = "Seconds one cell may run before it is interrupted and counts as failed (0 = no limit).", DefaultValueFactory = _ => 0 };
        var path = new Argument<string>("notebook") { Description = "The .ipynb file; its outputs are replaced." };
        var run = new Command("run", "Run all code cells of a notebook on a fresh kernel and write the outputs back into it. Exit code 1 when a cell fails.") { url, kernel, timeout, path };
        run.SetAction(async (parse, ct) => await RunAsync(parse.GetValue(path)!, parse.GetValue(url), parse.GetValue(kernel), parse.GetValue(timeout), output, ct).ConfigureAwait(false));
        return run;
    }

    public static async Task<int> RunAsync(string path, string? url, string? kernelName, double cellTimeoutSeconds, TextWriter output, CancellationToken cancellationToken)
    {
        JsonObject notebook;
        try
        {
            notebook = ReadNotebook(path);
        }
        catch (InvalidDataException e)
        {
            await Console.Error.WriteLineAsync($"colab run: {e.Message}").ConfigureAwait(false);
            return ExitInvalidNotebook;
        }

        using var host = DaemonHost.CreateBuilder([], LogLevel.Warning).Build();
        var runtimes = host.Services.GetRequiredService<RuntimeManager>();
        var failed = false;
        try
        {
            var runtime = url is null
                ? await runtimes.ConnectLocalAsync(Path.GetDirectoryName(Path.GetFullPath(path)), cancellationToken).ConfigureAwait(false)
                : await runtimes.ConnectRemoteAsync(RuntimeStateCommands.Resolve(url), Environment.GetEnvironmentVariable(RuntimeStateCommands.TokenVariable) is { Length: > 0 } t ? t : null, cancellationToken).ConfigureAwait(false);
            var started = await runtimes.StartKernelAsync(runtime.Id, kernelName, cancellationToken: cancellationToken).ConfigureAwait(false);
            var kernel = await runtimes.OpenKernelAsync(runtime.Id, started.Id, cancellationToken).ConfigureAwait(false);
            var cells = (JsonArray)notebook["cells"]!;
            var number = 0;
            foreach (var node in cells)
            {
                if (node is not JsonObject cell || (string?)cell["cell_type"] != "code")
                {
                    continue;
                }
                number++;
                var code = Source(cell["source"]);
                var outputs = new JsonArray();
                cell["outputs"] = outputs;
                cell["execution_count"] = null;
                if (string.IsNullOrWhiteSpace(code))
                {
                    continue;
                }
                await output.WriteLineAsync($"[{number}] {FirstLine(code)}").ConfigureAwait(false);
                var (status, count, error) = await RunCellAsync(kernel, code, outputs, cellTimeoutSeconds, cancellationToken).ConfigureAwait(false);
                cell["execution_count"] = count;
                if (status != "ok")
                {
                    failed = true;
                    await Console.Error.WriteLineAsync($"colab run: cell {number} failed{(error is null ? $" ({status})" : "")}:").ConfigureAwait(false);
                    if (error is not null)
                    {
                        await Console.Error.WriteLineAsync(error).ConfigureAwait(false);
                    }
                    break;
                }
            }
        }
        catch (JupyterException e)
        {
            await Console.Error.WriteLineAsync($"colab run: {e.Message}").ConfigureAwait(false);
            failed = true;
        }
        finally
        {
            await runtimes.DisposeAsync().ConfigureAwait(false);
        }
        WriteNotebook(path, notebook);
        await output.WriteLineAsync(failed ? $"colab run: stopped; the outputs so far are in {path}" : $"colab run: all cells ran; outputs written to {path}").ConfigureAwait(false);
        return failed ? CommandLine.ExitFailure : CommandLine.ExitOk;
    }

    /// <summary>Reads and checks a notebook: valid JSON, nbformat 4, a list of cells. Anything else is <see cref="InvalidDataException"/> with a message for people.</summary>
    internal static JsonObject ReadNotebook(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new InvalidDataException($"cannot read {path}: {e.Message}");
        }
        JsonNode? parsed;
        try
        {
            parsed = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { MaxDepth = 256 });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} is not a notebook: invalid JSON (line {(e.LineNumber ?? 0) + 1}: {e.Message.Split(" Path:")[0]})");
        }
        if (parsed is not JsonObject notebook)
        {
            throw new InvalidDataException($"{path} is not a notebook: the top level is not a JSON object");
        }
        if (notebook["nbformat"] is not JsonValue format || !format.TryGetValue<int>(out var major) || major != 4)
        {
            throw new InvalidDataException($"{path} is not an nbformat 4 notebook (nbformat is {notebook["nbformat"]?.ToJsonString() ?? "missing"}); open and save it in Jupyter to upgrade it");
        }
        if (notebook["cells"] is not JsonArray cells)
        {
            throw new InvalidDataException($"{path} is not a notebook: \"cells\" is missing or not a list");
        }
        for (var i = 0; i < cells.Count; i++)
        {
            if (cells[i] is not JsonObject cell || cell["cell_type"] is not JsonValue type || !type.TryGetValue<string>(out _))
            {
                throw new InvalidDataException($"{path} is not a notebook: cell {i + 1} has no cell_type");
            }
            if ((string?)cell["cell_type"] == "code" && cell["source"] is not (JsonValue or JsonArray))
            {
                throw new InvalidDataException($"{path} is not a notebook: code cell {i + 1} has no source");
            }
        }
        return notebook;
    }

    /// <summary>Writes the notebook as Jupyter does (one-space indent, trailing newline), through a temporary file so a failure never leaves half a notebook.</summary>
    internal static void WriteNotebook(string path, JsonObject notebook)
    {
        var temp = $"{path}.colab-{Environment.ProcessId}.tmp";
        using (var file = File.Create(temp))
        {
            using (var writer = new Utf8JsonWriter(file, new JsonWriterOptions { Indented = true, IndentSize = 1, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            {
                notebook.WriteTo(writer);
            }
            file.WriteByte((byte)'\n');
        }
        File.Move(temp, path, overwrite: true);
    }

    private static async Task<(string Status, int? Count, string? Error)> RunCellAsync(KernelConnection kernel, string code, JsonArray outputs, double timeoutSeconds, CancellationToken cancellationToken)
    {
        using var timeout = timeoutSeconds > 0 ? new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds)) : new CancellationTokenSource();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var execution = await kernel.ExecuteAsync(code, new ExecuteOptions { StopOnError = true }, linked.Token).ConfigureAwait(false);
        var displays = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        var clearPending = false;
        string? error = null;
        try
        {
            await foreach (var o in execution.ReadOutputsAsync(linked.Token).ConfigureAwait(false))
            {
                if (o is ClearOutput clear)
                {
                    if (clear.Wait)
                    {
                        clearPending = true;
                    }
                    else
                    {
                        outputs.Clear();
                    }
                    continue;
                }
                if (o is UpdateDisplayDataOutput update)
                {
                    if (update.DisplayId is { } id && displays.TryGetValue(id, out var shown))
                    {
                        shown["data"] = Bundle(update.Data);
                        shown["metadata"] = Metadata(update.Metadata);
                    }
                    continue;
                }
                var node = ToNbformat(o);
                if (node is null)
                {
                    continue;
                }
                if (clearPending)
                {
                    outputs.Clear();
                    clearPending = false;
                }
                if (o is StreamOutput stream && outputs.Count > 0 && outputs[^1] is JsonObject last
                    && (string?)last["output_type"] == "stream" && (string?)last["name"] == stream.Name)
                {
                    last["text"] = (string?)last["text"] + stream.Text; // consecutive prints are one output, as Jupyter saves them
                    continue;
                }
                if (o is DisplayDataOutput { DisplayId: { } displayId })
                {
                    displays[displayId] = node;
                }
                if (o is ErrorOutput e)
                {
                    error = AnsiEscape().Replace(string.Join('\n', e.Traceback), "");
                    if (error.Length == 0)
                    {
                        error = $"{e.Ename}: {e.Evalue}";
                    }
                }
                outputs.Add((JsonNode)node);
            }
            var reply = await execution.Completion.WaitAsync(linked.Token).ConfigureAwait(false);
            return (reply.Status, reply.ExecutionCount, error);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            using var interrupt = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await kernel.InterruptAsync(interrupt.Token).ConfigureAwait(false);
            var message = $"the cell ran longer than {timeoutSeconds} s and was interrupted";
            outputs.Add((JsonNode)new JsonObject { ["output_type"] = "error", ["ename"] = "TimeoutError", ["evalue"] = message, ["traceback"] = new JsonArray(JsonValue.Create(message)) });
            return ("error", null, message);
        }
    }

    private static JsonObject? ToNbformat(KernelOutput o) => o switch
    {
        StreamOutput s => new JsonObject { ["output_type"] = "stream", ["name"] = s.Name, ["text"] = s.Text },
        ExecuteResultOutput r => new JsonObject { ["output_type"] = "execute_result", ["execution_count"] = r.ExecutionCount, ["data"] = Bundle(r.Data), ["metadata"] = Metadata(r.Metadata) },
        DisplayDataOutput d => new JsonObject { ["output_type"] = "display_data", ["data"] = Bundle(d.Data), ["metadata"] = Metadata(d.Metadata) },
        ErrorOutput e => new JsonObject { ["output_type"] = "error", ["ename"] = e.Ename, ["evalue"] = e.Evalue, ["traceback"] = new JsonArray([.. e.Traceback.Select(t => (JsonNode?)JsonValue.Create(t))]) },
        _ => null,
    };

    private static JsonObject Bundle(IReadOnlyDictionary<string, JsonElement> data)
    {
        var bundle = new JsonObject();
        foreach (var (mime, value) in data)
        {
            bundle[mime] = JsonNode.Parse(value.GetRawText());
        }
        return bundle;
    }

    private static JsonObject Metadata(JsonElement metadata)
        => metadata.ValueKind == JsonValueKind.Object ? (JsonObject)JsonNode.Parse(metadata.GetRawText())! : [];

    /// <summary>nbformat's source is a string or a list of lines.</summary>
    private static string Source(JsonNode? source) => source switch
    {
        JsonArray lines => string.Concat(lines.Select(l => l is JsonValue v && v.TryGetValue<string>(out var s) ? s : "")),
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        _ => "",
    };

    private static string FirstLine(string code)
    {
        var line = code.TrimStart().Split('\n', 2)[0];
        return line.Length > 60 ? line[..60] + "…" : line;
    }

    [GeneratedRegex(@"\x1b\[[0-9;]*[A-Za-z]")]
    private static partial Regex AnsiEscape();
}
