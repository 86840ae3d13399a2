using Spright.Diffusion.Imaging;

namespace Spright.Diffusion;

/// <summary>The arguments of an image-to-image call (diffusers' <c>StableDiffusionImg2ImgPipeline.__call__</c>).</summary>
public sealed record ImageToImageOptions : GenerationOptions
{
    /// <summary>Options with every argument at diffusers' default.</summary>
    public ImageToImageOptions()
    {
    }

    /// <summary>The arguments both pipelines share, copied from <paramref name="options"/> (e.g. a text-to-image call's),
    /// with the image-to-image ones at their defaults.</summary>
    /// <param name="options">The options to copy.</param>
    public ImageToImageOptions(GenerationOptions options)
        : base(options ?? throw new ArgumentNullException(nameof(options)))
    {
    }

    /// <summary>The starting image (required).</summary>
    public ImageInput? Image { get; init; }

    /// <summary>How much to transform the image, in [0, 1] (default 0.8): the share of the schedule that is run.</summary>
    public double Strength { get; init; } = 0.8;
}
