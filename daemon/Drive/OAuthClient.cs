using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Colab.Daemon.Drive;

/// <summary>How much of Drive the sign-in asks for (least privilege by default).</summary>
public enum DriveAccess
{
    /// <summary><c>drive.readonly</c>: browse and download.</summary>
    Read,

    /// <summary><c>drive.readonly</c> + <c>drive.file</c>: browse everything, write what this product created or opened.</summary>
    ReadWrite,

    /// <summary><c>drive</c>: everything; only when the user asks for it in the settings.</summary>
    Full,
}

/// <summary>
/// An installed-app OAuth client (Google's "Desktop app" client type). Google documents that
/// such a client secret cannot be kept secret; it is still never logged.
/// </summary>
public sealed record OAuthClientConfig(string ClientId, string? ClientSecret, Uri AuthorizeEndpoint, Uri TokenEndpoint, Uri RevokeEndpoint)
{
    public const string GoogleAuthorize = "https://accounts.google.com/o/oauth2/v2/auth";
    public const string GoogleToken = "https://oauth2.googleapis.com/token";
    public const string GoogleRevoke = "https://oauth2.googleapis.com/revoke";

    /// <summary>Checks every field; endpoints must be https, or http on a loopback host (a test stand-in).</summary>
    public static OAuthClientConfig Create(string? clientId, string? clientSecret, string? authorize, string? token, string? revoke)
    {
        if (string.IsNullOrWhiteSpace(clientId))
        {
            throw new DriveException(DriveErrorKind.InvalidInput, "No OAuth client is configured for Google Drive: set 'colab.drive.oauth.clientId' (and 'colab.drive.oauth.clientSecret') to a Desktop-app OAuth client from the Google Cloud console with the Drive API enabled.");
        }
        if (clientId.Length > 512 || clientId.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)))
        {
            throw new DriveException(DriveErrorKind.InvalidInput, "The OAuth client id has spaces or control characters; copy it again from the Google Cloud console.");
        }
        if (clientSecret is not null && (clientSecret.Length > 512 || clientSecret.Any(char.IsControl)))
        {
            throw new DriveException(DriveErrorKind.InvalidInput, "The OAuth client secret has control characters or is too long.");
        }
        return new OAuthClientConfig(clientId, string.IsNullOrEmpty(clientSecret) ? null : clientSecret,
            Endpoint(authorize, GoogleAuthorize, "authorization"), Endpoint(token, GoogleToken, "token"), Endpoint(revoke, GoogleRevoke, "revocation"));
    }

    private static Uri Endpoint(string? value, string fallback, string what)
    {
        var text = string.IsNullOrWhiteSpace(value) ? fallback : value.Trim();
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || !string.IsNullOrEmpty(uri.UserInfo) || !string.IsNullOrEmpty(uri.Fragment)
            || !(uri.Scheme == Uri.UriSchemeHttps || (uri.Scheme == Uri.UriSchemeHttp && uri.IsLoopback)))
        {
            throw new DriveException(DriveErrorKind.InvalidInput, $"The OAuth {what} endpoint must be an https URL (or http on 127.0.0.1 for a test server), without user info or a fragment.");
        }
        return uri;
    }

    // The secret never reaches a log line through ToString.
    public override string ToString() => $"OAuthClientConfig {{ ClientId = {ClientId}, AuthorizeEndpoint = {AuthorizeEndpoint}, TokenEndpoint = {TokenEndpoint}, RevokeEndpoint = {RevokeEndpoint} }}";

    public static string ScopesFor(DriveAccess access) => access switch
    {
        DriveAccess.Read => "https://www.googleapis.com/auth/drive.readonly",
        DriveAccess.Full => "https://www.googleapis.com/auth/drive",
        _ => "https://www.googleapis.com/auth/drive.readonly https://www.googleapis.com/auth/drive.file",
    };
}

/// <summary>What the token endpoint granted. <see cref="RefreshToken"/> is null when it sent none (a refresh keeps the old one).</summary>
public sealed record OAuthTokens(string AccessToken, string? RefreshToken, DateTimeOffset ExpiresAt, string? Scope)
{
    public override string ToString() => $"OAuthTokens {{ ExpiresAt = {ExpiresAt:O}, Scope = {Scope} }}";
}

/// <summary>
/// The token-endpoint calls of OAuth 2.0 for installed apps (RFC 6749 §4.1.3 / §6 with PKCE,
/// RFC 7636; revocation as Google documents it): form posts over <see cref="HttpClient"/>,
/// answers checked field by field, errors as messages without a code or token in them.
/// </summary>
public sealed class OAuthClient(HttpClient http, OAuthClientConfig config, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public OAuthClientConfig Config => config;

    public Task<OAuthTokens> ExchangeCodeAsync(string code, string codeVerifier, string redirectUri, CancellationToken cancellationToken)
        => TokenRequestAsync([new("grant_type", "authorization_code"), new("code", code), new("code_verifier", codeVerifier), new("redirect_uri", redirectUri)], null, cancellationToken);

    public Task<OAuthTokens> RefreshAsync(string refreshToken, CancellationToken cancellationToken)
        => TokenRequestAsync([new("grant_type", "refresh_token"), new("refresh_token", refreshToken)], refreshToken, cancellationToken);

    /// <summary>Revokes a token (a refresh token revokes its access tokens too). False when the server said the token was already invalid.</summary>
    public async Task<bool> RevokeAsync(string token, CancellationToken cancellationToken)
    {
        using var content = new FormUrlEncodedContent([new("token", token)]);
        using var response = await SendAsync(config.RevokeEndpoint, content, cancellationToken).ConfigureAwait(false);
        if (response.IsSuccessStatusCode)
        {
            return true;
        }
        var error = await ReadErrorAsync(response, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.BadRequest && error.Error is "invalid_token" or "invalid_request")
        {
            return false;
        }
        throw new DriveException(DriveErrorKind.Failed, $"Google did not confirm the revocation (HTTP {(int)response.StatusCode}{Describe(error)}); the sign-in was forgotten here anyway.");
    }

    private async Task<OAuthTokens> TokenRequestAsync(List<KeyValuePair<string, string>> form, string? previousRefresh, CancellationToken cancellationToken)
    {
        form.Add(new("client_id", config.ClientId));
        if (config.ClientSecret is { } secret)
        {
            form.Add(new("client_secret", secret));
        }
        using var content = new FormUrlEncodedContent(form);
        using var response = await SendAsync(config.TokenEndpoint, content, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            var error = await ReadErrorAsync(response, cancellationToken).ConfigureAwait(false);
            var what = previousRefresh is null ? "exchanging the sign-in code" : "refreshing the sign-in";
            var message = error.Error switch
            {
                "invalid_grant" when previousRefresh is null => "Google rejected the sign-in code (it is wrong, expired or was already used). Sign in again.",
                "invalid_grant" => "The Google Drive sign-in has expired or was revoked. Sign in to Google Drive again.",
                "invalid_client" or "unauthorized_client" => "Google rejected the OAuth client: check 'colab.drive.oauth.clientId' and 'colab.drive.oauth.clientSecret' (a Desktop-app client).",
                _ => $"Google refused {what} (HTTP {(int)response.StatusCode}{Describe(error)}).",
            };
            throw new DriveException(DriveErrorKind.Auth, message);
        }
        TokenResponse? body;
        try
        {
            var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            if (bytes.Length > 64 * 1024)
            {
                throw new JsonException("too large");
            }
            body = JsonSerializer.Deserialize(bytes, OAuthJson.Default.TokenResponse);
        }
        catch (JsonException)
        {
            throw new DriveException(DriveErrorKind.BadResponse, "Google's token endpoint sent a response that is not the JSON this client expects.");
        }
        if (body is null || !IsTokenText(body.AccessToken))
        {
            throw new DriveException(DriveErrorKind.BadResponse, "Google's token endpoint answered without a usable access token.");
        }
        if (body.TokenType is { } type && !type.Equals("Bearer", StringComparison.OrdinalIgnoreCase))
        {
            throw new DriveException(DriveErrorKind.BadResponse, "Google's token endpoint answered with a token type other than Bearer.");
        }
        if (body.RefreshToken is not null && !IsTokenText(body.RefreshToken))
        {
            throw new DriveException(DriveErrorKind.BadResponse, "Google's token endpoint answered with a malformed refresh token.");
        }
        // No or a nonsensical lifetime: assume an hour (Google's usual), never more than a day.
        var lifetime = body.ExpiresIn is { } s && s > 0 ? Math.Min(s, 86400) : 3600;
        var scope = body.Scope is { Length: <= 2000 } sc && !sc.Any(char.IsControl) ? sc : null;
        return new OAuthTokens(body.AccessToken!, body.RefreshToken, _time.GetUtcNow().AddSeconds(lifetime), scope);
    }

    private async Task<HttpResponseMessage> SendAsync(Uri endpoint, HttpContent content, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = content };
        request.Headers.Accept.ParseAdd("application/json");
        try
        {
            return await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new DriveException(DriveErrorKind.Failed, $"Could not reach Google's sign-in server at {endpoint.Host}: {e.HttpRequestError}.", e);
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new DriveException(DriveErrorKind.Failed, $"Google's sign-in server at {endpoint.Host} did not answer in time.", e);
        }
    }

    internal static bool IsTokenText(string? s) => !string.IsNullOrEmpty(s) && s.Length <= 4096 && s.All(c => c is > ' ' and < '\u007f');

    private static async Task<TokenError> ReadErrorAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            return bytes.Length <= 64 * 1024 ? JsonSerializer.Deserialize(bytes, OAuthJson.Default.TokenError) ?? new TokenError() : new TokenError();
        }
        catch (Exception e) when (e is JsonException or HttpRequestException or IOException)
        {
            return new TokenError();
        }
    }

    /// <summary>The error code and description, only as safe text (letters, digits, punctuation), clipped.</summary>
    private static string Describe(TokenError e)
    {
        var code = Safe(e.Error, 64);
        var text = Safe(e.ErrorDescription, 200);
        return code is null ? "" : text is null ? $": {code}" : $": {code}, {text}";
    }

    internal static string? Safe(string? s, int max)
    {
        if (string.IsNullOrEmpty(s))
        {
            return null;
        }
        var b = new StringBuilder();
        foreach (var c in s.Take(max))
        {
            b.Append(char.IsAsciiLetterOrDigit(c) || c is ' ' or '_' or '-' or '.' or ',' or ':' or '\'' ? c : '?');
        }
        return b.ToString();
    }

    /// <summary>RFC 7636: a 43-character verifier from 32 random bytes and its S256 challenge.</summary>
    public static (string Verifier, string Challenge) NewPkce()
    {
        var verifier = Base64Url(RandomNumberGenerator.GetBytes(32));
        return (verifier, Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(verifier))));
    }

    public static string NewState() => Base64Url(RandomNumberGenerator.GetBytes(24));

    public static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>The authorization request URL (Google's parameters for installed apps).</summary>
    public string AuthorizeUrl(string redirectUri, string state, string challenge, string scopes)
    {
        var q = new StringBuilder(config.AuthorizeEndpoint.AbsoluteUri);
        q.Append(string.IsNullOrEmpty(config.AuthorizeEndpoint.Query) ? '?' : '&');
        void Add(string k, string v) => q.Append(k).Append('=').Append(Uri.EscapeDataString(v)).Append('&');
        Add("client_id", config.ClientId);
        Add("redirect_uri", redirectUri);
        Add("response_type", "code");
        Add("scope", scopes);
        Add("state", state);
        Add("code_challenge", challenge);
        Add("code_challenge_method", "S256");
        Add("access_type", "offline");
        Add("prompt", "consent");
        return q.ToString(0, q.Length - 1);
    }

    internal static string Seconds(double s) => s.ToString("0", CultureInfo.InvariantCulture);
}

internal sealed class TokenResponse
{
    [JsonPropertyName("access_token")]
    public string? AccessToken { get; set; }

    [JsonPropertyName("refresh_token")]
    public string? RefreshToken { get; set; }

    [JsonPropertyName("expires_in")]
    public double? ExpiresIn { get; set; }

    [JsonPropertyName("scope")]
    public string? Scope { get; set; }

    [JsonPropertyName("token_type")]
    public string? TokenType { get; set; }
}

internal sealed class TokenError
{
    [JsonPropertyName("error")]
    public string? Error { get; set; }

    [JsonPropertyName("error_description")]
    public string? ErrorDescription { get; set; }
}

[JsonSerializable(typeof(TokenResponse))]
[JsonSerializable(typeof(TokenError))]
internal sealed partial class OAuthJson : JsonSerializerContext;
