using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Spright.Diffusion.Hub;
using Spright.Diffusion.Imaging;
using Spright.Diffusion.Logging;
using Spright.Diffusion.Models;
using Spright.Diffusion.Random;
using Spright.Diffusion.Schedulers;
using Spright.Diffusion.Tensors;

namespace Spright.Diffusion;

/// <summary>
/// Image-to-image with Stable Diffusion 2.x / SPRIGHT-T2I (diffusers' <c>StableDiffusionImg2ImgPipeline</c>): the image
/// is encoded by the VAE (sampled with the generator), noised to the timestep <see cref="GenerationOptions.Strength"/>
/// selects, then denoised. Same seed, same image as diffusers.
/// </summary>
public sealed class StableDiffusionImg2ImgPipeline : StableDiffusionPipelineBase
{
    private readonly IDisposable? _ownedEncoder;

    /// <summary>Assembles a pipeline from components you own (a VAE encoder is required).</summary>
    /// <param name="components">The components.</param>
    /// <param name="logger">Where warnings go.</param>
    public StableDiffusionImg2ImgPipeline(StableDiffusionComponents components, ILogger? logger = null)
        : this(components, null, logger)
    {
    }

    internal StableDiffusionImg2ImgPipeline(StableDiffusionComponents components, string? modelPath, ILogger? logger, IDisposable? ownedEncoder = null)
        : base(components, modelPath, logger)
    {
        if (components.VaeEncoder is null)
        {
            throw new ArgumentException("Image-to-image needs a VAE encoder.", nameof(components));
        }
        _ownedEncoder = ownedEncoder;
    }

    /// <summary>Loads an image-to-image pipeline from a model folder, whatever pipeline class its index names
    /// (diffusers' <c>AutoPipelineForImage2Image.from_pretrained</c>).</summary>
    /// <param name="modelPath">The model folder.</param>
    /// <param name="options">Load options.</param>
    /// <returns>The pipeline.</returns>
    public static new StableDiffusionImg2ImgPipeline FromPretrained(string modelPath, DiffusionPipelineOptions? options = null)
    {
        DiffusionPipeline pipeline = DiffusionPipeline.FromPretrained(modelPath, options);
        if (pipeline is StableDiffusionImg2ImgPipeline img2img)
        {
            return img2img;
        }
        using (pipeline)
        {
            return FromPipe((StableDiffusionPipelineBase)pipeline, options);
        }
    }

    /// <summary>An image-to-image pipeline sharing another pipeline's loaded components (diffusers' <c>from_pipe</c>);
    /// only the VAE encoder is loaded when the source has none.</summary>
    /// <param name="pipeline">The source pipeline (e.g. a text-to-image one).</param>
    /// <param name="options">Session settings for the VAE encoder, if it must be loaded.</param>
    /// <returns>The new pipeline.</returns>
    public static StableDiffusionImg2ImgPipeline FromPipe(StableDiffusionPipelineBase pipeline, DiffusionPipelineOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        StableDiffusionComponents components = pipeline.ToComponents();
        if (components.VaeEncoder is not null)
        {
            return new StableDiffusionImg2ImgPipeline(components, pipeline.ModelPath, null);
        }
        if (pipeline.ModelPath is null)
        {
            throw new ArgumentException("The source pipeline has no VAE encoder and no model folder to load one from; set its VaeEncoder first.", nameof(pipeline));
        }
        options ??= new DiffusionPipelineOptions();
        IVaeEncoder encoder = PipelineLoader.LoadVaeEncoder(pipeline.ModelPath, options, options.LoggerFactory ?? DiffusionLogging.LoggerFactory);
        try
        {
            var withEncoder = new StableDiffusionComponents
            {
                Tokenizer = components.Tokenizer,
                TextEncoder = components.TextEncoder,
                Unet = components.Unet,
                VaeDecoder = components.VaeDecoder,
                VaeEncoder = encoder,
                Scheduler = components.Scheduler,
                UNetDownsamplingFactor = components.UNetDownsamplingFactor,
                Shared = components.Shared,
            };
            return new StableDiffusionImg2ImgPipeline(withEncoder, pipeline.ModelPath, null, encoder);
        }
        catch
        {
            encoder.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public override StableDiffusionPipelineOutput Generate(GenerationOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        using CallLease lease = EnterCall();
        if (options.Image is null)
        {
            throw new ArgumentException("Image-to-image needs an input image (GenerationOptions.Image).", nameof(options.Image));
        }
        if (!(options.Strength >= 0 && options.Strength <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(options.Strength), options.Strength, "Strength must be in [0, 1].");
        }
        if (options.Latents is not null)
        {
            throw new ArgumentException("Image-to-image starts from the image: Latents cannot be given.", nameof(options.Latents));
        }
        IVaeEncoder encoder = VaeEncoder ?? throw new InvalidOperationException("This pipeline has no VAE encoder.");

        Tensor<float> image;
        try
        {
            image = ImagePreprocessor.Preprocess(options.Image, VaeScaleFactor, options.Height, options.Width);
        }
        catch (ArgumentException ex) when (ex.ParamName is "input" or "array")
        {
            // Name the option the caller set, not the preprocessor's parameter.
            string message = ex.Message.Replace($" (Parameter '{ex.ParamName}')", string.Empty, StringComparison.Ordinal);
            throw new ArgumentException(message, nameof(options.Image), ex);
        }
        int[] imageShape = image.Shape();
        GenerationOptions sized = options.Clone();
        sized.Height = imageShape[2];
        sized.Width = imageShape[3];
        CallPlan plan = PlanCall(sized);
        PrimeRunners(plan);
        (TorchGenerator generator, ulong? seed) = CreateGenerator(options);
        int images = plan.Batch * plan.ImagesPerPrompt;

        Tensor<float> embeds = EncodePromptCore(options.Prompt, plan.ImagesPerPrompt, plan.Guided, options.NegativePrompt,
            options.PromptEmbeds, options.NegativePromptEmbeds, options.Observer, cancellationToken);

        long prepareStart = System.Diagnostics.Stopwatch.GetTimestamp();
        IScheduler scheduler = PrepareScheduler(options);
        // get_timesteps: keep the last int(steps·strength) steps.
        int steps = scheduler.NumInferenceSteps > 0 ? scheduler.NumInferenceSteps : scheduler.Timesteps.Length / scheduler.Order;
        int initTimestep = Math.Min((int)(steps * options.Strength), steps);
        int tStart = Math.Max(steps - initTimestep, 0);
        float[] timesteps = scheduler.Timesteps[(tStart * scheduler.Order)..].ToArray();
        if (timesteps.Length == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options.Strength), options.Strength,
                $"Strength {options.Strength} × {steps} steps leaves no denoising step; raise Strength or NumInferenceSteps.");
        }
        scheduler.SetBeginIndex(tStart * scheduler.Order);

        // prepare_latents: VAE posterior sample (first generator draw), × scaling factor, repeated per image.
        float[] imageLatents;
        int[] latentShape;
        using (IDisposable? hold = (encoder as Pipelines.IOnDemandComponent)?.Acquire(options.Observer))
        {
            long encodeStart = System.Diagnostics.Stopwatch.GetTimestamp();
            imageLatents = EncodeImage(encoder, image, generator, cancellationToken, out latentShape);
            long encoded = System.Diagnostics.Stopwatch.GetTimestamp();
            options.Observer?.OnStage(GenerationStage.VaeEncoder, -1, encoded - encodeStart);
            prepareStart += encoded - encodeStart; // the VAE encoder is its own stage
        }
        int perImage = latentShape[1] * latentShape[2] * latentShape[3];
        int sourceImages = latentShape[0];
        if (images % sourceImages != 0)
        {
            throw new ArgumentException($"Cannot spread {sourceImages} input images over {images} outputs.", nameof(options.Image));
        }
        var latents = new float[checked(images * perImage)];
        for (int i = 0; i < images; i++)
        {
            imageLatents.AsSpan((i % sourceImages) * perImage, perImage).CopyTo(latents.AsSpan(i * perImage, perImage));
        }
        var noise = new float[latents.Length];
        generator.Randn(noise);
        scheduler.AddNoise(latents, noise, timesteps[0], latents);

        return Denoise(options, plan, scheduler, timesteps, latents, embeds, generator, seed, prepareStart, cancellationToken);
    }

    /// <summary>VAE-encodes the preprocessed image and samples the latent distribution like diffusers'
    /// <c>retrieve_latents(..., sample_mode="sample")</c>, then multiplies by the scaling factor.</summary>
    private static float[] EncodeImage(IVaeEncoder encoder, Tensor<float> image, TorchGenerator generator, CancellationToken cancellationToken, out int[] shape)
    {
        Tensor<float> output = encoder.Encode(image, cancellationToken);
        int[] s = output.Shape();
        ReadOnlySpan<float> data = output.AsSpan();
        float scaling = encoder.Info.ScalingFactor;
        float[] latents;
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
        return latents;
    }

    /// <inheritdoc />
    private protected override void ReleaseNativeResources()
    {
        base.ReleaseNativeResources();
        _ownedEncoder?.Dispose();
    }
}
