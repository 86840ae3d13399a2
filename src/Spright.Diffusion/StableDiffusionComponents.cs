using Spright.Diffusion.Components;
using Spright.Diffusion.Pipelines;
using Spright.Diffusion.Schedulers;
using Spright.Diffusion.Tokenization;

namespace Spright.Diffusion;

/// <summary>The components a Stable Diffusion pipeline is assembled from (diffusers' <c>pipe.components</c>).</summary>
public sealed class StableDiffusionComponents
{
    /// <summary>The tokenizer.</summary>
    public required IPromptTokenizer Tokenizer { get; init; }

    /// <summary>The text encoder.</summary>
    public required ITextEncoder TextEncoder { get; init; }

    /// <summary>The UNet.</summary>
    public required IUNet Unet { get; init; }

    /// <summary>The VAE decoder.</summary>
    public required IVaeDecoder VaeDecoder { get; init; }

    /// <summary>The VAE encoder (needed for image-to-image).</summary>
    public IVaeEncoder? VaeEncoder { get; init; }

    /// <summary>The scheduler.</summary>
    public required IScheduler Scheduler { get; init; }

    /// <summary>The loaded components' shared ownership (null for components the caller owns).</summary>
    internal SharedComponents? Shared { get; init; }
}
