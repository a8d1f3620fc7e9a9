using System.Text.Json;
using System.Text.Json.Serialization;

namespace Colab.Daemon.Protocol;

/// <summary>
/// The installed-app OAuth client and endpoints, from the <c>colab.drive.oauth.*</c> settings
/// (endpoints default to Google's). The client secret of a Desktop-app client is not
/// confidential (Google says so) but is still never logged.
/// </summary>
public sealed record DriveOAuthSettings(string ClientId, string? ClientSecret = null, string? AuthorizeUrl = null, string? TokenUrl = null, string? RevokeUrl = null)
{
    public override string ToString() => $"DriveOAuthSettings {{ ClientId = {ClientId}, AuthorizeUrl = {AuthorizeUrl}, TokenUrl = {TokenUrl}, RevokeUrl = {RevokeUrl} }}";
}

/// <param name="Access">"read" (drive.readonly), "readWrite" (drive.readonly + drive.file; the default) or "full" (drive).</param>
/// <param name="TimeoutSeconds">How long the loopback listener waits for the browser (default 300, 5–1800).</param>
public sealed record DriveSignInBeginParams([property: JsonPropertyName("oauth")] DriveOAuthSettings OAuth, string? Access = null, int? TimeoutSeconds = null);

/// <param name="LoopbackUri">Where the daemon listens (<c>http://127.0.0.1:PORT/oauth2callback</c>); the editor may forward it.</param>
/// <param name="AuthorizeUrl">The page to open in the browser.</param>
public sealed record DriveSignInBeginResult(string FlowId, string LoopbackUri, string AuthorizeUrl);

/// <summary><c>colab/drive/signInRedirect</c>: the forwarded address of the loopback listener (remote workspaces).</summary>
public sealed record DriveSignInRedirectParams(string FlowId, string RedirectUri);

public sealed record DriveSignInFlowParams(string FlowId);

/// <summary><c>colab/drive/signInPaste</c>: the code Google showed, or the address the browser ended on.</summary>
public sealed record DriveSignInPasteParams(string FlowId, string Text)
{
    public override string ToString() => $"DriveSignInPasteParams {{ FlowId = {FlowId} }}";
}

/// <summary>The tokens the client keeps in SecretStorage (and nowhere else).</summary>
public sealed record DriveAccountTokens(string AccessToken, string? RefreshToken, DateTimeOffset ExpiresAt, string? Scope = null)
{
    public override string ToString() => $"DriveAccountTokens {{ ExpiresAt = {ExpiresAt:O}, Scope = {Scope} }}";
}

/// <summary><c>colab/drive/useAccount</c>: the Drive v3 API at <c>baseUrl</c> with these tokens, refreshed through <c>oauth</c>.</summary>
public sealed record DriveUseAccountParams(DriveAccountTokens Tokens, [property: JsonPropertyName("oauth")] DriveOAuthSettings OAuth, string? BaseUrl = null)
{
    public override string ToString() => $"DriveUseAccountParams {{ OAuth = {OAuth}, BaseUrl = {BaseUrl} }}";
}

/// <summary><c>colab/drive/signOut</c>: the token to revoke (the refresh token when there is one).</summary>
public sealed record DriveSignOutParams(string? Token = null, string? RevokeUrl = null)
{
    public override string ToString() => $"DriveSignOutParams {{ RevokeUrl = {RevokeUrl} }}";
}

/// <param name="Revoked">Google confirmed the revocation (false: nothing to revoke, already invalid, or unreachable — see message).</param>
public sealed record DriveSignOutResult(bool Revoked, string? Message = null);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(DriveSignInBeginParams))]
[JsonSerializable(typeof(DriveSignInBeginResult))]
[JsonSerializable(typeof(DriveSignInRedirectParams))]
[JsonSerializable(typeof(DriveSignInFlowParams))]
[JsonSerializable(typeof(DriveSignInPasteParams))]
[JsonSerializable(typeof(DriveAccountTokens))]
[JsonSerializable(typeof(DriveUseAccountParams))]
[JsonSerializable(typeof(DriveSignOutParams))]
[JsonSerializable(typeof(DriveSignOutResult))]
[JsonSerializable(typeof(DriveStatusResult))]
[JsonSerializable(typeof(EmptyParams))]
[JsonSerializable(typeof(JsonElement))]
public sealed partial class DriveAuthJson : JsonSerializerContext;
