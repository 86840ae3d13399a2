namespace Spright.Diffusion.Components;

/// <summary>The shape of one UNet evaluation: latent batch and size, and the text conditioning size.</summary>
/// <param name="BatchSize">The UNet batch (2·prompts·images with classifier-free guidance).</param>
/// <param name="Channels">Latent channels (4 for SD).</param>
/// <param name="Height">Latent height (image height / VAE scale factor).</param>
/// <param name="Width">Latent width.</param>
/// <param name="SequenceLength">Text tokens per prompt (77, or a multiple of it for long weighted prompts).</param>
/// <param name="HiddenSize">Text hidden width (1024 for SD 2.x).</param>
public readonly record struct UNetShape(int BatchSize, int Channels, int Height, int Width, int SequenceLength, int HiddenSize)
{
    /// <summary>Elements of the latent sample / model output.</summary>
    public int SampleLength => checked(BatchSize * Channels * Height * Width);

    /// <summary>Elements of the encoder hidden states.</summary>
    public int HiddenStatesLength => checked(BatchSize * SequenceLength * HiddenSize);
}
