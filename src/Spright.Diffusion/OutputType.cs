namespace Spright.Diffusion;

/// <summary>What a generate call returns, like diffusers' <c>output_type</c>.</summary>
public enum OutputType
{
    /// <summary>RGB images (diffusers' <c>"pil"</c>), plus the float array and the latents.</summary>
    Image,

    /// <summary>Float arrays [N, H, W, 3] in [0, 1] (diffusers' <c>"np"</c>), plus the latents; no images.</summary>
    Array,

    /// <summary>Only the final latents (diffusers' <c>"latent"</c>): the VAE is skipped.</summary>
    Latent,
}
