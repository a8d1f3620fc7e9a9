using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Colab.Daemon.GitHub;

/// <summary>
/// Turns fetched bytes into nbformat 4 JSON text or a message naming what is wrong: a Git LFS
/// pointer, an HTML page, invalid JSON, not a notebook, or an nbformat that cannot be upgraded.
/// A v4 notebook is returned as fetched (no re-serialisation); v3 is upgraded as nbformat's
/// own v3→v4 converter does.
/// </summary>
public static class NotebookCheck
{
    /// <summary>The notebook as UTF-8 JSON (for v4, a slice of the fetched bytes, not a copy) and a note for the user.</summary>
    public sealed record Checked(ReadOnlyMemory<byte> Utf8, string? Note);

    public static Checked Check(ReadOnlyMemory<byte> memory, string name)
    {
        if (memory.Span.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            memory = memory[3..];
        }
        var head = Encoding.UTF8.GetString(memory.Span[..Math.Min(memory.Length, 512)]).TrimStart();
        if (head.StartsWith("version https://git-lfs.github.com/spec/", StringComparison.Ordinal))
        {
            throw Bad($"{name} is a Git LFS pointer, not the notebook: the repository stores it with Git LFS, which this does not download. Clone the repository with git-lfs installed instead.");
        }
        if (head.StartsWith("<!DOCTYPE html", StringComparison.OrdinalIgnoreCase) || head.StartsWith("<html", StringComparison.OrdinalIgnoreCase)
            || head.StartsWith("<?xml", StringComparison.OrdinalIgnoreCase) || head.StartsWith("<head", StringComparison.OrdinalIgnoreCase))
        {
            throw Bad($"{name} came back as an HTML page, not notebook JSON (a login or error page, or a link to a web page rather than a file).");
        }
        if (memory.IsEmpty || head.Length == 0)
        {
            throw Bad($"{name} is empty.");
        }
        // The bytes are forwarded to the client as they are, so they must be UTF-8; text with broken
        // sequences is decoded with replacement characters (as a text editor would) and re-encoded.
        if (!System.Text.Unicode.Utf8.IsValid(memory.Span))
        {
            memory = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(memory.Span));
        }
        var scan = Scan(memory.Span, name);
        if (!scan.IsObject || scan.Nbformat is not int major)
        {
            throw Bad($"{name} is JSON but not a Jupyter notebook (no \"nbformat\" number).");
        }
        switch (major)
        {
            case 4:
                if (scan.V4Problem is { } problem)
                {
                    throw Bad($"{name} is not a valid nbformat 4 notebook: {problem}");
                }
                return new Checked(memory, null);
            case 3:
                using (var doc = JsonDocument.Parse(memory, new JsonDocumentOptions { MaxDepth = MaxDepth }))
                {
                    return new Checked(Encoding.UTF8.GetBytes(UpgradeV3(doc.RootElement, name)), $"{name} was nbformat 3; it was upgraded to nbformat 4 for the editor.");
                }
            case < 3:
                throw Bad($"{name} is nbformat {major}, too old to upgrade safely (only nbformat 3 and 4 are read); convert it with `jupyter nbconvert --to notebook` first.");
            default:
                throw Bad($"{name} is nbformat {major}, newer than the nbformat 4 this reads.");
        }
    }

    private const int MaxDepth = 256;

    private readonly record struct Scanned(bool IsObject, int? Nbformat, string? V4Problem);

    /// <summary>
    /// One <see cref="Utf8JsonReader"/> pass over the whole text: checks it is valid JSON (no
    /// document is built) and collects the nbformat number and the first nbformat 4 problem of
    /// the top-level "cells" and "metadata" (the last of a repeated key counts, as in
    /// <see cref="JsonDocument"/>). The problem is only reported for a v4 notebook.
    /// </summary>
    private static Scanned Scan(ReadOnlySpan<byte> json, string name)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = MaxDepth });
        try
        {
            // With the whole text at hand the reader itself rejects anything after the root value.
            reader.Read();
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                reader.Skip();
                reader.Read();
                return new Scanned(false, null, null);
            }
            const string CellsMissing = "\"cells\" is missing or not a list.";
            int? nbformat = null;
            string? cellsProblem = CellsMissing;
            string? metadataProblem = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("nbformat"u8))
                {
                    reader.Read();
                    nbformat = reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var n) ? n : null;
                    reader.Skip();
                }
                else if (reader.ValueTextEquals("metadata"u8))
                {
                    reader.Read();
                    metadataProblem = reader.TokenType == JsonTokenType.StartObject ? null : "\"metadata\" is not an object.";
                    reader.Skip();
                }
                else if (reader.ValueTextEquals("cells"u8))
                {
                    reader.Read();
                    cellsProblem = reader.TokenType == JsonTokenType.StartArray ? ScanCells(ref reader) : CellsMissing;
                    if (reader.TokenType != JsonTokenType.EndArray)
                    {
                        reader.Skip();
                    }
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
            reader.Read();
            // The order of the checks that built a JsonDocument: cells missing, metadata, then the cells.
            return new Scanned(true, nbformat, cellsProblem == CellsMissing ? cellsProblem : metadataProblem ?? cellsProblem);
        }
        catch (JsonException e)
        {
            throw Bad($"{name} is not valid JSON (line {(e.LineNumber ?? 0) + 1}, byte {(e.BytePositionInLine ?? 0) + 1}); it may be truncated or not a notebook.");
        }
    }

    /// <summary>Reads the cells array (the reader is on its StartArray) to its EndArray; the first problem, or null.</summary>
    private static string? ScanCells(ref Utf8JsonReader reader)
    {
        string? problem = null;
        var i = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                problem ??= $"cell {i} has no cell_type.";
                reader.Skip();
                i++;
                continue;
            }
            string? type = null;
            var typeIsString = false;
            JsonTokenType? source = null;
            JsonTokenType? outputs = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("cell_type"u8))
                {
                    reader.Read();
                    typeIsString = reader.TokenType == JsonTokenType.String;
                    type = !typeIsString ? null
                        : reader.ValueTextEquals("code"u8) ? "code" : reader.ValueTextEquals("markdown"u8) ? "markdown" : reader.ValueTextEquals("raw"u8) ? "raw"
                        : problem is null ? reader.GetString() : "?";
                    reader.Skip();
                }
                else if (reader.ValueTextEquals("source"u8))
                {
                    reader.Read();
                    source = reader.TokenType;
                    reader.Skip();
                }
                else if (reader.ValueTextEquals("outputs"u8))
                {
                    reader.Read();
                    outputs = reader.TokenType;
                    reader.Skip();
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
            if (problem is null)
            {
                if (!typeIsString)
                {
                    problem = $"cell {i} has no cell_type.";
                }
                else if (type is not ("code" or "markdown" or "raw"))
                {
                    problem = $"cell {i} has cell_type \"{type}\".";
                }
                else if (source is not (JsonTokenType.String or JsonTokenType.StartArray))
                {
                    problem = $"cell {i} has no source.";
                }
                else if (type == "code" && outputs is { } o && o != JsonTokenType.StartArray)
                {
                    problem = $"the outputs of cell {i} are not a list.";
                }
            }
            i++;
        }
        return problem;
    }

    private static readonly Dictionary<string, string> s_v3Mime = new()
    {
        ["text"] = "text/plain", ["html"] = "text/html", ["svg"] = "image/svg+xml", ["png"] = "image/png",
        ["jpeg"] = "image/jpeg", ["latex"] = "text/latex", ["json"] = "application/json", ["javascript"] = "application/javascript",
        ["pdf"] = "application/pdf",
    };

    /// <summary>nbformat.v4.convert.upgrade: worksheets → cells, input → source, pyout/pyerr → execute_result/error, short mime keys.</summary>
    private static string UpgradeV3(JsonElement root, string name)
    {
        if (!root.TryGetProperty("worksheets", out var sheets) || sheets.ValueKind != JsonValueKind.Array)
        {
            throw Bad($"{name} says nbformat 3 but has no worksheets; it cannot be upgraded.");
        }
        var cells = new JsonArray();
        foreach (var sheet in sheets.EnumerateArray())
        {
            if (sheet.ValueKind != JsonValueKind.Object || !sheet.TryGetProperty("cells", out var sc) || sc.ValueKind != JsonValueKind.Array)
            {
                throw Bad($"{name} has a worksheet without cells; it cannot be upgraded safely.");
            }
            foreach (var cell in sc.EnumerateArray())
            {
                cells.Add((JsonNode)UpgradeCell(cell, name));
            }
        }
        var metadata = root.TryGetProperty("metadata", out var md) && md.ValueKind == JsonValueKind.Object
            ? JsonNode.Parse(md.GetRawText())!.AsObject() : new JsonObject();
        metadata.Remove("name");
        metadata.Remove("signature");
        var nb = new JsonObject
        {
            ["cells"] = cells,
            ["metadata"] = metadata,
            ["nbformat"] = 4,
            ["nbformat_minor"] = 0,
        };
        return nb.ToJsonString();
    }

    private static JsonObject UpgradeCell(JsonElement cell, string name)
    {
        if (cell.ValueKind != JsonValueKind.Object || !cell.TryGetProperty("cell_type", out var typeEl) || typeEl.ValueKind != JsonValueKind.String)
        {
            throw Bad($"{name} has an nbformat 3 cell without a cell_type; it cannot be upgraded safely.");
        }
        var type = typeEl.GetString();
        var metadata = cell.TryGetProperty("metadata", out var md) && md.ValueKind == JsonValueKind.Object ? JsonNode.Parse(md.GetRawText())! : new JsonObject();
        switch (type)
        {
            case "code":
                var outputs = new JsonArray();
                if (cell.TryGetProperty("outputs", out var outs) && outs.ValueKind == JsonValueKind.Array)
                {
                    foreach (var o in outs.EnumerateArray())
                    {
                        outputs.Add((JsonNode)UpgradeOutput(o, name));
                    }
                }
                return new JsonObject
                {
                    ["cell_type"] = "code",
                    ["execution_count"] = cell.TryGetProperty("prompt_number", out var pn) && pn.ValueKind == JsonValueKind.Number ? pn.GetInt32() : null,
                    ["metadata"] = metadata,
                    ["outputs"] = outputs,
                    ["source"] = Text(cell, "input"),
                };
            case "heading":
                var level = cell.TryGetProperty("level", out var lv) && lv.ValueKind == JsonValueKind.Number ? Math.Clamp(lv.GetInt32(), 1, 6) : 1;
                var text = string.Join(' ', Text(cell, "source").Split('\n', StringSplitOptions.RemoveEmptyEntries));
                return new JsonObject { ["cell_type"] = "markdown", ["metadata"] = metadata, ["source"] = new string('#', level) + " " + text };
            case "markdown" or "raw":
                return new JsonObject { ["cell_type"] = type, ["metadata"] = metadata, ["source"] = Text(cell, "source") };
            default:
                throw Bad($"{name} has an nbformat 3 cell of type \"{type}\"; it cannot be upgraded safely.");
        }
    }

    private static JsonObject UpgradeOutput(JsonElement o, string name)
    {
        if (o.ValueKind != JsonValueKind.Object || !o.TryGetProperty("output_type", out var t) || t.ValueKind != JsonValueKind.String)
        {
            throw Bad($"{name} has an nbformat 3 output without an output_type; it cannot be upgraded safely.");
        }
        switch (t.GetString())
        {
            case "stream":
                return new JsonObject
                {
                    ["output_type"] = "stream",
                    ["name"] = o.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : "stdout",
                    ["text"] = Text(o, "text"),
                };
            case "pyerr" or "error":
                var tb = new JsonArray();
                if (o.TryGetProperty("traceback", out var tr) && tr.ValueKind == JsonValueKind.Array)
                {
                    foreach (var line in tr.EnumerateArray())
                    {
                        tb.Add((JsonNode?)JsonValue.Create(line.ValueKind == JsonValueKind.String ? line.GetString() : line.GetRawText()));
                    }
                }
                return new JsonObject
                {
                    ["output_type"] = "error",
                    ["ename"] = Str(o, "ename"),
                    ["evalue"] = Str(o, "evalue"),
                    ["traceback"] = tb,
                };
            case "pyout" or "execute_result" or "display_data":
                var data = new JsonObject();
                foreach (var p in o.EnumerateObject())
                {
                    var mime = s_v3Mime.GetValueOrDefault(p.Name) ?? (p.Name.Contains('/') ? p.Name : null);
                    if (mime is not null)
                    {
                        data[mime] = p.Value.ValueKind == JsonValueKind.Array ? Text(o, p.Name) : JsonNode.Parse(p.Value.GetRawText());
                    }
                }
                var result = new JsonObject
                {
                    ["output_type"] = t.GetString() == "display_data" ? "display_data" : "execute_result",
                    ["data"] = data,
                    ["metadata"] = o.TryGetProperty("metadata", out var md) && md.ValueKind == JsonValueKind.Object ? JsonNode.Parse(md.GetRawText()) : new JsonObject(),
                };
                if (t.GetString() != "display_data")
                {
                    result["execution_count"] = o.TryGetProperty("prompt_number", out var pn) && pn.ValueKind == JsonValueKind.Number ? pn.GetInt32() : null;
                }
                return result;
            default:
                throw Bad($"{name} has an nbformat 3 output of type \"{t.GetString()}\"; it cannot be upgraded safely.");
        }
    }

    private static string Str(JsonElement o, string key) => o.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "";

    /// <summary>A multiline field: a string or a list of strings.</summary>
    private static string Text(JsonElement o, string key)
    {
        if (!o.TryGetProperty(key, out var v))
        {
            return "";
        }
        return v.ValueKind switch
        {
            JsonValueKind.String => v.GetString()!,
            JsonValueKind.Array => string.Concat(v.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? e.GetString() : "")),
            _ => "",
        };
    }

    private static GitHubException Bad(string message) => new(GitHubErrorKind.BadNotebook, message);
}
