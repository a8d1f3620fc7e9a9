namespace Colab.Daemon.Protocol;

/// <summary>
/// The one list of JSON-RPC error codes. The JSON-RPC and LSP codes keep their
/// standard values; the product's own live in -32000…-32099 (architecture invariant 5).
/// Mirrored in <c>colab-vscode/src/protocol.ts</c> and <c>docs/protocol.md</c>.
/// </summary>
public static class ErrorCodes
{
    public const int ParseError = -32700;
    public const int InvalidRequest = -32600;
    public const int MethodNotFound = -32601;
    public const int InvalidParams = -32602;
    public const int InternalError = -32603;
    public const int ServerNotInitialized = -32002;
    public const int UnknownErrorCode = -32001;
    public const int RequestFailed = -32803;
    public const int ServerCancelled = -32802;
    public const int RequestCancelled = -32800;

    // The product's own (-32000…-32099).
    public const int MessageTooLarge = -32000;
    public const int NotAvailable = -32010;
    public const int ShuttingDown = -32011;
    // -- runtime codes (issue 3) --

    // -- terminal codes (issue 3, terminals/files) --
    /// <summary>A transfer's target exists and overwrite was not asked for.</summary>
    public const int TargetExists = -32035;
    // -- gpu codes (issue 4) --

    // -- training codes (issue 5) --
    /// <summary>The job requires a GPU model this host does not have (or has no GPU): it was not started.</summary>
    public const int TrainGpuMismatch = -32050;

    // -- drive codes (issue 6) --
    public const int DriveNotFound = -32060;
    public const int DriveAuth = -32061;
    public const int DriveQuota = -32062;
    public const int DriveRateLimited = -32063;
    public const int DriveIntegrity = -32064;
    public const int DriveUnsafe = -32065;

    // -- github codes (issue 7) --
    public const int GitHubBadLink = -32070;
    public const int GitHubNotFound = -32071;
    public const int GitHubUnauthorized = -32072;
    public const int GitHubRateLimited = -32073;
    public const int GitHubUnreachable = -32074;
    public const int GitHubBadNotebook = -32075;
    public const int GitHubTooLarge = -32076;


    public static readonly IReadOnlyDictionary<string, int> All = new Dictionary<string, int>
    {
        [nameof(ParseError)] = ParseError,
        [nameof(InvalidRequest)] = InvalidRequest,
        [nameof(MethodNotFound)] = MethodNotFound,
        [nameof(InvalidParams)] = InvalidParams,
        [nameof(InternalError)] = InternalError,
        [nameof(ServerNotInitialized)] = ServerNotInitialized,
        [nameof(UnknownErrorCode)] = UnknownErrorCode,
        [nameof(RequestFailed)] = RequestFailed,
        [nameof(ServerCancelled)] = ServerCancelled,
        [nameof(RequestCancelled)] = RequestCancelled,
        [nameof(MessageTooLarge)] = MessageTooLarge,
        [nameof(NotAvailable)] = NotAvailable,
        [nameof(ShuttingDown)] = ShuttingDown,
        // -- runtime codes (issue 3) --

        // -- terminal codes (issue 3, terminals/files) --
        [nameof(TargetExists)] = TargetExists,
        // -- gpu codes (issue 4) --

        // -- training codes (issue 5) --
        [nameof(TrainGpuMismatch)] = TrainGpuMismatch,

        // -- drive codes (issue 6) --
        [nameof(DriveNotFound)] = DriveNotFound,
        [nameof(DriveAuth)] = DriveAuth,
        [nameof(DriveQuota)] = DriveQuota,
        [nameof(DriveRateLimited)] = DriveRateLimited,
        [nameof(DriveIntegrity)] = DriveIntegrity,
        [nameof(DriveUnsafe)] = DriveUnsafe,

        // -- github codes (issue 7) --
        [nameof(GitHubBadLink)] = GitHubBadLink,
        [nameof(GitHubNotFound)] = GitHubNotFound,
        [nameof(GitHubUnauthorized)] = GitHubUnauthorized,
        [nameof(GitHubRateLimited)] = GitHubRateLimited,
        [nameof(GitHubUnreachable)] = GitHubUnreachable,
        [nameof(GitHubBadNotebook)] = GitHubBadNotebook,
        [nameof(GitHubTooLarge)] = GitHubTooLarge,

    };
}
