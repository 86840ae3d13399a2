using Microsoft.Extensions.Logging;

namespace Spright.Diffusion;

/// <summary>How <see cref="DiffusionPipeline.FromPretrained(string, DiffusionPipelineOptions?)"/> loads a model folder.</summary>
public sealed class DiffusionPipelineOptions : OnnxSessionSettings
{
    /// <summary>Use transformers' ftfy text clean-up in the tokenizer (what users with ftfy installed get); default
    /// false, the path a plain <c>pip install diffusers transformers</c> user has.</summary>
    public bool UseFtfy { get; init; }

    /// <summary>Load this scheduler class (e.g. <c>EulerDiscreteScheduler</c>) from the folder's scheduler config
    /// instead of the one <c>model_index.json</c> names.</summary>
    public string? Scheduler { get; init; }

    /// <summary>
    /// Low-memory mode: each ONNX component is loaded when its stage starts and released when it ends — the text encoder
    /// after encoding, the UNet before the VAE decodes, the VAE after decoding — so the peak is the largest component
    /// with its working memory rather than the sum of all. Every call then pays the session creations (combine with
    /// <see cref="OnnxSessionSettings.OptimizedModelCacheDirectory"/>). Default false: everything stays loaded for
    /// repeated calls.
    /// </summary>
    public bool LowMemory { get; init; }

    /// <summary>The logger factory for this pipeline (defaults to <see cref="Logging.DiffusionLogging.LoggerFactory"/>).</summary>
    public ILoggerFactory? LoggerFactory { get; init; }
}
