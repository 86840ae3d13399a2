using System.Numerics.Tensors;
using Spright.Diffusion.Random;

namespace Spright.Diffusion;

/// <summary>
/// The arguments both pipelines take, named after diffusers' <c>__call__</c> parameters, each with diffusers' default.
/// Text-to-image calls take <see cref="TextToImageOptions"/>, image-to-image calls <see cref="ImageToImageOptions"/>;
/// derive variants with <c>with</c>: <c>options with { Seed = 7 }</c>.
/// </summary>
public abstract record GenerationOptions
{
    /// <summary>The prompt(s); one image batch per prompt. Leave empty when passing <see cref="PromptEmbeds"/>.</summary>
    public IReadOnlyList<string>? Prompt { get; init; }

    /// <summary>Negative prompt(s): none, or exactly one per prompt (as diffusers). Ignored without guidance.</summary>
    public IReadOnlyList<string>? NegativePrompt { get; init; }

    /// <summary>Image height in pixels, a multiple of 8. Text-to-image: default <c>unet.sample_size × vae_scale_factor</c>
    /// (768 for SPRIGHT). Image-to-image: the input image is resized to it (default: the image's own height).</summary>
    public int? Height { get; init; }

    /// <summary>Image width in pixels, a multiple of 8 (defaults as <see cref="Height"/>).</summary>
    public int? Width { get; init; }

    /// <summary>Denoising steps (default 50).</summary>
    public int NumInferenceSteps { get; init; } = 50;

    /// <summary>Custom timesteps for schedulers that accept them (overrides <see cref="NumInferenceSteps"/>).</summary>
    public IReadOnlyList<float>? Timesteps { get; init; }

    /// <summary>Custom sigmas for schedulers that accept them (overrides <see cref="NumInferenceSteps"/>).</summary>
    public IReadOnlyList<float>? Sigmas { get; init; }

    /// <summary>Classifier-free guidance scale (default 7.5); guidance runs only when it is greater than 1.</summary>
    public double GuidanceScale { get; init; } = 7.5;

    /// <summary>Guidance rescale φ in [0, 1] (arXiv:2305.08891), default 0 (off).</summary>
    public double GuidanceRescale { get; init; }

    /// <summary>DDIM's η in [0, 1] (default 0), passed to schedulers whose step takes it, as diffusers does.</summary>
    public double Eta { get; init; }

    /// <summary>Images per prompt (default 1).</summary>
    public int NumImagesPerPrompt { get; init; } = 1;

    /// <summary>The seed of a fresh <see cref="TorchGenerator"/> (as <c>torch.Generator("cpu").manual_seed(seed)</c>).
    /// When neither this nor <see cref="Generator"/> is set, a random seed is drawn and reported in the output.</summary>
    public ulong? Seed { get; init; }

    /// <summary>A generator to draw from (its state advances); takes precedence over <see cref="Seed"/>.</summary>
    public TorchGenerator? Generator { get; init; }

    /// <summary>Precomputed text embeddings [batch, sequence, hidden] instead of <see cref="Prompt"/>.</summary>
    public Tensor<float>? PromptEmbeds { get; init; }

    /// <summary>Precomputed negative embeddings, same shape as <see cref="PromptEmbeds"/>.</summary>
    public Tensor<float>? NegativePromptEmbeds { get; init; }

    /// <summary>How prompt text is read (default <see cref="Prompts.PromptWeighting.None"/>: diffusers' truncation to the
    /// tokenizer's 77 tokens). <see cref="Prompts.PromptWeighting.Lpw"/> and <see cref="Prompts.PromptWeighting.Compel"/>
    /// read weights and encode long prompts in chunks, as diffusers' lpw pipeline and compel do, with their default
    /// options (give <see cref="PromptEncoder"/> for other options).</summary>
    public Prompts.PromptWeighting PromptWeighting { get; init; }

    /// <summary>A prompt encoder of the caller's (its own syntax, or <see cref="Prompts.LpwPromptEncoder"/> /
    /// <see cref="Prompts.CompelPromptEncoder"/> with non-default options); when set, <see cref="PromptWeighting"/>
    /// must stay <see cref="Prompts.PromptWeighting.None"/>.</summary>
    public Prompts.IPromptEncoder? PromptEncoder { get; init; }

    /// <summary>What to return (default <see cref="OutputType.Image"/>).</summary>
    public OutputType OutputType { get; init; } = OutputType.Image;

    /// <summary>Decode (and, for image-to-image, encode) in tiles for this call; null (the default) follows the pipeline's
    /// <see cref="StableDiffusionPipelineBase.EnableVaeTiling"/> setting.</summary>
    public bool? VaeTiling { get; init; }

    /// <summary>Decode the images of this call one at a time; null (the default) follows the pipeline's
    /// <see cref="StableDiffusionPipelineBase.EnableVaeSlicing"/> setting.</summary>
    public bool? VaeSlicing { get; init; }

    /// <summary>Receives a report after every VAE tile when the call decodes (or encodes) in tiles.</summary>
    public IProgress<VaeTileProgress>? VaeProgress { get; init; }

    /// <summary>Receives a report after every denoising step.</summary>
    public IProgress<GenerationProgress>? Progress { get; init; }

    /// <summary>Called after every step with the live latents (like diffusers' <c>callback_on_step_end</c>): it may read
    /// or modify them in place, or stop the loop early.</summary>
    public Action<StepEndContext>? CallbackOnStepEnd { get; init; }
}
