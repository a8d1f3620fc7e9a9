using Colab.Daemon.GitHub;
using Colab.Daemon.JsonRpc;
using Colab.Daemon.Protocol;

namespace Colab.Daemon.Hosting;

/// <summary>
/// The GitHub handlers: wire records in, <see cref="GitHubService"/> calls, wire records out, and
/// <see cref="GitHubException"/>s mapped to error codes. Params are never logged (they carry a token).
/// </summary>
internal sealed class GitHubMethods(GitHubService github) : IMethodGroup
{
    public void Register(JsonRpcConnection connection)
    {
        var json = GitHubProtocolJson.Default;

        connection.OnRequest(Methods.GitHubResolve, () => json.GitHubOpenParams, () => json.GitHubTarget, (p, ctx) => Guard(() =>
            github.ResolveAsync(p.Url ?? throw new JsonRpcException(ErrorCodes.InvalidParams, "Invalid params: url is required."), Access(p), ctx.CancellationToken)));

        connection.OnRequest(Methods.GitHubOpen, () => json.GitHubOpenParams, () => json.GitHubOpenResult, (p, ctx) => Guard(async () =>
        {
            var nb = p switch
            {
                { Url: { } url } => await github.OpenAsync(url, Access(p), ctx.CancellationToken).ConfigureAwait(false),
                { Target: { } target } => await github.OpenAsync(target, Access(p), ctx.CancellationToken).ConfigureAwait(false),
                _ => throw new JsonRpcException(ErrorCodes.InvalidParams, "Invalid params: give url or target."),
            };
            return new GitHubOpenResult(new RawJson(nb.Utf8), nb.SuggestedName, nb.Source, nb.WebUrl, nb.Bytes, nb.Note);
        }));

        connection.OnRequest(Methods.GitHubList, () => json.GitHubListParams, () => json.GitHubListResult, (p, ctx) => Guard(async () =>
        {
            var l = await github.ListAsync(p.Repo, p.Ref, new GitHubAccess(p.Token, p.BaseUrl), ctx.CancellationToken).ConfigureAwait(false);
            return new GitHubListResult(l.Owner, l.Repo, l.Ref, l.DefaultBranch, l.Notebooks, l.Branches, l.Tags, l.Truncated);
        }));

        connection.OnRequest(Methods.GitHubLinks, () => json.GitHubLinksParams, () => json.GitHubLinksResult, (p, _) => Guard(() =>
        {
            var l = github.Links(p.Path, new GitHubAccess(BaseUrl: p.BaseUrl));
            return Task.FromResult(new GitHubLinksResult(l.Owner, l.Repo, l.Ref, l.Path, l.GitHubUrl, l.ColabUrl, l.BadgeMarkdown));
        }));
    }

    private static GitHubAccess Access(GitHubOpenParams p) => new(p.Token, p.BaseUrl, p.MaxBytes);

    private static async Task<T> Guard<T>(Func<Task<T>> action)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (GitHubException e)
        {
            throw new JsonRpcException(CodeOf(e.Kind), e.Message);
        }
        catch (IOException e)
        {
            throw new JsonRpcException(ErrorCodes.RequestFailed, $"Could not read the repository: {e.Message}");
        }
    }

    public static int CodeOf(GitHubErrorKind kind) => kind switch
    {
        GitHubErrorKind.BadUrl => ErrorCodes.GitHubBadLink,
        GitHubErrorKind.NotFound => ErrorCodes.GitHubNotFound,
        GitHubErrorKind.Unauthorized => ErrorCodes.GitHubUnauthorized,
        GitHubErrorKind.RateLimited => ErrorCodes.GitHubRateLimited,
        GitHubErrorKind.Unreachable => ErrorCodes.GitHubUnreachable,
        GitHubErrorKind.BadNotebook => ErrorCodes.GitHubBadNotebook,
        GitHubErrorKind.TooLarge => ErrorCodes.GitHubTooLarge,
        _ => ErrorCodes.RequestFailed,
    };
}
