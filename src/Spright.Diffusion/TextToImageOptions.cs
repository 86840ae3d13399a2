using System.Numerics.Tensors;

namespace Spright.Diffusion;

/// <summary>The arguments of a text-to-image call (diffusers' <c>StableDiffusionPipeline.__call__</c>).</summary>
public sealed record TextToImageOptions : GenerationOptions
{
    /// <summary>Options with every argument at diffusers' default.</summary>
    public TextToImageOptions()
    {
    }

    /// <summary>The arguments both pipelines share, copied from <paramref name="options"/> (e.g. a text-to-image call's),
    /// with the text-to-image ones at their defaults.</summary>
    /// <param name="options">The options to copy.</param>
    public TextToImageOptions(GenerationOptions options)
        : base(options ?? throw new ArgumentNullException(nameof(options)))
    {
    }

    /// <summary>Initial noise [batch·images, channels, h, w] instead of drawing it (not yet scaled by the scheduler's
    /// initial noise sigma).</summary>
    public Tensor<float>? Latents { get; init; }
}
