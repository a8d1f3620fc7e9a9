namespace Colab.Daemon.Protocol;

/// <summary>Whether a method expects an answer.</summary>
public enum MethodKind
{
    Request,
    Notification,
}

/// <summary>Who sends the message.</summary>
public enum MethodDirection
{
    ClientToServer,
    ServerToClient,
}

/// <summary>One row of the method list: the name on the wire and who sends it.</summary>
public sealed record MethodInfo(string Name, MethodKind Kind, MethodDirection Direction, string Summary);

/// <summary>
/// The one list of JSON-RPC methods (architecture invariant 2). It is mirrored in
/// <c>colab-vscode/src/protocol.ts</c> and listed in <c>docs/protocol.md</c>;
/// <c>ProtocolListTests</c> fails when the three disagree.
/// </summary>
public static class Methods
{
    // LSP lifecycle and base protocol.
    public const string Initialize = "initialize";
    public const string Initialized = "initialized";
    public const string Shutdown = "shutdown";
    public const string Exit = "exit";
    public const string CancelRequest = "$/cancelRequest";
    public const string Progress = "$/progress";
    public const string WorkDoneProgressCreate = "window/workDoneProgress/create";
    public const string ShowMessage = "window/showMessage";
    public const string LogMessage = "window/logMessage";

    // The product's own.
    public const string ServerStatus = "colab/serverStatus";
    public const string ServerStatusChanged = "colab/serverStatusChanged";
    public const string DiagEcho = "colab/diag/echo";
    public const string DiagDelay = "colab/diag/delay";
    public const string GpuSnapshot = "colab/gpu/snapshot";
    public const string GpuWatch = "colab/gpu/watch";
    public const string GpuChanged = "colab/gpu/changed";
    public const string RuntimeConnect = "colab/runtime/connect";
    public const string RuntimeList = "colab/runtime/list";
    public const string RuntimeDisconnect = "colab/runtime/disconnect";
    public const string RuntimeChanged = "colab/runtime/changed";
    public const string KernelStart = "colab/kernel/start";
    public const string KernelList = "colab/kernel/list";
    public const string KernelExecute = "colab/kernel/execute";
    public const string KernelOutput = "colab/kernel/output";
    public const string KernelInput = "colab/kernel/input";
    public const string KernelInterrupt = "colab/kernel/interrupt";
    public const string KernelRestart = "colab/kernel/restart";
    public const string KernelShutdown = "colab/kernel/shutdown";
    // -- runtime names (issue 3) --
    public const string RuntimeSessions = "colab/runtime/sessions";
    public const string KernelKillIdle = "colab/kernel/killIdle";
    public const string RuntimeKeepAlive = "colab/runtime/keepAlive";
    public const string RuntimeSetIdleTimeout = "colab/runtime/setIdleTimeout";
    public const string RuntimeIdleWarning = "colab/runtime/idleWarning";
    public const string RuntimeIdleDisconnected = "colab/runtime/idleDisconnected";

    // -- terminal names (issue 3, terminals/files) --
    public const string RuntimeSetup = "colab/runtime/setup";
    public const string TerminalOpen = "colab/terminal/open";
    public const string TerminalList = "colab/terminal/list";
    public const string TerminalInput = "colab/terminal/input";
    public const string TerminalResize = "colab/terminal/resize";
    public const string TerminalClose = "colab/terminal/close";
    public const string TerminalOutput = "colab/terminal/output";
    public const string TerminalClosed = "colab/terminal/closed";
    public const string FilesList = "colab/files/list";
    public const string FilesUpload = "colab/files/upload";
    public const string FilesDownload = "colab/files/download";
    // -- gpu names (issue 4) --
    public const string GpuRuntimeSnapshot = "colab/gpu/runtimeSnapshot";
    public const string GpuRuntimeChanged = "colab/gpu/runtimeChanged";
    public const string GpuCheck = "colab/gpu/check";
    public const string GpuHistory = "colab/gpu/history";
    public const string GpuBenchmark = "colab/gpu/benchmark";

    // -- training names (issue 5) --
    public const string TrainStart = "colab/train/start";
    public const string TrainStatus = "colab/train/status";
    public const string TrainList = "colab/train/list";
    public const string TrainStop = "colab/train/stop";
    public const string TrainLogs = "colab/train/logs";
    public const string TrainChanged = "colab/train/changed";
    public const string TrainMetrics = "colab/train/metrics";

    // -- drive names (issue 6) --
    public const string DriveSignInBegin = "colab/drive/signInBegin";
    public const string DriveSignInRedirect = "colab/drive/signInRedirect";
    public const string DriveSignInPaste = "colab/drive/signInPaste";
    public const string DriveSignInFinish = "colab/drive/signInFinish";
    public const string DriveUseAccount = "colab/drive/useAccount";
    public const string DriveTokensRefreshed = "colab/drive/tokensRefreshed";
    public const string DriveSignOut = "colab/drive/signOut";
    public const string DriveUse = "colab/drive/use";
    public const string DriveStatus = "colab/drive/status";
    public const string DriveList = "colab/drive/list";
    public const string DriveItem = "colab/drive/item";
    public const string DriveGet = "colab/drive/get";
    public const string DrivePut = "colab/drive/put";
    public const string DriveCopyToRuntime = "colab/drive/copyToRuntime";
    public const string DriveFlush = "colab/drive/flush";
    public const string DriveRead = "colab/drive/read";
    public const string DriveWrite = "colab/drive/write";
    public const string DriveParseLink = "colab/drive/parseLink";
    public const string DriveGetLink = "colab/drive/getLink";

    // -- github names (issue 7) --
    public const string GitHubResolve = "colab/github/resolve";
    public const string GitHubOpen = "colab/github/open";
    public const string GitHubList = "colab/github/list";
    public const string GitHubLinks = "colab/github/links";


    public static readonly IReadOnlyList<MethodInfo> All =
    [
        new(Initialize, MethodKind.Request, MethodDirection.ClientToServer, "Starts the session; answers the product's capabilities and version."),
        new(Initialized, MethodKind.Notification, MethodDirection.ClientToServer, "The client has processed the initialize result."),
        new(Shutdown, MethodKind.Request, MethodDirection.ClientToServer, "Stops accepting work; the next message should be exit."),
        new(Exit, MethodKind.Notification, MethodDirection.ClientToServer, "Ends the process: code 0 after shutdown, 1 otherwise."),
        new(CancelRequest, MethodKind.Notification, MethodDirection.ClientToServer, "Cancels a request in flight; its handler sees the cancellation token fire."),
        new(Progress, MethodKind.Notification, MethodDirection.ServerToClient, "Work-done progress (begin, report, end) for a token."),
        new(WorkDoneProgressCreate, MethodKind.Request, MethodDirection.ServerToClient, "Asks the client to create a progress token before $/progress is sent for it."),
        new(ShowMessage, MethodKind.Notification, MethodDirection.ServerToClient, "A message for the user (error, warning, info)."),
        new(LogMessage, MethodKind.Notification, MethodDirection.ServerToClient, "A line for the daemon log."),
        new(ServerStatus, MethodKind.Request, MethodDirection.ClientToServer, "Health, version, uptime and the capabilities available on this host."),
        new(ServerStatusChanged, MethodKind.Notification, MethodDirection.ServerToClient, "The same status, pushed whenever it changes."),
        new(DiagEcho, MethodKind.Request, MethodDirection.ClientToServer, "Diagnostics: answers its params unchanged (round-trip checks and benchmarks)."),
        new(DiagDelay, MethodKind.Request, MethodDirection.ClientToServer, "Diagnostics: waits, optionally reporting progress; cancellable (checks of cancellation and progress)."),
        new(GpuSnapshot, MethodKind.Request, MethodDirection.ClientToServer, "The GPUs of the daemon's host now: NVML, else nvidia-smi, else why there are none."),
        new(GpuWatch, MethodKind.Request, MethodDirection.ClientToServer, "Starts or stops polling the GPUs at an interval; nothing is polled while disabled."),
        new(GpuChanged, MethodKind.Notification, MethodDirection.ServerToClient, "A GPU reading that differs from the last one, while watching."),
        new(RuntimeConnect, MethodKind.Request, MethodDirection.ClientToServer, "Connects a Jupyter runtime: a local server this daemon starts, or a remote one by URL and token."),
        new(RuntimeList, MethodKind.Request, MethodDirection.ClientToServer, "The connected runtimes."),
        new(RuntimeDisconnect, MethodKind.Request, MethodDirection.ClientToServer, "Disconnects a runtime: shuts down the kernels started here and stops a local server."),
        new(RuntimeChanged, MethodKind.Notification, MethodDirection.ServerToClient, "The connected runtimes, whenever one is added, removed or changes state."),
        new(KernelStart, MethodKind.Request, MethodDirection.ClientToServer, "Starts a kernel on a runtime."),
        new(KernelList, MethodKind.Request, MethodDirection.ClientToServer, "The kernels of a runtime with their state."),
        new(KernelExecute, MethodKind.Request, MethodDirection.ClientToServer, "Runs code on a kernel; outputs stream as colab/kernel/output first; cancelling interrupts the kernel."),
        new(KernelOutput, MethodKind.Notification, MethodDirection.ServerToClient, "One output of an execution in flight, in order."),
        new(KernelInput, MethodKind.Request, MethodDirection.ServerToClient, "The kernel asks for a line of input (input(), getpass()) for an execution in flight."),
        new(KernelInterrupt, MethodKind.Request, MethodDirection.ClientToServer, "Interrupts a kernel."),
        new(KernelRestart, MethodKind.Request, MethodDirection.ClientToServer, "Restarts a kernel; executions in flight fail."),
        new(KernelShutdown, MethodKind.Request, MethodDirection.ClientToServer, "Shuts a kernel down."),
        // -- runtime methods (issue 3) --
        new(RuntimeSessions, MethodKind.Request, MethodDirection.ClientToServer, "Every runtime (or one) with its kernels, their sessions, state, last activity and idle time."),
        new(KernelKillIdle, MethodKind.Request, MethodDirection.ClientToServer, "Shuts down a runtime's kernels that have been idle for at least idleSeconds."),
        new(RuntimeKeepAlive, MethodKind.Request, MethodDirection.ClientToServer, "Records use of a runtime now: its idle time starts again (the answer to an idle warning)."),
        new(RuntimeSetIdleTimeout, MethodKind.Request, MethodDirection.ClientToServer, "Sets the idle shutdown: disconnect runtimes idle for minutes (0 = never), warning warningSeconds before."),
        new(RuntimeIdleWarning, MethodKind.Notification, MethodDirection.ServerToClient, "A runtime will be disconnected for idleness in secondsLeft unless used."),
        new(RuntimeIdleDisconnected, MethodKind.Notification, MethodDirection.ServerToClient, "A runtime was disconnected for idleness."),

        // -- terminal methods (issue 3, terminals/files) --
        new(TerminalOpen, MethodKind.Request, MethodDirection.ClientToServer, "Opens a terminal on a runtime (Jupyter's terminals API), or reattaches to one by name."),
        new(TerminalList, MethodKind.Request, MethodDirection.ClientToServer, "The names of the terminals on a runtime's server."),
        new(TerminalInput, MethodKind.Request, MethodDirection.ClientToServer, "Sends keystrokes (text) to an open terminal."),
        new(TerminalResize, MethodKind.Request, MethodDirection.ClientToServer, "Sets an open terminal's size in rows and columns."),
        new(TerminalClose, MethodKind.Request, MethodDirection.ClientToServer, "Closes an open terminal; shutdown (default) ends its shell on the runtime."),
        new(TerminalOutput, MethodKind.Notification, MethodDirection.ServerToClient, "Text an open terminal wrote, in order."),
        new(TerminalClosed, MethodKind.Notification, MethodDirection.ServerToClient, "An open terminal ended, with the reason."),
        new(FilesList, MethodKind.Request, MethodDirection.ClientToServer, "The entries of a folder on a runtime."),
        new(FilesUpload, MethodKind.Request, MethodDirection.ClientToServer, "Uploads a local file or folder to a runtime (chunked, with progress; cancellable)."),
        new(FilesDownload, MethodKind.Request, MethodDirection.ClientToServer, "Downloads a runtime file or folder to a local path (with progress; cancellable)."),
        new(RuntimeSetup, MethodKind.Request, MethodDirection.ClientToServer, "Runs the setup commands on a runtime once (a marker on the runtime skips them afterwards; force runs them again)."),
        // -- gpu methods (issue 4) --
        new(GpuRuntimeSnapshot, MethodKind.Request, MethodDirection.ClientToServer, "The GPUs of a connected runtime, read on the runtime by a hidden probe kernel (never the user's)."),
        new(GpuRuntimeChanged, MethodKind.Notification, MethodDirection.ServerToClient, "A runtime's GPU reading that differs from its last one while watching; snapshot null when the runtime is gone."),
        new(GpuCheck, MethodKind.Request, MethodDirection.ClientToServer, "The GPU report of a runtime (or this host) and whether its GPUs match the required names."),
        new(GpuHistory, MethodKind.Request, MethodDirection.ClientToServer, "The readings of the last minutes per source (this host, each runtime) and GPU, for the history charts."),
        new(GpuBenchmark, MethodKind.Request, MethodDirection.ClientToServer, "Measures a runtime: GPU matmul TFLOP/s and memory bandwidth (PyTorch), CPU matmul, disk write/read, next to nominal figures."),

        // -- training methods (issue 5) --
        new(TrainStart, MethodKind.Request, MethodDirection.ClientToServer, "Starts a supervised, detached training job (a command or the built-in example); answers once its supervisor runs."),
        new(TrainStatus, MethodKind.Request, MethodDirection.ClientToServer, "One training job: state, restarts, last error and progress from its metrics."),
        new(TrainList, MethodKind.Request, MethodDirection.ClientToServer, "All training jobs on the daemon's host, including those started before this session."),
        new(TrainStop, MethodKind.Request, MethodDirection.ClientToServer, "Asks a job to stop: SIGTERM, the grace period for a last checkpoint, then SIGKILL."),
        new(TrainLogs, MethodKind.Request, MethodDirection.ClientToServer, "A chunk of a job's log from a byte offset (poll with nextOffset to follow)."),
        new(TrainChanged, MethodKind.Notification, MethodDirection.ServerToClient, "A job whose state or progress changed (epoch/step, loss, samples/s, ETA, restarts)."),
        new(TrainMetrics, MethodKind.Request, MethodDirection.ClientToServer, "A job's metrics records (numeric fields of each JSON line) from a byte offset, for the curves."),

        // -- drive methods (issue 6) --
        new(DriveSignInBegin, MethodKind.Request, MethodDirection.ClientToServer, "Starts a Google sign-in (PKCE, state, a one-shot loopback listener on 127.0.0.1) and answers the page to open."),
        new(DriveSignInRedirect, MethodKind.Request, MethodDirection.ClientToServer, "Uses the editor's forwarded address of the loopback listener as the redirect URI (remote workspaces)."),
        new(DriveSignInPaste, MethodKind.Request, MethodDirection.ClientToServer, "Hands a pasted code or redirect address to the open sign-in (when the redirect cannot reach the listener)."),
        new(DriveSignInFinish, MethodKind.Request, MethodDirection.ClientToServer, "Waits for the sign-in answer, checks state, exchanges the code with the verifier, answers the tokens; cancellable."),
        new(DriveUseAccount, MethodKind.Request, MethodDirection.ClientToServer, "Uses the Drive v3 API with the signed-in account's tokens (kept in memory only; refreshed when expired or on 401)."),
        new(DriveTokensRefreshed, MethodKind.Notification, MethodDirection.ServerToClient, "The daemon refreshed the Drive access token: the client stores the new tokens in SecretStorage."),
        new(DriveSignOut, MethodKind.Request, MethodDirection.ClientToServer, "Forgets the signed-in account and revokes its token at Google."),
        new(DriveUse, MethodKind.Request, MethodDirection.ClientToServer, "Chooses the Drive backend: a mounted folder, the Drive v3 API with an access token, or none."),
        new(DriveStatus, MethodKind.Request, MethodDirection.ClientToServer, "Which Drive backend is in use and how many uploads are pending."),
        new(DriveList, MethodKind.Request, MethodDirection.ClientToServer, "One page (up to 1,000) of a Drive folder's children, searchable by name and sortable."),
        new(DriveItem, MethodKind.Request, MethodDirection.ClientToServer, "One Drive file's metadata (name, type, size, modified time, md5)."),
        new(DriveGet, MethodKind.Request, MethodDirection.ClientToServer, "Downloads a Drive file (ranged, resumable, md5-verified) under a safe local name; reports progress; cancellable."),
        new(DrivePut, MethodKind.Request, MethodDirection.ClientToServer, "Uploads a local file to Drive (resumable, 256 KiB-multiple chunks, md5-verified); reports progress; cancellable."),
        new(DriveCopyToRuntime, MethodKind.Request, MethodDirection.ClientToServer, "Copies a zip or tar from Drive to a runtime's disk (the local one, or a remote one by runtimeId: streamed and extracted there) and extracts it safely; skips when already complete."),
        new(DriveFlush, MethodKind.Request, MethodDirection.ClientToServer, "Waits for every upload this daemon started and answers each one's verified result."),
        new(DriveRead, MethodKind.Request, MethodDirection.ClientToServer, "A Drive file's bytes (up to 64 MB, base64) for the colab-drive: file system."),
        new(DriveWrite, MethodKind.Request, MethodDirection.ClientToServer, "Replaces a Drive file's content (base64) and verifies it: saving a notebook opened from Drive."),
        new(DriveParseLink, MethodKind.Request, MethodDirection.ClientToServer, "Checks a Drive share link or file id: what it points at (file, Docs/Sheets/Slides, folder) and its export formats."),
        new(DriveGetLink, MethodKind.Request, MethodDirection.ClientToServer, "Downloads a publicly shared Drive file by link without signing in (large-file confirmation, exports, resume); reports progress; cancellable."),

        // -- github methods (issue 7) --
        new(GitHubResolve, MethodKind.Request, MethodDirection.ClientToServer, "Parses a GitHub, raw, Colab-badge, gist or owner/repo/path@ref link and resolves its ref (branch, tag or commit)."),
        new(GitHubOpen, MethodKind.Request, MethodDirection.ClientToServer, "Fetches a notebook from GitHub and answers its nbformat 4 JSON text and a name for an untitled copy."),
        new(GitHubList, MethodKind.Request, MethodDirection.ClientToServer, "The notebooks in a repository at a ref (git trees API), with its branches and tags."),
        new(GitHubLinks, MethodKind.Request, MethodDirection.ClientToServer, "The GitHub, Colab and badge links of a workspace notebook, from its repository's git remote."),

    ];

    private static readonly Dictionary<string, MethodInfo> s_byName = All.ToDictionary(m => m.Name, StringComparer.Ordinal);

    public static MethodInfo? Find(string name) => s_byName.GetValueOrDefault(name);
}
