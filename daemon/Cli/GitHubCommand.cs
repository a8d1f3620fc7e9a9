using System.CommandLine;
using System.Text.Json;
using Colab.Daemon.GitHub;
using Colab.Daemon.Hosting;
using Colab.Daemon.Protocol;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Colab.Daemon.Cli;

/// <summary>
/// <c>colab github open &lt;link&gt; [-o file.ipynb]</c> and <c>colab github ls owner/repo[@ref]</c>.
/// The token comes from <c>GITHUB_TOKEN</c> or <c>GH_TOKEN</c> (never an argument: argv is visible
/// to every user of the host); the Enterprise URL from <c>--base-url</c> or <c>COLAB_GitHub__BaseUrl</c>.
/// </summary>
public static class GitHubCommand
{
    public static Command Create(TextWriter output)
    {
        var baseUrl = new Option<string?>("--base-url") { Description = "A GitHub Enterprise URL (default: github.com, or COLAB_GitHub__BaseUrl)." };
        var link = new Argument<string>("link") { Description = "A github.com blob/raw link, a Colab badge link, a gist link, or owner/repo/path.ipynb@ref." };
        var outFile = new Option<string?>("--output", "-o") { Description = "Write the notebook here (refuses to overwrite an existing file) instead of printing it." };
        var open = new Command("open", "Fetch a notebook from GitHub, check it is nbformat 4 (upgrading v3), and print it or write it to a file.") { link, outFile, baseUrl };
        open.SetAction(async (parse, ct) => await OpenAsync(parse.GetValue(link)!, parse.GetValue(outFile), parse.GetValue(baseUrl), output, ct).ConfigureAwait(false));

        var repo = new Argument<string>("repo") { Description = "owner/repo, owner/repo@ref, or a repository/tree link." };
        var asJson = new Option<bool>("--json") { Description = "Print the listing as JSON (the protocol's GitHubListResult)." };
        var ls = new Command("ls", "List the notebooks in a repository at a ref, with its branches and tags.") { repo, baseUrl, asJson };
        ls.SetAction(async (parse, ct) => await ListAsync(parse.GetValue(repo)!, parse.GetValue(baseUrl), parse.GetValue(asJson), output, ct).ConfigureAwait(false));

        return new Command("github", "Notebooks on GitHub: open one from any link form, list a repository's notebooks. Token: GITHUB_TOKEN or GH_TOKEN.") { open, ls };
    }

    private static GitHubAccess Access(string? baseUrl)
    {
        var token = Environment.GetEnvironmentVariable("GITHUB_TOKEN") is { Length: > 0 } t ? t : Environment.GetEnvironmentVariable("GH_TOKEN");
        return new GitHubAccess(token, baseUrl);
    }

    private static async Task<int> OpenAsync(string link, string? outFile, string? baseUrl, TextWriter output, CancellationToken cancellationToken)
    {
        using var host = DaemonHost.CreateBuilder([], LogLevel.Warning).Build();
        var github = host.Services.GetRequiredService<GitHubService>();
        try
        {
            var nb = await github.OpenAsync(link, Access(baseUrl), cancellationToken).ConfigureAwait(false);
            if (nb.Note is not null)
            {
                await Console.Error.WriteLineAsync(nb.Note).ConfigureAwait(false);
            }
            if (outFile is null)
            {
                await output.WriteAsync(nb.Notebook).ConfigureAwait(false);
                return CommandLine.ExitOk;
            }
            // CreateNew: an existing file is never overwritten.
            await using (var file = new FileStream(outFile, FileMode.CreateNew, FileAccess.Write))
            await using (var writer = new StreamWriter(file))
            {
                await writer.WriteAsync(nb.Notebook).ConfigureAwait(false);
            }
            await Console.Error.WriteLineAsync($"Wrote {nb.SuggestedName} from {nb.WebUrl} to {outFile} ({GitHubClient.FormatBytes(nb.Bytes)}).").ConfigureAwait(false);
            return CommandLine.ExitOk;
        }
        catch (GitHubException e)
        {
            await Console.Error.WriteLineAsync($"colab github: {e.Message}").ConfigureAwait(false);
            return CommandLine.ExitFailure;
        }
        catch (IOException e)
        {
            await Console.Error.WriteLineAsync($"colab github: cannot write {outFile}: {e.Message}").ConfigureAwait(false);
            return CommandLine.ExitFailure;
        }
    }

    private static async Task<int> ListAsync(string repo, string? baseUrl, bool asJson, TextWriter output, CancellationToken cancellationToken)
    {
        using var host = DaemonHost.CreateBuilder([], LogLevel.Warning).Build();
        var github = host.Services.GetRequiredService<GitHubService>();
        try
        {
            var l = await github.ListAsync(repo, null, Access(baseUrl), cancellationToken).ConfigureAwait(false);
            if (asJson)
            {
                var wire = new GitHubListResult(l.Owner, l.Repo, l.Ref, l.DefaultBranch, l.Notebooks, l.Branches, l.Tags, l.Truncated);
                await output.WriteLineAsync(JsonSerializer.Serialize(wire, GitHubProtocolJson.Default.GitHubListResult)).ConfigureAwait(false);
                return CommandLine.ExitOk;
            }
            await output.WriteLineAsync($"{l.Owner}/{l.Repo}@{l.Ref}: {l.Notebooks.Count} notebook(s){(l.Truncated ? " (GitHub truncated the tree; some may be missing)" : "")}").ConfigureAwait(false);
            foreach (var n in l.Notebooks)
            {
                await output.WriteLineAsync($"  {n.Path}{(n.Size is long s ? $"  ({GitHubClient.FormatBytes(s)})" : "")}").ConfigureAwait(false);
            }
            await output.WriteLineAsync($"branches: {string.Join(", ", l.Branches)}").ConfigureAwait(false);
            await output.WriteLineAsync($"tags: {(l.Tags.Count == 0 ? "(none)" : string.Join(", ", l.Tags))}").ConfigureAwait(false);
            return CommandLine.ExitOk;
        }
        catch (GitHubException e)
        {
            await Console.Error.WriteLineAsync($"colab github: {e.Message}").ConfigureAwait(false);
            return CommandLine.ExitFailure;
        }
    }
}
