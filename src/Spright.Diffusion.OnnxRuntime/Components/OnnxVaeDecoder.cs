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
/// The VAE decoder on ONNX Runtime (<c>latent_sample</c> → <c>sample</c>, float32 or float16). Decodes one image at a
/// time to keep the peak memory of large batches at 768² low.
/// </summary>
internal sealed class OnnxVaeDecoder : OnnxComponent, IVaeDecoder
{
    private static readonly TensorElementType[] FloatTypes = [TensorElementType.Float, TensorElementType.Float16];
    private readonly TensorPort _input;
    private readonly TensorPort _output;

    /// <summary>Loads a VAE decoder graph; its <c>config.json</c> (if any) gives the scaling factor.</summary>
    /// <param name="modelPath">Path of <c>vae_decoder/model.onnx</c>.</param>
    /// <param name="settings">Session settings.</param>
    /// <param name="logger">Where messages go.</param>
    /// <param name="configDirectory">The folder of its <c>config.json</c> (default: the graph's folder).</param>
    public OnnxVaeDecoder(string modelPath, OnnxRuntimeSettings? settings = null, ILogger? logger = null, string? configDirectory = null)
        : base(modelPath, "vae_decoder", settings, logger)
    {
        try
        {
            var taken = new HashSet<string>(StringComparer.Ordinal);
            _input = RequireInput("latents", ["latent_sample", "latents", "z"], [4], FloatTypes, taken);
            RejectUnknownInputs(taken);
            _output = RequireOutput("image", ["sample", "images"], [4], FloatTypes);
            Info = VaeConfigReader.Read(configDirectory ?? Path.GetDirectoryName(ModelPath)!);
            if (_input.Fixed(1) == 3 && _output.Fixed(1) != 3)
            {
                throw new ModelLoadException(ModelPath, $"the vae_decoder graph takes 3-channel images and returns '{_output.Name}', not an image: is this the VAE encoder graph?");
            }
            if (_input.Fixed(1) is int c && c != Info.LatentChannels)
            {
                string config = Path.Combine(configDirectory ?? Path.GetDirectoryName(ModelPath)!, "config.json");
                throw File.Exists(config)
                    ? new ModelLoadException(config, $"latent_channels is {Info.LatentChannels} but the decoder graph takes {c} latent channels")
                    : new ModelLoadException(ModelPath, $"the decoder takes {c} latent channels; a Stable Diffusion VAE without a config has {Info.LatentChannels}");
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public VaeInfo Info { get; }

    /// <summary>The element type of the latent input (Float or Float16).</summary>
    public TensorElementType InputType => _input.ElementType;

    /// <inheritdoc />
    public Tensor<float> Decode(Tensor<float> latents, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        ArgumentNullException.ThrowIfNull(latents);
        int[] shape = latents.Shape();
        if (shape.Length != 4)
        {
            throw new ArgumentException($"Latents must be [batch, channels, height, width]; got rank {shape.Length}.", nameof(latents));
        }
        return RunPerItem(latents, _input, _output, [0, 3, 0, 0], cancellationToken);
    }
}
