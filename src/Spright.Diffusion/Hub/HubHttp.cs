using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Reflection;
using System.Security.Authentication;
using System.Text;
using System.Text.Json;

namespace Spright.Diffusion.Hub;

/// <summary>The metadata of a file from its HEAD reply (huggingface_hub's <c>HfFileMetadata</c>).</summary>
/// <param name="Commit"><c>X-Repo-Commit</c>.</param>
/// <param name="Etag"><c>X-Linked-Etag</c> or <c>ETag</c>, without <c>W/</c> and quotes.</param>
/// <param name="Location">The <c>Location</c> of a redirect (the download host), else the URL answered.</param>
/// <param name="Size"><c>X-Linked-Size</c> or <c>Content-Length</c>.</param>
/// <param name="IsXet">The reply carries Xet data (<c>X-Xet-Hash</c>): download through the resolve URL.</param>
internal sealed record FileMetadata(string? Commit, string? Etag, Uri Location, long? Size, bool IsXet);

/// <summary>A JSON reply of the Hub's API.</summary>
internal sealed record ApiReply(string Body, Uri? NextPage);

/// <summary>
/// The HTTP exchange with the Hub (huggingface_hub's <c>utils/_http.py</c> and <c>file_download.py</c>): bearer token on
/// Hub requests and never on a redirect to another host, HEAD with <c>Accept-Encoding: identity</c> following only
/// relative redirects, retries with back-off (1, 2, 4, 8, 8 s) on 500/502/503/504, timeouts and connection errors, and
/// the Hub's <c>X-Error-Code</c> errors mapped to <see cref="HubException"/> kinds.
/// </summary>
internal sealed class HubHttp
{
    /// <summary>The largest JSON reply read (a repository listing of 50 000 files is a few MB).</summary>
    private const int MaxJsonBytes = 64 << 20;
    private const int MaxRedirects = 10;

    private static readonly HttpClient s_client = new(new SocketsHttpHandler
    {
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        UseCookies = false,
        PooledConnectionLifetime = TimeSpan.FromMinutes(2),
    })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    private static readonly string s_userAgent = "spright-diffusion/"
        + (typeof(HubHttp).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0")
        + "; dotnet/" + Environment.Version.ToString(3);

    private readonly HubSettings _settings;
    private readonly string _repoId;

    public HubHttp(HubSettings settings, string repoId)
    {
        _settings = settings;
        _repoId = repoId;
    }

    public HubSettings Settings => _settings;

    public string RepoId => _repoId;

    /// <summary><c>{endpoint}/api/models/{repo}</c> or <c>…/revision/{quote(rev, safe="")}</c>.</summary>
    public Uri RepoInfoUrl(string? revision) => new(revision is null
        ? $"{_settings.EndpointText}/api/models/{_repoId}"
        : $"{_settings.EndpointText}/api/models/{_repoId}/revision/{Uri.EscapeDataString(revision)}");

    /// <summary><c>{endpoint}/api/models/{repo}/tree/{rev}?recursive=True&amp;expand=False</c>.</summary>
    public Uri TreeUrl(string revision) =>
        new($"{_settings.EndpointText}/api/models/{_repoId}/tree/{Uri.EscapeDataString(revision)}?recursive=True&expand=False");

    /// <summary><c>{endpoint}/{repo}/resolve/{quote(rev, safe="")}/{quote(path)}</c>.</summary>
    public Uri ResolveUrl(string revision, string fileName) =>
        new($"{_settings.EndpointText}/{_repoId}/resolve/{Uri.EscapeDataString(revision)}/{string.Join('/', fileName.Split('/').Select(Uri.EscapeDataString))}");

    /// <summary>GET of an API URL (repository info, a tree page). Like huggingface_hub's <c>model_info</c>: no retries;
    /// redirects are followed (the token is dropped on a change of host).</summary>
    public async Task<ApiReply> GetApiAsync(Uri url, string? fileName, CancellationToken cancellationToken)
    {
        using HttpResponseMessage response = await SendAsync(HttpMethod.Get, url, RedirectPolicy.All, sendToken: true, rangeStart: 0,
            _settings.RequestTimeout, retry: false, fileName, cancellationToken).ConfigureAwait(false);
        Uri answered = response.RequestMessage?.RequestUri ?? url;
        if (!response.IsSuccessStatusCode)
        {
            throw await ErrorAsync(response, answered, fileName, cancellationToken).ConfigureAwait(false);
        }
        string body = await ReadTextAsync(response, MaxJsonBytes, answered, fileName, cancellationToken).ConfigureAwait(false);
        return new ApiReply(body, NextPage(response, answered));
    }

    /// <summary>HEAD of a resolve URL (huggingface_hub's <c>get_hf_file_metadata</c>): relative redirects (repository
    /// renames) are followed, absolute ones (the download host) are not; the metadata comes from the last reply.</summary>
    public async Task<FileMetadata> HeadFileAsync(Uri url, string fileName, CancellationToken cancellationToken)
    {
        using HttpResponseMessage response = await SendAsync(HttpMethod.Head, url, RedirectPolicy.RelativeOnly, sendToken: true, rangeStart: 0,
            _settings.EtagTimeout, retry: true, fileName, cancellationToken).ConfigureAwait(false);
        Uri answered = response.RequestMessage?.RequestUri ?? url;
        int status = (int)response.StatusCode;
        if (status >= 400)
        {
            throw await ErrorAsync(response, answered, fileName, cancellationToken).ConfigureAwait(false);
        }
        string? commit = Header(response, "X-Repo-Commit");
        string? etag = NormalizeEtag(Header(response, "X-Linked-Etag") ?? Header(response, "ETag"));
        string? location = Header(response, "Location");
        Uri target = answered;
        if (location is not null)
        {
            target = ResolveLocation(answered, location)
                ?? throw Malformed($"the reply to HEAD {answered} has an invalid Location '{location}'", fileName);
        }
        long? size = ParseLong(Header(response, "X-Linked-Size") ?? Header(response, "Content-Length"));
        bool xet = Header(response, "X-Xet-Hash") is not null;
        return new FileMetadata(commit, etag, target, size, xet);
    }

    /// <summary>GET of a file's bytes, from <paramref name="rangeStart"/> on (<c>Range: bytes=N-</c>), with retries;
    /// redirects are followed, and the token is sent only while the host stays that of <paramref name="url"/> (and only
    /// if <paramref name="sendToken"/>). The caller reads the body and disposes the reply.</summary>
    public async Task<HttpResponseMessage> GetFileAsync(Uri url, bool sendToken, long rangeStart, string fileName, CancellationToken cancellationToken)
    {
        HttpResponseMessage response = await SendAsync(HttpMethod.Get, url, RedirectPolicy.All, sendToken, rangeStart,
            _settings.DownloadTimeout, retry: true, fileName, cancellationToken).ConfigureAwait(false);
        if ((int)response.StatusCode >= 400)
        {
            using (response)
            {
                throw await ErrorAsync(response, response.RequestMessage?.RequestUri ?? url, fileName, cancellationToken).ConfigureAwait(false);
            }
        }
        return response;
    }

    /// <summary>Whether a Location names a host (Python: <c>urlparse(location).netloc != ""</c>); a repository rename
    /// answers with a path only.</summary>
    internal static bool HasHost(string location) =>
        location.StartsWith("//", StringComparison.Ordinal) || location.Contains("://", StringComparison.Ordinal);

    /// <summary>A Location resolved against the URL answered (a path is never taken for a local file, as .NET does on
    /// Unix for strings starting with <c>/</c>).</summary>
    internal static Uri? ResolveLocation(Uri baseUrl, string location)
    {
        if (location.Contains("://", StringComparison.Ordinal))
        {
            return Uri.TryCreate(location, UriKind.Absolute, out Uri? absolute) ? absolute : null;
        }
        return Uri.TryCreate(location, UriKind.Relative, out Uri? relative) && Uri.TryCreate(baseUrl, relative, out Uri? resolved) ? resolved : null;
    }

    /// <summary>Python's <c>_normalize_etag</c>: <c>etag.lstrip("W/").strip('"')</c>.</summary>
    internal static string? NormalizeEtag(string? etag) => etag?.TrimStart('W', '/').Trim('"');

    /// <summary>Whether requests would keep the Authorization header going from <paramref name="from"/> to
    /// <paramref name="to"/>: same host and port, or the same host moving from http to https on the default ports.</summary>
    internal static bool SameOrigin(Uri from, Uri to)
    {
        if (!string.Equals(from.IdnHost, to.IdnHost, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        if (from.Scheme == to.Scheme && from.Port == to.Port)
        {
            return true;
        }
        return from.Scheme == Uri.UriSchemeHttp && from.Port == 80 && to.Scheme == Uri.UriSchemeHttps && to.Port == 443;
    }

    public HubException Malformed(string problem, string? fileName) =>
        new(HubErrorKind.InvalidResponse, _repoId, fileName, $"Hub repository '{_repoId}'{FileText(fileName)}: {problem}");

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, Uri url, RedirectPolicy redirects, bool sendToken, long rangeStart,
        TimeSpan timeout, bool retry, string? fileName, CancellationToken cancellationToken)
    {
        Uri current = url;
        bool token = sendToken && _settings.Token is not null;
        for (int hop = 0; ; hop++)
        {
            HttpResponseMessage response = await SendWithRetriesAsync(method, current, token, rangeStart, timeout, retry, fileName, cancellationToken)
                .ConfigureAwait(false);
            int status = (int)response.StatusCode;
            string? location = status is 301 or 302 or 303 or 307 or 308 ? Header(response, "Location") : null;
            if (location is null || redirects == RedirectPolicy.None)
            {
                return response;
            }
            if (redirects == RedirectPolicy.RelativeOnly && HasHost(location))
            {
                return response;
            }
            Uri? next = ResolveLocation(current, location);
            if (hop >= MaxRedirects || next is null || (next.Scheme != Uri.UriSchemeHttp && next.Scheme != Uri.UriSchemeHttps))
            {
                response.Dispose();
                throw Malformed(hop >= MaxRedirects ? $"more than {MaxRedirects} redirects from {url}" : $"the reply to {method} {current} redirects to an invalid address '{location}'", fileName);
            }
            response.Dispose();
            token &= SameOrigin(current, next);
            current = next;
        }
    }

    private async Task<HttpResponseMessage> SendWithRetriesAsync(HttpMethod method, Uri url, bool sendToken, long rangeStart, TimeSpan timeout,
        bool retry, string? fileName, CancellationToken cancellationToken)
    {
        TimeSpan sleep = _settings.RetryBaseDelay;
        TimeSpan maxSleep = _settings.RetryBaseDelay * 8;
        for (int attempt = 0; ; attempt++)
        {
            bool last = !retry || attempt >= _settings.MaxRetries;
            using var request = new HttpRequestMessage(method, url);
            request.Headers.TryAddWithoutValidation("User-Agent", s_userAgent);
            request.Headers.TryAddWithoutValidation("Accept-Encoding", "identity");
            if (sendToken)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _settings.Token);
            }
            if (rangeStart > 0)
            {
                request.Headers.Range = new RangeHeaderValue(rangeStart, null);
            }
            using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeoutSource.CancelAfter(timeout);
            HubException failure;
            try
            {
                HttpResponseMessage response = await s_client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeoutSource.Token)
                    .ConfigureAwait(false);
                int status = (int)response.StatusCode;
                if (last || status is not (500 or 502 or 503 or 504))
                {
                    return response;
                }
                response.Dispose();
                failure = new HubException(HubErrorKind.HttpError, _repoId, fileName, $"HTTP {status} from {method} {url}") { StatusCode = status };
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (OperationCanceledException ex)
            {
                failure = ConnectionFailed($"{method} {url} timed out after {timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s", fileName, ex);
            }
            catch (HttpRequestException ex) when (ex.InnerException is AuthenticationException)
            {
                throw new HubException(HubErrorKind.ConnectionFailed, _repoId, fileName,
                    $"Hub repository '{_repoId}'{FileText(fileName)}: TLS failure on {method} {url}: {ex.Message}", ex) { NoCacheFallback = true };
            }
            catch (HttpRequestException ex)
            {
                failure = ConnectionFailed($"{method} {url} failed: {ex.Message}", fileName, ex);
            }
            if (last)
            {
                throw failure;
            }
            await Task.Delay(sleep, cancellationToken).ConfigureAwait(false);
            sleep = sleep * 2 > maxSleep ? maxSleep : sleep * 2;
        }
    }

    public HubException ConnectionFailed(string problem, string? fileName, Exception? inner) =>
        new(HubErrorKind.ConnectionFailed, _repoId, fileName, $"Hub repository '{_repoId}'{FileText(fileName)}: {problem}", inner);

    /// <summary>huggingface_hub's <c>hf_raise_for_status</c>: the kind from <c>X-Error-Code</c> (and a 401 on a repository
    /// URL), the server's message from <c>X-Error-Message</c> or the JSON body.</summary>
    private async Task<HubException> ErrorAsync(HttpResponseMessage response, Uri url, string? fileName, CancellationToken cancellationToken)
    {
        int status = (int)response.StatusCode;
        string? code = Header(response, "X-Error-Code");
        string? headerMessage = Header(response, "X-Error-Message");
        string? serverMessage = headerMessage;
        if (serverMessage is null && response.RequestMessage?.Method != HttpMethod.Head)
        {
            try
            {
                serverMessage = BodyMessage(await ReadTextAsync(response, 64 << 10, url, fileName, cancellationToken).ConfigureAwait(false),
                    response.Content.Headers.ContentType?.MediaType);
            }
            catch (HubException)
            {
                serverMessage = null; // an error body that cannot be read does not hide the error itself
            }
            catch (IOException)
            {
                serverMessage = null;
            }
            catch (HttpRequestException)
            {
                serverMessage = null;
            }
        }
        string server = serverMessage is { Length: > 0 } ? $" ({Shorten(serverMessage)})" : string.Empty;
        string repo = $"Hub repository '{_repoId}'";
        string path = url.AbsolutePath;
        bool repoUrl = path.Contains("/api/models/", StringComparison.Ordinal) || path.Contains("/resolve/", StringComparison.Ordinal);
        string tokenHint = _settings.Token is null
            ? "no token was sent: set HF_TOKEN or pass a token"
            : "the token sent was refused or has no access";
        (HubErrorKind kind, string message) = code switch
        {
            "RevisionNotFound" => (HubErrorKind.RevisionNotFound, $"{repo} has no revision '{RevisionOf(url)}'{server}"),
            "EntryNotFound" => (HubErrorKind.EntryNotFound, $"{repo} has no file '{fileName}' at revision '{RevisionOf(url)}'{server}"),
            "GatedRepo" => (HubErrorKind.GatedRepo,
                $"{repo} is gated (HTTP {status}){server}: accept its conditions on the Hub and set HF_TOKEN or pass a token that has access"
                + (_settings.Token is null ? " (no token was sent)" : " (the token sent has no access)")),
            _ when headerMessage == "Access to this resource is disabled." => (HubErrorKind.HttpError, $"{repo} is disabled (HTTP {status}){server}"),
            _ when code == "RepoNotFound" || (status == 401 && headerMessage != "Invalid credentials in Authorization header" && repoUrl) =>
                (HubErrorKind.RepositoryNotFound, $"{repo} not found (HTTP {status}){server}: check the id; a private or gated repository needs a token ({tokenHint})"),
            _ when status is 401 or 403 => (HubErrorKind.HttpError, $"{repo}{FileText(fileName)}: access refused (HTTP {status}){server}; {tokenHint}"),
            _ => (HubErrorKind.HttpError, $"{repo}{FileText(fileName)}: HTTP {status} from {response.RequestMessage?.Method} {url}{server}"),
        };
        return new HubException(kind, _repoId, fileName, message) { StatusCode = status, ErrorCommit = Header(response, "X-Repo-Commit") };
    }

    private static string RevisionOf(Uri url)
    {
        string path = url.AbsolutePath;
        foreach (string marker in (ReadOnlySpan<string>)["/resolve/", "/revision/", "/tree/"])
        {
            int at = path.IndexOf(marker, StringComparison.Ordinal);
            if (at >= 0)
            {
                string rest = path[(at + marker.Length)..];
                int slash = rest.IndexOf('/', StringComparison.Ordinal);
                return Uri.UnescapeDataString(slash >= 0 ? rest[..slash] : rest);
            }
        }
        return HubSettings.DefaultRevision;
    }

    private static string? BodyMessage(string body, string? mediaType)
    {
        if (body.Length == 0)
        {
            return null;
        }
        try
        {
            using JsonDocument doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                return null;
            }
            var messages = new List<string>();
            if (doc.RootElement.TryGetProperty("error", out JsonElement error))
            {
                if (error.ValueKind == JsonValueKind.Array)
                {
                    messages.AddRange(error.EnumerateArray().Select(e => e.ToString()));
                }
                else
                {
                    messages.Add(error.ToString());
                }
            }
            if (doc.RootElement.TryGetProperty("errors", out JsonElement errors) && errors.ValueKind == JsonValueKind.Array)
            {
                foreach (JsonElement e in errors.EnumerateArray())
                {
                    if (e.ValueKind == JsonValueKind.Object && e.TryGetProperty("message", out JsonElement m))
                    {
                        messages.Add(m.ToString());
                    }
                }
            }
            return messages.Count == 0 ? null : string.Join("; ", messages.Select(s => s.Trim()).Where(s => s.Length > 0).Distinct(StringComparer.Ordinal));
        }
        catch (JsonException)
        {
            return mediaType is not null && mediaType.Contains("html", StringComparison.OrdinalIgnoreCase) ? null : body;
        }
    }

    private async Task<string> ReadTextAsync(HttpResponseMessage response, int maxBytes, Uri url, string? fileName, CancellationToken cancellationToken)
    {
        if (response.Content.Headers.ContentLength > maxBytes)
        {
            throw Malformed($"the reply to GET {url} has {response.Content.Headers.ContentLength} bytes, more than the {maxBytes} read", fileName);
        }
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            timeoutSource.CancelAfter(_settings.RequestTimeout);
            using Stream stream = await response.Content.ReadAsStreamAsync(timeoutSource.Token).ConfigureAwait(false);
            using var buffer = new MemoryStream();
            byte[] chunk = new byte[81920];
            while (true)
            {
                timeoutSource.CancelAfter(_settings.RequestTimeout); // a timeout between two reads, as requests' read timeout
                int read = await stream.ReadAsync(chunk, timeoutSource.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }
                if (buffer.Length + read > maxBytes)
                {
                    throw Malformed($"the reply to GET {url} is larger than the {maxBytes} bytes read", fileName);
                }
                buffer.Write(chunk, 0, read);
            }
            return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw ConnectionFailed($"reading the reply to GET {url} timed out", fileName, ex);
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException)
        {
            throw ConnectionFailed($"reading the reply to GET {url} failed: {ex.Message}", fileName, ex);
        }
    }

    /// <summary>The <c>Link: &lt;url&gt;; rel="next"</c> page of a paginated listing.</summary>
    private static Uri? NextPage(HttpResponseMessage response, Uri answered)
    {
        if (!response.Headers.TryGetValues("Link", out IEnumerable<string>? values))
        {
            return null;
        }
        foreach (string value in values)
        {
            foreach (string part in value.Split(','))
            {
                string[] pieces = part.Split(';', StringSplitOptions.TrimEntries);
                if (pieces.Length < 2 || !pieces[0].StartsWith('<') || !pieces[0].EndsWith('>'))
                {
                    continue;
                }
                bool next = pieces.Skip(1).Any(p => p.Replace(" ", string.Empty, StringComparison.Ordinal)
                    .Equals("rel=\"next\"", StringComparison.OrdinalIgnoreCase) || p.Equals("rel=next", StringComparison.OrdinalIgnoreCase));
                if (next && ResolveLocation(answered, pieces[0][1..^1]) is { } url)
                {
                    return url;
                }
            }
        }
        return null;
    }

    /// <summary>A header of the reply or of its content (first value; empty values count as absent, as Python's
    /// <c>or</c> does).</summary>
    internal static string? Header(HttpResponseMessage response, string name)
    {
        if (response.Headers.TryGetValues(name, out IEnumerable<string>? values)
            || response.Content.Headers.TryGetValues(name, out values))
        {
            string? first = values.FirstOrDefault();
            return string.IsNullOrEmpty(first) ? null : first;
        }
        return null;
    }

    private static long? ParseLong(string? value) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long v) ? v : null;

    internal static string FileText(string? fileName) => fileName is null ? string.Empty : $", file '{fileName}'";

    private static string Shorten(string s)
    {
        string line = string.Join(' ', s.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        return line.Length > 300 ? line[..300] + "…" : line;
    }

    private enum RedirectPolicy
    {
        None,
        RelativeOnly,
        All,
    }
}
