using System.Text;
using System.Text.Json;
using Colab.Daemon.GitHub;

namespace Colab.Daemon.Tests.GitHub;

/// <summary>
/// <see cref="NotebookCheck"/> reads the fetched bytes in one <see cref="Utf8JsonReader"/> pass and
/// forwards them as they are: every malformed or hostile shape must still be refused with a
/// message naming the problem, and what it forwards must be exactly one valid JSON value.
/// </summary>
public sealed class NotebookCheckTests
{
    private const string Cell = """{"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [], "source": "x"}""";

    private static string Nb(string cells = Cell, string extra = "") => $$"""{"cells": [{{cells}}], "metadata": {}{{extra}}, "nbformat": 4, "nbformat_minor": 5}""";

    private static GitHubException Refused(string text)
        => Assert.Throws<GitHubException>(() => NotebookCheck.Check(Encoding.UTF8.GetBytes(text), "t.ipynb"));

    [Fact]
    public void AValidV4Notebook_IsForwardedAsFetched_WithoutACopy()
    {
        var bytes = Encoding.UTF8.GetBytes(Nb());
        var result = NotebookCheck.Check(bytes, "t.ipynb");
        Assert.Null(result.Note);
        Assert.True(result.Utf8.Span == bytes.AsSpan(), "a v4 notebook is forwarded as the fetched bytes");
    }

    [Fact]
    public void ByteOrderMark_IsDropped_AndNbformatMayComeBeforeOrAfterTheCells()
    {
        var text = """{"nbformat": 4, "nbformat_minor": 2, "metadata": {"a": [1, {"b": null}]}, "cells": [""" + Cell + "]}";
        var result = NotebookCheck.Check(Encoding.UTF8.GetPreamble().Concat(Encoding.UTF8.GetBytes(text)).ToArray(), "t.ipynb");
        Assert.Equal(text, Encoding.UTF8.GetString(result.Utf8.Span));
    }

    [Theory]
    [InlineData("""{"cells": [], "nbformat": 4""", "line 1")] // truncated
    [InlineData("""{"cells": [], "nbformat": 4} x""", "not valid JSON")] // data after the notebook
    [InlineData("""{"cells": [], "nbformat": 4}{}""", "not valid JSON")] // two values
    [InlineData("""{"cells": [], "nbformat": 4,}""", "not valid JSON")] // trailing comma
    [InlineData("""{"cells": [] /* c */, "nbformat": 4}""", "not valid JSON")] // comment
    [InlineData("""{'cells': [], "nbformat": 4}""", "not valid JSON")]
    [InlineData("""{"cells": [NaN], "nbformat": 4}""", "not valid JSON")]
    [InlineData("{\"cells\": [\"a\u0001b\"], \"nbformat\": 4}", "not valid JSON")] // a raw control character in a string
    [InlineData("{\"cells\": [],\n\n  \"nbformat\": 4 4}", "line 3")]
    public void InvalidJson_IsRefused_WithWhereItBroke(string text, string expected)
    {
        var e = Refused(text);
        Assert.Equal(GitHubErrorKind.BadNotebook, e.Kind);
        Assert.Contains("is not valid JSON", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void NestingDeeperThanTheLimit_IsRefusedAsInvalidJson()
    {
        var deep = new string('[', 300) + new string(']', 300);
        Assert.Contains("is not valid JSON", Refused(Nb(extra: ", \"deep\": " + deep)).Message);
    }

    [Theory]
    [InlineData("""[{"nbformat": 4}]""", "not a Jupyter notebook")]
    [InlineData("\"a string\"", "not a Jupyter notebook")]
    [InlineData("""{"cells": []}""", "not a Jupyter notebook")]
    [InlineData("""{"cells": [], "nbformat": "4"}""", "not a Jupyter notebook")]
    [InlineData("""{"cells": [], "nbformat": 4.5}""", "not a Jupyter notebook")]
    [InlineData("""{"cells": [], "nbformat": 99999999999}""", "not a Jupyter notebook")]
    [InlineData("""{"cells": [], "nbformat": 5}""", "newer than")]
    [InlineData("""{"cells": [], "nbformat": 2}""", "too old to upgrade")]
    [InlineData("""{"nbformat": 3}""", "no worksheets")]
    [InlineData("""{"metadata": {}, "nbformat": 4}""", "\"cells\" is missing or not a list")]
    [InlineData("""{"cells": {"0": {}}, "nbformat": 4}""", "\"cells\" is missing or not a list")]
    [InlineData("""{"cells": [], "metadata": [], "nbformat": 4}""", "\"metadata\" is not an object")]
    [InlineData("""{"cells": [{"cell_type": "widget", "source": ""}], "metadata": 1, "nbformat": 4}""", "\"metadata\" is not an object")]
    [InlineData("""{"cells": [5], "nbformat": 4}""", "cell 0 has no cell_type")]
    [InlineData("""{"cells": [{"source": "x"}], "nbformat": 4}""", "cell 0 has no cell_type")]
    [InlineData("""{"cells": [{"cell_type": ["code"], "source": "x"}], "nbformat": 4}""", "cell 0 has no cell_type")]
    [InlineData("""{"cells": [{"cell_type": "markdown", "source": "x"}, {"cell_type": "widget", "source": "x"}], "nbformat": 4}""", "cell 1 has cell_type \"widget\"")]
    [InlineData("""{"cells": [{"cell_type": "code\u0000", "source": "x"}], "nbformat": 4}""", "has cell_type")]
    [InlineData("""{"cells": [{"cell_type": "raw"}], "nbformat": 4}""", "cell 0 has no source")]
    [InlineData("""{"cells": [{"cell_type": "raw", "source": 5}], "nbformat": 4}""", "cell 0 has no source")]
    [InlineData("""{"cells": [{"cell_type": "code", "source": [], "outputs": {}}], "nbformat": 4}""", "the outputs of cell 0 are not a list")]
    [InlineData("""{"cells": [{"cell_type": "code", "source": [], "outputs": []}], "cells": 1, "nbformat": 4}""", "\"cells\" is missing or not a list")] // the last repeated key counts
    [InlineData("""{"cells": [{"cell_type": "code", "source": 1, "source": "x"}, {"cell_type": "x", "cell_type": "code"}], "nbformat": 4}""", "cell 1 has no source")]
    public void JsonThatIsNotAValidNotebook_IsRefused_NamingTheFirstProblem(string text, string expected)
    {
        var e = Refused(text);
        Assert.Equal(GitHubErrorKind.BadNotebook, e.Kind);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void OutputsOnAMarkdownCell_AndUnknownKeys_AreLeftAlone()
    {
        var text = Nb("""{"cell_type": "markdown", "source": ["a"], "outputs": {}, "attachments": {"x": {"image/png": "AA=="}}}""", ", \"extra\": [1, 2]");
        Assert.Equal(text, Encoding.UTF8.GetString(NotebookCheck.Check(Encoding.UTF8.GetBytes(text), "t.ipynb").Utf8.Span));
    }

    [Fact]
    public void BrokenUtf8_IsReplaced_SoWhatIsForwardedIsValidUtf8Json()
    {
        var prefix = Encoding.UTF8.GetBytes("""{"cells": [{"cell_type": "code", "outputs": [], "source": "a""");
        var suffix = Encoding.UTF8.GetBytes("""b"}], "nbformat": 4}""");
        byte[] bytes = [.. prefix, 0xFF, 0xC3, .. suffix];
        var result = NotebookCheck.Check(bytes, "t.ipynb");
        Assert.True(System.Text.Unicode.Utf8.IsValid(result.Utf8.Span));
        using var doc = JsonDocument.Parse(result.Utf8);
        Assert.Equal("a\uFFFD\uFFFDb", doc.RootElement.GetProperty("cells")[0].GetProperty("source").GetString());
    }

    [Fact]
    public void ANotebookOfManyCells_IsCheckedToTheEnd()
    {
        var cells = string.Join(", ", Enumerable.Repeat(Cell, 5000)) + """, {"cell_type": "code", "source": "x", "outputs": "no"}""";
        Assert.Contains("the outputs of cell 5000 are not a list", Refused(Nb(cells)).Message);
    }
}
