using System.Numerics.Tensors;

namespace Spright.Diffusion.Models;

/// <summary>Facts about a VAE that the pipeline needs (from the VAE's <c>config.json</c>, or SD defaults).</summary>
/// <param name="ScalingFactor">Latent scaling factor (<c>scaling_factor</c>, 0.18215 for SD 2.x).</param>
/// <param name="ScaleFactor">Pixels per latent (2^(len(block_out_channels)−1) = 8).</param>
/// <param name="LatentChannels">Latent channels (4).</param>
/// <param name="ForceUpcast">diffusers' <c>force_upcast</c> flag (informational for ONNX exports).</param>
public readonly record struct VaeInfo(float ScalingFactor, int ScaleFactor, int LatentChannels, bool ForceUpcast);

/// <summary>The VAE decoder: latents (already divided by the scaling factor) to images in [-1, 1].</summary>
public interface IVaeDecoder : IDisposable
{
    /// <summary>Configuration facts.</summary>
    VaeInfo Info { get; }

    /// <summary>Decodes latents [batch, channels, h, w] into images [batch, 3, h·f, w·f] (raw, not clamped).</summary>
    /// <param name="latents">The latents divided by <see cref="VaeInfo.ScalingFactor"/>.</param>
    /// <param name="cancellationToken">Stops the run.</param>
    /// <returns>The decoded images.</returns>
    Tensor<float> Decode(Tensor<float> latents, CancellationToken cancellationToken = default);
}

/// <summary>What a VAE encoder graph outputs.</summary>
public enum VaeEncoderOutputKind
{
    /// <summary>optimum exports: <c>latent_parameters</c> = concat(mean, logvar) along channels; the pipeline samples.</summary>
    LatentParameters,

    /// <summary>Older exports: <c>latent_sample</c>, already sampled inside the graph with its own noise.</summary>
    LatentSample,
}

/// <summary>The VAE encoder: images in [-1, 1] to latent distribution parameters or samples.</summary>
public interface IVaeEncoder : IDisposable
{
    /// <summary>Configuration facts.</summary>
    VaeInfo Info { get; }

    /// <summary>Which output convention the graph follows.</summary>
    VaeEncoderOutputKind OutputKind { get; }

    /// <summary>Encodes images [batch, 3, H, W] to [batch, 2·C, h, w] (parameters) or [batch, C, h, w] (samples).</summary>
    /// <param name="images">Images in [-1, 1].</param>
    /// <param name="cancellationToken">Stops the run.</param>
    /// <returns>The encoder output.</returns>
    Tensor<float> Encode(Tensor<float> images, CancellationToken cancellationToken = default);
}
