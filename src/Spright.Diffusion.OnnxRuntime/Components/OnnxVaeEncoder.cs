using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using Spright.Diffusion.Components;
using Spright.Diffusion.Configuration;
using Spright.Diffusion.Numerics;
using Float16 = Microsoft.ML.OnnxRuntime.Float16;
using TensorElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;

namespace Spright.Diffusion.OnnxRuntime.Components;

/// <summary>
/// The VAE encoder on ONNX Runtime, in both conventions: optimum's <c>latent_parameters</c> (mean ‖ logvar, the
/// pipeline samples with its generator) and older exports' <c>latent_sample</c> (sampled inside the graph).
/// </summary>
internal sealed class OnnxVaeEncoder : OnnxComponent, IVaeEncoder
{
    private static readonly TensorElementType[] FloatTypes = [TensorElementType.Float, TensorElementType.Float16];
    private readonly TensorPort _input;
    private readonly TensorPort _output;

    /// <summary>Loads a VAE encoder graph.</summary>
    /// <param name="modelPath">Path of <c>vae_encoder/model.onnx</c>.</param>
    /// <param name="settings">Session settings.</param>
    /// <param name="logger">Where messages go.</param>
    /// <param name="configDirectory">The folder of its <c>config.json</c> (default: the graph's folder).</param>
    public OnnxVaeEncoder(string modelPath, OnnxRuntimeSettings? settings = null, ILogger? logger = null, string? configDirectory = null)
        : base(modelPath, "vae_encoder", settings, logger)
    {
        try
        {
            var taken = new HashSet<string>(StringComparer.Ordinal);
            _input = RequireInput("image", ["sample", "images"], [4], FloatTypes, taken);
            RejectUnknownInputs(taken);
            if (Session.OutputMetadata.ContainsKey("latent_parameters"))
            {
                _output = RequireOutput("latent distribution", ["latent_parameters"], [4], FloatTypes);
                OutputKind = VaeEncoderOutputKind.LatentParameters;
            }
            else
            {
                _output = RequireOutput("latent sample", ["latent_sample", "latent_dist", "latents"], [4], FloatTypes);
                OutputKind = VaeEncoderOutputKind.LatentSample;
            }
            if (_input.Fixed(1) is int channels && channels != 3)
            {
                throw new ModelLoadException(ModelPath, $"the vae_encoder graph's input '{_input.Name}' has {channels} channels, not the 3 of an RGB image: is this the VAE decoder graph?");
            }
            Info = VaeConfigReader.Read(configDirectory ?? Path.GetDirectoryName(ModelPath)!);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public VaeInfo Info { get; }

    /// <inheritdoc />
    public VaeEncoderOutputKind OutputKind { get; }

    /// <inheritdoc />
    public Tensor<float> Encode(Tensor<float> images, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        ArgumentNullException.ThrowIfNull(images);
        int[] shape = images.Shape();
        if (shape.Length != 4 || shape[1] != 3)
        {
            throw new ArgumentException($"Images must be [batch, 3, height, width]; got [{string.Join(", ", shape)}].", nameof(images));
        }
        return RunPerItem(images, _input, _output, [0, 0, 0, 0], cancellationToken);
    }
}
