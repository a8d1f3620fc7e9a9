using System.Text.Json;
using Colab.Daemon.Drive;
using Colab.Daemon.Protocol;

namespace Colab.Daemon.Cli;

/// <summary>
/// <c>colab drive get &lt;share link | file id&gt; [dest]</c> without a Drive backend: the public
/// by-link download (no sign-in). <c>--link-url</c> points Drive's public hosts at a stand-in.
/// </summary>
internal static class DriveLinkCommand
{
    /// <summary>By link when the API is not asked for and the argument is an address, or no mounted folder is configured.</summary>
    public static bool Applies(string idOrLink, bool api, string? folder)
        => !api && (idOrLink.Contains("://", StringComparison.Ordinal) || idOrLink.StartsWith("drive.google.com/", StringComparison.OrdinalIgnoreCase)
            || idOrLink.StartsWith("docs.google.com/", StringComparison.OrdinalIgnoreCase) || idOrLink.StartsWith("drive.usercontent.google.com/", StringComparison.OrdinalIgnoreCase)
            || string.IsNullOrEmpty(folder ?? Environment.GetEnvironmentVariable("COLAB_DRIVE_FOLDER")));

    public static async Task<int> RunAsync(string link, string dest, string? format, string? linkUrl, bool asJson, TextWriter output, CancellationToken cancellationToken)
    {
        using var links = new DriveLinkService();
        try
        {
            var t = Directory.Exists(dest) || dest.EndsWith('/') || dest.EndsWith(Path.DirectorySeparatorChar)
                ? await links.DownloadAsync(link, dest, null, format, linkUrl, null, cancellationToken).ConfigureAwait(false)
                : await links.DownloadAsync(link, null, dest, format, linkUrl, null, cancellationToken).ConfigureAwait(false);
            await output.WriteLineAsync(asJson
                ? JsonSerializer.Serialize(t, DriveLinkJson.Default.DriveTransfer)
                : $"{t.LocalPath} ⇐ {t.FileId}: {t.Bytes} bytes, md5 {t.Md5Checksum} (size checked; Drive gives no md5 without sign-in)").ConfigureAwait(false);
            return CommandLine.ExitOk;
        }
        catch (Exception e) when (e is DriveException or IOException or UnauthorizedAccessException or HttpRequestException)
        {
            await Console.Error.WriteLineAsync($"colab drive: {e.Message}").ConfigureAwait(false);
            return CommandLine.ExitFailure;
        }
    }
}
