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

    // -- training names (issue 5) --

    // -- drive names (issue 6) --

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

        // -- training methods (issue 5) --

        // -- drive methods (issue 6) --

        // -- github methods (issue 7) --

    ];

    private static readonly Dictionary<string, MethodInfo> s_byName = All.ToDictionary(m => m.Name, StringComparer.Ordinal);

    public static MethodInfo? Find(string name) => s_byName.GetValueOrDefault(name);
}
