using System.Text.RegularExpressions;

namespace Colab.Daemon.JsonRpc;

/// <summary>
/// Masks anything shaped like a credential before text leaves the daemon in an error
/// message or a log line (architecture invariant 6).
/// </summary>
public static partial class Redaction
{
    public const string Mask = "***";

    // The key stands alone or ends a compound name (api_key, x-api-key, access_token), never the tail of a word (monkey, hotkey).
    [GeneratedRegex(@"(?i)(?<![A-Za-z0-9])(?<key>(?:[A-Za-z0-9]+[_-])*(?:token|authorization|password|passwd|secret|code_verifier|key|apikey))(?<sep>\s*[=:]\s*|""\s*:\s*"")(?:(?:token|bearer|basic)\s+)?(?<value>[^\s&""',;}]+)")]
    private static partial Regex KeyValue();

    // A credential after the scheme word has a digit or is long: "token rejected" is a sentence, not a secret.
    [GeneratedRegex(@"(?i)\b(?<scheme>bearer|token|basic)\s+(?<value>(?=[A-Za-z0-9\-._~+/]*[0-9])[A-Za-z0-9\-._~+/]{8,}=*|[A-Za-z0-9\-._~+/]{16,}=*)")]
    private static partial Regex AuthScheme();

    [GeneratedRegex(@"(?<=://)[^/@\s:]+:[^/@\s]+(?=@)")]
    private static partial Regex UrlUserInfo();

    [GeneratedRegex(@"\b(?:ya29\.[A-Za-z0-9\-_]+|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|1//[A-Za-z0-9\-_]{20,})")]
    private static partial Regex KnownTokenShapes();

    public static string Redact(string text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return text;
        }
        text = KnownTokenShapes().Replace(text, Mask);
        text = UrlUserInfo().Replace(text, Mask);
        text = KeyValue().Replace(text, m => $"{m.Groups["key"].Value}{m.Groups["sep"].Value}{Mask}");
        text = AuthScheme().Replace(text, m => $"{m.Groups["scheme"].Value} {Mask}");
        return text;
    }
}
