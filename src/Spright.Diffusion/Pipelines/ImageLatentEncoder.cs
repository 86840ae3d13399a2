using System.Diagnostics;
using System.Numerics.Tensors;
using Spright.Diffusion.Components;
using Spright.Diffusion.Diagnostics;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Random;

namespace Spright.Diffusion.Pipelines;

/// <summary>
/// Image-to-image's <c>prepare_latents</c> up to the noise: VAE-encodes the preprocessed image (tiled or sliced as the
/// call asks) and samples the posterior with the generator like diffusers' <c>retrieve_latents(sample_mode="sample")</c>
/// (the generator's first draw), then multiplies by the scaling factor.
/// </summary>
internal static class ImageLatentEncoder
{
    /// <returns>The image latents [N, C, h, w] (N = the input images) as a flat array, and their shape.</returns>
    public static (float[] Latents, int[] Shape) Encode(IVaeEncoder encoder, Tensor<float> image, TorchGenerator generator, VaeSettings vae,
        IProgress<VaeTileProgress>? progress, CancellationToken cancellationToken)
    {
        long start = Stopwatch.GetTimestamp();
        using Activity? activity = Telemetry.Start(DiffusionDiagnostics.Activities.VaeEncoder);
        using IDisposable? hold = encoder.Acquire();
        Tensor<float> output = VaeTiling.Encode(encoder, image, vae, progress, cancellationToken);
        int[] s = output.Shape();
        ReadOnlySpan<float> data = output.AsSpan();
        float scaling = encoder.Info.ScalingFactor;
        float[] latents;
        int[] shape;
        if (encoder.OutputKind == VaeEncoderOutputKind.LatentParameters)
        {
            int channels = s[1] / 2;
            int plane = s[2] * s[3];
            shape = [s[0], channels, s[2], s[3]];
            latents = new float[s[0] * channels * plane];
            var noise = new float[latents.Length];
            generator.Randn(noise);
            for (int b = 0; b < s[0]; b++)
            {
                ReadOnlySpan<float> mean = data.Slice(b * 2 * channels * plane, channels * plane);
                ReadOnlySpan<float> logvar = data.Slice((b * 2 * channels * plane) + (channels * plane), channels * plane);
                int o = b * channels * plane;
                for (int i = 0; i < mean.Length; i++)
                {
                    float lv = Math.Clamp(logvar[i], -30f, 20f);
                    float std = MathF.Exp(0.5f * lv);
                    float sample = mean[i] + (std * noise[o + i]);
                    latents[o + i] = scaling * sample;
                }
            }
        }
        else
        {
            // The graph sampled the posterior with its own noise. Draw (and drop) what diffusers' posterior sample
            // would have drawn, so the noise that follows comes from the same place in the generator's stream.
            shape = s;
            latents = new float[data.Length];
            generator.Randn(new float[data.Length]);
            TensorPrimitives.Multiply(data, scaling, latents);
        }
        Telemetry.Record("vae_encoder", start);
        return (latents, shape);
    }
}
