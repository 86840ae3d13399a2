using System.Diagnostics;
using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Spright.Diffusion.Components;
using Spright.Diffusion.Diagnostics;
using Spright.Diffusion.Imaging;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Pipelines;
using Spright.Diffusion.Random;
using Spright.Diffusion.Schedulers;

namespace Spright.Diffusion;

/// <summary>
/// Image-to-image with the Stable Diffusion 1.x / 2.x family and SPRIGHT-T2I (diffusers'
/// <c>StableDiffusionImg2ImgPipeline</c>): the image is encoded by the VAE (sampled with the generator), noised to the
/// timestep <see cref="ImageToImageOptions.Strength"/> selects, then denoised. Same seed, same image as diffusers.
/// </summary>
public sealed class StableDiffusionImg2ImgPipeline : StableDiffusionPipelineBase
{
    /// <summary>Assembles a pipeline from components you own (a VAE encoder is required).</summary>
    /// <param name="components">The components.</param>
    /// <param name="logger">Where warnings go.</param>
    public StableDiffusionImg2ImgPipeline(StableDiffusionComponents components, ILogger? logger = null)
        : this(components, null, logger)
    {
    }

    internal StableDiffusionImg2ImgPipeline(StableDiffusionComponents components, PipelineOrigin? origin, ILogger? logger, IDisposable? ownedEncoder = null)
        : base(components, origin, logger, ownedEncoder)
    {
        if (components.VaeEncoder is null)
        {
            throw new ArgumentException("Image-to-image needs a VAE encoder.", nameof(components));
        }
    }

    /// <summary>Loads an image-to-image pipeline from a model folder or Hub repo, whatever pipeline class its index names
    /// (diffusers' <c>AutoPipelineForImage2Image.from_pretrained</c>).</summary>
    /// <param name="pretrainedModelNameOrPath">A model folder, or a Hub repo id.</param>
    /// <param name="options">Load options.</param>
    /// <param name="cancellationToken">Stops the download or load.</param>
    /// <returns>The pipeline.</returns>
    public static new StableDiffusionImg2ImgPipeline FromPretrained(string pretrainedModelNameOrPath, DiffusionPipelineOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        DiffusionPipeline pipeline = DiffusionPipeline.FromPretrained(pretrainedModelNameOrPath, options, cancellationToken);
        if (pipeline is StableDiffusionImg2ImgPipeline img2img)
        {
            return img2img;
        }
        using (pipeline)
        {
            return FromPipe((StableDiffusionPipelineBase)pipeline, cancellationToken);
        }
    }

    /// <summary>An image-to-image pipeline sharing another pipeline's loaded components (diffusers' <c>from_pipe</c>); only
    /// the VAE encoder is loaded (the way the source was loaded) when the source has none.</summary>
    /// <param name="pipeline">The source pipeline (e.g. a text-to-image one).</param>
    /// <param name="cancellationToken">Stops loading the VAE encoder.</param>
    /// <returns>The new pipeline.</returns>
    public static StableDiffusionImg2ImgPipeline FromPipe(StableDiffusionPipelineBase pipeline, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        StableDiffusionComponents components = pipeline.ToComponents();
        if (components.VaeEncoder is not null)
        {
            return new StableDiffusionImg2ImgPipeline(components, pipeline.Origin, null);
        }
        PipelineOrigin origin = pipeline.Origin
            ?? throw new ArgumentException("The source pipeline has no VAE encoder and no model folder to load one from; set its VaeEncoder first.", nameof(pipeline));
        LoadedComponents loaded = origin.Backend.Load(origin.Request.For(ComponentKinds.VaeEncoder), cancellationToken);
        try
        {
            IVaeEncoder encoder = loaded.VaeEncoder ?? throw new ModelLoadException(origin.ModelPath, "the backend loaded no VAE encoder");
            var withEncoder = new StableDiffusionComponents
            {
                Tokenizer = components.Tokenizer,
                TextEncoder = components.TextEncoder,
                Unet = components.Unet,
                VaeDecoder = components.VaeDecoder,
                VaeEncoder = encoder,
                Scheduler = components.Scheduler,
                Shared = components.Shared,
            };
            return new StableDiffusionImg2ImgPipeline(withEncoder, origin, null, loaded);
        }
        catch
        {
            loaded.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public override StableDiffusionPipelineOutput Generate(GenerationOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options is ImageToImageOptions i
            ? Generate(i, cancellationToken)
            : throw new ArgumentException($"Image-to-image takes ImageToImageOptions (with an Image), not {options.GetType().Name}.", nameof(options));
    }

    /// <summary>Transforms an image (diffusers' <c>pipe(prompt, image=..., strength=...)</c>). Safe to call from several
    /// threads at once.</summary>
    /// <param name="options">The call's arguments.</param>
    /// <param name="cancellationToken">Stops the generation, within one UNet evaluation.</param>
    /// <returns>The images, arrays and latents.</returns>
    /// <exception cref="ArgumentException">An argument is out of range or inconsistent; the message names the option and what is allowed.</exception>
    /// <exception cref="NonFiniteOutputException">The latents or the decoded image contain NaN or infinite values.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The pipeline was disposed.</exception>
    public StableDiffusionPipelineOutput Generate(ImageToImageOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        using CallLease lease = EnterCall();
        if (options.Image is null)
        {
            throw new ArgumentException("Image-to-image needs an input image (ImageToImageOptions.Image).", nameof(options.Image));
        }
        if (!(options.Strength >= 0 && options.Strength <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(options.Strength), options.Strength, "Strength must be in [0, 1].");
        }
        PipelineSnapshot model = Snapshot();
        IVaeEncoder encoder = model.VaeEncoder ?? throw new InvalidOperationException("This pipeline has no VAE encoder.");

        Tensor<float> image;
        try
        {
            image = ImagePreprocessor.Preprocess(options.Image, model.VaeScaleFactor, options.Height, options.Width);
        }
        catch (ArgumentException ex) when (ex.ParamName is "input" or "array")
        {
            // Name the option the caller set, not the preprocessor's parameter.
            string message = ex.Message.Replace($" (Parameter '{ex.ParamName}')", string.Empty, StringComparison.Ordinal);
            throw new ArgumentException(message, nameof(options.Image), ex);
        }
        CallPlanner.CheckFinite(image, nameof(options.Image));
        int[] imageShape = image.Shape();
        CallPlan plan = CallPlanner.Plan(options with { Height = imageShape[2], Width = imageShape[3] }, model, model.Vae);
        using Activity? activity = Telemetry.Start(DiffusionDiagnostics.Activities.Generate);
        (TorchGenerator generator, ulong? seed) = CreateGenerator(options);
        int images = plan.Images;

        PromptEmbeddings embeds = PromptEncodingStage.Encode(model, options.Prompt, plan.ImagesPerPrompt, plan.Guided, options.NegativePrompt,
            options.PromptEmbeds, options.NegativePromptEmbeds, CallPlanner.PromptEncoderOf(options), Logger, cancellationToken);

        IScheduler scheduler = PrepareScheduler(model, options);
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
        (float[] imageLatents, int[] latentShape) = ImageLatentEncoder.Encode(encoder, image, generator, plan.Vae, options.VaeProgress, cancellationToken);
        float[] latents;
        using (Telemetry.Start(DiffusionDiagnostics.Activities.Prepare))
        {
            int perImage = latentShape[1] * latentShape[2] * latentShape[3];
            int sourceImages = latentShape[0];
            if (images % sourceImages != 0)
            {
                throw new ArgumentException($"Cannot spread {sourceImages} input images over {images} outputs.", nameof(options.Image));
            }
            latents = new float[checked(images * perImage)];
            for (int i = 0; i < images; i++)
            {
                imageLatents.AsSpan((i % sourceImages) * perImage, perImage).CopyTo(latents.AsSpan(i * perImage, perImage));
            }
            var noise = new float[latents.Length];
            generator.Randn(noise);
            scheduler.AddNoise(latents, noise, timesteps[0], latents);
        }

        (Tensor<float> final, float[] used) = DenoisingLoop.Run(model, options, plan, scheduler, timesteps, latents, embeds, generator, cancellationToken);
        NonFinite.Check(latents, "latents");
        if (options.OutputType == OutputType.Latent)
        {
            return new StableDiffusionPipelineOutput([], null, final, seed, used);
        }
        (Tensor<float>? array, IReadOnlyList<RgbImage> pictures) = LatentDecoder.Decode(model.VaeDecoder, final, options.OutputType, plan.Vae, options.VaeProgress, cancellationToken);
        return new StableDiffusionPipelineOutput(pictures, array, final, seed, used);
    }
}
