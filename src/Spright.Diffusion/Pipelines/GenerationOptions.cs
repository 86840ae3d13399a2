using System.Numerics.Tensors;
using Spright.Diffusion.Random;

namespace Spright.Diffusion;

/// <summary>What a generate call returns, like diffusers' <c>output_type</c>.</summary>
public enum OutputType
{
    /// <summary>ImageSharp images (diffusers' <c>"pil"</c>), plus the float array and the latents.</summary>
    Image,

    /// <summary>Float arrays [N, H, W, 3] in [0, 1] (diffusers' <c>"np"</c>), plus the latents; no ImageSharp images.</summary>
    Array,

    /// <summary>Only the final latents (diffusers' <c>"latent"</c>): the VAE is skipped.</summary>
    Latent,
}

/// <summary>
/// The arguments of a generate call, named after diffusers' <c>StableDiffusionPipeline.__call__</c> parameters.
/// Every property has diffusers' default.
/// </summary>
public sealed class GenerationOptions
{
    /// <summary>The prompt(s); one image batch per prompt. Leave empty when passing <see cref="PromptEmbeds"/>.</summary>
    public IReadOnlyList<string>? Prompt { get; set; }

    /// <summary>Negative prompt(s): none, or exactly one per prompt (as diffusers). Ignored without guidance.</summary>
    public IReadOnlyList<string>? NegativePrompt { get; set; }

    /// <summary>Image height in pixels (a multiple of 8); default <c>unet.sample_size × vae_scale_factor</c> (768 for SPRIGHT).</summary>
    public int? Height { get; set; }

    /// <summary>Image width in pixels (a multiple of 8); default <c>unet.sample_size × vae_scale_factor</c>.</summary>
    public int? Width { get; set; }

    /// <summary>Denoising steps (default 50).</summary>
    public int NumInferenceSteps { get; set; } = 50;

    /// <summary>Custom timesteps for schedulers that accept them (overrides <see cref="NumInferenceSteps"/>).</summary>
    public IReadOnlyList<float>? Timesteps { get; set; }

    /// <summary>Custom sigmas for schedulers that accept them (overrides <see cref="NumInferenceSteps"/>).</summary>
    public IReadOnlyList<float>? Sigmas { get; set; }

    /// <summary>Classifier-free guidance scale (default 7.5); guidance runs only when it is greater than 1.</summary>
    public double GuidanceScale { get; set; } = 7.5;

    /// <summary>Guidance rescale φ in [0, 1] (arXiv:2305.08891), default 0 (off).</summary>
    public double GuidanceRescale { get; set; }

    /// <summary>DDIM's η in [0, 1] (default 0); schedulers without η ignore it.</summary>
    public double Eta { get; set; }

    /// <summary>Images per prompt (default 1).</summary>
    public int NumImagesPerPrompt { get; set; } = 1;

    /// <summary>The seed of a fresh <see cref="TorchGenerator"/> (as <c>torch.Generator("cpu").manual_seed(seed)</c>).
    /// When neither this nor <see cref="Generator"/> is set, a random seed is drawn and reported in the output.</summary>
    public ulong? Seed { get; set; }

    /// <summary>A generator to draw from (its state advances); takes precedence over <see cref="Seed"/>.</summary>
    public TorchGenerator? Generator { get; set; }

    /// <summary>Initial noise [batch·images, channels, h, w] instead of drawing it (not scaled by init_noise_sigma yet).</summary>
    public Tensor<float>? Latents { get; set; }

    /// <summary>Precomputed text embeddings [batch, sequence, hidden] instead of <see cref="Prompt"/>.</summary>
    public Tensor<float>? PromptEmbeds { get; set; }

    /// <summary>Precomputed negative embeddings, same shape as <see cref="PromptEmbeds"/>.</summary>
    public Tensor<float>? NegativePromptEmbeds { get; set; }

    /// <summary>What to return (default <see cref="OutputType.Image"/>).</summary>
    public OutputType OutputType { get; set; } = OutputType.Image;

    /// <summary>Receives a report after every denoising step.</summary>
    public IProgress<GenerationProgress>? Progress { get; set; }

    /// <summary>Called after every step with the live latents (like diffusers' <c>callback_on_step_end</c>): it may
    /// read or modify them in place, or stop the loop early.</summary>
    public Action<StepEndContext>? CallbackOnStepEnd { get; set; }

    /// <summary>Receives the duration of every stage (tokenizer, text encoder, each UNet step, scheduler, VAE…);
    /// <see langword="null"/> (the default) costs nothing.</summary>
    public IGenerationObserver? Observer { get; set; }

    /// <summary>Image-to-image only: the starting image.</summary>
    public ImageInput? Image { get; set; }

    /// <summary>Image-to-image only: how much to transform the image, in [0, 1] (default 0.8).</summary>
    public double Strength { get; set; } = 0.8;

    /// <summary>A shallow copy (for overloads that fill in the prompt).</summary>
    /// <returns>The copy.</returns>
    public GenerationOptions Clone() => (GenerationOptions)MemberwiseClone();
}

/// <summary>Progress of a running generation.</summary>
/// <param name="Step">Steps completed (1-based).</param>
/// <param name="TotalSteps">Steps in this generation.</param>
/// <param name="Timestep">The timestep just completed.</param>
/// <param name="Elapsed">Time since the generation started.</param>
public readonly record struct GenerationProgress(int Step, int TotalSteps, float Timestep, TimeSpan Elapsed);

/// <summary>The state handed to <see cref="GenerationOptions.CallbackOnStepEnd"/> after each step (reused across steps).</summary>
public sealed class StepEndContext
{
    internal StepEndContext(Tensor<float> latents, int totalSteps)
    {
        Latents = latents;
        TotalSteps = totalSteps;
    }

    /// <summary>The index of the step just completed (0-based, as diffusers' <c>i</c>).</summary>
    public int Step { get; internal set; }

    /// <summary>Steps in this generation.</summary>
    public int TotalSteps { get; }

    /// <summary>The timestep just completed.</summary>
    public float Timestep { get; internal set; }

    /// <summary>The live latents; changes made in place are used by the next step.</summary>
    public Tensor<float> Latents { get; }

    /// <summary>Whether <see cref="Stop"/> was called.</summary>
    public bool StopRequested { get; private set; }

    /// <summary>Ends the denoising loop after this step (diffusers' <c>pipe._interrupt = True</c>); the current latents are decoded.</summary>
    public void Stop() => StopRequested = true;
}
