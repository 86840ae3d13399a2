using System.Diagnostics;
using System.Numerics.Tensors;
using Spright.Diffusion.Components;
using Spright.Diffusion.Diagnostics;
using Spright.Diffusion.Imaging;
using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Pipelines;

/// <summary>
/// Turns final latents into the call's output like diffusers: divide by the VAE scaling factor, decode (whole, sliced
/// per image, or in blended tiles), refuse non-finite values, then post-process to float arrays in [0, 1] and RGB images.
/// </summary>
internal static class LatentDecoder
{
    public static (Tensor<float>? Array, IReadOnlyList<RgbImage> Images) Decode(IVaeDecoder decoder, Tensor<float> latents, OutputType outputType,
        VaeSettings vae, IProgress<VaeTileProgress>? progress, CancellationToken cancellationToken)
    {
        Tensor<float> decoded;
        long start = Stopwatch.GetTimestamp();
        using (Telemetry.Start(DiffusionDiagnostics.Activities.VaeDecoder))
        using (IDisposable? hold = decoder.Acquire())
        {
            float scaling = decoder.Info.ScalingFactor;
            var scaled = new float[latents.FlattenedLength];
            TensorPrimitives.Divide(latents.AsSpan(), scaling, scaled);
            decoded = VaeTiling.Decode(decoder, TensorShapes.Wrap(scaled, latents.Shape()), vae, progress, cancellationToken);
        }
        Telemetry.Record("vae_decoder", start);
        long post = Stopwatch.GetTimestamp();
        using (Telemetry.Start(DiffusionDiagnostics.Activities.Postprocess))
        {
            NonFinite.Check(decoded.AsSpan(), "decoded image");
            Tensor<float> array = ImageConversions.ToImageArray(decoded);
            IReadOnlyList<RgbImage> images = outputType == OutputType.Image ? ImageConversions.ToImages(array) : [];
            Telemetry.Record("postprocess", post);
            return (array, images);
        }
    }
}
