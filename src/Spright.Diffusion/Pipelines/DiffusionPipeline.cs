using Spright.Diffusion.Hub;

namespace Spright.Diffusion;

/// <summary>
/// The entry point, like diffusers' <c>DiffusionPipeline</c>: <see cref="FromPretrained(string, DiffusionPipelineOptions?)"/>
/// reads <c>model_index.json</c> and builds the pipeline class it names from the folder's components.
/// </summary>
/// <example>
/// <code>
/// using var pipe = DiffusionPipeline.FromPretrained("path/to/spright-t2i-sd2-onnx");
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
    /// Loads the pipeline a model folder describes: optimum's ONNX export layout (<c>optimum-cli export onnx</c>, per-component
    /// <c>config.json</c>, external UNet weights) in all its variants, or the legacy diffusers ONNX script layout.
    /// </summary>
    /// <param name="modelPath">The model folder (holding <c>model_index.json</c>).</param>
    /// <param name="options">Execution provider, session and tokenizer settings.</param>
    /// <returns>The pipeline named by <c>_class_name</c> (text-to-image or image-to-image).</returns>
    /// <exception cref="ModelLoadException">A file is missing or broken; the message names it.</exception>
    /// <exception cref="ExecutionProviderUnavailableException">The requested provider is not in the app's ONNX Runtime.</exception>
    public static DiffusionPipeline FromPretrained(string modelPath, DiffusionPipelineOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelPath);
        ModelIndex index = ModelIndex.Load(modelPath);
        return PipelineLoader.Load(modelPath, index, options ?? new DiffusionPipelineOptions());
    }

    /// <summary>Generates images for one prompt.</summary>
    /// <param name="prompt">The prompt.</param>
    /// <param name="options">Everything else (defaults as diffusers).</param>
    /// <param name="cancellationToken">Stops the generation, within one UNet evaluation.</param>
    /// <returns>The images, arrays and latents.</returns>
    public StableDiffusionPipelineOutput Generate(string prompt, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        GenerationOptions call = options?.Clone() ?? new GenerationOptions();
        call.Prompt = [prompt];
        return Generate(call, cancellationToken);
    }

    /// <summary>Generates images with every argument in <paramref name="options"/>. Safe to call from several threads
    /// at once (see <see cref="StableDiffusionPipelineBase"/>).</summary>
    /// <param name="options">The call's arguments.</param>
    /// <param name="cancellationToken">Stops the generation, within one UNet evaluation.</param>
    /// <returns>The images, arrays and latents.</returns>
    /// <exception cref="ArgumentException">An argument is out of range or inconsistent (an
    /// <see cref="ArgumentOutOfRangeException"/> carries the value); the message names the option and what is allowed.</exception>
    /// <exception cref="NonFiniteOutputException">The latents or the decoded image contain NaN or infinite values (the
    /// float16 SD 2.x overflow): nothing is returned rather than a black image.</exception>
    /// <exception cref="ModelLoadException">A text encoder or VAE graph loaded but failed when run; the message names it.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The pipeline was disposed.</exception>
    public abstract StableDiffusionPipelineOutput Generate(GenerationOptions options, CancellationToken cancellationToken = default);

    /// <summary>Runs <see cref="Generate(GenerationOptions, CancellationToken)"/> on the thread pool.</summary>
    /// <param name="options">The call's arguments.</param>
    /// <param name="cancellationToken">Stops the generation.</param>
    /// <returns>The output.</returns>
    public Task<StableDiffusionPipelineOutput> GenerateAsync(GenerationOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ThrowIfDisposed();
        return Task.Run(() => Generate(options, cancellationToken), cancellationToken);
    }

    /// <summary>Runs <see cref="Generate(string, GenerationOptions?, CancellationToken)"/> on the thread pool.</summary>
    /// <param name="prompt">The prompt.</param>
    /// <param name="options">Everything else.</param>
    /// <param name="cancellationToken">Stops the generation.</param>
    /// <returns>The output.</returns>
    public Task<StableDiffusionPipelineOutput> GenerateAsync(string prompt, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ThrowIfDisposed();
        return Task.Run(() => Generate(prompt, options, cancellationToken), cancellationToken);
    }

    /// <summary>Throws <see cref="ObjectDisposedException"/> after <see cref="Dispose()"/>.</summary>
    protected void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(IsDisposed, this);

    /// <summary>Releases the pipeline's native resources.</summary>
    /// <param name="disposing">Whether called from <see cref="Dispose()"/>.</param>
    protected abstract void Dispose(bool disposing);

    /// <summary>Releases the ONNX sessions the pipeline loaded. Safe to call twice.</summary>
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
