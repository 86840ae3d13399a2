using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

// Git names blobs and commits by SHA-1: the fake has to compute it (not a security use).
#pragma warning disable CA5350

namespace Spright.Diffusion.Tests.Hub;

/// <summary>A file of a fake repository. LFS files are served through a redirect to the download host.</summary>
internal sealed class FakeFile
{
    public FakeFile(byte[] content, bool lfs)
    {
        Content = content;
        Lfs = lfs;
        Sha256 = Convert.ToHexStringLower(SHA256.HashData(content));
        byte[] header = Encoding.ASCII.GetBytes($"blob {content.Length}\0");
        GitSha1 = Convert.ToHexStringLower(SHA1.HashData([.. header, .. content]));
    }

    public byte[] Content { get; }

    public bool Lfs { get; }

    public string Sha256 { get; }

    /// <summary>The git blob id (<c>sha1("blob {len}\0" + data)</c>): the ETag of a regular file.</summary>
    public string GitSha1 { get; }

    /// <summary>The etag the cache names the blob by.</summary>
    public string Etag => Lfs ? Sha256 : GitSha1;
}

/// <summary>A fake repository: commits, named revisions (branches, tags) and whether it is gated.</summary>
internal sealed class FakeRepo
{
    public FakeRepo(string id) => Id = id;

    public string Id { get; }

    /// <summary>Gated: needs <see cref="FakeHub.ValidToken"/> (401 GatedRepo without a token, 403 with another one).</summary>
    public bool Gated { get; set; }

    public Dictionary<string, SortedDictionary<string, FakeFile>> Commits { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, string> Revisions { get; } = new(StringComparer.Ordinal);

    /// <summary>Adds a commit holding <paramref name="files"/> and points <paramref name="revision"/> to it.</summary>
    public string AddCommit(IDictionary<string, FakeFile> files, string revision = "main", string? sha = null)
    {
        sha ??= Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(Id + Commits.Count.ToString(CultureInfo.InvariantCulture))));
        Commits[sha] = new SortedDictionary<string, FakeFile>(files, StringComparer.Ordinal);
        Revisions[revision] = sha;
        return sha;
    }

    public string MainCommit => Revisions["main"];

    public SortedDictionary<string, FakeFile> MainFiles => Commits[MainCommit];
}

/// <summary>One request the fake received.</summary>
internal sealed record FakeRequest(bool ToCdn, string Method, string Target, IReadOnlyDictionary<string, string> Headers)
{
    public string? Header(string name) => Headers.TryGetValue(name.ToLowerInvariant(), out string? v) ? v : null;

    public override string ToString() => $"{(ToCdn ? "cdn" : "hub")} {Method} {Target}";
}

/// <summary>
/// A loopback fake of the Hugging Face Hub speaking the protocol of shared/docs/hub-protocol.md §1, §2, §9, §10, on
/// <c>http://127.0.0.1:{port}</c>, with LFS files redirected (302, absolute Location) to a second host name,
/// <c>http://localhost:{port2}</c>, which honours <c>Range: bytes=N-</c> with 206. Errors carry <c>X-Error-Code</c>.
/// Knobs reproduce replies a real Hub or CDN gives (weak ETags, a 200 to a Range request, relative redirects of renamed
/// repositories, 5xx, dropped connections). Raw HTTP/1.1 over <see cref="TcpListener"/>, one request per connection.
/// </summary>
internal sealed class FakeHub : IDisposable
{
    private readonly TcpListener _hub;
    private readonly TcpListener _cdn;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<FakeRequest> _requests = new();
    private readonly Dictionary<string, FakeRepo> _repos = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _renamed = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _dropsLeft = new(StringComparer.Ordinal);
    private readonly List<Task> _loops;
    private int _failuresLeft;

    public FakeHub()
    {
        _hub = new TcpListener(IPAddress.Loopback, 0);
        _cdn = new TcpListener(IPAddress.Loopback, 0);
        _hub.Start();
        _cdn.Start();
        _loops = [AcceptLoop(_hub, toCdn: false), AcceptLoop(_cdn, toCdn: true)];
    }

    public const string ValidToken = "hf_fake_valid_token";

    public int HubPort => ((IPEndPoint)_hub.LocalEndpoint).Port;

    public int CdnPort => ((IPEndPoint)_cdn.LocalEndpoint).Port;

    public Uri Endpoint => new($"http://127.0.0.1:{HubPort}");

    public IReadOnlyList<FakeRequest> Requests => [.. _requests];

    public IEnumerable<FakeRequest> HubRequests => Requests.Where(r => !r.ToCdn);

    public IEnumerable<FakeRequest> CdnRequests => Requests.Where(r => r.ToCdn);

    /// <summary>ETags as <c>W/"…"</c>.</summary>
    public bool WeakEtags { get; set; }

    /// <summary>The download host answers 200 with the whole file to a Range request.</summary>
    public bool IgnoreRange { get; set; }

    /// <summary>HEAD replies lack X-Repo-Commit (a proxy that is not a Hub).</summary>
    public bool OmitCommitHeader { get; set; }

    /// <summary>Bytes per chunk and the pause between chunks of a download-host body (slow downloads).</summary>
    public (int ChunkBytes, TimeSpan Pause)? Throttle { get; set; }

    /// <summary>LFS files answer as Xet-backed files do: HEAD 302 with <c>X-Xet-Hash</c> and a <c>Link rel="xet-auth"</c>;
    /// a client without Xet support GETs the resolve URL and follows its redirect.</summary>
    public bool Xet { get; set; }

    /// <summary>A body that replaces the repository-info JSON (malformed replies).</summary>
    public string? InfoBodyOverride { get; set; }

    /// <summary>Files per page of the tree listing; the info reply then has an empty <c>siblings</c> list.</summary>
    public int? TreePageSize { get; set; }

    /// <summary>Serve this content instead of the real one on the download host (corrupted transfer).</summary>
    public Func<FakeFile, byte[]>? CorruptCdn { get; set; }

    public FakeRepo AddRepo(string id)
    {
        var repo = new FakeRepo(id);
        lock (_repos)
        {
            _repos[id] = repo;
        }
        return repo;
    }

    /// <summary>Requests for <paramref name="oldId"/> get a 307 to the same path under <paramref name="newId"/>, with a
    /// relative Location, as the Hub answers for a renamed repository.</summary>
    public void Rename(string oldId, string newId) => _renamed[oldId] = newId;

    /// <summary>The next <paramref name="count"/> requests to the Hub get 503.</summary>
    public void FailNext(int count) => Interlocked.Exchange(ref _failuresLeft, count);

    /// <summary>The next <paramref name="times"/> download-host GETs of the blob break off after
    /// <paramref name="afterBytes"/> bytes (connection reset).</summary>
    public void DropConnection(string sha256, int afterBytes, int times = 1) => _dropsLeft[sha256] = times * 1_000_000_000 + afterBytes;

    public void ClearRequests() => _requests.Clear();

    public void Dispose()
    {
        _stop.Cancel();
        _hub.Stop();
        _cdn.Stop();
        try
        {
            Task.WaitAll([.. _loops], TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
        _stop.Dispose();
    }

    /// <summary>A file as the Hub stores it: binary weights and graphs in LFS, text in git.</summary>
    public static FakeFile File(byte[] content, string path) => new(content, IsLfsPath(path));

    public static FakeFile Text(string content, string path) => File(Encoding.UTF8.GetBytes(content), path);

    public static bool IsLfsPath(string path) =>
        path.EndsWith(".safetensors", StringComparison.Ordinal) || path.EndsWith(".bin", StringComparison.Ordinal)
        || path.EndsWith(".onnx", StringComparison.Ordinal) || path.EndsWith(".onnx_data", StringComparison.Ordinal)
        || path.EndsWith(".pb", StringComparison.Ordinal) || path.EndsWith(".png", StringComparison.Ordinal)
        || path.EndsWith(".msgpack", StringComparison.Ordinal) || path.EndsWith(".ckpt", StringComparison.Ordinal);

    /// <summary>Every file under <paramref name="folder"/>, by repository path.</summary>
    public static Dictionary<string, FakeFile> FilesOf(string folder)
    {
        var files = new Dictionary<string, FakeFile>(StringComparer.Ordinal);
        foreach (string path in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories))
        {
            string rel = Path.GetRelativePath(folder, path).Replace('\\', '/');
            files[rel] = File(System.IO.File.ReadAllBytes(path), rel);
        }
        return files;
    }

    private async Task AcceptLoop(TcpListener listener, bool toCdn)
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            _ = Task.Run(() => Serve(client, toCdn));
        }
    }

    private async Task Serve(TcpClient client, bool toCdn)
    {
        using (client)
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                timeout.CancelAfter(TimeSpan.FromSeconds(30));
                NetworkStream stream = client.GetStream();
                FakeRequest? request = await ReadRequest(stream, toCdn, timeout.Token);
                if (request is null)
                {
                    return;
                }
                _requests.Enqueue(request);
                Reply reply = toCdn ? ServeCdn(request) : ServeHub(request);
                await Write(client, stream, request, reply, timeout.Token);
            }
            catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // client went away, or the fake is stopping
            }
        }
    }

    private static async Task<FakeRequest?> ReadRequest(NetworkStream stream, bool toCdn, CancellationToken ct)
    {
        var buffer = new List<byte>();
        byte[] one = new byte[1];
        while (buffer.Count < 65536)
        {
            int n = await stream.ReadAsync(one, ct);
            if (n == 0)
            {
                return null;
            }
            buffer.Add(one[0]);
            if (buffer.Count >= 4 && buffer[^1] == '\n' && buffer[^2] == '\r' && buffer[^3] == '\n' && buffer[^4] == '\r')
            {
                break;
            }
        }
        string[] lines = Encoding.ASCII.GetString([.. buffer]).Split("\r\n");
        string[] first = lines[0].Split(' ');
        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string line in lines.Skip(1).Where(l => l.Length > 0))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            headers[line[..colon].Trim().ToLowerInvariant()] = line[(colon + 1)..].Trim();
        }
        return new FakeRequest(toCdn, first[0], first[1], headers);
    }

    private sealed record Reply(int Status, List<(string Name, string Value)> Headers, byte[] Body)
    {
        public int? DropAfterBytes { get; init; }

        public (int ChunkBytes, TimeSpan Pause)? Throttle { get; init; }
    }

    private static Reply Json(int status, object body, params (string, string)[] headers) =>
        new(status, [("Content-Type", "application/json"), .. headers], JsonSerializer.SerializeToUtf8Bytes(body));

    private static Reply Error(int status, string code, string message, params (string, string)[] headers) =>
        Json(status, new { error = message }, [("X-Error-Code", code), ("X-Error-Message", message), .. headers]);

    private Reply ServeHub(FakeRequest request)
    {
        if (Interlocked.Decrement(ref _failuresLeft) >= 0)
        {
            return Json(503, new { error = "Service Unavailable" });
        }
        string target = request.Target;
        string query = string.Empty;
        int q = target.IndexOf('?', StringComparison.Ordinal);
        if (q >= 0)
        {
            query = target[(q + 1)..];
            target = target[..q];
        }
        bool api = target.StartsWith("/api/models/", StringComparison.Ordinal);
        string rest = api ? target["/api/models/".Length..] : target[1..];

        foreach ((string oldId, string newId) in _renamed)
        {
            if (rest.StartsWith(oldId + "/", StringComparison.Ordinal) || rest == oldId)
            {
                string moved = (api ? "/api/models/" : "/") + newId + rest[oldId.Length..] + (query.Length > 0 ? "?" + query : string.Empty);
                return new Reply(307, [("Location", moved)], Encoding.ASCII.GetBytes("Temporary Redirect. Redirecting to " + moved));
            }
        }

        FakeRepo? repo;
        lock (_repos)
        {
            repo = _repos.Values.FirstOrDefault(r => rest == r.Id || rest.StartsWith(r.Id + "/", StringComparison.Ordinal));
        }
        if (repo is null)
        {
            return Error(401, "RepoNotFound", "Repository not found");
        }
        if (repo.Gated)
        {
            string? auth = request.Header("Authorization");
            if (auth is null)
            {
                return Error(401, "GatedRepo", $"Access to model {repo.Id} is restricted. You must have access to it and be authenticated to access it. Please log in.");
            }
            if (auth != "Bearer " + ValidToken)
            {
                return Error(403, "GatedRepo", $"Access to model {repo.Id} is restricted and you are not in the authorized list. Visit the model page to ask for access.");
            }
        }
        string after = rest[repo.Id.Length..];
        if (api)
        {
            return ServeApi(repo, after, query);
        }
        if (!after.StartsWith("/resolve/", StringComparison.Ordinal))
        {
            return Json(404, new { error = "Not found" });
        }
        string[] parts = after["/resolve/".Length..].Split('/');
        string revision = Uri.UnescapeDataString(parts[0]);
        string path = string.Join('/', parts.Skip(1).Select(Uri.UnescapeDataString));
        if (Commit(repo, revision) is not { } commit)
        {
            return Error(404, "RevisionNotFound", $"Invalid rev id: {revision}");
        }
        if (!repo.Commits[commit].TryGetValue(path, out FakeFile? file))
        {
            return Error(404, "EntryNotFound", $"Entry not found", ("X-Repo-Commit", commit));
        }
        var headers = new List<(string, string)>();
        if (!OmitCommitHeader)
        {
            headers.Add(("X-Repo-Commit", commit));
        }
        if (file.Lfs)
        {
            string location = $"http://localhost:{CdnPort}/lfs/{file.Sha256}?X-Amz-Signature=fake&expires=3600";
            headers.Add(("Location", location));
            headers.Add(("X-Linked-Etag", Quote(file.Sha256)));
            headers.Add(("X-Linked-Size", file.Content.Length.ToString(CultureInfo.InvariantCulture)));
            headers.Add(("ETag", Quote(Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes("pointer" + file.Sha256))))));
            if (Xet)
            {
                headers.Add(("X-Xet-Hash", Convert.ToHexStringLower(SHA256.HashData(file.Content.AsSpan(0, Math.Min(16, file.Content.Length))))));
                headers.Add(("Link", $"<http://127.0.0.1:{HubPort}/api/models/{repo.Id}/xet-read-token/{commit}>; rel=\"xet-auth\""));
            }
            // A real 302 carries a body (and so a Content-Length that is not the file's size).
            return new Reply(302, headers, Encoding.ASCII.GetBytes("Found. Redirecting to " + location));
        }
        headers.Add(("ETag", Quote(file.GitSha1)));
        return new Reply(200, headers, file.Content);
    }

    private Reply ServeApi(FakeRepo repo, string after, string query)
    {
        string revision = "main";
        bool tree = false;
        if (after.StartsWith("/revision/", StringComparison.Ordinal))
        {
            revision = Uri.UnescapeDataString(after["/revision/".Length..]);
        }
        else if (after.StartsWith("/tree/", StringComparison.Ordinal))
        {
            revision = Uri.UnescapeDataString(after["/tree/".Length..].Split('/')[0]);
            tree = true;
        }
        else if (after.Length > 0)
        {
            return Json(404, new { error = "Not found" });
        }
        if (Commit(repo, revision) is not { } commit)
        {
            return Error(404, "RevisionNotFound", $"Invalid rev id: {revision}");
        }
        SortedDictionary<string, FakeFile> files = repo.Commits[commit];
        if (tree)
        {
            int size = TreePageSize ?? int.MaxValue;
            int page = 0;
            foreach (string kv in query.Split('&'))
            {
                if (kv.StartsWith("cursor=", StringComparison.Ordinal))
                {
                    page = int.Parse(kv["cursor=".Length..], CultureInfo.InvariantCulture);
                }
            }
            var entries = files.Skip(page * size).Take(size)
                .Select(f => new { type = "file", oid = f.Value.GitSha1, size = f.Value.Content.Length, path = f.Key }).ToList<object>();
            if (page == 0)
            {
                entries.Insert(0, new { type = "directory", oid = "0", size = 0, path = "unet" });
            }
            bool more = (page + 1L) * size < files.Count;
            return more
                ? Json(200, entries, ("Link", $"<http://127.0.0.1:{HubPort}/api/models/{repo.Id}/tree/{commit}?recursive=True&expand=False&cursor={page + 1}>; rel=\"next\""))
                : Json(200, entries);
        }
        if (InfoBodyOverride is { } body)
        {
            return new Reply(200, [("Content-Type", "application/json")], Encoding.UTF8.GetBytes(body));
        }
        object[] siblings = TreePageSize is null ? [.. files.Keys.Select(k => (object)new { rfilename = k })] : [];
        return Json(200, new { _id = "fake", id = repo.Id, sha = commit, @private = false, gated = repo.Gated ? "auto" : (object)false, siblings });
    }

    private Reply ServeCdn(FakeRequest request)
    {
        string path = request.Target.Split('?')[0];
        if (!path.StartsWith("/lfs/", StringComparison.Ordinal))
        {
            return new Reply(404, [], []);
        }
        string sha = path["/lfs/".Length..];
        FakeFile? file;
        lock (_repos)
        {
            file = _repos.Values.SelectMany(r => r.Commits.Values).SelectMany(c => c.Values).FirstOrDefault(f => f.Sha256 == sha);
        }
        if (file is null)
        {
            return new Reply(404, [], Encoding.ASCII.GetBytes("NoSuchKey"));
        }
        byte[] content = CorruptCdn?.Invoke(file) ?? file.Content;
        int? drop = null;
        if (_dropsLeft.TryGetValue(sha, out int code) && code >= 1_000_000_000)
        {
            _dropsLeft[sha] = code - 1_000_000_000;
            drop = code % 1_000_000_000;
        }
        long start = 0;
        string? range = request.Header("Range");
        if (range is not null && !IgnoreRange && range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-'))
        {
            start = long.Parse(range["bytes=".Length..^1], CultureInfo.InvariantCulture);
        }
        if (start > 0)
        {
            if (start >= content.Length)
            {
                return new Reply(416, [("Content-Range", $"bytes */{content.Length}")], []);
            }
            return new Reply(206, [("Content-Range", $"bytes {start}-{content.Length - 1}/{content.Length}"), ("ETag", Quote(sha))], content[(int)start..])
            {
                DropAfterBytes = drop,
                Throttle = Throttle,
            };
        }
        return new Reply(200, [("ETag", Quote(sha)), ("Accept-Ranges", "bytes")], content) { DropAfterBytes = drop, Throttle = Throttle };
    }

    private string Quote(string etag) => WeakEtags ? $"W/\"{etag}\"" : $"\"{etag}\"";

    private static string? Commit(FakeRepo repo, string revision) =>
        repo.Revisions.TryGetValue(revision, out string? sha) ? sha : repo.Commits.ContainsKey(revision) ? revision : null;

    private static async Task Write(TcpClient client, NetworkStream stream, FakeRequest request, Reply reply, CancellationToken ct)
    {
        var head = new StringBuilder();
        head.Append(CultureInfo.InvariantCulture, $"HTTP/1.1 {reply.Status} {Reason(reply.Status)}\r\n");
        foreach ((string name, string value) in reply.Headers)
        {
            head.Append(CultureInfo.InvariantCulture, $"{name}: {value}\r\n");
        }
        head.Append(CultureInfo.InvariantCulture, $"Content-Length: {reply.Body.Length}\r\nConnection: close\r\n\r\n");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()), ct);
        if (request.Method == "HEAD")
        {
            return;
        }
        int limit = reply.DropAfterBytes is { } d ? Math.Min(d, reply.Body.Length) : reply.Body.Length;
        int chunk = reply.Throttle?.ChunkBytes ?? 65536;
        for (int offset = 0; offset < limit; offset += chunk)
        {
            await stream.WriteAsync(reply.Body.AsMemory(offset, Math.Min(chunk, limit - offset)), ct);
            if (reply.Throttle is { } t)
            {
                await Task.Delay(t.Pause, ct);
            }
        }
        if (reply.DropAfterBytes is not null)
        {
            await stream.FlushAsync(ct);
            client.Client.LingerState = new LingerOption(true, 0); // reset, not a clean end
            client.Client.Close();
        }
    }

    private static string Reason(int status) => status switch
    {
        200 => "OK",
        206 => "Partial Content",
        302 => "Found",
        307 => "Temporary Redirect",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        416 => "Range Not Satisfiable",
        503 => "Service Unavailable",
        _ => "Status",
    };
}
