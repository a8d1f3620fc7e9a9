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

    // -- terminal names (issue 3, terminals/files) --
    // -- gpu names (issue 4) --

    // -- training names (issue 5) --

    // -- drive names (issue 6) --
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

    // -- github names (issue 7) --


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

        // -- terminal methods (issue 3, terminals/files) --
        // -- gpu methods (issue 4) --

        // -- training methods (issue 5) --

        // -- drive methods (issue 6) --
        new(DriveUse, MethodKind.Request, MethodDirection.ClientToServer, "Chooses the Drive backend: a mounted folder, the Drive v3 API with an access token, or none."),
        new(DriveStatus, MethodKind.Request, MethodDirection.ClientToServer, "Which Drive backend is in use and how many uploads are pending."),
        new(DriveList, MethodKind.Request, MethodDirection.ClientToServer, "One page (up to 1,000) of a Drive folder's children, searchable by name and sortable."),
        new(DriveItem, MethodKind.Request, MethodDirection.ClientToServer, "One Drive file's metadata (name, type, size, modified time, md5)."),
        new(DriveGet, MethodKind.Request, MethodDirection.ClientToServer, "Downloads a Drive file (ranged, resumable, md5-verified) under a safe local name; reports progress; cancellable."),
        new(DrivePut, MethodKind.Request, MethodDirection.ClientToServer, "Uploads a local file to Drive (resumable, 256 KiB-multiple chunks, md5-verified); reports progress; cancellable."),
        new(DriveCopyToRuntime, MethodKind.Request, MethodDirection.ClientToServer, "Copies a zip or tar from Drive to the local runtime's disk and extracts it safely; skips when already complete."),
        new(DriveFlush, MethodKind.Request, MethodDirection.ClientToServer, "Waits for every upload this daemon started and answers each one's verified result."),
        new(DriveRead, MethodKind.Request, MethodDirection.ClientToServer, "A Drive file's bytes (up to 64 MB, base64) for the colab-drive: file system."),
        new(DriveWrite, MethodKind.Request, MethodDirection.ClientToServer, "Replaces a Drive file's content (base64) and verifies it: saving a notebook opened from Drive."),

        // -- github methods (issue 7) --

    ];

    private static readonly Dictionary<string, MethodInfo> s_byName = All.ToDictionary(m => m.Name, StringComparer.Ordinal);

    public static MethodInfo? Find(string name) => s_byName.GetValueOrDefault(name);
}
