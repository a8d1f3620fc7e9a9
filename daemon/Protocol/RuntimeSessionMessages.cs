using System.Text.Json.Serialization;
using Colab.Daemon.Runtimes;

namespace Colab.Daemon.Protocol;

/// <summary><c>colab/runtime/sessions</c>: one runtime, or all when <c>runtimeId</c> is absent.</summary>
public sealed record RuntimeSessionsParams(string? RuntimeId = null);

public sealed record RuntimeSessionsResult(IReadOnlyList<RuntimeSessionsInfo> Runtimes);

/// <summary><c>colab/kernel/killIdle</c>: shut down the runtime's kernels idle for at least <c>idleSeconds</c>.</summary>
public sealed record KillIdleParams(string RuntimeId, double IdleSeconds = 0);

public sealed record KillIdleResult(IReadOnlyList<string> Killed);

/// <summary><c>colab/runtime/setIdleTimeout</c>: <c>minutes</c> 0 = never disconnect for idleness.</summary>
public sealed record IdleTimeoutParams(double Minutes, double? WarningSeconds = null);

public sealed record IdleTimeoutResult(double Minutes, double WarningSeconds);

/// <summary><c>colab/runtime/idleWarning</c>: the runtime is disconnected in <c>secondsLeft</c> unless used (<c>colab/runtime/keepAlive</c>).</summary>
public sealed record IdleWarningParams(string RuntimeId, double SecondsLeft);

/// <summary><c>colab/runtime/idleDisconnected</c>: the runtime was disconnected after <c>idleSeconds</c> idle.</summary>
public sealed record IdleDisconnectedParams(string RuntimeId, double IdleSeconds);

/// <summary>The runtime-sessions area's own source-generated JSON (same options as <see cref="ProtocolJson"/>).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(RuntimeSessionsParams))]
[JsonSerializable(typeof(RuntimeSessionsResult))]
[JsonSerializable(typeof(KillIdleParams))]
[JsonSerializable(typeof(KillIdleResult))]
[JsonSerializable(typeof(IdleTimeoutParams))]
[JsonSerializable(typeof(IdleTimeoutResult))]
[JsonSerializable(typeof(IdleWarningParams))]
[JsonSerializable(typeof(IdleDisconnectedParams))]
public sealed partial class RuntimeSessionJson : JsonSerializerContext;
