using System.Text.Json;

namespace Spright.Diffusion.Hub;

/// <summary>What the Hub's repository-info call says: the commit a revision points to and the files there.</summary>
/// <param name="Commit"><c>sha</c>.</param>
/// <param name="Files">The <c>rfilename</c> of every <c>siblings</c> entry (null when the reply has no list).</param>
internal sealed record HubRepoInfo(string Commit, IReadOnlyList<string>? Files);

/// <summary>
/// One repository of the Hub and its cache folder: repository info, listings and huggingface_hub's
/// <c>snapshot_download</c> (<c>_snapshot_download.py</c>).
/// </summary>
internal sealed class HubRepository
{
    /// <summary>Above this many files the info listing may be cut short: list the tree instead (huggingface_hub's
    /// <c>VERY_LARGE_REPO_THRESHOLD</c>).</summary>
    private const int VeryLargeRepoThreshold = 50_000;

    private readonly HubFileDownloader _files;

    public HubRepository(string repoId, HubSettings settings)
    {
        Settings = settings;
        Http = new HubHttp(settings, repoId);
        Cache = new HubCache(settings.CacheDir, repoId, settings.DisableSymlinks);
        _files = new HubFileDownloader(Http, Cache, new HubProgressSink(settings.Progress));
    }

    public string RepoId => Http.RepoId;

    public HubSettings Settings { get; }

    public HubHttp Http { get; }

    public HubCache Cache { get; }

    /// <summary><c>GET /api/models/{repo}</c> (revision null) or <c>…/revision/{rev}</c>.</summary>
    public async Task<HubRepoInfo> InfoAsync(string? revision, CancellationToken cancellationToken)
    {
        Uri url = Http.RepoInfoUrl(revision);
        ApiReply reply = await Http.GetApiAsync(url, null, cancellationToken).ConfigureAwait(false);
        try
        {
            using JsonDocument doc = JsonDocument.Parse(reply.Body);
            JsonElement root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw Http.Malformed($"the reply to GET {url} is not a JSON object", null);
            }
            if (!root.TryGetProperty("sha", out JsonElement sha) || sha.ValueKind != JsonValueKind.String || !HubCache.IsSafeName(sha.GetString()!))
            {
                throw Http.Malformed($"the reply to GET {url} has no usable commit ('sha')", null);
            }
            List<string>? files = null;
            if (root.TryGetProperty("siblings", out JsonElement siblings) && siblings.ValueKind == JsonValueKind.Array)
            {
                files = new List<string>(siblings.GetArrayLength());
                foreach (JsonElement sibling in siblings.EnumerateArray())
                {
                    if (sibling.ValueKind != JsonValueKind.Object || !sibling.TryGetProperty("rfilename", out JsonElement name)
                        || name.ValueKind != JsonValueKind.String)
                    {
                        throw Http.Malformed($"the reply to GET {url} has a 'siblings' entry without 'rfilename'", null);
                    }
                    files.Add(name.GetString()!);
                }
            }
            else if (root.TryGetProperty("siblings", out JsonElement other) && other.ValueKind != JsonValueKind.Null)
            {
                throw Http.Malformed($"the reply to GET {url} has 'siblings' that is not a list", null);
            }
            return new HubRepoInfo(sha.GetString()!, files);
        }
        catch (JsonException ex)
        {
            throw Http.Malformed($"the reply to GET {url} is not valid JSON ({ex.Message.Split('.')[0]})", null);
        }
    }

    /// <summary>Every file of the commit by listing the tree recursively, page after page (<c>Link: rel="next"</c>).</summary>
    public async Task<List<string>> ListTreeAsync(string commit, CancellationToken cancellationToken)
    {
        var files = new List<string>();
        Uri? url = Http.TreeUrl(commit);
        for (int page = 0; url is not null; page++)
        {
            if (page > 10_000)
            {
                throw Http.Malformed("the tree listing has more than 10 000 pages", null);
            }
            ApiReply reply = await Http.GetApiAsync(url, null, cancellationToken).ConfigureAwait(false);
            try
            {
                using JsonDocument doc = JsonDocument.Parse(reply.Body);
                if (doc.RootElement.ValueKind != JsonValueKind.Array)
                {
                    throw Http.Malformed($"the reply to GET {url} is not a JSON list", null);
                }
                foreach (JsonElement entry in doc.RootElement.EnumerateArray())
                {
                    if (entry.ValueKind == JsonValueKind.Object && entry.TryGetProperty("type", out JsonElement type) && type.ValueKind == JsonValueKind.String
                        && type.GetString() == "file")
                    {
                        if (!entry.TryGetProperty("path", out JsonElement path) || path.ValueKind != JsonValueKind.String)
                        {
                            throw Http.Malformed($"the reply to GET {url} has a file entry without 'path'", null);
                        }
                        files.Add(path.GetString()!);
                    }
                }
            }
            catch (JsonException ex)
            {
                throw Http.Malformed($"the reply to GET {url} is not valid JSON ({ex.Message.Split('.')[0]})", null);
            }
            url = reply.NextPage;
        }
        return files;
    }

    /// <summary>One file (huggingface_hub's <c>hf_hub_download</c>), returning its snapshot path.</summary>
    public Task<string> FileAsync(string fileName, string revision, CancellationToken cancellationToken)
    {
        string[] parts = HubCache.SplitRepoPath(fileName)
            ?? throw new ArgumentException($"'{fileName}' is not a file path inside a repository (segments separated by '/', none empty, '.' or '..').", nameof(fileName));
        return _files.DownloadAsync(fileName, parts, revision, cancellationToken);
    }

    /// <summary>
    /// huggingface_hub's <c>snapshot_download</c>: one info call, the files <paramref name="include"/> accepts downloaded
    /// at the commit (so cached ones make no request) a few at a time, <c>refs/{revision}</c> written; returns
    /// <c>snapshots/{commit}</c>. When requests are off or the info call fails (unreachable Hub, HTTP error) the cached
    /// snapshot of the revision is returned without checking it is complete, as Python does; <paramref name="infoError"/>
    /// is an earlier failure of the caller's own info call, reported when nothing is cached.
    /// </summary>
    public async Task<string> SnapshotAsync(string revision, Func<string, bool> include, bool localFilesOnly, HubException? infoError,
        CancellationToken cancellationToken)
    {
        HubRepoInfo? info = null;
        HubException? apiError = infoError;
        if (!localFilesOnly && !Settings.LocalFilesOnly)
        {
            try
            {
                info = await InfoAsync(revision, cancellationToken).ConfigureAwait(false);
            }
            catch (HubException ex) when (ex.Kind != HubErrorKind.RevisionNotFound && !ex.NoCacheFallback)
            {
                apiError = ex;
            }
        }

        if (info is null)
        {
            if (Cache.ResolveCachedCommit(revision) is { } cachedCommit && Directory.Exists(Cache.SnapshotFolder(cachedCommit)))
            {
                return Cache.SnapshotFolder(cachedCommit);
            }
            throw _files.NotCached(null, revision, apiError);
        }

        IReadOnlyList<string> files = info.Files is { Count: > 0 and <= VeryLargeRepoThreshold } listed
            ? listed
            : await ListTreeAsync(info.Commit, cancellationToken).ConfigureAwait(false);
        var selected = new List<(string Name, string[] Parts)>();
        foreach (string file in files.Where(include).Distinct(StringComparer.Ordinal))
        {
            string[] parts = HubCache.SplitRepoPath(file)
                ?? throw Http.Malformed($"the file list names '{file}', which is not a safe relative path", file);
            selected.Add((file, parts));
        }

        string commit = info.Commit;
        Cache.WriteRef(revision, commit);
        await Parallel.ForEachAsync(selected, new ParallelOptions { MaxDegreeOfParallelism = Settings.MaxConcurrentDownloads, CancellationToken = cancellationToken },
            async (file, ct) => await _files.DownloadAsync(file.Name, file.Parts, commit, ct).ConfigureAwait(false)).ConfigureAwait(false);
        return Cache.SnapshotFolder(commit);
    }
}
