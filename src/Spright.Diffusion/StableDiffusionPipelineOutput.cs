using System.Numerics.Tensors;
using Spright.Diffusion.Imaging;

namespace Spright.Diffusion;

/// <summary>The result of a generate call (diffusers' <c>StableDiffusionPipelineOutput</c>).</summary>
public sealed class StableDiffusionPipelineOutput
{
    internal StableDiffusionPipelineOutput(IReadOnlyList<RgbImage> images, Tensor<float>? imageArray, Tensor<float> latents, ulong? seed, float[] timesteps)
    {
        Images = images;
        ImageArray = imageArray;
        Latents = latents;
        Seed = seed;
        Timesteps = timesteps;
    }

    /// <summary>The images (empty unless <see cref="OutputType.Image"/> was requested).</summary>
    public IReadOnlyList<RgbImage> Images { get; }

    /// <summary>The images as float32 [N, H, W, 3] in [0, 1] (diffusers' <c>output_type="np"</c>); null for latent output.</summary>
    public Tensor<float>? ImageArray { get; }

    /// <summary>The final latents [N, channels, h, w], still multiplied by the VAE scaling factor (diffusers' <c>output_type="latent"</c>).</summary>
    public Tensor<float> Latents { get; }

    /// <summary>The seed of the generator the pipeline created, or null when a generator was passed in.</summary>
    public ulong? Seed { get; }

    /// <summary>The timesteps the UNet was evaluated at, in order.</summary>
    public IReadOnlyList<float> Timesteps { get; }
}
