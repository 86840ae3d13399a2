using System.Diagnostics.CodeAnalysis;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Spright.Diffusion.Configuration;

namespace Spright.Diffusion.Hub;

/// <summary>
/// Downloads from the Hugging Face Hub into the cache Python's huggingface_hub uses (same layout, same locks, same
/// environment variables), so a model downloaded by either is reused by the other:
/// <code>
/// string folder = HubClient.DownloadPipeline("SPRIGHT-T2I/spright-t2i-sd2");
/// </code>
/// Protocol and cache follow huggingface_hub 0.36 (<c>file_download.py</c>, <c>_snapshot_download.py</c>); which files a
/// pipeline needs follows diffusers 0.31's <c>DiffusionPipeline.download</c> (and optimum's rules for ONNX exports, see
/// <see cref="DownloadPipeline"/>). On Windows without the right to create symbolic links, snapshot entries are copies
/// of the blobs, as Python makes them there. Every method throws <see cref="HubException"/> for Hub and cache failures,
/// <see cref="ArgumentException"/> for invalid arguments and options, and <see cref="OperationCanceledException"/> when
/// cancelled (a partial download is kept and resumed by the next call).
/// </summary>
public static partial class HubClient
{
    /// <summary>
    /// Whether <paramref name="value"/> is a valid repository id (huggingface_hub's <c>validate_repo_id</c>):
    /// <c>name</c> or <c>namespace/name</c> of letters, digits, <c>-</c>, <c>_</c> and <c>.</c>, the name at most 96
    /// characters, each part starting and ending with a letter or digit, no <c>--</c> or <c>..</c>, not ending in
    /// <c>.git</c>.
    /// </summary>
    /// <param name="value">The text to check.</param>
    /// <returns>True for a valid id.</returns>
    public static bool IsRepoId([NotNullWhen(true)] string? value) =>
        value is not null && value.Count(c => c == '/') <= 1 && RepoIdRegex().IsMatch(value)
        && !value.Contains("--", StringComparison.Ordinal) && !value.Contains("..", StringComparison.Ordinal)
        && !value.EndsWith(".git", StringComparison.Ordinal);

    /// <summary>
    /// Downloads what loading a diffusers pipeline needs and returns its snapshot folder
    /// (<c>{cache}/models--{org}--{name}/snapshots/{commit}</c>), like diffusers' <c>DiffusionPipeline.download</c>.
    /// <para>Order of requests: repository info, <c>model_index.json</c> (HEAD, then GET if not cached), and unless every
    /// needed file is already in that snapshot, the snapshot download of the chosen files (HEAD of each, GET of those not
    /// cached; several at a time). Files: for a torch repository, <c>model_index.json</c>, the root configs, each
    /// component's <c>config.json</c> and weights (safetensors preferred over <c>.bin</c>, see
    /// <see cref="HubDownloadOptions.UseSafetensors"/>; the <see cref="HubDownloadOptions.Variant"/>'s files when one is
    /// asked) and every file of the other component folders (tokenizer, scheduler); never README, images, <c>.ckpt</c>,
    /// <c>.gitattributes</c>, <c>.onnx</c>. For an ONNX export (<see cref="HubDownloadOptions.UseOnnx"/>; by default
    /// detected from an ONNX pipeline class in <c>model_index.json</c> or <c>model.onnx</c> files in the component
    /// folders), optimum's rule instead: every file of the component folders (model_index keys plus
    /// <c>vae_encoder</c>/<c>vae_decoder</c>) except <c>*.bin</c>, <c>*.safetensors</c>, <c>*.msgpack</c>, <c>*.xml</c> —
    /// so <c>model.onnx</c>, <c>model.onnx_data</c> and <c>weights.pb</c> all arrive.</para>
    /// <para>When the Hub cannot be reached or answers with an HTTP error, or requests are off
    /// (<see cref="HubDownloadOptions.LocalFilesOnly"/>, <c>HF_HUB_OFFLINE</c>), the cached snapshot of the revision is
    /// returned with no request (if it holds <c>model_index.json</c>); otherwise the Hub's error is raised.</para>
    /// </summary>
    /// <param name="repoId">The repository, e.g. <c>SPRIGHT-T2I/spright-t2i-sd2</c>.</param>
    /// <param name="options">Revision, token, cache, variant, progress...; null for the defaults and the environment.</param>
    /// <param name="cancellationToken">Stops the download (partial files are kept for resuming).</param>
    /// <returns>The local snapshot folder.</returns>
    /// <exception cref="HubException">Repository, revision or files not found, gated repository without access, not cached
    /// while offline, a malformed reply, or a failed integrity check.</exception>
    /// <exception cref="ModelLoadException">The repository's <c>model_index.json</c> is not valid.</exception>
    public static string DownloadPipeline(string repoId, HubDownloadOptions? options = null, CancellationToken cancellationToken = default) =>
        DownloadPipelineAsync(repoId, options, cancellationToken).GetAwaiter().GetResult();

    /// <summary>The asynchronous form of <see cref="DownloadPipeline"/>.</summary>
    /// <param name="repoId">The repository.</param>
    /// <param name="options">The options; null for the defaults.</param>
    /// <param name="cancellationToken">Stops the download.</param>
    /// <returns>The local snapshot folder.</returns>
    public static async Task<string> DownloadPipelineAsync(string repoId, HubDownloadOptions? options = null, CancellationToken cancellationToken = default)
    {
        CheckRepoId(repoId);
        HubSettings settings = HubSettings.Resolve(options);
        var repo = new HubRepository(repoId, settings);
        string revision = settings.Revision ?? HubSettings.DefaultRevision;

        HubException? infoError = null;
        bool localOnly = settings.LocalFilesOnly;
        HubRepoInfo? info = null;
        if (!localOnly)
        {
            try
            {
                info = await repo.InfoAsync(settings.Revision, cancellationToken).ConfigureAwait(false);
            }
            catch (HubException ex) when (ex.Kind is not (HubErrorKind.InvalidResponse or HubErrorKind.IntegrityCheckFailed))
            {
                // As diffusers: any HTTP or connection error of the info call means "use the cache".
                infoError = ex;
                localOnly = true;
            }
        }

        if (localOnly)
        {
            string folder;
            try
            {
                folder = await repo.SnapshotAsync(revision, _ => false, localFilesOnly: true, infoError, cancellationToken).ConfigureAwait(false);
            }
            catch (HubException ex) when (ex.Kind == HubErrorKind.LocalEntryNotFound && infoError is { StatusCode: not null })
            {
                throw infoError; // the Hub's own answer (revision not found, access refused...) says more than "not cached"
            }
            if (!HubCache.FileExists(Path.Combine(folder, "model_index.json")))
            {
                throw new HubException(HubErrorKind.LocalEntryNotFound, repoId, "model_index.json",
                    $"Hub repository '{repoId}': the cached snapshot {folder} of revision '{revision}' has no model_index.json"
                    + (infoError is null ? string.Empty : $", and the Hub could not be asked: {infoError.Message}"), infoError);
            }
            return folder;
        }

        IReadOnlyList<string> files = info!.Files is { Count: > 0 } listed ? listed : await repo.ListTreeAsync(info.Commit, cancellationToken).ConfigureAwait(false);
        string configFile = await repo.FileAsync("model_index.json", revision, cancellationToken).ConfigureAwait(false);
        JsonObject modelIndex = JsonConfigFile.Load(configFile, ModelIndex.MaxFileBytes).Root;
        PipelineFileSelection selection = PipelineFileSelection.Select(repoId, revision, files, modelIndex,
            settings.Variant, settings.UseSafetensors, settings.UseOnnx);
        string snapshot = Path.GetDirectoryName(configFile)!;
        if (selection.ExpectedFiles.All(f => HubCache.SplitRepoPath(f) is { } parts && HubCache.FileExists(Path.Combine([snapshot, .. parts]))))
        {
            return snapshot;
        }
        return await repo.SnapshotAsync(revision, selection.Includes, localFilesOnly: false, null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Downloads the files of a repository that match <paramref name="allowPatterns"/> (all if null) and none of
    /// <paramref name="ignorePatterns"/>, and returns the snapshot folder (huggingface_hub's <c>snapshot_download</c>).
    /// Patterns are Python <c>fnmatch</c> patterns on the repository path (<c>*</c> also matches <c>/</c>; a pattern ending
    /// in <c>/</c> matches the folder's files). Offline, or when the Hub cannot be reached, the cached snapshot of the
    /// revision is returned as it is.
    /// </summary>
    /// <param name="repoId">The repository.</param>
    /// <param name="allowPatterns">Patterns a file must match one of; null for every file.</param>
    /// <param name="ignorePatterns">Patterns of files to leave out; null for none.</param>
    /// <param name="options">The options; null for the defaults.</param>
    /// <param name="cancellationToken">Stops the download.</param>
    /// <returns>The local snapshot folder.</returns>
    /// <exception cref="HubException">A Hub or cache failure.</exception>
    public static string SnapshotDownload(string repoId, IEnumerable<string>? allowPatterns = null, IEnumerable<string>? ignorePatterns = null,
        HubDownloadOptions? options = null, CancellationToken cancellationToken = default) =>
        SnapshotDownloadAsync(repoId, allowPatterns, ignorePatterns, options, cancellationToken).GetAwaiter().GetResult();

    /// <summary>The asynchronous form of <see cref="SnapshotDownload"/>.</summary>
    /// <param name="repoId">The repository.</param>
    /// <param name="allowPatterns">Patterns a file must match one of; null for every file.</param>
    /// <param name="ignorePatterns">Patterns of files to leave out; null for none.</param>
    /// <param name="options">The options; null for the defaults.</param>
    /// <param name="cancellationToken">Stops the download.</param>
    /// <returns>The local snapshot folder.</returns>
    public static Task<string> SnapshotDownloadAsync(string repoId, IEnumerable<string>? allowPatterns = null, IEnumerable<string>? ignorePatterns = null,
        HubDownloadOptions? options = null, CancellationToken cancellationToken = default)
    {
        CheckRepoId(repoId);
        HubSettings settings = HubSettings.Resolve(options);
        List<GlobPattern>? allow = Patterns(allowPatterns, nameof(allowPatterns));
        List<GlobPattern>? ignore = Patterns(ignorePatterns, nameof(ignorePatterns));
        var repo = new HubRepository(repoId, settings);
        return repo.SnapshotAsync(settings.Revision ?? HubSettings.DefaultRevision,
            path => (allow is null || GlobPattern.MatchesAny(allow, path)) && (ignore is null || !GlobPattern.MatchesAny(ignore, path)),
            localFilesOnly: false, null, cancellationToken);
    }

    /// <summary>
    /// Downloads one file and returns its path in the snapshot folder (huggingface_hub's <c>hf_hub_download</c>): with a
    /// commit as <see cref="HubDownloadOptions.Revision"/> and the file cached, no request is made; otherwise a HEAD asks
    /// for the file's commit and etag and the content is fetched unless cached. Offline, or when the Hub cannot be
    /// reached, the cached file of the revision is returned.
    /// </summary>
    /// <param name="repoId">The repository.</param>
    /// <param name="fileName">The path inside the repository, e.g. <c>unet/config.json</c>.</param>
    /// <param name="options">The options; null for the defaults.</param>
    /// <param name="cancellationToken">Stops the download.</param>
    /// <returns>The file's path in the snapshot folder (a symbolic link into <c>blobs/</c>, or the file itself).</returns>
    /// <exception cref="HubException">A Hub or cache failure (<see cref="HubErrorKind.EntryNotFound"/> for a missing file).</exception>
    public static string DownloadFile(string repoId, string fileName, HubDownloadOptions? options = null, CancellationToken cancellationToken = default) =>
        DownloadFileAsync(repoId, fileName, options, cancellationToken).GetAwaiter().GetResult();

    /// <summary>The asynchronous form of <see cref="DownloadFile"/>.</summary>
    /// <param name="repoId">The repository.</param>
    /// <param name="fileName">The path inside the repository.</param>
    /// <param name="options">The options; null for the defaults.</param>
    /// <param name="cancellationToken">Stops the download.</param>
    /// <returns>The file's path in the snapshot folder.</returns>
    public static Task<string> DownloadFileAsync(string repoId, string fileName, HubDownloadOptions? options = null, CancellationToken cancellationToken = default)
    {
        CheckRepoId(repoId);
        ArgumentException.ThrowIfNullOrEmpty(fileName);
        if (HubCache.SplitRepoPath(fileName) is null)
        {
            throw new ArgumentException($"'{fileName}' is not a file path inside a repository (segments separated by '/', none empty, '.' or '..').", nameof(fileName));
        }
        HubSettings settings = HubSettings.Resolve(options);
        var repo = new HubRepository(repoId, settings);
        return repo.FileAsync(fileName, settings.Revision ?? HubSettings.DefaultRevision, cancellationToken);
    }

    private static void CheckRepoId(string repoId)
    {
        ArgumentNullException.ThrowIfNull(repoId);
        if (!IsRepoId(repoId))
        {
            throw new ArgumentException(
                $"'{repoId}' is not a Hub repository id: expected 'name' or 'namespace/name' of letters, digits, '-', '_' and '.' (name at most 96 characters, no '--' or '..').",
                nameof(repoId));
        }
    }

    /// <summary>huggingface_hub's <c>_add_wildcard_to_directories</c>: a pattern ending in <c>/</c> gets <c>*</c>.</summary>
    private static List<GlobPattern>? Patterns(IEnumerable<string>? patterns, string paramName)
    {
        if (patterns is null)
        {
            return null;
        }
        var list = new List<GlobPattern>();
        foreach (string pattern in patterns)
        {
            if (string.IsNullOrEmpty(pattern))
            {
                throw new ArgumentException("Patterns must be non-empty fnmatch patterns such as '*.json' or 'unet/'.", paramName);
            }
            list.Add(GlobPattern.Parse(pattern.EndsWith('/') ? pattern + "*" : pattern));
        }
        return list;
    }

    [GeneratedRegex(@"^(\b[\w\-.]+\b/)?\b[\w\-.]{1,96}\b$", RegexOptions.CultureInvariant)]
    private static partial Regex RepoIdRegex();
}
