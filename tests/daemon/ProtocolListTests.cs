using System.Reflection;
using System.Text.RegularExpressions;
using Colab.Daemon.Protocol;
using Colab.Daemon.Tests.Infrastructure;

namespace Colab.Daemon.Tests;

/// <summary>
/// The one list of methods and error codes (architecture invariant 2) lives in
/// <c>daemon/Protocol/Methods.cs</c> and <c>ErrorCodes.cs</c>, is mirrored in
/// <c>colab-vscode/src/protocol.ts</c> and listed in <c>docs/protocol.md</c>: the three
/// must agree exactly, and a failure says what is missing or different where.
/// </summary>
public sealed partial class ProtocolListTests
{
    private const string CSharpMethods = "daemon/Protocol/Methods.cs";
    private const string CSharpCodes = "daemon/Protocol/ErrorCodes.cs";
    private const string TypeScript = "colab-vscode/src/protocol.ts";
    private const string Docs = "docs/protocol.md";

    /// <summary>One source's view: name → what it says about it (kind and direction, or the code).</summary>
    public sealed record Listing(string Source, IReadOnlyDictionary<string, string> Entries, IReadOnlyList<string> Problems);

    [GeneratedRegex(@"^\s*(?<key>\w+): \{ name: '(?<name>[^']+)', kind: '(?<kind>[a-zA-Z]+)', direction: '(?<direction>[a-zA-Z]+)' \},?\s*$")]
    private static partial Regex TsMethodLine();

    [GeneratedRegex(@"^\s*(?<name>\w+): (?<code>-?\d+),?\s*$")]
    private static partial Regex TsCodeLine();

    [GeneratedRegex(@"^\|\s*`(?<name>[^`]+)`\s*\|\s*(?<kind>[^|]+?)\s*\|\s*(?<direction>[^|]+?)\s*\|")]
    private static partial Regex DocMethodRow();

    [GeneratedRegex(@"^\|\s*`(?<name>[^`]+)`\s*\|\s*(?<code>[^|]+?)\s*\|")]
    private static partial Regex DocCodeRow();

    [Fact]
    public void Methods_InCSharpTypeScriptAndDocs_AgreeOnNamesKindsAndDirections()
    {
        var problems = Diff("method", MethodsFromCSharp(), MethodsFromTypeScript(), MethodsFromDocs());

        Assert.True(problems.Count == 0, "The method lists disagree:\n" + string.Join("\n", problems));
    }

    [Fact]
    public void ErrorCodes_InCSharpTypeScriptAndDocs_AgreeOnNamesAndCodes()
    {
        var problems = Diff("error code", CodesFromCSharp(), CodesFromTypeScript(), CodesFromDocs());

        Assert.True(problems.Count == 0, "The error code lists disagree:\n" + string.Join("\n", problems));
    }

    [Fact]
    public void Methods_EveryConstantIsInTheList_AndTheTypeScriptKeysAreTheirNames()
    {
        var constants = typeof(Methods).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.FieldType == typeof(string))
            .ToDictionary(f => f.Name, f => (string)f.GetRawConstantValue()!);
        var listed = Methods.All.Select(m => m.Name).ToHashSet();
        var tsKeys = TsBlock("export const methods = {").Select(l => TsMethodLine().Match(l.Text)).Where(m => m.Success)
            .ToDictionary(m => m.Groups["name"].Value, m => m.Groups["key"].Value);

        var problems = new List<string>();
        problems.AddRange(constants.Where(c => !listed.Contains(c.Value)).Select(c => $"Methods.{c.Key} (\"{c.Value}\") is not in Methods.All"));
        problems.AddRange(listed.Where(n => !constants.ContainsValue(n)).Select(n => $"\"{n}\" is in Methods.All without a constant in Methods"));
        foreach (var (name, value) in constants)
        {
            var camel = char.ToLowerInvariant(name[0]) + name[1..];
            if (tsKeys.TryGetValue(value, out var key) && key != camel)
            {
                problems.Add($"{TypeScript} names \"{value}\" '{key}', but Methods.cs names it {name} (expected '{camel}')");
            }
        }
        Assert.Equal(Methods.All.Count, listed.Count);
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void ErrorCodes_AllHoldsEveryConstant_CodesAreUnique_AndTheProductsOwnAreInTheReservedRange()
    {
        var constants = typeof(ErrorCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.FieldType == typeof(int))
            .ToDictionary(f => f.Name, f => (int)f.GetRawConstantValue()!);
        // The codes JSON-RPC 2.0 and LSP define, with their fixed values.
        var standard = new Dictionary<string, int>
        {
            ["ParseError"] = -32700, ["InvalidRequest"] = -32600, ["MethodNotFound"] = -32601, ["InvalidParams"] = -32602,
            ["InternalError"] = -32603, ["ServerNotInitialized"] = -32002, ["UnknownErrorCode"] = -32001,
            ["RequestFailed"] = -32803, ["ServerCancelled"] = -32802, ["ContentModified"] = -32801, ["RequestCancelled"] = -32800,
        };

        Assert.Equal(constants.OrderBy(c => c.Key), ErrorCodes.All.OrderBy(c => c.Key));
        Assert.Equal(constants.Count, constants.Values.Distinct().Count());
        foreach (var (name, code) in constants)
        {
            if (standard.TryGetValue(name, out var expected))
            {
                Assert.True(code == expected, $"{name} is {code}; JSON-RPC/LSP define it as {expected}");
            }
            else
            {
                Assert.True(code is >= -32099 and <= -32000, $"{name} ({code}) is the product's own and must be in -32099…-32000");
                Assert.DoesNotContain(code, standard.Values);
            }
        }
    }

    [Fact]
    public void Diff_WhenTheListsDisagree_NamesWhatIsMissingOrDifferentWhere()
    {
        var a = new Listing("A.cs", new Dictionary<string, string> { ["x"] = "request, client → server", ["y"] = "notification, server → client" }, []);
        var b = new Listing("b.ts", new Dictionary<string, string> { ["x"] = "notification, client → server" }, ["b.ts line 3 is not a method line: junk"]);
        var c = new Listing("c.md", new Dictionary<string, string> { ["x"] = "request, client → server", ["y"] = "notification, server → client", ["z"] = "request, server → client" }, []);

        var problems = Diff("method", a, b, c);

        Assert.Contains("b.ts line 3 is not a method line: junk", problems);
        Assert.Contains("method \"y\": in A.cs and c.md, missing from b.ts", problems);
        Assert.Contains("method \"z\": in c.md, missing from A.cs and b.ts", problems);
        Assert.Contains("method \"x\": A.cs says request, client → server; b.ts says notification, client → server", problems);
        Assert.Equal(4, problems.Count);
    }

    /// <summary>Every disagreement among the listings, in words, plus each listing's own problems.</summary>
    private static List<string> Diff(string what, params Listing[] listings)
    {
        var problems = listings.SelectMany(l => l.Problems).ToList();
        foreach (var name in listings.SelectMany(l => l.Entries.Keys).Distinct().Order(StringComparer.Ordinal))
        {
            var having = listings.Where(l => l.Entries.ContainsKey(name)).ToList();
            var lacking = listings.Where(l => !l.Entries.ContainsKey(name)).ToList();
            if (lacking.Count > 0)
            {
                problems.Add($"{what} \"{name}\": in {Join(having)}, missing from {Join(lacking)}");
            }
            var first = having[0];
            foreach (var other in having.Skip(1).Where(o => o.Entries[name] != first.Entries[name]))
            {
                problems.Add($"{what} \"{name}\": {first.Source} says {first.Entries[name]}; {other.Source} says {other.Entries[name]}");
            }
        }
        return problems;

        static string Join(List<Listing> ls) => string.Join(" and ", ls.Select(l => l.Source));
    }

    private static string Describe(string kind, string direction) => $"{kind}, {direction}";

    private static Listing MethodsFromCSharp()
    {
        var problems = new List<string>();
        var entries = new Dictionary<string, string>();
        foreach (var m in Methods.All)
        {
            var value = Describe(m.Kind == MethodKind.Request ? "request" : "notification",
                m.Direction == MethodDirection.ClientToServer ? "client → server" : "server → client");
            if (!entries.TryAdd(m.Name, value))
            {
                problems.Add($"{CSharpMethods} lists \"{m.Name}\" twice");
            }
        }
        return new Listing(CSharpMethods, entries, problems);
    }

    private static Listing MethodsFromTypeScript()
    {
        var problems = new List<string>();
        var entries = new Dictionary<string, string>();
        foreach (var (line, text) in TsBlock("export const methods = {"))
        {
            var m = TsMethodLine().Match(text);
            if (!m.Success)
            {
                problems.Add($"{TypeScript} line {line} is not a method line of the form `  key: {{ name: '…', kind: '…', direction: '…' }},`: {text.Trim()}");
                continue;
            }
            var kind = m.Groups["kind"].Value;
            var direction = m.Groups["direction"].Value switch
            {
                "clientToServer" => "client → server",
                "serverToClient" => "server → client",
                var other => other,
            };
            if (!entries.TryAdd(m.Groups["name"].Value, Describe(kind, direction)))
            {
                problems.Add($"{TypeScript} lists \"{m.Groups["name"].Value}\" twice");
            }
        }
        return new Listing(TypeScript, entries, problems);
    }

    private static Listing MethodsFromDocs()
    {
        var problems = new List<string>();
        var entries = new Dictionary<string, string>();
        foreach (var (line, text) in DocTableRows("## Methods").Concat(AreaMethodRows()))
        {
            var m = DocMethodRow().Match(text);
            if (!m.Success)
            {
                problems.Add($"{Docs} line {line} is not a method row of the form | `name` | kind | direction | …: {text}");
                continue;
            }
            if (!entries.TryAdd(m.Groups["name"].Value, Describe(m.Groups["kind"].Value, m.Groups["direction"].Value)))
            {
                problems.Add($"{Docs} lists \"{m.Groups["name"].Value}\" twice");
            }
        }
        return new Listing(Docs, entries, problems);
    }

    private static Listing CodesFromCSharp()
        => new(CSharpCodes, ErrorCodes.All.ToDictionary(c => c.Key, c => c.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)), []);

    private static Listing CodesFromTypeScript()
    {
        var problems = new List<string>();
        var entries = new Dictionary<string, string>();
        foreach (var (line, text) in TsBlock("export const errorCodes = {"))
        {
            var m = TsCodeLine().Match(text);
            if (!m.Success)
            {
                problems.Add($"{TypeScript} line {line} is not an error code line of the form `  Name: -32700,`: {text.Trim()}");
            }
            else if (!entries.TryAdd(m.Groups["name"].Value, m.Groups["code"].Value))
            {
                problems.Add($"{TypeScript} lists error code {m.Groups["name"].Value} twice");
            }
        }
        return new Listing(TypeScript, entries, problems);
    }

    private static Listing CodesFromDocs()
    {
        var problems = new List<string>();
        var entries = new Dictionary<string, string>();
        foreach (var (line, text) in DocTableRows("## Error codes"))
        {
            var m = DocCodeRow().Match(text);
            if (!m.Success)
            {
                problems.Add($"{Docs} line {line} is not an error code row of the form | `Name` | -32700 | …: {text}");
            }
            else if (!entries.TryAdd(m.Groups["name"].Value, m.Groups["code"].Value))
            {
                problems.Add($"{Docs} lists error code {m.Groups["name"].Value} twice");
            }
        }
        return new Listing(Docs, entries, problems);
    }

    /// <summary>The lines of a TypeScript object literal, from its opening line to the closing brace (comments and blank lines left out).</summary>
    private static List<(int Line, string Text)> TsBlock(string opening)
    {
        var lines = File.ReadAllLines(RepoLayout.InRepo(TypeScript.Split('/')));
        var start = Array.FindIndex(lines, l => l.TrimStart().StartsWith(opening, StringComparison.Ordinal));
        Assert.True(start >= 0, $"{TypeScript} has no line starting with `{opening}`");
        var block = new List<(int, string)>();
        for (var i = start + 1; i < lines.Length && !lines[i].TrimStart().StartsWith('}'); i++)
        {
            var t = lines[i].Trim();
            if (t.Length > 0 && !t.StartsWith("//", StringComparison.Ordinal))
            {
                block.Add((i + 1, lines[i]));
            }
        }
        return block;
    }

    /// <summary>
    /// The rows of each area's own method table (a '## ' section such as '## Drive' whose table
    /// header is "| method | kind | direction | …"), which the per-area doc sections add.
    /// </summary>
    private static List<(int Line, string Text)> AreaMethodRows()
    {
        var lines = File.ReadAllLines(RepoLayout.InRepo(Docs.Split('/')));
        var rows = new List<(int, string)>();
        string? section = null;
        var inTable = false;
        for (var i = 0; i < lines.Length; i++)
        {
            var t = lines[i].Trim();
            if (lines[i].StartsWith("## ", StringComparison.Ordinal))
            {
                section = t;
                inTable = false;
                continue;
            }
            if (section is null or "## Methods")
            {
                continue;
            }
            if (!inTable && Regex.IsMatch(t, @"^\|\s*method\s*\|\s*kind\s*\|\s*direction\s*\|"))
            {
                inTable = true;
                continue;
            }
            if (inTable && t.StartsWith('|'))
            {
                if (!Regex.IsMatch(t, @"^\|[\s\-:|]+\|$"))
                {
                    rows.Add((i + 1, t));
                }
            }
            else if (inTable)
            {
                inTable = false;
            }
        }
        return rows;
    }

    /// <summary>The body rows of the first table in a section of the protocol doc (header and separator rows left out).</summary>
    private static List<(int Line, string Text)> DocTableRows(string heading)
    {
        var lines = File.ReadAllLines(RepoLayout.InRepo(Docs.Split('/')));
        var start = Array.FindIndex(lines, l => l.Trim() == heading);
        Assert.True(start >= 0, $"{Docs} has no `{heading}` section");
        var rows = new List<(int, string)>();
        var inTable = false;
        for (var i = start + 1; i < lines.Length && !lines[i].StartsWith("## ", StringComparison.Ordinal); i++)
        {
            var t = lines[i].Trim();
            if (t.StartsWith('|'))
            {
                if (!inTable)
                {
                    inTable = true; // the header row
                    continue;
                }
                if (!Regex.IsMatch(t, @"^\|[\s\-:|]+\|$"))
                {
                    rows.Add((i + 1, t));
                }
            }
            else if (inTable)
            {
                break;
            }
        }
        Assert.True(rows.Count > 0, $"{Docs} has no table rows under `{heading}`");
        return rows;
    }
}
