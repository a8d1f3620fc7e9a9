using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Colab.Daemon.Drive;

/// <summary>
/// Google Drive v3 over plain <see cref="HttpClient"/> (see docs/architecture.md for why not
/// Google.Apis): listing with paging, ranged resumable downloads, resumable uploads in 256 KiB
/// multiples, verification after every transfer (SHA-256 where Drive gives <c>sha256Checksum</c>, md5
/// where it gives only <c>md5Checksum</c>), and the retry rules of the issue.
/// </summary>
public sealed class DriveApiBackend : IDriveBackend
{
    public const string DefaultBaseUrl = "https://www.googleapis.com/";
    private const string ListFields = "nextPageToken,files(id,name,mimeType,size,md5Checksum,sha256Checksum,modifiedTime,driveId)";
    private const string ItemFields = "id,name,mimeType,size,md5Checksum,sha256Checksum,modifiedTime,driveId";
    private const int Chunk = 256 * 1024;
    private const int DownloadBuffer = 4 << 20;
    private const int MinHandOff = 1 << 20;

    private readonly HttpClient _http;
    private readonly Uri _base;
    private readonly IDriveTokenSource _tokens;
    private readonly DriveRetryPolicy _retry;
    private string? _token;

    public DriveApiBackend(HttpClient http, string baseUrl, IDriveTokenSource tokens, DriveRetryPolicy? retry = null, int uploadChunkBytes = 32 * Chunk)
    {
        if (!Uri.TryCreate(baseUrl, UriKind.Absolute, out var b) || (b.Scheme != Uri.UriSchemeHttps && b.Scheme != Uri.UriSchemeHttp))
        {
            throw new DriveException(DriveErrorKind.InvalidInput, $"The Drive API address '{baseUrl}' is not an http(s) URL.");
        }
        if (uploadChunkBytes <= 0 || uploadChunkBytes % Chunk != 0)
        {
            throw new DriveException(DriveErrorKind.InvalidInput, "The upload chunk size must be a positive multiple of 256 KiB.");
        }
        _http = http;
        _base = b.AbsoluteUri.EndsWith('/') ? b : new Uri(b.AbsoluteUri + "/");
        _tokens = tokens;
        _retry = retry ?? new DriveRetryPolicy();
        UploadChunkBytes = uploadChunkBytes;
    }

    public string Kind => "api";

    public int UploadChunkBytes { get; }

    public async Task<DrivePage> ListAsync(DriveListRequest request, CancellationToken cancellationToken)
    {
        if (request.FolderId == DriveRoots.SharedDrives)
        {
            return await DriveRoots.ListDrivesAsync(this, _base, request, cancellationToken).ConfigureAwait(false);
        }
        var q = new StringBuilder();
        q.Append(request.FolderId == DriveRoots.SharedWithMe ? "sharedWithMe" : Quote(request.FolderId) + " in parents").Append(" and trashed = false");
        if (!string.IsNullOrEmpty(request.NameContains))
        {
            q.Append(" and name contains ").Append(Quote(request.NameContains));
        }
        var order = request.Sort switch
        {
            DriveSort.Modified => "modifiedTime",
            DriveSort.Size => "quotaBytesUsed",
            _ => "name",
        };
        order = "folder," + order + (request.Descending ? " desc" : "");
        var pageSize = Math.Clamp(request.PageSize, 1, 1000);
        var url = $"drive/v3/files?q={Uri.EscapeDataString(q.ToString())}&pageSize={pageSize}&orderBy={Uri.EscapeDataString(order)}&fields={Uri.EscapeDataString(ListFields)}&supportsAllDrives=true&includeItemsFromAllDrives=true" + DriveRoots.CorporaFor(request);
        if (request.PageToken is { } token)
        {
            url += "&pageToken=" + Uri.EscapeDataString(token);
        }
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Get, new Uri(_base, url)), cancellationToken).ConfigureAwait(false);
        var list = await ReadJsonAsync(response, DriveApiJson.Default.FileList, cancellationToken).ConfigureAwait(false);
        var items = (list.Files ?? []).Select(ToItem).ToList();
        return new DrivePage(items, string.IsNullOrEmpty(list.NextPageToken) ? null : list.NextPageToken);
    }

    public async Task<DriveItem> GetAsync(string id, CancellationToken cancellationToken)
    {
        CheckId(id);
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Get, new Uri(_base, $"drive/v3/files/{Uri.EscapeDataString(id)}?fields={Uri.EscapeDataString(ItemFields)}&supportsAllDrives=true")), cancellationToken).ConfigureAwait(false);
        return ToItem(await ReadJsonAsync(response, DriveApiJson.Default.FileResource, cancellationToken).ConfigureAwait(false));
    }

    public async Task TrashAsync(string id, CancellationToken cancellationToken)
    {
        var item = await GetAsync(id, cancellationToken).ConfigureAwait(false);
        if (item.IsFolder)
        {
            throw new DriveException(DriveErrorKind.InvalidInput, $"'{item.Name}' is a folder; only files are moved to the trash here.");
        }
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Patch, new Uri(_base, $"drive/v3/files/{Uri.EscapeDataString(id)}?fields=id%2Ctrashed&supportsAllDrives=true"))
        {
            Content = new ByteArrayContent("{\"trashed\":true}"u8.ToArray()) { Headers = { ContentType = new("application/json") } },
        }, cancellationToken).ConfigureAwait(false);
    }

    public async Task<DriveTransfer> DownloadAsync(string id, string localPath, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        var item = await GetAsync(id, cancellationToken).ConfigureAwait(false);
        if (item.IsFolder)
        {
            throw new DriveException(DriveErrorKind.InvalidInput, $"'{item.Name}' is a folder; pick a file to download.");
        }
        if (item.MimeType.StartsWith(DriveMime.GooglePrefix, StringComparison.Ordinal))
        {
            throw new DriveException(DriveErrorKind.InvalidInput, $"'{item.Name}' is a Google Docs Editors file; export it instead of downloading.");
        }
        var part = localPath + ".part";
        // SHA-256 where Drive has it (2-3x cheaper than md5 on CPUs with SHA extensions), md5 only for files without it.
        var algorithm = DriveChecksums.AlgorithmFor(item);
        using var hash = DriveChecksums.Create(algorithm);
        long have = 0;
        var buffer = new byte[DownloadBuffer];
        byte[][] buffers = [buffer, new byte[DownloadBuffer]];
        // A .part from an earlier, interrupted run is resumed: hash what is there, then ask for the rest.
        await using (var output = new FileStream(part, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.Asynchronous))
        {
            if (item.Size is { } known && output.Length > known)
            {
                output.SetLength(0);
            }
            int n;
            while ((n = await output.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                hash.AppendData(buffer, 0, n);
                have += n;
            }
            progress?.Report(have);
            var failures = 0;
            while (item.Size is null || have < item.Size)
            {
                try
                {
                    var start = have;
                    using var response = await SendAsync(() =>
                    {
                        var r = new HttpRequestMessage(HttpMethod.Get, new Uri(_base, $"drive/v3/files/{Uri.EscapeDataString(id)}?alt=media&supportsAllDrives=true"));
                        if (start > 0)
                        {
                            r.Headers.Range = new RangeHeaderValue(start, null);
                        }
                        return r;
                    }, cancellationToken, HttpCompletionOption.ResponseHeadersRead).ConfigureAwait(false);
                    if (start > 0 && response.StatusCode != HttpStatusCode.PartialContent)
                    {
                        // The server ignored the range: start over from byte 0.
                        output.SetLength(0);
                        hash.GetHashAndReset();
                        have = 0;
                    }
                    await using var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
                    // Two 4 MiB buffers: the network fills one (at least 1 MiB per hand-off, so the hashing
                    // worker wakes ~256 times per GB) and it is written to the file right here, while the
                    // other is hashed on the worker. Reading and writing are what curl does on its one thread;
                    // the hash is the extra work, and it gets the other core to itself.
                    if (output.Position != have)
                    {
                        // A write that failed part-way on the last attempt: drop what was not hashed.
                        output.SetLength(have);
                        output.Position = have;
                    }
                    var pending = Task.CompletedTask;
                    var current = 0;
                    try
                    {
                        while (true)
                        {
                            var chunk = buffers[current];
                            var count = 0;
                            System.Runtime.ExceptionServices.ExceptionDispatchInfo? dropped = null;
                            try
                            {
                                while (count < MinHandOff && (n = await body.ReadAsync(chunk.AsMemory(count), cancellationToken).ConfigureAwait(false)) > 0)
                                {
                                    count += n;
                                }
                            }
                            catch (Exception e) when (e is IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
                            {
                                // A drop: what arrived before it is still written and hashed, so the retry's Range starts after it.
                                dropped = System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e);
                            }
                            if (count > 0)
                            {
                                output.Write(chunk, 0, count);
                                await pending.ConfigureAwait(false);
                                var filled = count;
                                pending = Task.Run(() =>
                                {
                                    hash.AppendData(chunk, 0, filled);
                                    Interlocked.Add(ref have, filled);
                                    progress?.Report(Interlocked.Read(ref have));
                                }, cancellationToken);
                                current ^= 1;
                            }
                            dropped?.Throw();
                            if (count < MinHandOff)
                            {
                                break; // the end of the body
                            }
                        }
                    }
                    finally
                    {
                        await pending.ConfigureAwait(false);
                    }
                    if (item.Size is null)
                    {
                        break;
                    }
                    if (have < item.Size)
                    {
                        throw new IOException("The connection closed before the whole file arrived.");
                    }
                }
                catch (Exception e) when (e is IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
                {
                    if (++failures >= _retry.MaxAttempts)
                    {
                        throw new DriveException(DriveErrorKind.Failed, $"Downloading '{item.Name}' kept failing after {have} bytes; the partial file is kept and the next try resumes from there.", e);
                    }
                    await Task.Delay(_retry.DelayFor(failures - 1, null), cancellationToken).ConfigureAwait(false);
                }
            }
            if (item.Size is { } size && have != size)
            {
                throw new DriveException(DriveErrorKind.Integrity, $"'{item.Name}' arrived with {have} bytes, Drive says {size}.");
            }
        }
        var digest = Convert.ToHexStringLower(hash.GetHashAndReset());
        var expected = DriveChecksums.Expected(item, algorithm);
        if (expected is not null && !string.Equals(expected, digest, StringComparison.OrdinalIgnoreCase))
        {
            File.Delete(part);
            throw new DriveException(DriveErrorKind.Integrity, $"'{item.Name}' failed verification: its {algorithm} is {digest}, Drive says {expected}. The download was discarded.");
        }
        File.Move(part, localPath, overwrite: true);
        return algorithm == DriveChecksums.Sha256
            ? new DriveTransfer(id, localPath, have, null, expected is not null, digest, expected is null ? null : algorithm)
            : new DriveTransfer(id, localPath, have, digest, true, null, algorithm);
    }

    /// <summary>
    /// Exports a Google Docs Editors file (Docs, Sheets, Slides) to <paramref name="mimeType"/>.
    /// Drive caps exports at 10 MB (a clear <see cref="DriveErrorKind.Quota"/> error) and gives no md5 for them.
    /// </summary>
    public async Task<DriveTransfer> ExportAsync(string id, string mimeType, string localPath, CancellationToken cancellationToken)
    {
        CheckId(id);
        if (string.IsNullOrWhiteSpace(mimeType) || mimeType.Length > 200 || !mimeType.Contains('/'))
        {
            throw new DriveException(DriveErrorKind.InvalidInput, "Say which format to export to as a MIME type, e.g. application/pdf.");
        }
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Get, new Uri(_base, $"drive/v3/files/{Uri.EscapeDataString(id)}/export?mimeType={Uri.EscapeDataString(mimeType)}")), cancellationToken).ConfigureAwait(false);
        var part = localPath + ".part";
        using var sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long total = 0;
        await using (var output = new FileStream(part, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
        {
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            var buffer = new byte[1 << 16];
            int n;
            while ((n = await body.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                sha256.AppendData(buffer, 0, n);
                await output.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                total += n;
            }
        }
        if (response.Content.Headers.ContentLength is { } expected && expected != total)
        {
            File.Delete(part);
            throw new DriveException(DriveErrorKind.Integrity, $"The export arrived with {total} bytes instead of {expected}; it was discarded.");
        }
        File.Move(part, localPath, overwrite: true);
        return new DriveTransfer(id, localPath, total, null, false, Convert.ToHexStringLower(sha256.GetHashAndReset()));
    }

    public async Task<DriveTransfer> UploadAsync(string localPath, string parentId, string name, string? existingId, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        if (existingId is not null)
        {
            CheckId(existingId);
        }
        CheckId(parentId);
        await using var input = new FileStream(localPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous);
        var total = input.Length;
        // Hashed with SHA-256 as it is sent; md5 is computed afterwards only if Drive answers without a sha256Checksum.
        using var sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long hashed = 0;
        var buffer = new byte[UploadChunkBytes];
        var restarts = 0;
        while (true)
        {
            var session = await StartSessionAsync(parentId, name, existingId, total, cancellationToken).ConfigureAwait(false);
            long offset = 0;
            var failures = 0;
            FileResource? done = null;
            var restart = false;
            while (done is null && !restart)
            {
                try
                {
                    input.Position = offset;
                    var len = (int)Math.Min(buffer.Length, total - offset);
                    await input.ReadExactlyAsync(buffer.AsMemory(0, len), cancellationToken).ConfigureAwait(false);
                    if (offset + len > hashed && offset <= hashed)
                    {
                        var from = (int)(hashed - offset);
                        sha256.AppendData(buffer, from, len - from);
                        hashed = offset + len;
                    }
                    using var request = new HttpRequestMessage(HttpMethod.Put, session)
                    {
                        Content = new ByteArrayContent(buffer, 0, len),
                    };
                    request.Content.Headers.ContentRange = len == 0 ? new ContentRangeHeaderValue(total) : new ContentRangeHeaderValue(offset, offset + len - 1, total);
                    using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
                    if (response.StatusCode == HttpStatusCode.NotFound)
                    {
                        restart = true;
                        break;
                    }
                    if ((int)response.StatusCode == 308)
                    {
                        offset = ParseRangeEnd(response);
                        failures = 0;
                        progress?.Report(offset);
                        continue;
                    }
                    if (response.IsSuccessStatusCode)
                    {
                        done = await ReadJsonAsync(response, DriveApiJson.Default.FileResource, cancellationToken).ConfigureAwait(false);
                        progress?.Report(total);
                        break;
                    }
                    var (kind, message, retryAfter) = await ClassifyAsync(response, cancellationToken).ConfigureAwait(false);
                    if (kind != DriveErrorKind.RateLimited || ++failures >= _retry.MaxAttempts)
                    {
                        throw new DriveException(kind, message);
                    }
                    await Task.Delay(_retry.DelayFor(failures - 1, retryAfter), cancellationToken).ConfigureAwait(false);
                    offset = await QueryStatusAsync(session, total, cancellationToken).ConfigureAwait(false) ?? -1;
                    if (offset < 0)
                    {
                        restart = true;
                    }
                }
                catch (Exception e) when (e is IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
                {
                    // A dropped connection: ask the session how much it kept and go on from there.
                    if (++failures >= _retry.MaxAttempts)
                    {
                        throw new DriveException(DriveErrorKind.Failed, $"Uploading '{name}' kept failing at byte {offset} of {total}.", e);
                    }
                    await Task.Delay(_retry.DelayFor(failures - 1, null), cancellationToken).ConfigureAwait(false);
                    var kept = await QueryStatusAsync(session, total, cancellationToken).ConfigureAwait(false);
                    if (kept is null)
                    {
                        restart = true;
                    }
                    else
                    {
                        offset = kept.Value;
                    }
                }
            }
            if (restart)
            {
                if (++restarts > 3)
                {
                    throw new DriveException(DriveErrorKind.Failed, $"Drive kept losing the upload session for '{name}'.");
                }
                continue;
            }
            var digest = Convert.ToHexStringLower(sha256.GetHashAndReset());
            var item = ToItem(done!);
            if (item.Sha256Checksum is { } drive256)
            {
                if (!string.Equals(drive256, digest, StringComparison.OrdinalIgnoreCase))
                {
                    throw new DriveException(DriveErrorKind.Integrity, $"'{name}' failed verification after upload: the local sha256 is {digest}, Drive says {drive256}.");
                }
                return new DriveTransfer(item.Id, localPath, total, null, true, digest, DriveChecksums.Sha256);
            }
            if (item.Md5Checksum is null)
            {
                throw new DriveException(DriveErrorKind.Integrity, $"'{name}' could not be verified after upload: Drive gave neither a sha256 nor an md5 checksum for it.");
            }
            // Drive did not give a SHA-256 for the stored file: verify with md5 instead (a second read of the local file).
            var md5Digest = await DriveChecksums.OfFileAsync(localPath, DriveChecksums.Md5, cancellationToken).ConfigureAwait(false);
            if (!string.Equals(item.Md5Checksum, md5Digest, StringComparison.OrdinalIgnoreCase))
            {
                throw new DriveException(DriveErrorKind.Integrity, $"'{name}' failed verification after upload: the local md5 is {md5Digest}, Drive says {item.Md5Checksum}.");
            }
            return new DriveTransfer(item.Id, localPath, total, md5Digest, true, digest, DriveChecksums.Md5);
        }
    }

    /// <summary>Asks a resumable session how many bytes it holds; null when the session is gone (404/410).</summary>
    private async Task<long?> QueryStatusAsync(Uri session, long total, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Put, session) { Content = new ByteArrayContent([]) };
                request.Content.Headers.ContentRange = new ContentRangeHeaderValue(total);
                using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
                if (response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Gone)
                {
                    return null;
                }
                if ((int)response.StatusCode == 308)
                {
                    return ParseRangeEnd(response);
                }
                if (response.IsSuccessStatusCode)
                {
                    return total;
                }
            }
            catch (Exception e) when (e is IOException or HttpRequestException && attempt + 1 < _retry.MaxAttempts)
            {
            }
            if (attempt + 1 >= _retry.MaxAttempts)
            {
                return null;
            }
            await Task.Delay(_retry.DelayFor(attempt, null), cancellationToken).ConfigureAwait(false);
        }
    }

    private static long ParseRangeEnd(HttpResponseMessage response)
    {
        if (!response.Headers.TryGetValues("Range", out var values))
        {
            return 0;
        }
        var v = values.First();
        var dash = v.LastIndexOf('-');
        if (!v.StartsWith("bytes=0-", StringComparison.Ordinal) || !long.TryParse(v.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var end))
        {
            throw new DriveException(DriveErrorKind.BadResponse, "Drive answered an upload chunk with a Range header this client cannot read.");
        }
        return end + 1;
    }

    private async Task<Uri> StartSessionAsync(string parentId, string name, string? existingId, long total, CancellationToken cancellationToken)
    {
        var meta = new UploadMetadata { Name = name, Parents = existingId is null ? [parentId] : null };
        var json = JsonSerializer.SerializeToUtf8Bytes(meta, DriveApiJson.Default.UploadMetadata);
        using var response = await SendAsync(() =>
        {
            var url = existingId is null
                ? "upload/drive/v3/files?uploadType=resumable&supportsAllDrives=true&fields=" + Uri.EscapeDataString(ItemFields)
                : $"upload/drive/v3/files/{Uri.EscapeDataString(existingId)}?uploadType=resumable&supportsAllDrives=true&fields=" + Uri.EscapeDataString(ItemFields);
            var r = new HttpRequestMessage(existingId is null ? HttpMethod.Post : HttpMethod.Patch, new Uri(_base, url))
            {
                Content = new ByteArrayContent(json),
            };
            r.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "UTF-8" };
            r.Headers.Add("X-Upload-Content-Length", total.ToString(CultureInfo.InvariantCulture));
            return r;
        }, cancellationToken).ConfigureAwait(false);
        var location = response.Headers.Location;
        if (location is null)
        {
            throw new DriveException(DriveErrorKind.BadResponse, "Drive did not answer the upload request with a session address.");
        }
        return location.IsAbsoluteUri ? location : new Uri(_base, location);
    }

    /// <summary>Sends with auth and the retry rules: 401 refreshes once; rate limits, 429 and 5xx back off; quota errors stop.</summary>
    internal async Task<HttpResponseMessage> SendAsync(Func<HttpRequestMessage> build, CancellationToken cancellationToken, HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead)
    {
        var refreshed = false;
        for (var attempt = 0; ; attempt++)
        {
            _token ??= await _tokens.GetTokenAsync(false, cancellationToken).ConfigureAwait(false)
                ?? throw new DriveException(DriveErrorKind.Auth, "Not signed in to Google Drive. Run 'Colab: Sign in to Google Drive' or use a mounted folder.");
            HttpResponseMessage response;
            using (var request = build())
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
                try
                {
                    response = await _http.SendAsync(request, completion, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is IOException or HttpRequestException && !cancellationToken.IsCancellationRequested && attempt + 1 < _retry.MaxAttempts)
                {
                    await Task.Delay(_retry.DelayFor(attempt, null), cancellationToken).ConfigureAwait(false);
                    continue;
                }
            }
            if (response.IsSuccessStatusCode)
            {
                return response;
            }
            using (response)
            {
                if (response.StatusCode == HttpStatusCode.Unauthorized)
                {
                    if (refreshed)
                    {
                        throw new DriveException(DriveErrorKind.Auth, "Google Drive rejected the sign-in even after a refresh. Sign in to Google Drive again.");
                    }
                    refreshed = true;
                    _token = await _tokens.GetTokenAsync(true, cancellationToken).ConfigureAwait(false)
                        ?? throw new DriveException(DriveErrorKind.Auth, "The Google Drive sign-in has expired. Sign in to Google Drive again.");
                    continue;
                }
                var (kind, message, retryAfter) = await ClassifyAsync(response, cancellationToken).ConfigureAwait(false);
                if (kind != DriveErrorKind.RateLimited || attempt + 1 >= _retry.MaxAttempts)
                {
                    throw new DriveException(kind, kind == DriveErrorKind.RateLimited ? $"{message} (gave up after {attempt + 1} tries)" : message);
                }
                await Task.Delay(_retry.DelayFor(attempt, retryAfter), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Reads Drive's error body (tolerating a malformed one) into a kind and a user-facing message.</summary>
    private static async Task<(DriveErrorKind Kind, string Message, TimeSpan? RetryAfter)> ClassifyAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var status = (int)response.StatusCode;
        string? reason = null;
        string? text = null;
        try
        {
            var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            var envelope = JsonSerializer.Deserialize(body, DriveApiJson.Default.ErrorEnvelope);
            reason = envelope?.Error?.Errors?.FirstOrDefault()?.Reason;
            text = envelope?.Error?.Message;
        }
        catch (Exception e) when (e is JsonException or IOException or HttpRequestException)
        {
        }
        TimeSpan? retryAfter = null;
        if (response.Headers.RetryAfter is { } ra)
        {
            retryAfter = ra.Delta ?? (ra.Date is { } d ? d - DateTimeOffset.UtcNow : null);
            if (retryAfter < TimeSpan.Zero)
            {
                retryAfter = TimeSpan.Zero;
            }
        }
        var detail = Clip(text) ?? $"HTTP {status}";
        return (status, reason) switch
        {
            (_, "storageQuotaExceeded" or "quotaExceeded") => (DriveErrorKind.Quota, "Your Google Drive storage is full. Free some space or upload elsewhere; the transfer was not retried.", null),
            (_, "downloadQuotaExceeded") => (DriveErrorKind.Quota, "Google Drive's download quota for this file is used up (a shared file downloaded too often); try again in 24 hours or copy it to your own Drive.", null),
            (_, "exportSizeLimitExceeded") => (DriveErrorKind.Quota, "This Google Docs file is larger than Drive's 10 MB export limit; download it in the browser or split it.", null),
            (403, "rateLimitExceeded" or "userRateLimitExceeded") or (429, _) => (DriveErrorKind.RateLimited, $"Google Drive is rate limiting requests: {detail}", retryAfter),
            ( >= 500, _) => (DriveErrorKind.RateLimited, $"Google Drive had a server error: {detail}", retryAfter),
            (404, _) => (DriveErrorKind.NotFound, $"Not found on Google Drive: {detail}", null),
            (403, _) => (DriveErrorKind.Auth, $"Google Drive refused: {detail}", null),
            _ => (DriveErrorKind.Failed, $"Google Drive answered HTTP {status}: {detail}", null),
        };
    }

    private static string? Clip(string? s) => s is null ? null : s.Length > 300 ? s[..300] + "…" : s;

    internal static async Task<T> ReadJsonAsync<T>(HttpResponseMessage response, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        try
        {
            var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            return JsonSerializer.Deserialize(body, type) ?? throw new JsonException("null");
        }
        catch (JsonException e)
        {
            throw new DriveException(DriveErrorKind.BadResponse, "Google Drive sent a response that is not the JSON this client expects.", e);
        }
    }

    private static DriveItem ToItem(FileResource f)
    {
        if (string.IsNullOrEmpty(f.Id) || f.Name is null)
        {
            throw new DriveException(DriveErrorKind.BadResponse, "Google Drive sent a file without an id or a name.");
        }
        long? size = null;
        if (f.Size is not null)
        {
            if (!long.TryParse(f.Size, NumberStyles.None, CultureInfo.InvariantCulture, out var s))
            {
                throw new DriveException(DriveErrorKind.BadResponse, $"Google Drive sent a size that is not a number for '{f.Name}'.");
            }
            size = s;
        }
        if (f.Md5Checksum is { } m && !DriveChecksums.IsHex(m, 32))
        {
            throw new DriveException(DriveErrorKind.BadResponse, $"Google Drive sent an md5Checksum that is not 32 hex digits for '{f.Name}'.");
        }
        if (f.Sha256Checksum is { } h && !DriveChecksums.IsHex(h, 64))
        {
            throw new DriveException(DriveErrorKind.BadResponse, $"Google Drive sent a sha256Checksum that is not 64 hex digits for '{f.Name}'.");
        }
        return new DriveItem(f.Id, f.Name, f.MimeType ?? "application/octet-stream", size, f.ModifiedTime, f.Md5Checksum?.ToLowerInvariant(), f.DriveId is { Length: > 0 and <= 200 } d ? d : null, f.Sha256Checksum?.ToLowerInvariant());
    }

    internal static void CheckId(string id)
    {
        if (string.IsNullOrEmpty(id) || id.Length > 200 || !id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            throw new DriveException(DriveErrorKind.InvalidInput, "That is not a Google Drive file id (letters, digits, '-' and '_' only).");
        }
    }

    internal static string Quote(string s) => "'" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";
}
