using System.Text.Json.Serialization;

namespace Colab.Daemon.Runtimes;

/// <summary>
/// Source-generated JSON for the Jupyter wire (reflection serialization is off): snake_case
/// like Jupyter; deserialization requires every constructor parameter without a default
/// and rejects null where the type says non-null, so a response of the wrong shape fails
/// at the boundary with a message naming the field.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(JupyterApiVersion))]
[JsonSerializable(typeof(JupyterServerStatus))]
[JsonSerializable(typeof(JupyterKernel))]
[JsonSerializable(typeof(List<JupyterKernel>))]
[JsonSerializable(typeof(JupyterKernelSpecs))]
[JsonSerializable(typeof(JupyterSession))]
[JsonSerializable(typeof(List<JupyterSession>))]
[JsonSerializable(typeof(StartKernelBody))]
[JsonSerializable(typeof(CreateSessionBody))]
[JsonSerializable(typeof(JupyterErrorBody))]
[JsonSerializable(typeof(JupyterServerInfoFile))]
[JsonSerializable(typeof(ExecuteRequestContent))]
[JsonSerializable(typeof(InputReplyContent))]
internal sealed partial class RuntimeJson : JsonSerializerContext;

/// <summary><c>execute_request</c> content (messaging spec 5.x).</summary>
internal sealed record ExecuteRequestContent(
    string Code,
    bool Silent,
    bool StoreHistory,
    IReadOnlyDictionary<string, string> UserExpressions,
    bool AllowStdin,
    bool StopOnError);

/// <summary><c>input_reply</c> content.</summary>
internal sealed record InputReplyContent(string Value);
