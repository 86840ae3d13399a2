namespace Spright.Diffusion.Hub;

/// <summary>
/// How <see cref="HubClient"/> talks to the Hugging Face Hub and where it caches. Every option left unset is read from
/// the environment exactly as Python's huggingface_hub reads it: <c>HF_ENDPOINT</c>, <c>HF_HOME</c>,
/// <c>HF_HUB_CACHE</c> (legacy <c>HUGGINGFACE_HUB_CACHE</c>), <c>HF_HUB_OFFLINE</c>, <c>HF_TOKEN</c> /
/// <c>HUGGING_FACE_HUB_TOKEN</c> / the token file (<c>HF_TOKEN_PATH</c>, default <c>$HF_HOME/token</c>),
/// <c>HF_HUB_DISABLE_IMPLICIT_TOKEN</c>, <c>HF_HUB_ETAG_TIMEOUT</c> and <c>HF_HUB_DOWNLOAD_TIMEOUT</c>, so that one cache
/// serves both Python and .NET.
/// </summary>
public sealed class HubDownloadOptions
{
    /// <summary>The branch, tag or commit (default <c>main</c>). A 40-hex commit whose files are cached is served with
    /// no request at all.</summary>
    public string? Revision { get; init; }

    /// <summary>The access token sent as <c>Authorization: Bearer</c> to the Hub (never to a download host of another
    /// name). Default: <c>HF_TOKEN</c>, then <c>HUGGING_FACE_HUB_TOKEN</c>, then the token file, unless
    /// <c>HF_HUB_DISABLE_IMPLICIT_TOKEN</c> is set.</summary>
    public string? Token { get; init; }

    /// <summary>Use the cache only and make no request (also on when <c>HF_HUB_OFFLINE</c> is 1/ON/YES/TRUE).</summary>
    public bool LocalFilesOnly { get; init; }

    /// <summary>The cache folder (default <c>HF_HUB_CACHE</c>, else <c>$HF_HOME/hub</c>, else
    /// <c>~/.cache/huggingface/hub</c>).</summary>
    public string? CacheDir { get; init; }

    /// <summary>The weights variant for <see cref="HubClient.DownloadPipeline"/>, e.g. <c>fp16</c>: files named
    /// <c>diffusion_pytorch_model.fp16.safetensors</c> are taken instead of the plain ones (an error if the repository
    /// has none).</summary>
    public string? Variant { get; init; }

    /// <summary>For <see cref="HubClient.DownloadPipeline"/>: null (default) prefers safetensors weights and falls back
    /// to <c>.bin</c> when a component lacks them; true requires safetensors; false takes <c>.bin</c> weights.</summary>
    public bool? UseSafetensors { get; init; }

    /// <summary>For <see cref="HubClient.DownloadPipeline"/>: null (default) downloads the ONNX graphs when the repository
    /// is an ONNX export (an ONNX pipeline class in <c>model_index.json</c>, or <c>model.onnx</c> files in its component
    /// folders), the torch weights otherwise; true or false forces the choice.</summary>
    public bool? UseOnnx { get; init; }

    /// <summary>Receives the progress of every file downloaded (one report at a time, also for parallel downloads).</summary>
    public IProgress<HubDownloadProgress>? Progress { get; init; }

    /// <summary>The Hub's address (default <c>HF_ENDPOINT</c>, else the public Hub).</summary>
    public Uri? Endpoint { get; init; }

    /// <summary>How long a metadata request (HEAD of a file) may take (default <c>HF_HUB_ETAG_TIMEOUT</c>, else 10 s).</summary>
    public TimeSpan? EtagTimeout { get; init; }

    /// <summary>How long a download may wait for the server before it retries, also between two reads of the body
    /// (default <c>HF_HUB_DOWNLOAD_TIMEOUT</c>, else 10 s).</summary>
    public TimeSpan? DownloadTimeout { get; init; }

    /// <summary>How many files are downloaded at the same time (default 8, as huggingface_hub; 1 to 64).</summary>
    public int MaxConcurrentDownloads { get; init; } = 8;

    /// <summary>Reads an environment variable (tests; default: the process environment).</summary>
    internal Func<string, string?>? EnvironmentVariables { get; init; }

    /// <summary>The first back-off delay of the retries (1 s as huggingface_hub; tests shorten it).</summary>
    internal TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Treat the cache folder as one where symbolic links cannot be created (tests of the Windows path).</summary>
    internal bool DisableSymlinks { get; init; }
}
