namespace Spright.Diffusion.Models;

/// <summary>The shape of one UNet evaluation: latent batch and size, and the text conditioning size.</summary>
/// <param name="BatchSize">The UNet batch (2·prompts·images with classifier-free guidance).</param>
/// <param name="Channels">Latent channels (4 for SD).</param>
/// <param name="Height">Latent height (image height / VAE scale factor).</param>
/// <param name="Width">Latent width.</param>
/// <param name="SequenceLength">Text tokens per prompt (77).</param>
/// <param name="HiddenSize">Text hidden width (1024 for SD 2.x).</param>
public readonly record struct UNetShape(int BatchSize, int Channels, int Height, int Width, int SequenceLength, int HiddenSize)
{
    /// <summary>Elements of the latent sample / model output.</summary>
    public int SampleLength => checked(BatchSize * Channels * Height * Width);

    /// <summary>Elements of the encoder hidden states.</summary>
    public int HiddenStatesLength => checked(BatchSize * SequenceLength * HiddenSize);
}

/// <summary>
/// The denoising UNet (<c>UNet2DConditionModel</c>). A UNet hands out <see cref="IUNetRunner"/>s that own
/// preallocated buffers for one shape, so the denoising loop runs without allocating.
/// </summary>
public interface IUNet : IDisposable
{
    /// <summary>Latent input channels (4 for SD).</summary>
    int InChannels { get; }

    /// <summary>The trained latent size (<c>sample_size</c>: 96 for SPRIGHT / SD 2.1 768), or <see langword="null"/> when unknown.</summary>
    int? SampleSize { get; }

    /// <summary>The text conditioning width (<c>cross_attention_dim</c>), or <see langword="null"/> when unknown.</summary>
    int? CrossAttentionDim { get; }

    /// <summary>Creates a runner with buffers for <paramref name="shape"/>.</summary>
    /// <param name="shape">The evaluation shape.</param>
    /// <returns>A runner; dispose it (or return it to a pool) when done.</returns>
    IUNetRunner CreateRunner(UNetShape shape);
}

/// <summary>
/// Evaluates the UNet for one fixed shape on preallocated buffers: write <see cref="Sample"/> and
/// <see cref="EncoderHiddenStates"/>, call <c>Run</c>, read <see cref="Output"/>. Not thread-safe; use one per
/// concurrent generation.
/// </summary>
public interface IUNetRunner : IDisposable
{
    /// <summary>The shape this runner serves.</summary>
    UNetShape Shape { get; }

    /// <summary>The latent model input [batch, channels, height, width] (float32 staging).</summary>
    Span<float> Sample { get; }

    /// <summary>The text conditioning [batch, sequence, hidden] (float32 staging).</summary>
    Span<float> EncoderHiddenStates { get; }

    /// <summary>The model output of the last <c>Run</c> [batch, channels, height, width].</summary>
    ReadOnlySpan<float> Output { get; }

    /// <summary>Evaluates the UNet at <paramref name="timestep"/>.</summary>
    /// <param name="timestep">The diffusion timestep.</param>
    /// <param name="cancellationToken">Stops the evaluation mid-run (ONNX Runtime's terminate flag).</param>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    void Run(float timestep, CancellationToken cancellationToken = default);

    /// <summary>Evaluates the UNet at <paramref name="timestep"/>; with <paramref name="releaseMemory"/>, the scratch
    /// memory the model keeps between evaluations (ONNX Runtime's arena) is handed back afterwards. The pipeline asks
    /// for that on the last step of a loop, so the VAE decoder does not run on top of the UNet's working memory.</summary>
    /// <param name="timestep">The diffusion timestep.</param>
    /// <param name="releaseMemory">Whether to release scratch memory after the evaluation.</param>
    /// <param name="cancellationToken">Stops the evaluation mid-run.</param>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    void Run(float timestep, bool releaseMemory, CancellationToken cancellationToken) => Run(timestep, cancellationToken);
}
