using System.Text.Json;
using System.Text.Json.Serialization;
using Colab.Daemon.Runtimes.Files;
using Colab.Daemon.Runtimes.Terminals;

namespace Colab.Daemon.Protocol;

/// <summary><c>colab/terminal/open</c>: a new terminal, or the existing terminal <c>name</c> (reattach).</summary>
public sealed record TerminalOpenParams(string RuntimeId, string? Name = null, int? Rows = null, int? Cols = null);

public sealed record TerminalListParams(string RuntimeId);

/// <summary>The names of the terminals on the runtime's server.</summary>
public sealed record TerminalListResult(IReadOnlyList<string> Names);

public sealed record TerminalInputParams(string TerminalId, string Data);

public sealed record TerminalResizeParams(string TerminalId, int Rows, int Cols);

/// <summary><c>colab/terminal/close</c>: <c>shutdown</c> (default) ends the shell on the runtime; false only detaches.</summary>
public sealed record TerminalCloseParams(string TerminalId, bool Shutdown = true);

/// <summary><c>colab/terminal/output</c>: text the terminal wrote, in order.</summary>
public sealed record TerminalOutputParams(string TerminalId, string Data);

/// <summary><c>colab/terminal/closed</c>: the terminal ended (its shell exited, it was closed, or the runtime went away).</summary>
public sealed record TerminalClosedParams(string TerminalId, string Reason);

public sealed record FilesListParams(string RuntimeId, string Path = "");

public sealed record FilesListResult(IReadOnlyList<RuntimeFileEntry> Entries);

/// <summary><c>colab/files/upload</c>: a local file or folder (absolute path) to <c>remotePath</c> (relative to the runtime's root).</summary>
public sealed record FilesUploadParams(string RuntimeId, string LocalPath, string RemotePath, bool Overwrite = false);

/// <summary><c>colab/files/download</c>: a runtime file or folder to <c>localPath</c> (absolute).</summary>
public sealed record FilesDownloadParams(string RuntimeId, string RemotePath, string LocalPath, bool Overwrite = false);

/// <summary><c>colab/runtime/setup</c>: run the setup commands once per runtime (<c>force</c>: again).</summary>
public sealed record SetupParams(string RuntimeId, IReadOnlyList<string> Commands, bool Force = false);

/// <summary>Source-generated JSON for the terminal and file messages (same options as <see cref="ProtocolJson"/>).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(TerminalOpenParams))]
[JsonSerializable(typeof(TerminalInfo))]
[JsonSerializable(typeof(TerminalListParams))]
[JsonSerializable(typeof(TerminalListResult))]
[JsonSerializable(typeof(TerminalInputParams))]
[JsonSerializable(typeof(TerminalResizeParams))]
[JsonSerializable(typeof(TerminalCloseParams))]
[JsonSerializable(typeof(TerminalOutputParams))]
[JsonSerializable(typeof(TerminalClosedParams))]
[JsonSerializable(typeof(FilesListParams))]
[JsonSerializable(typeof(FilesListResult))]
[JsonSerializable(typeof(FilesUploadParams))]
[JsonSerializable(typeof(FilesDownloadParams))]
[JsonSerializable(typeof(TransferResult))]
[JsonSerializable(typeof(SetupParams))]
[JsonSerializable(typeof(Colab.Daemon.Runtimes.Setup.SetupResult))]
[JsonSerializable(typeof(JsonElement))]
public sealed partial class TerminalJson : JsonSerializerContext;
