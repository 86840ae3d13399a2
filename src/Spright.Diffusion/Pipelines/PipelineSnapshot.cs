using Spright.Diffusion.Components;
using Spright.Diffusion.Schedulers;
using Spright.Diffusion.Tokenization;

namespace Spright.Diffusion.Pipelines;

/// <summary>The components one call works with, taken when it starts (assigning a pipeline's components while it runs
/// does not affect running calls).</summary>
internal sealed record PipelineSnapshot(
    IPromptTokenizer Tokenizer,
    ITextEncoder TextEncoder,
    IUNet Unet,
    IVaeDecoder VaeDecoder,
    IVaeEncoder? VaeEncoder,
    IScheduler Scheduler,
    VaeSettings Vae)
{
    /// <summary>Pixels per latent.</summary>
    public int VaeScaleFactor => VaeDecoder.Info.ScaleFactor;

    /// <summary>The default image side: <c>unet.sample_size × vae_scale_factor</c>, or 512 when the UNet has no config
    /// (as diffusers' ONNX pipeline defaults).</summary>
    public int DefaultImageSize => (Unet.Info.SampleSize ?? 64) * VaeScaleFactor;

    /// <summary>The text conditioning width the model uses, when known.</summary>
    public int? HiddenSize => TextEncoder.HiddenSize ?? Unet.Info.CrossAttentionDim;
}

/// <summary>The pipeline's VAE tiling and slicing switches (diffusers' <c>enable_tiling</c> / <c>enable_slicing</c>).</summary>
/// <param name="Tiling">Decode and encode in overlapping tiles.</param>
/// <param name="Slicing">Decode the images of a batch one at a time.</param>
internal readonly record struct VaeSettings(bool Tiling, bool Slicing);
