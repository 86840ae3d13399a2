namespace Spright.Diffusion;

/// <summary>The stages of a generate call that an <see cref="IGenerationObserver"/> is told about.</summary>
public enum GenerationStage
{
    /// <summary>Prompt tokenization (once for the prompts, once for the negative prompts).</summary>
    Tokenize,

    /// <summary>One text encoder run (once for the prompts, once for the negative prompts).</summary>
    TextEncoder,

    /// <summary>Image-to-image: preprocessing and VAE encoding of the input image.</summary>
    VaeEncoder,

    /// <summary>Everything between the text encoder and the first step: scheduler set-up, initial noise, buffers.</summary>
    Prepare,

    /// <summary>One UNet evaluation (the step index is given).</summary>
    UNet,

    /// <summary>One step's classifier-free guidance combination (and guidance rescale).</summary>
    Guidance,

    /// <summary>One step's scheduler work: <c>scale_model_input</c> and <c>step</c>.</summary>
    Scheduler,

    /// <summary>The VAE decoder (all images of the call).</summary>
    VaeDecoder,

    /// <summary>Post-processing: decoder output to float arrays and images.</summary>
    Postprocess,

    /// <summary>Loading a component on demand (<see cref="DiffusionPipelineOptions.LowMemory"/>).</summary>
    Load,
}

/// <summary>
/// Receives the duration of each stage of a generate call (see <see cref="GenerationOptions.Observer"/>), for
/// profiling tools such as <c>spright bench</c>. Called synchronously on the generating thread, so keep it cheap;
/// the pipeline does not allocate to report.
/// </summary>
public interface IGenerationObserver
{
    /// <summary>A stage finished.</summary>
    /// <param name="stage">Which stage.</param>
    /// <param name="step">The denoising step index for per-step stages (<see cref="GenerationStage.UNet"/>,
    /// <see cref="GenerationStage.Guidance"/>, <see cref="GenerationStage.Scheduler"/>), else −1.</param>
    /// <param name="elapsedTicks">Its duration in <see cref="System.Diagnostics.Stopwatch"/> ticks
    /// (<see cref="System.Diagnostics.Stopwatch.Frequency"/> per second).</param>
    void OnStage(GenerationStage stage, int step, long elapsedTicks);
}
