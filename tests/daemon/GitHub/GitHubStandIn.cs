using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Colab.Daemon.Tests.Runtimes;

namespace Colab.Daemon.Tests.GitHub;

/// <summary>
/// A GitHub stand-in on loopback, written from the REST reference: <c>/api/v3/repos/{o}/{r}</c>,
/// <c>…/contents/{path}?ref=</c> (raw media type or JSON), <c>…/git/trees/{ref}?recursive=1</c>,
/// <c>…/git/matching-refs/{heads|tags}/{prefix}</c>, <c>…/branches</c>, <c>…/tags</c> and
/// <c>/api/v3/gists/{id}</c>, at the GitHub Enterprise layout so the production client reaches
/// it through the base-URL setting. Private repositories answer 404 without the right token,
/// as GitHub does; <see cref="Fault"/> injects any other answer.
/// </summary>
internal sealed class GitHubStandIn : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _loop;

    public GitHubStandIn()
    {
        for (var attempt = 0; ; attempt++)
        {
            Port = StandInServer.FreePort();
            _listener.Prefixes.Clear();
            _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
            try
            {
                _listener.Start();
                break;
            }
            catch (HttpListenerException) when (attempt < 5)
            {
            }
        }
        _loop = Task.Run(LoopAsync);
    }

    public sealed class Repo
    {
        public string DefaultBranch { get; set; } = "main";
        public string? Token { get; set; } // private when set
        public Dictionary<string, Dictionary<string, byte[]>> Branches { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, Dictionary<string, byte[]>> Tags { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, Dictionary<string, byte[]>> Commits { get; } = new(StringComparer.OrdinalIgnoreCase);
    }

    public int Port { get; }

    public string BaseUrl => $"http://127.0.0.1:{Port}";

    public ConcurrentDictionary<string, Repo> Repos { get; } = new(StringComparer.OrdinalIgnoreCase);

    public ConcurrentDictionary<string, Dictionary<string, string>> Gists { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Answers instead of the stand-in when it returns non-null: (status, headers, body).</summary>
    public Func<HttpListenerRequest, (int Status, Dictionary<string, string> Headers, byte[] Body)?>? Fault { get; set; }

    /// <summary>Raw URL and Authorization header of every request.</summary>
    public ConcurrentQueue<(string Url, string? Authorization)> Requests { get; } = new();

    public Repo AddRepo(string owner, string name, string branch = "main", params (string Path, string Text)[] files)
    {
        var repo = new Repo { DefaultBranch = branch };
        repo.Branches[branch] = files.ToDictionary(f => f.Path, f => Encoding.UTF8.GetBytes(f.Text));
        Repos[$"{owner}/{name}"] = repo;
        return repo;
    }

    public static string Notebook(string code = "print(1 + 1)", int cells = 1)
    {
        var sb = new StringBuilder("{\"cells\": [");
        for (var i = 0; i < cells; i++)
        {
            sb.Append(i == 0 ? "" : ",").Append("{\"cell_type\": \"code\", \"execution_count\": null, \"metadata\": {}, \"outputs\": [], \"source\": ")
              .Append(JsonSerializer.Serialize(code, Colab.Daemon.Tests.Infrastructure.TestJson.Default.String)).Append('}');
        }
        return sb.Append("], \"metadata\": {\"kernelspec\": {\"name\": \"python3\", \"display_name\": \"Python 3\", \"language\": \"python\"}}, \"nbformat\": 4, \"nbformat_minor\": 5}").ToString();
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            _ = Task.Run(async () =>
            {
                try
                {
                    Requests.Enqueue((context.Request.RawUrl ?? "", context.Request.Headers["Authorization"]));
                    var (status, headers, body) = Fault?.Invoke(context.Request) ?? Handle(context.Request);
                    context.Response.StatusCode = status;
                    foreach (var (k, v) in headers)
                    {
                        if (k == "Content-Type")
                        {
                            context.Response.ContentType = v;
                        }
                        else
                        {
                            context.Response.Headers[k] = v;
                        }
                    }
                    context.Response.ContentLength64 = body.Length;
                    await context.Response.OutputStream.WriteAsync(body);
                    context.Response.Close();
                }
                catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
                {
                }
            });
        }
    }

    private static (int, Dictionary<string, string>, byte[]) Json(int status, string json)
        => (status, new() { ["Content-Type"] = "application/json; charset=utf-8" }, Encoding.UTF8.GetBytes(json));

    private static (int, Dictionary<string, string>, byte[]) NotFound()
        => Json(404, "{\"message\":\"Not Found\",\"documentation_url\":\"https://docs.github.com/rest\"}");

    private static string Q(string s) => JsonSerializer.Serialize(s, Colab.Daemon.Tests.Infrastructure.TestJson.Default.String);

    private (int, Dictionary<string, string>, byte[]) Handle(HttpListenerRequest request)
    {
        var raw = request.RawUrl ?? "/";
        var qi = raw.IndexOf('?');
        var query = qi < 0 ? "" : raw[(qi + 1)..];
        var segs = (qi < 0 ? raw : raw[..qi]).Split('/', StringSplitOptions.RemoveEmptyEntries).Select(Uri.UnescapeDataString).ToList();
        if (segs.Count < 3 || segs[0] != "api" || segs[1] != "v3")
        {
            return NotFound();
        }
        segs = segs.Skip(2).ToList();
        if (segs[0] == "gists" && segs.Count == 2)
        {
            if (!Gists.TryGetValue(segs[1], out var files))
            {
                return NotFound();
            }
            var items = files.Select(f => $"{Q(f.Key)}: {{\"filename\": {Q(f.Key)}, \"size\": {Encoding.UTF8.GetByteCount(f.Value)}, \"truncated\": false, \"content\": {Q(f.Value)}}}");
            return Json(200, $"{{\"id\": {Q(segs[1])}, \"files\": {{{string.Join(",", items)}}}}}");
        }
        if (segs[0] != "repos" || segs.Count < 3 || !Repos.TryGetValue($"{segs[1]}/{segs[2]}", out var repo))
        {
            return NotFound();
        }
        if (repo.Token is not null && request.Headers["Authorization"] != $"Bearer {repo.Token}")
        {
            return NotFound(); // GitHub hides private repositories behind 404
        }
        var rest = segs.Skip(3).ToList();
        var refParam = QueryValue(query, "ref");
        if (rest.Count == 0)
        {
            return Json(200, $"{{\"full_name\": {Q(segs[1] + "/" + segs[2])}, \"default_branch\": {Q(repo.DefaultBranch)}, \"private\": {(repo.Token is null ? "false" : "true")}}}");
        }
        switch (rest[0])
        {
            case "contents" when rest.Count >= 2:
            {
                var tree = Tree(repo, refParam ?? repo.DefaultBranch);
                var path = string.Join('/', rest.Skip(1));
                if (tree is null || !tree.TryGetValue(path, out var bytes))
                {
                    return NotFound();
                }
                if ((request.Headers["Accept"] ?? "").Contains("application/vnd.github.raw", StringComparison.Ordinal))
                {
                    return (200, new() { ["Content-Type"] = "application/octet-stream" }, bytes);
                }
                return Json(200, $"{{\"type\": \"file\", \"path\": {Q(path)}, \"size\": {bytes.Length}, \"encoding\": \"base64\", \"content\": {Q(Convert.ToBase64String(bytes))}}}");
            }
            case "git" when rest.Count >= 3 && rest[1] == "trees":
            {
                var tree = Tree(repo, string.Join('/', rest.Skip(2)));
                if (tree is null)
                {
                    return NotFound();
                }
                var entries = new List<string>();
                var dirs = new SortedSet<string>(StringComparer.Ordinal);
                foreach (var (path, bytes) in tree)
                {
                    var parts = path.Split('/');
                    for (var i = 1; i < parts.Length; i++)
                    {
                        dirs.Add(string.Join('/', parts.Take(i)));
                    }
                    entries.Add($"{{\"path\": {Q(path)}, \"type\": \"blob\", \"mode\": \"100644\", \"size\": {bytes.Length}}}");
                }
                entries.AddRange(dirs.Select(d => $"{{\"path\": {Q(d)}, \"type\": \"tree\", \"mode\": \"040000\"}}"));
                return Json(200, $"{{\"sha\": \"0000000000000000000000000000000000000000\", \"truncated\": false, \"tree\": [{string.Join(",", entries)}]}}");
            }
            case "git" when rest.Count >= 4 && rest[1] == "matching-refs" && rest[2] is "heads" or "tags":
            {
                var prefix = string.Join('/', rest.Skip(3));
                var names = (rest[2] == "heads" ? repo.Branches.Keys : repo.Tags.Keys).Where(n => n.StartsWith(prefix, StringComparison.Ordinal));
                return Json(200, "[" + string.Join(",", names.Select(n => $"{{\"ref\": {Q($"refs/{rest[2]}/{n}")}}}")) + "]");
            }
            case "branches" when rest.Count == 1:
                return Json(200, "[" + string.Join(",", repo.Branches.Keys.Select(n => $"{{\"name\": {Q(n)}}}")) + "]");
            case "tags" when rest.Count == 1:
                return Json(200, "[" + string.Join(",", repo.Tags.Keys.Select(n => $"{{\"name\": {Q(n)}}}")) + "]");
            default:
                return NotFound();
        }
    }

    private static Dictionary<string, byte[]>? Tree(Repo repo, string gitRef)
    {
        if (gitRef.StartsWith("refs/heads/", StringComparison.Ordinal))
        {
            return repo.Branches.GetValueOrDefault(gitRef["refs/heads/".Length..]);
        }
        if (gitRef.StartsWith("refs/tags/", StringComparison.Ordinal))
        {
            return repo.Tags.GetValueOrDefault(gitRef["refs/tags/".Length..]);
        }
        return repo.Branches.GetValueOrDefault(gitRef) ?? repo.Tags.GetValueOrDefault(gitRef) ?? repo.Commits.GetValueOrDefault(gitRef);
    }

    private static string? QueryValue(string query, string key)
    {
        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=');
            if (eq > 0 && pair[..eq] == key)
            {
                return Uri.UnescapeDataString(pair[(eq + 1)..].Replace('+', ' '));
            }
        }
        return null;
    }

    public static (int, Dictionary<string, string>, byte[]) RateLimited(DateTimeOffset reset, int status = 403)
        => (status, new()
        {
            ["Content-Type"] = "application/json",
            ["x-ratelimit-remaining"] = "0",
            ["x-ratelimit-reset"] = reset.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
        }, Encoding.UTF8.GetBytes("{\"message\":\"API rate limit exceeded for 127.0.0.1.\"}"));

    public void Dispose()
    {
        // Close only (it stops too): on Linux, Stop then Close removes the endpoint twice, and the
        // second removal re-binds the port to find it, failing with "Address already in use" when
        // another stand-in has taken that port meanwhile.
        try
        {
            _listener.Close();
        }
        catch (HttpListenerException)
        {
            // Best effort: the listener is closed either way.
        }
        _loop.Wait(TimeSpan.FromSeconds(5));
    }
}
