using System.Numerics.Tensors;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Tokenization;

namespace Spright.Diffusion.Pipelines;

/// <summary>
/// diffusers' <c>check_inputs</c>: validates a call's options against the model before anything runs, and resolves its
/// size. Every problem is an <see cref="ArgumentException"/> whose parameter name is the option and whose message gives
/// the allowed range.
/// </summary>
internal static class CallPlanner
{
    /// <summary>The most images one call may produce (prompts × images per prompt).</summary>
    public const int MaxBatchSize = 64;

    /// <summary>The largest guidance scale magnitude: far above any useful value (diffusers' examples use 1–20), low
    /// enough that <c>uncond + g·(text − uncond)</c> cannot overflow float32 for any UNet output.</summary>
    public const double MaxGuidanceScale = 1000;

    /// <summary>The largest image side in pixels.</summary>
    public const int MaxSide = 8192;

    /// <summary>Validates <paramref name="options"/> and returns the call's plan.</summary>
    public static CallPlan Plan(GenerationOptions options, PipelineSnapshot model, VaeSettings pipelineVae)
    {
        ArgumentNullException.ThrowIfNull(options);
        bool hasPrompt = options.Prompt is { Count: > 0 };
        if (hasPrompt == (options.PromptEmbeds is not null))
        {
            throw new ArgumentException(hasPrompt
                ? "Pass either Prompt or PromptEmbeds, not both."
                : "Pass a prompt (Prompt) or precomputed embeddings (PromptEmbeds).", nameof(options.Prompt));
        }
        if (hasPrompt && options.Prompt!.Any(p => p is null))
        {
            throw new ArgumentException("Prompts must not be null.", nameof(options.Prompt));
        }
        if (!Enum.IsDefined(options.PromptWeighting))
        {
            throw new ArgumentOutOfRangeException(nameof(options.PromptWeighting), options.PromptWeighting, "PromptWeighting must be None, Lpw or Compel.");
        }
        if (options.PromptEncoder is not null && options.PromptWeighting != Prompts.PromptWeighting.None)
        {
            throw new ArgumentException("Set either PromptWeighting or PromptEncoder, not both.", nameof(options.PromptEncoder));
        }
        // Weighting syntax (brackets) is removed before the tokenizer sees words, so only the length is checked then.
        bool plain = PromptEncoderOf(options) is null;
        foreach (string prompt in options.Prompt ?? [])
        {
            CheckPrompt(prompt, nameof(options.Prompt), plain);
        }
        if (options.NegativePrompt is not null && options.NegativePromptEmbeds is not null)
        {
            throw new ArgumentException("Pass either NegativePrompt or NegativePromptEmbeds, not both.", nameof(options.NegativePrompt));
        }
        if (options.NegativePrompt is not null && options.NegativePrompt.Any(p => p is null))
        {
            throw new ArgumentException("Negative prompts must not be null.", nameof(options.NegativePrompt));
        }
        foreach (string negative in options.NegativePrompt ?? [])
        {
            CheckPrompt(negative, nameof(options.NegativePrompt), plain);
        }
        if (!Enum.IsDefined(options.OutputType))
        {
            throw new ArgumentOutOfRangeException(nameof(options.OutputType), options.OutputType, "OutputType must be Image, Array or Latent.");
        }

        int batch = hasPrompt ? options.Prompt!.Count : CheckEmbeds(options.PromptEmbeds!, nameof(options.PromptEmbeds), model);
        if (options.NegativePromptEmbeds is not null)
        {
            CheckEmbeds(options.NegativePromptEmbeds, nameof(options.NegativePromptEmbeds), model);
            if (options.PromptEmbeds is not null && !options.NegativePromptEmbeds.Lengths.SequenceEqual(options.PromptEmbeds.Lengths))
            {
                throw new ArgumentException($"NegativePromptEmbeds [{string.Join(", ", options.NegativePromptEmbeds.Shape())}] must have the shape of PromptEmbeds [{string.Join(", ", options.PromptEmbeds.Shape())}].", nameof(options.NegativePromptEmbeds));
            }
        }
        if (options.NumImagesPerPrompt < 1 || options.NumImagesPerPrompt > MaxBatchSize)
        {
            throw new ArgumentOutOfRangeException(nameof(options.NumImagesPerPrompt), options.NumImagesPerPrompt, $"NumImagesPerPrompt must be in [1, {MaxBatchSize}].");
        }
        if ((long)batch * options.NumImagesPerPrompt > MaxBatchSize)
        {
            throw new ArgumentOutOfRangeException(nameof(options.NumImagesPerPrompt), options.NumImagesPerPrompt,
                $"{batch} prompts × {options.NumImagesPerPrompt} images is more than the {MaxBatchSize} images one call may make.");
        }
        if (!double.IsFinite(options.GuidanceScale) || Math.Abs(options.GuidanceScale) > MaxGuidanceScale)
        {
            throw new ArgumentOutOfRangeException(nameof(options.GuidanceScale), options.GuidanceScale,
                $"GuidanceScale must be a finite number in [-{MaxGuidanceScale}, {MaxGuidanceScale}] (guidance runs when it is > 1).");
        }
        bool guided = options.GuidanceScale > 1.0;
        if (options.NegativePrompt is not null && guided && options.NegativePrompt.Count != batch)
        {
            throw new ArgumentException($"{options.NegativePrompt.Count} negative prompts were given for {batch} prompts; give none, or one per prompt.", nameof(options.NegativePrompt));
        }
        if (!(options.GuidanceRescale >= 0 && options.GuidanceRescale <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(options.GuidanceRescale), options.GuidanceRescale, "GuidanceRescale must be in [0, 1].");
        }
        if (!(options.Eta >= 0 && options.Eta <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(options.Eta), options.Eta, "Eta must be in [0, 1].");
        }
        CheckSchedule(options);

        int height = options.Height ?? model.DefaultImageSize;
        int width = options.Width ?? model.DefaultImageSize;
        CheckSide(height, nameof(options.Height), model);
        CheckSide(width, nameof(options.Width), model);
        var vae = new VaeSettings(options.VaeTiling ?? pipelineVae.Tiling, options.VaeSlicing ?? pipelineVae.Slicing);
        return new CallPlan(batch, options.NumImagesPerPrompt, height, width, guided, vae);
    }

    /// <summary>Refuses NaN or infinite values in a tensor the caller passed in, naming the option.</summary>
    public static void CheckFinite(Tensor<float> tensor, string option)
    {
        ReadOnlySpan<float> values = tensor.AsSpan();
        int index = values.IndexOfAnyExceptInRange(float.MinValue, float.MaxValue);
        if (index >= 0)
        {
            throw new ArgumentException($"{option} contains a non-finite value ({values[index]}) at flat index {index}.", option);
        }
    }

    private static void CheckSchedule(GenerationOptions options)
    {
        if (options.Timesteps is not null && options.Sigmas is not null)
        {
            throw new ArgumentException("Pass custom Timesteps or custom Sigmas, not both.", nameof(options.Timesteps));
        }
        if (options.Timesteps is null && options.Sigmas is null && (options.NumInferenceSteps < 1 || options.NumInferenceSteps > 1000))
        {
            throw new ArgumentOutOfRangeException(nameof(options.NumInferenceSteps), options.NumInferenceSteps, "NumInferenceSteps must be in [1, 1000].");
        }
        if (options.Timesteps is { Count: 0 } || options.Sigmas is { Count: 0 })
        {
            throw new ArgumentException("Custom timesteps or sigmas must not be empty.", options.Timesteps is not null ? nameof(options.Timesteps) : nameof(options.Sigmas));
        }
        if (options.Timesteps?.Any(t => !float.IsFinite(t)) == true)
        {
            throw new ArgumentException("Custom timesteps must be finite.", nameof(options.Timesteps));
        }
        if (options.Sigmas?.Any(s => !float.IsFinite(s)) == true)
        {
            throw new ArgumentException("Custom sigmas must be finite.", nameof(options.Sigmas));
        }
    }

    /// <summary>The prompt encoder a call uses: its own, the library's for its weighting mode, or null for diffusers'
    /// plain truncation (the pipeline's own batched path).</summary>
    public static Prompts.IPromptEncoder? PromptEncoderOf(GenerationOptions options) => options.PromptEncoder ?? options.PromptWeighting switch
    {
        Prompts.PromptWeighting.Lpw => DefaultLpw,
        Prompts.PromptWeighting.Compel => DefaultCompel,
        _ => null,
    };

    private static readonly Prompts.IPromptEncoder DefaultLpw = Prompts.PromptEncoders.Create(Prompts.PromptWeighting.Lpw);
    private static readonly Prompts.IPromptEncoder DefaultCompel = Prompts.PromptEncoders.Create(Prompts.PromptWeighting.Compel);

    private static void CheckPrompt(string prompt, string name, bool plain)
    {
        if (plain)
        {
            PromptLimits.Check(prompt, name);
        }
        else
        {
            PromptLimits.CheckLength(prompt, name, name);
        }
    }

    private static int CheckEmbeds(Tensor<float> embeds, string name, PipelineSnapshot model)
    {
        if (embeds.Rank != 3 || embeds.Lengths[0] < 1 || embeds.Lengths[1] < 1)
        {
            throw new ArgumentException($"{name} must be [batch, sequence, hidden]; got [{string.Join(", ", embeds.Shape())}].", name);
        }
        int hidden = (int)embeds.Lengths[2];
        if (model.HiddenSize is int e && e != hidden)
        {
            throw new ArgumentException($"{name} are {hidden} wide but this model's text encoder/UNet use {e}.", name);
        }
        if (model.Unet.Info.FixedSequenceLength is int fixedLength && embeds.Lengths[1] != fixedLength)
        {
            throw new ArgumentException($"{name} have {embeds.Lengths[1]} tokens but this UNet graph takes exactly {fixedLength} " +
                "(its sequence axis is fixed): use PromptWeighting.None or a model whose UNet has a dynamic sequence axis.", name);
        }
        CheckFinite(embeds, name);
        return (int)embeds.Lengths[0];
    }

    private static void CheckSide(int pixels, string name, PipelineSnapshot model)
    {
        int vae = model.VaeScaleFactor;
        int multiple = vae * (model.Unet.Info.DownsamplingFactor ?? 1);
        if (pixels < vae || pixels > MaxSide || pixels % vae != 0)
        {
            throw new ArgumentOutOfRangeException(name, pixels, $"{name} must be a multiple of {vae} in [{vae}, {MaxSide}].");
        }
        if (pixels % multiple != 0)
        {
            throw new ArgumentOutOfRangeException(name, pixels,
                $"{name} must be a multiple of {multiple} for this model (VAE scale factor {vae} × UNet downsampling {model.Unet.Info.DownsamplingFactor}: " +
                "its exported graph upsamples by fixed factors; a diffusers folder takes any multiple of 8).");
        }
    }
}
