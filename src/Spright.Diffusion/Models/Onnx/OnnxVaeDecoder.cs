using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using TensorElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;
using Float16 = Microsoft.ML.OnnxRuntime.Float16;
using Spright.Diffusion.Tensors;

namespace Spright.Diffusion.Models.Onnx;

/// <summary>
/// The VAE decoder on ONNX Runtime (<c>latent_sample</c> → <c>sample</c>, float32 or float16). Decodes one image at a
/// time to keep the peak memory of large batches at 768² low.
/// </summary>
public sealed class OnnxVaeDecoder : OnnxComponent, IVaeDecoder
{
    private static readonly TensorElementType[] FloatTypes = [TensorElementType.Float, TensorElementType.Float16];
    private readonly TensorPort _input;
    private readonly TensorPort _output;

    /// <summary>Loads a VAE decoder graph; its <c>config.json</c> (if any) gives the scaling factor.</summary>
    /// <param name="modelPath">Path of <c>vae_decoder/model.onnx</c>.</param>
    /// <param name="settings">Session settings.</param>
    /// <param name="logger">Where messages go.</param>
    public OnnxVaeDecoder(string modelPath, OnnxSessionSettings? settings = null, ILogger? logger = null)
        : base(modelPath, "vae_decoder", settings, logger)
    {
        try
        {
            var taken = new HashSet<string>(StringComparer.Ordinal);
            _input = RequireInput("latents", ["latent_sample", "latents", "z"], [4], FloatTypes, taken);
            RejectUnknownInputs(taken);
            _output = RequireOutput("image", ["sample", "images"], [4], FloatTypes);
            Info = VaeConfigReader.Read(Path.GetDirectoryName(ModelPath)!);
            if (_input.Fixed(1) == 3 && _output.Fixed(1) != 3)
            {
                throw new ModelLoadException(ModelPath, $"the vae_decoder graph takes 3-channel images and returns '{_output.Name}', not an image: is this the VAE encoder graph?");
            }
            if (_input.Fixed(1) is int c && c != Info.LatentChannels)
            {
                string config = Path.Combine(Path.GetDirectoryName(ModelPath)!, "config.json");
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
        int batch = shape[0];
        int perImage = shape[1] * shape[2] * shape[3];
        ReadOnlySpan<float> all = latents.AsSpan();
        float[]? result = null;
        int outPerImage = 0;
        int[] outShape = [];
        using RunOptions runOptions = CreateRunOptions(releaseMemory: true);
        using OrtTensorBuffer input = OrtTensorBuffer.Create(_input.ElementType, 1, shape[1], shape[2], shape[3]);
        // Images are decoded one at a time, through a session specialised for that shape where the graph is small.
        InferenceSession session = batch == 0 ? Session
            : AcquireSession(NamedDimensions((_input, 0, 1), (_input, 1, shape[1]), (_input, 2, shape[2]), (_input, 3, shape[3])));
        try
        {
            for (int b = 0; b < batch; b++)
            {
                input.Write(all.Slice(b * perImage, perImage));
                using IDisposableReadOnlyCollection<OrtValue> outputs = RunCancellable(runOptions, cancellationToken,
                    () => session.Run(runOptions, [_input.Name], [input.Value], [_output.Name]));
                long[] s = outputs[0].GetTensorTypeAndShape().Shape;
                if (result is null)
                {
                    outShape = [batch, (int)s[1], (int)s[2], (int)s[3]];
                    outPerImage = checked((int)(s[1] * s[2] * s[3]));
                    result = new float[checked(outPerImage * batch)];
                }
                OrtTensorBuffer.ReadValue(outputs[0], _output.ElementType, result.AsSpan(b * outPerImage, outPerImage));
            }
        }
        finally
        {
            ReleaseSession(session);
        }
        return TensorShapes.Wrap(result ?? [], batch == 0 ? [0, 3, 0, 0] : outShape);
    }
}
