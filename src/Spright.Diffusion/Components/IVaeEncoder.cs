using System.Numerics.Tensors;

namespace Spright.Diffusion.Components;

/// <summary>The VAE encoder: images in [-1, 1] to the latent posterior's parameters or samples. Safe to call from
/// several threads at once.</summary>
public interface IVaeEncoder : IPipelineComponent
{
    /// <summary>Configuration facts.</summary>
    VaeInfo Info { get; }

    /// <summary>Which output convention the encoder follows.</summary>
    VaeEncoderOutputKind OutputKind { get; }

    /// <summary>Encodes images [batch, 3, H, W] to [batch, 2·C, h, w] (parameters) or [batch, C, h, w] (samples).</summary>
    /// <param name="images">Images in [-1, 1].</param>
    /// <param name="cancellationToken">Stops the run.</param>
    /// <returns>The encoder output.</returns>
    Tensor<float> Encode(Tensor<float> images, CancellationToken cancellationToken = default);
}
