using System.Numerics.Tensors;

namespace Spright.Diffusion.Components;

/// <summary>The VAE decoder: latents (already divided by the scaling factor) to images in [-1, 1]. Safe to call from
/// several threads at once.</summary>
public interface IVaeDecoder : IPipelineComponent
{
    /// <summary>Configuration facts.</summary>
    VaeInfo Info { get; }

    /// <summary>Decodes latents [batch, channels, h, w] into images [batch, 3, h·f, w·f] (raw, not clamped).</summary>
    /// <param name="latents">The latents divided by <see cref="VaeInfo.ScalingFactor"/>.</param>
    /// <param name="cancellationToken">Stops the run.</param>
    /// <returns>The decoded images.</returns>
    Tensor<float> Decode(Tensor<float> latents, CancellationToken cancellationToken = default);
}
