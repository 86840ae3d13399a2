using Spright.Diffusion.Loading;

namespace Spright.Diffusion;

/// <summary>
/// The entry point, like diffusers' <c>DiffusionPipeline</c>: <see cref="FromPretrained"/> reads <c>model_index.json</c>
/// and builds the pipeline class it names from the folder's components.
/// </summary>
/// <example>
/// <code>
/// using var pipe = DiffusionPipeline.FromPretrained("SPRIGHT-T2I/spright-t2i-sd2");
/// var output = pipe.Generate("a cute kitten is sitting in a dish on a table");
/// output.Images[0].SaveAsPng("kitten.png");
/// </code>
/// </example>
public abstract class DiffusionPipeline : IDisposable
{
    private int _disposed;

    /// <summary>Initialises the base.</summary>
    /// <param name="modelPath">The folder the pipeline was loaded from, if any.</param>
    private protected DiffusionPipeline(string? modelPath)
    {
        ModelPath = modelPath;
    }

    /// <summary>The model folder this pipeline was loaded from (null when assembled from components).</summary>
    public string? ModelPath { get; }

    /// <summary>Whether the pipeline has been disposed.</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>
    /// Loads a pipeline (diffusers' <c>DiffusionPipeline.from_pretrained</c>) from a model folder or a Hugging Face Hub
    /// repo id (downloaded into the cache Python's huggingface_hub uses, or found there) - a diffusers folder
    /// (<c>config.json</c> + <c>*.safetensors</c> per component, as SPRIGHT is published) or an ONNX export (optimum's or
    /// diffusers' legacy layout) - through the backend of <see cref="DiffusionPipelineOptions.Backend"/>.
    /// </summary>
    /// <param name="pretrainedModelNameOrPath">A model folder (holding <c>model_index.json</c>), or a Hub repo id such as
    /// <c>SPRIGHT-T2I/spright-t2i-sd2</c>.</param>
    /// <param name="options">Backend, precision, variant, scheduler and tokenizer settings.</param>
    /// <param name="cancellationToken">Stops the load between steps.</param>
    /// <returns>The pipeline named by <c>_class_name</c> (text-to-image or image-to-image).</returns>
    /// <exception cref="ArgumentException">An option is out of range, or the path is empty.</exception>
    /// <exception cref="ModelLoadException">A file is missing or broken; the message names it.</exception>
    /// <exception cref="Hub.HubException">The Hub refused or could not serve the repo (not found, gated, revision not
    /// found, not cached while offline); the message names the repo and file.</exception>
    public static DiffusionPipeline FromPretrained(string pretrainedModelNameOrPath, DiffusionPipelineOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pretrainedModelNameOrPath);
        return PipelineLoader.Load(pretrainedModelNameOrPath, options ?? new DiffusionPipelineOptions(), cancellationToken);
    }

    /// <summary>Generates images for one prompt with every other argument at diffusers' default.</summary>
    /// <param name="prompt">The prompt.</param>
    /// <param name="cancellationToken">Stops the generation, within one UNet evaluation.</param>
    /// <returns>The images, arrays and latents.</returns>
    public StableDiffusionPipelineOutput Generate(string prompt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        return Generate(new TextToImageOptions { Prompt = [prompt] }, cancellationToken);
    }

    /// <summary>Runs the pipeline with every argument in <paramref name="options"/>: <see cref="TextToImageOptions"/> for
    /// text-to-image pipelines, <see cref="ImageToImageOptions"/> for image-to-image ones. Safe to call from several
    /// threads at once.</summary>
    /// <param name="options">The call's arguments.</param>
    /// <param name="cancellationToken">Stops the generation, within one UNet evaluation.</param>
    /// <returns>The images, arrays and latents.</returns>
    /// <exception cref="ArgumentException">An argument is out of range or inconsistent (an
    /// <see cref="ArgumentOutOfRangeException"/> carries the value); the message names the option and what is allowed.</exception>
    /// <exception cref="NonFiniteOutputException">The latents or the decoded image contain NaN or infinite values.</exception>
    /// <exception cref="DiffusionException">A component failed while running.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The pipeline was disposed.</exception>
    public abstract StableDiffusionPipelineOutput Generate(GenerationOptions options, CancellationToken cancellationToken = default);

    /// <summary>Throws <see cref="ObjectDisposedException"/> after <see cref="Dispose()"/>.</summary>
    protected void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(IsDisposed, this);

    /// <summary>Releases the pipeline's components.</summary>
    /// <param name="disposing">Whether called from <see cref="Dispose()"/>.</param>
    protected abstract void Dispose(bool disposing);

    /// <summary>Releases the components the pipeline loaded (when no other pipeline shares them). Safe to call twice.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }
}
