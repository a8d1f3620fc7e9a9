using System.Net;

namespace Colab.Daemon.Runtimes;

/// <summary>
/// A validated Jupyter server base URL: http or https, no user info, no query or fragment,
/// path ending in <c>/</c>. <see cref="Display"/> is what error messages and listings show.
/// </summary>
/// <param name="BaseUrl">e.g. <c>http://127.0.0.1:8888/</c> or <c>https://host/user/me/</c>.</param>
/// <param name="InsecureRemote">Plain http to a host that is not loopback: the token travels in clear text.</param>
public sealed record JupyterEndpoint(Uri BaseUrl, bool InsecureRemote)
{
    /// <summary>The base URL as text (it never carries a token).</summary>
    public string Display => BaseUrl.GetLeftPart(UriPartial.Path);

    public bool IsLoopback => IsLoopbackHost(BaseUrl);

    /// <summary>An absolute URL under the base, e.g. <c>api/kernels</c> (no leading slash).</summary>
    public Uri Resolve(string relative) => new(BaseUrl, relative);

    /// <summary>The WebSocket URL of a kernel's channels with the client session id.</summary>
    public Uri Channels(string kernelId, string sessionId)
    {
        var http = Resolve($"api/kernels/{Uri.EscapeDataString(kernelId)}/channels?session_id={Uri.EscapeDataString(sessionId)}");
        var builder = new UriBuilder(http) { Scheme = http.Scheme == Uri.UriSchemeHttps ? "wss" : "ws" };
        return builder.Uri;
    }

    /// <summary>Validates a user-supplied URL. A <c>token</c> query parameter (as Jupyter prints it) is taken out into <paramref name="queryToken"/>.</summary>
    /// <exception cref="JupyterException"><see cref="JupyterErrorKind.InvalidUrl"/>, with a message that never repeats the query.</exception>
    public static JupyterEndpoint Parse(string url, out string? queryToken)
    {
        queryToken = null;
        if (string.IsNullOrWhiteSpace(url))
        {
            throw new JupyterException(JupyterErrorKind.InvalidUrl, "no Jupyter server URL given");
        }
        url = url.Trim();
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            throw new JupyterException(JupyterErrorKind.InvalidUrl, $"'{WithoutQuery(url)}' is not an absolute URL: a Jupyter server URL starts with http:// or https:// (e.g. http://127.0.0.1:8888/)");
        }
        if (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
        {
            throw new JupyterException(JupyterErrorKind.InvalidUrl, $"a Jupyter server URL must start with http:// or https://, not {uri.Scheme}:");
        }
        if (string.IsNullOrEmpty(uri.Host))
        {
            throw new JupyterException(JupyterErrorKind.InvalidUrl, $"'{WithoutQuery(url)}' names no host (expected e.g. http://127.0.0.1:8888/)");
        }
        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            throw new JupyterException(JupyterErrorKind.InvalidUrl, "a Jupyter server URL must not carry a user name or password; pass the token on its own");
        }
        if (!string.IsNullOrEmpty(uri.Query))
        {
            foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var eq = pair.IndexOf('=');
                if (eq > 0 && pair[..eq] == "token")
                {
                    queryToken = Uri.UnescapeDataString(pair[(eq + 1)..]);
                }
            }
        }
        var path = uri.AbsolutePath;
        // A URL copied from a browser often points into the UI (/lab, /tree/x.ipynb, …):
        // the base is what comes before the first such segment.
        var segments = path.Split('/');
        for (var i = 0; i < segments.Length; i++)
        {
            if (segments[i] is "lab" or "tree" or "notebooks" or "api" or "doc")
            {
                path = string.Join('/', segments[..i]);
                break;
            }
        }
        if (!path.EndsWith('/'))
        {
            path += "/";
        }
        var builder = new UriBuilder(uri.Scheme, uri.Host, uri.Port, path);
        var clean = builder.Uri;
        return new JupyterEndpoint(clean, clean.Scheme == Uri.UriSchemeHttp && !IsLoopbackHost(clean));
    }

    public static JupyterEndpoint Parse(string url) => Parse(url, out _);

    internal static bool IsLoopbackHost(Uri uri)
    {
        if (uri.IsLoopback)
        {
            return true;
        }
        var host = uri.IdnHost.Trim('[', ']');
        return host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
               || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase)
               || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip));
    }

    private static string WithoutQuery(string url)
    {
        var cut = url.IndexOfAny(['?', '#']);
        var text = cut >= 0 ? url[..cut] : url;
        var at = text.IndexOf('@');
        if (at >= 0)
        {
            var scheme = text.IndexOf("://", StringComparison.Ordinal);
            text = (scheme >= 0 && scheme < at ? text[..(scheme + 3)] : "") + "***@" + text[(at + 1)..];
        }
        return text.Length > 200 ? text[..200] + "…" : text;
    }
}
