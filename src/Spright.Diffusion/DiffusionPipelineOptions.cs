using Microsoft.Extensions.Logging;
using Spright.Diffusion.Components;
using Spright.Diffusion.Hub;

namespace Spright.Diffusion;

/// <summary>How <see cref="DiffusionPipeline.FromPretrained(string, DiffusionPipelineOptions?, CancellationToken)"/> loads a
/// model, named after the keyword arguments of diffusers' <c>from_pretrained</c>.</summary>
public sealed record DiffusionPipelineOptions
{
    /// <summary>The backend that loads and runs the model components. Null (the default) uses the ONNX Runtime backend of
    /// the <c>Spright.Diffusion.OnnxRuntime</c> package with its default settings, found at run time when the app
    /// references that package; set it (e.g. <c>new OnnxRuntimeBackend(settings)</c>) to choose the execution provider
    /// and session settings, or for trimmed apps.</summary>
    public IComponentLoader? Backend { get; init; }

    /// <summary>The precision to compute in (<c>torch_dtype</c>); null (the default) keeps what the model stores:
    /// float32 for diffusers folders and float32 exports, float16 for float16 exports.</summary>
    public Dtype? Dtype { get; init; }

    /// <summary>Load the weight files of this variant (<c>variant="fp16"</c> loads <c>*.fp16.safetensors</c>); null (the
    /// default) loads the plain files.</summary>
    public string? Variant { get; init; }

    /// <summary>For a Hub repo id: the branch, tag or commit to load (default <c>main</c>).</summary>
    public string? Revision { get; init; }

    /// <summary>For a Hub repo id: the access token for gated or private repos (default: <c>HF_TOKEN</c>,
    /// <c>HUGGING_FACE_HUB_TOKEN</c> or the token file, as huggingface_hub finds it).</summary>
    public string? Token { get; init; }

    /// <summary>For a Hub repo id: use only what the cache already holds, making no request (as <c>HF_HUB_OFFLINE=1</c>).</summary>
    public bool LocalFilesOnly { get; init; }

    /// <summary>For a Hub repo id: the cache folder (default: <c>HF_HUB_CACHE</c>, else <c>$HF_HOME/hub</c>, else
    /// <c>~/.cache/huggingface/hub</c>, shared with Python's huggingface_hub).</summary>
    public string? CacheDir { get; init; }

    /// <summary>For a Hub repo id: download safetensors weights (true), pickled <c>.bin</c> ones only when safetensors are
    /// missing (null, the default), as diffusers' <c>use_safetensors</c>.</summary>
    public bool? UseSafetensors { get; init; }

    /// <summary>For a Hub repo id: receives the download progress of each file.</summary>
    public IProgress<HubDownloadProgress>? DownloadProgress { get; init; }

    /// <summary>Load this scheduler class (e.g. <c>EulerDiscreteScheduler</c>) from the folder's scheduler config instead
    /// of the one <c>model_index.json</c> names.</summary>
    public string? Scheduler { get; init; }

    /// <summary>Use transformers' ftfy text clean-up in the tokenizer (what users with ftfy installed get); default false,
    /// the path a plain <c>pip install diffusers transformers</c> user has.</summary>
    public bool UseFtfy { get; init; }

    /// <summary>Low-memory mode (diffusers' model offloading): each component is loaded when its stage starts and released
    /// when it ends, so the peak is the largest component with its working memory rather than the sum of all. Every call
    /// then pays the loads. Default false.</summary>
    public bool LowMemory { get; init; }

    /// <summary>Follow symbolic links that lead out of the model folder (default false: every component folder and file must
    /// resolve inside the model folder or, for a Hugging Face cache snapshot, inside that repository's cache folder, so a
    /// folder handed to a service cannot make it read files elsewhere).</summary>
    public bool FollowExternalLinks { get; init; }

    /// <summary>Hub options that replace the ones above (tests point them at a fake Hub with their own environment).</summary>
    internal HubDownloadOptions? HubOverrides { get; init; }

    /// <summary>The logger factory for this pipeline (defaults to <see cref="Logging.DiffusionLogging.LoggerFactory"/>).</summary>
    public ILoggerFactory? LoggerFactory { get; init; }
}
