using System.Text.Json;
using System.Text.Json.Serialization;
using Colab.Daemon.Gpu;
using Colab.Daemon.Runtimes;
using Colab.Daemon.Status;

namespace Colab.Daemon.Protocol;

// Params and results of every method in Methods.All, as they travel on the wire.

public sealed record ClientInfo(string Name, string? Version = null);

public sealed record InitializeParams(
    int? ProcessId = null,
    ClientInfo? ClientInfo = null,
    string? Locale = null,
    JsonElement? Capabilities = null,
    JsonElement? InitializationOptions = null,
    JsonElement? Trace = null,
    JsonElement? WorkspaceFolders = null,
    string? RootUri = null,
    string? RootPath = null);

public sealed record ServerInfo(string Name, string Version);

/// <summary>The product's capabilities, under LSP's <c>experimental</c> so a stock client passes them through.</summary>
public sealed record ColabServerCapabilities(string ProtocolVersion, IReadOnlyList<string> Methods, bool ServerStatusNotifications);

public sealed record ExperimentalCapabilities(ColabServerCapabilities Colab);

public sealed record ServerCapabilities(ExperimentalCapabilities Experimental);

public sealed record InitializeResult(ServerCapabilities Capabilities, ServerInfo ServerInfo);

public sealed record EmptyParams;

public sealed record CancelParams(JsonElement Id);

public sealed record WorkDoneProgressCreateParams(string Token);

/// <summary>One <c>$/progress</c> value: <c>kind</c> is begin, report or end.</summary>
public sealed record WorkDoneProgressValue(
    string Kind,
    string? Title = null,
    string? Message = null,
    int? Percentage = null,
    bool? Cancellable = null);

/// <summary><c>Token</c> is an LSP ProgressToken: an integer or a string, sent back exactly as the client gave it.</summary>
public sealed record ProgressParams(JsonElement Token, WorkDoneProgressValue Value);

/// <summary>LSP MessageType: 1 error, 2 warning, 3 info, 4 log.</summary>
public sealed record ShowMessageParams(int Type, string Message);

public sealed record LogMessageParams(int Type, string Message);

public sealed record DelayParams(int Milliseconds, bool ReportProgress = false);

public sealed record DelayResult(long ElapsedMilliseconds);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(InitializeParams))]
[JsonSerializable(typeof(InitializeResult))]
[JsonSerializable(typeof(EmptyParams))]
[JsonSerializable(typeof(CancelParams))]
[JsonSerializable(typeof(WorkDoneProgressCreateParams))]
[JsonSerializable(typeof(ProgressParams))]
[JsonSerializable(typeof(ShowMessageParams))]
[JsonSerializable(typeof(LogMessageParams))]
[JsonSerializable(typeof(DelayParams))]
[JsonSerializable(typeof(DelayResult))]
[JsonSerializable(typeof(ServerStatus))]
[JsonSerializable(typeof(GpuSnapshot))]
[JsonSerializable(typeof(GpuWatchParams))]
[JsonSerializable(typeof(GpuWatchResult))]
[JsonSerializable(typeof(ConnectParams))]
[JsonSerializable(typeof(RuntimeInfo))]
[JsonSerializable(typeof(RuntimeListResult))]
[JsonSerializable(typeof(RuntimeIdParams))]
[JsonSerializable(typeof(KernelStartParams))]
[JsonSerializable(typeof(RuntimeKernelInfo))]
[JsonSerializable(typeof(KernelListResult))]
[JsonSerializable(typeof(KernelIdParams))]
[JsonSerializable(typeof(ExecuteParams))]
[JsonSerializable(typeof(ExecuteResult))]
[JsonSerializable(typeof(KernelOutput))]
[JsonSerializable(typeof(KernelOutputParams))]
[JsonSerializable(typeof(KernelInputParams))]
[JsonSerializable(typeof(KernelInputResult))]
[JsonSerializable(typeof(JsonElement))]
[JsonSerializable(typeof(object))]
public sealed partial class ProtocolJson : JsonSerializerContext;
