using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace Spright.Diffusion.Hub;

/// <summary>
/// One file of a repository into the cache: huggingface_hub's <c>hf_hub_download</c> in cache mode
/// (<c>_hf_hub_download_to_cache_dir</c>, <c>_download_to_tmp_and_move</c>, <c>http_get</c>).
/// </summary>
internal sealed class HubFileDownloader
{
    private const int MaxStreamRetries = 5;
    private const int BufferSize = 1 << 20;

    private readonly HubHttp _http;
    private readonly HubCache _cache;
    private readonly HubProgressSink _progress;

    public HubFileDownloader(HubHttp http, HubCache cache, HubProgressSink progress)
    {
        _http = http;
        _cache = cache;
        _progress = progress;
    }

    private HubSettings Settings => _http.Settings;

    private string RepoId => _http.RepoId;

    /// <summary>
    /// The snapshot path of <paramref name="fileName"/> at <paramref name="revision"/>, downloading it if needed:
    /// a commit revision whose file is cached makes no request; otherwise HEAD (commit, etag, size, download URL), then the
    /// blob under its lock, resumed from <c>blobs/{etag}.incomplete</c>. When the HEAD fails (unreachable Hub, 5xx,
    /// 401/403, a malformed reply) or requests are off, the cached revision is used; errors that say the revision or the
    /// file does not exist are raised at once.
    /// </summary>
    public async Task<string> DownloadAsync(string fileName, string[] parts, string revision, CancellationToken cancellationToken)
    {
        if (HubCache.IsCommitHash(revision))
        {
            string pinned = _cache.PointerPath(revision, parts);
            if (HubCache.FileExists(pinned))
            {
                return pinned;
            }
        }

        Uri url = _http.ResolveUrl(revision, fileName);
        HubException? headError = null;
        FileMetadata? metadata = null;
        if (!Settings.LocalFilesOnly)
        {
            try
            {
                metadata = await _http.HeadFileAsync(url, fileName, cancellationToken).ConfigureAwait(false);
                headError = CheckMetadata(metadata, url, fileName);
            }
            catch (HubException ex) when (ex.Kind == HubErrorKind.EntryNotFound)
            {
                if (ex.ErrorCommit is { } missingCommit && HubCache.IsSafeName(missingCommit))
                {
                    _cache.MarkMissing(missingCommit, parts);
                    _cache.WriteRef(revision, missingCommit);
                }
                throw;
            }
            catch (HubException ex) when (ex.Kind != HubErrorKind.RevisionNotFound && !ex.NoCacheFallback)
            {
                headError = ex;
            }
        }

        if (headError is not null || Settings.LocalFilesOnly)
        {
            if (_cache.ResolveCachedCommit(revision) is { } cachedCommit)
            {
                string cached = _cache.PointerPath(cachedCommit, parts);
                if (HubCache.FileExists(cached))
                {
                    return cached;
                }
            }
            throw NotCached(fileName, revision, headError);
        }

        string commit = metadata!.Commit!;
        string etag = metadata.Etag!;
        long size = metadata.Size!.Value;
        string blob = _cache.BlobPath(etag);
        string pointer = _cache.PointerPath(commit, parts);
        Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
        Directory.CreateDirectory(Path.GetDirectoryName(pointer)!);
        _cache.WriteRef(revision, commit);
        if (HubCache.FileExists(pointer))
        {
            return pointer;
        }

        // The download host: the redirect target of an LFS file (without the token when its host differs); Xet files
        // go through the resolve URL, whose redirect is followed by the GET.
        Uri downloadUrl = url;
        bool sendToken = true;
        if (!metadata.IsXet && metadata.Location != url)
        {
            downloadUrl = metadata.Location;
            sendToken = HubHttp.SameOrigin(url, downloadUrl);
        }

        using (await HubFileLock.AcquireAsync(_cache.LockPath(etag), cancellationToken).ConfigureAwait(false))
        {
            if (HubCache.FileExists(pointer))
            {
                return pointer;
            }
            bool newBlob = false;
            if (!HubCache.FileExists(blob))
            {
                await DownloadBlobAsync(blob, downloadUrl, sendToken, size, etag, fileName, cancellationToken).ConfigureAwait(false);
                newBlob = true;
            }
            _cache.CreatePointer(blob, pointer, newBlob);
        }
        return pointer;
    }

    /// <summary>The error of a file that could not be resolved on the Hub and is not cached (huggingface_hub's
    /// <c>_raise_on_head_call_error</c>): repository-not-found, gated and 401 errors as they are, everything else as
    /// <see cref="HubErrorKind.LocalEntryNotFound"/> with the cause in the message.</summary>
    public HubException NotCached(string? fileName, string revision, HubException? cause)
    {
        if (cause is { Kind: HubErrorKind.RepositoryNotFound or HubErrorKind.GatedRepo } || cause?.StatusCode == 401)
        {
            return cause;
        }
        string what = fileName is null ? "a snapshot" : $"file '{fileName}'";
        string why = cause is null
            ? (Settings.OfflineByEnvironment ? "offline mode is on (HF_HUB_OFFLINE)" : "only local files may be used")
            : $"the Hub could not be asked: {cause.Message}";
        return new HubException(HubErrorKind.LocalEntryNotFound, RepoId, fileName,
            $"Hub repository '{RepoId}': {what} of revision '{revision}' is not in the cache {Settings.CacheDir} and {why}", cause);
    }

    private HubException? CheckMetadata(FileMetadata metadata, Uri url, string fileName)
    {
        if (metadata.Commit is null)
        {
            return _http.Malformed($"the reply to HEAD {url} has no X-Repo-Commit header (is the endpoint a Hugging Face Hub?)", fileName);
        }
        if (metadata.Etag is null)
        {
            return _http.Malformed($"the reply to HEAD {url} has no ETag", fileName);
        }
        if (metadata.Size is null)
        {
            return _http.Malformed($"the reply to HEAD {url} has no Content-Length or X-Linked-Size", fileName);
        }
        if (!HubCache.IsSafeName(metadata.Commit))
        {
            return _http.Malformed($"the reply to HEAD {url} names commit '{metadata.Commit}', not a usable folder name", fileName);
        }
        if (!HubCache.IsSafeName(metadata.Etag))
        {
            return _http.Malformed($"the reply to HEAD {url} has etag '{metadata.Etag}', not a usable file name", fileName);
        }
        return null;
    }

    /// <summary>
    /// Downloads into <c>blobs/{etag}.incomplete</c> (resumed with <c>Range: bytes=N-</c> when it holds N bytes, restarted
    /// if the server answers 200), resumes up to five times after a broken stream, checks the size and, for a SHA-256
    /// etag (LFS files), the content, then moves the file to <c>blobs/{etag}</c>. Call with the blob's lock held.
    /// </summary>
    private async Task DownloadBlobAsync(string blob, Uri url, bool sendToken, long size, string etag, string fileName, CancellationToken cancellationToken)
    {
        string incomplete = blob + ".incomplete";
        bool checkSha256 = HubCache.IsSha256(etag);
        long position;
        HubProgressSink.FileProgress progress;
        using (var file = new FileStream(incomplete, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, bufferSize: 1, FileOptions.None))
        {
            position = file.Length;
            if (position > size)
            {
                // Longer than the file can be: not a prefix of it. Python would send a Range past the end and fail forever.
                file.SetLength(0);
                position = 0;
            }
            using IncrementalHash? sha = checkSha256 ? IncrementalHash.CreateHash(HashAlgorithmName.SHA256) : null;
            byte[] buffer = new byte[BufferSize];
            if (sha is not null && position > 0)
            {
                await HashPrefixAsync(file, position, sha, buffer, cancellationToken).ConfigureAwait(false);
            }
            file.Position = position;
            progress = _progress.Start(fileName, size, position);
            int retriesLeft = MaxStreamRetries;
            while (position < size)
            {
                bool broken = false;
                Exception? streamError = null;
                using (HttpResponseMessage response = await _http.GetFileAsync(url, sendToken, position, fileName, cancellationToken).ConfigureAwait(false))
                {
                    int status = (int)response.StatusCode;
                    if (status == 200 && position > 0)
                    {
                        // The server ignored the Range: start again from the first byte.
                        file.SetLength(0);
                        file.Position = 0;
                        position = 0;
                        sha?.GetHashAndReset();
                    }
                    else if (status == 206)
                    {
                        ContentRangeHeaderValue? range = response.Content.Headers.ContentRange;
                        if (range?.From is { } from && from != position)
                        {
                            throw _http.Malformed($"the reply to GET {url} with Range: bytes={position}- starts at byte {from}", fileName);
                        }
                    }
                    else if (status != 200)
                    {
                        throw _http.Malformed($"the reply to GET {url} has HTTP status {status}, not 200 or 206", fileName);
                    }

                    using var readTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    readTimeout.CancelAfter(Settings.DownloadTimeout);
                    Stream? body = null;
                    try
                    {
                        body = await response.Content.ReadAsStreamAsync(readTimeout.Token).ConfigureAwait(false);
                        while (true)
                        {
                            int read;
                            try
                            {
                                readTimeout.CancelAfter(Settings.DownloadTimeout);
                                read = await body.ReadAsync(buffer, readTimeout.Token).ConfigureAwait(false);
                            }
                            catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
                            {
                                streamError = ex;
                                break;
                            }
                            catch (Exception ex) when (ex is IOException or HttpRequestException)
                            {
                                streamError = ex;
                                break;
                            }
                            if (read == 0)
                            {
                                break;
                            }
                            // Write errors (a full disk) are not network errors: they end the download at once.
                            await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                            sha?.AppendData(buffer, 0, read);
                            position += read;
                            retriesLeft = MaxStreamRetries; // data arrived: the retries start over, as in Python
                            progress.Report(position);
                        }
                    }
                    catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
                    {
                        streamError = ex; // no body stream within the timeout
                    }
                    catch (Exception ex) when (ex is HttpRequestException || (ex is IOException && body is null))
                    {
                        streamError = ex;
                    }
                    finally
                    {
                        if (body is not null)
                        {
                            await body.DisposeAsync().ConfigureAwait(false);
                        }
                    }
                    broken = streamError is not null || position < size; // an error, or the stream ended early
                }
                if (!broken)
                {
                    break;
                }
                if (retriesLeft-- <= 0)
                {
                    await file.FlushAsync(cancellationToken).ConfigureAwait(false);
                    throw _http.ConnectionFailed(
                        $"the download from {url} broke off at byte {position.ToString(CultureInfo.InvariantCulture)} of {size.ToString(CultureInfo.InvariantCulture)}"
                        + (streamError is null ? string.Empty : $": {streamError.Message}") + " (resume by running again)", fileName, streamError);
                }
                await Task.Delay(Settings.RetryBaseDelay, cancellationToken).ConfigureAwait(false);
            }
            await file.FlushAsync(cancellationToken).ConfigureAwait(false);
            if (file.Length != size)
            {
                throw new HubException(HubErrorKind.IntegrityCheckFailed, RepoId, fileName,
                    $"Hub repository '{RepoId}', file '{fileName}': downloaded {file.Length} bytes but the Hub announced {size}");
            }
            if (sha is not null)
            {
                string actual = Convert.ToHexStringLower(sha.GetHashAndReset());
                if (actual != etag)
                {
                    file.Dispose();
                    File.Delete(incomplete);
                    throw new HubException(HubErrorKind.IntegrityCheckFailed, RepoId, fileName,
                        $"Hub repository '{RepoId}', file '{fileName}': the downloaded content has SHA-256 {actual}, not {etag} (the partial file was removed)");
                }
            }
            file.Flush(flushToDisk: true);
        }
        try
        {
            File.Move(incomplete, blob, overwrite: false);
        }
        catch (IOException) when (HubCache.FileExists(blob))
        {
            // Another client that does not take the lock (newer huggingface_hub treats it as best effort) moved the same
            // blob in first: same etag, same bytes. Ours is no longer needed.
            File.Delete(incomplete);
        }
        progress.Complete(size);
    }

    private static async Task HashPrefixAsync(FileStream file, long length, IncrementalHash sha, byte[] buffer, CancellationToken cancellationToken)
    {
        file.Position = 0;
        long left = length;
        while (left > 0)
        {
            int read = await file.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }
            sha.AppendData(buffer, 0, read);
            left -= read;
        }
    }
}
