namespace Spright.Diffusion.Components;

/// <summary>Facts about a VAE that the pipeline needs (from the VAE's <c>config.json</c>, or SD defaults).</summary>
public sealed class VaeInfo
{
    /// <summary>Creates the facts.</summary>
    /// <param name="scalingFactor">Latent scaling factor (<c>scaling_factor</c>, 0.18215 for SD 2.x).</param>
    /// <param name="scaleFactor">Pixels per latent (2^(len(block_out_channels)−1) = 8).</param>
    /// <param name="latentChannels">Latent channels (4).</param>
    /// <param name="sampleSize">The VAE's trained image size (<c>sample_size</c>, the tile size of tiled decoding), or
    /// null when the folder does not say.</param>
    public VaeInfo(float scalingFactor, int scaleFactor, int latentChannels, int? sampleSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(scaleFactor, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(latentChannels, 1);
        ScalingFactor = scalingFactor;
        ScaleFactor = scaleFactor;
        LatentChannels = latentChannels;
        SampleSize = sampleSize;
    }

    /// <summary>Latent scaling factor (<c>scaling_factor</c>).</summary>
    public float ScalingFactor { get; }

    /// <summary>Pixels per latent (<c>vae_scale_factor</c>).</summary>
    public int ScaleFactor { get; }

    /// <summary>Latent channels.</summary>
    public int LatentChannels { get; }

    /// <summary>The trained image size, or null when unknown.</summary>
    public int? SampleSize { get; }
}
