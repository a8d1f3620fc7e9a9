using System.Text.Json.Nodes;
using Colab.Daemon.Tests.Infrastructure;

namespace Colab.Daemon.Tests.Runtimes;

/// <summary><c>colab run notebook.ipynb</c>: the real CLI process on a fresh local runtime (Debian's Jupyter).</summary>
public sealed class RunNotebookTests : IDisposable
{
    private readonly TempWorkspace _workspace = new();

    public void Dispose() => _workspace.Dispose();

    private string Write(string name, string text)
    {
        var path = Path.Combine(_workspace.Path, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static async Task<(int Code, string Stdout, string Stderr)> Colab(params string[] args)
        => await RepoLayout.RunColabAsync(new Dictionary<string, string> { ["COLAB_PYTHON"] = await DebianPython.RequireAsync() }, args);

    private static string Notebook(params (string Type, JsonNode Source)[] cells)
    {
        var list = new JsonArray();
        foreach (var (type, source) in cells)
        {
            var cell = new JsonObject { ["cell_type"] = type, ["metadata"] = new JsonObject { ["tags"] = new JsonArray("keep-me") }, ["source"] = source };
            if (type == "code")
            {
                cell["outputs"] = new JsonArray(new JsonObject { ["output_type"] = "stream", ["name"] = "stdout", ["text"] = "stale\n" });
                cell["execution_count"] = 99;
            }
            list.Add(cell);
        }
        return new JsonObject
        {
            ["nbformat"] = 4,
            ["nbformat_minor"] = 5,
            ["metadata"] = new JsonObject { ["kernelspec"] = new JsonObject { ["name"] = "python3", ["display_name"] = "Python 3" }, ["colab"] = new JsonObject { ["provenance"] = new JsonArray() } },
            ["cells"] = list,
        }.ToJsonString();
    }

    [Fact]
    public async Task Run_writes_each_cells_outputs_and_counts_back_and_keeps_the_rest_of_the_notebook()
    {
        var path = Write("ok.ipynb", Notebook(
            ("markdown", "# Title"),
            ("code", new JsonArray("x = 6\n", "for i in range(3):\n", "    print(i)")),
            ("code", "x * 7"),
            ("code", "from IPython.display import display, HTML\ndisplay(HTML('<b>hi</b>'))"),
            ("code", "")));
        var (code, stdout, stderr) = await Colab("run", path);
        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
        Assert.Contains("all cells ran", stdout);

        var nb = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        Assert.Equal(4, (int)nb["nbformat"]!);
        Assert.Equal("Python 3", (string?)nb["metadata"]!["kernelspec"]!["display_name"]);
        Assert.NotNull(nb["metadata"]!["colab"]);
        var cells = nb["cells"]!.AsArray();
        Assert.Equal("# Title", (string?)cells[0]!["source"]);
        Assert.Null(cells[0]!["outputs"]);
        Assert.Equal("keep-me", (string?)cells[1]!["metadata"]!["tags"]![0]);

        var print = cells[1]!["outputs"]!.AsArray();
        Assert.Equal("stream", (string?)Assert.Single(print)!["output_type"]); // three prints, one output, as Jupyter saves them
        Assert.Equal("0\n1\n2\n", (string?)print[0]!["text"]);
        Assert.Equal(1, (int)cells[1]!["execution_count"]!);

        var result = Assert.Single(cells[2]!["outputs"]!.AsArray())!;
        Assert.Equal("execute_result", (string?)result["output_type"]);
        Assert.Equal("42", (string?)result["data"]!["text/plain"]);
        Assert.Equal(2, (int)result["execution_count"]!);
        Assert.Equal("<b>hi</b>", (string?)Assert.Single(cells[3]!["outputs"]!.AsArray())!["data"]!["text/html"]);
        Assert.Empty(cells[4]!["outputs"]!.AsArray());
        Assert.Null(cells[4]!["execution_count"]);
        Assert.DoesNotContain("stale", File.ReadAllText(path));
        Assert.EndsWith("}\n", File.ReadAllText(path));
    }

    [Fact]
    public async Task A_failing_cell_exits_1_shows_the_error_and_the_cells_after_it_do_not_run()
    {
        var path = Write("bad.ipynb", Notebook(("code", "print('before')"), ("code", "1/0"), ("code", "print('after')")));
        var (code, stdout, stderr) = await Colab("run", path);
        Assert.Equal(1, code);
        Assert.Contains("cell 2 failed", stderr);
        Assert.Contains("ZeroDivisionError", stderr);
        Assert.DoesNotContain("\u001b[", stderr);
        var cells = JsonNode.Parse(File.ReadAllText(path))!["cells"]!.AsArray();
        Assert.Equal("before\n", (string?)cells[0]!["outputs"]![0]!["text"]);
        var error = cells[1]!["outputs"]![0]!;
        Assert.Equal("error", (string?)error["output_type"]);
        Assert.Equal("ZeroDivisionError", (string?)error["ename"]);
        Assert.Equal("stale\n", (string?)cells[2]!["outputs"]![0]!["text"]); // not run: left as it was
        Assert.Contains("stopped", stdout);
    }

    [Theory]
    [InlineData("not json {", "invalid JSON")]
    [InlineData("[1, 2]", "top level is not a JSON object")]
    [InlineData("""{"nbformat": 3, "worksheets": []}""", "not an nbformat 4 notebook (nbformat is 3)")]
    [InlineData("""{"nbformat": 4, "cells": {}}""", "\"cells\" is missing or not a list")]
    [InlineData("""{"nbformat": 4, "cells": [{"source": "x"}]}""", "cell 1 has no cell_type")]
    [InlineData("""{"nbformat": 4, "cells": [{"cell_type": "code", "source": {"a": 1}}]}""", "code cell 1 has no source")]
    public async Task An_invalid_notebook_is_a_clear_error_with_exit_2_and_the_file_is_untouched(string text, string expected)
    {
        var path = Write("broken.ipynb", text);
        var (code, _, stderr) = await Colab("run", path);
        Assert.Equal(2, code);
        Assert.Contains(expected, stderr);
        Assert.Equal(text, File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(_workspace.Path)); // no temporary file left behind
    }

    [Fact]
    public async Task A_missing_file_is_a_clear_error()
    {
        var (code, _, stderr) = await Colab("run", Path.Combine(_workspace.Path, "nope.ipynb"));
        Assert.Equal(2, code);
        Assert.Contains("cannot read", stderr);
    }
}
