using System.Diagnostics;
using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Spright.Diffusion.Diagnostics;
using Spright.Diffusion.Imaging;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Pipelines;
using Spright.Diffusion.Random;
using Spright.Diffusion.Schedulers;

namespace Spright.Diffusion;

/// <summary>
/// Text-to-image with the Stable Diffusion 1.x / 2.x family and SPRIGHT-T2I (diffusers' <c>StableDiffusionPipeline</c>),
/// with diffusers' numerics: same seed, same image.
/// </summary>
public sealed class StableDiffusionPipeline : StableDiffusionPipelineBase
{
    /// <summary>Assembles a pipeline from components you own.</summary>
    /// <param name="components">The components.</param>
    /// <param name="logger">Where warnings go.</param>
    public StableDiffusionPipeline(StableDiffusionComponents components, ILogger? logger = null)
        : base(components, null, logger)
    {
    }

    internal StableDiffusionPipeline(StableDiffusionComponents components, PipelineOrigin? origin, ILogger? logger)
        : base(components, origin, logger)
    {
    }

    /// <summary>Loads a text-to-image pipeline from a model folder or Hub repo, whatever pipeline class its index names
    /// (see <see cref="DiffusionPipeline.FromPretrained"/>).</summary>
    /// <param name="pretrainedModelNameOrPath">A model folder, or a Hub repo id.</param>
    /// <param name="options">Load options.</param>
    /// <param name="cancellationToken">Stops the download or load.</param>
    /// <returns>The pipeline.</returns>
    public static new StableDiffusionPipeline FromPretrained(string pretrainedModelNameOrPath, DiffusionPipelineOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        DiffusionPipeline pipeline = DiffusionPipeline.FromPretrained(pretrainedModelNameOrPath, options, cancellationToken);
        if (pipeline is StableDiffusionPipeline sd)
        {
            return sd;
        }
        using (pipeline)
        {
            return FromPipe((StableDiffusionPipelineBase)pipeline);
        }
    }

    /// <summary>A text-to-image pipeline sharing another pipeline's loaded components (diffusers' <c>from_pipe</c>);
    /// nothing is loaded twice.</summary>
    /// <param name="pipeline">The source pipeline.</param>
    /// <returns>The new pipeline.</returns>
    public static StableDiffusionPipeline FromPipe(StableDiffusionPipelineBase pipeline)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        return new StableDiffusionPipeline(pipeline.ToComponents(), pipeline.Origin, null);
    }

    /// <inheritdoc />
    public override StableDiffusionPipelineOutput Generate(GenerationOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options switch
        {
            TextToImageOptions t => Generate(t, cancellationToken),
            ImageToImageOptions => throw new ArgumentException(
                "ImageToImageOptions are image-to-image arguments; use StableDiffusionImg2ImgPipeline (e.g. StableDiffusionImg2ImgPipeline.FromPipe(this)).", nameof(options)),
            _ => throw new ArgumentException($"Text-to-image takes TextToImageOptions, not {options.GetType().Name}.", nameof(options)),
        };
    }

    /// <summary>Generates images from text (diffusers' <c>pipe(prompt, ...)</c>). Safe to call from several threads at once.</summary>
    /// <param name="options">The call's arguments.</param>
    /// <param name="cancellationToken">Stops the generation, within one UNet evaluation.</param>
    /// <returns>The images, arrays and latents.</returns>
    /// <exception cref="ArgumentException">An argument is out of range or inconsistent; the message names the option and what is allowed.</exception>
    /// <exception cref="NonFiniteOutputException">The latents or the decoded image contain NaN or infinite values.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The pipeline was disposed.</exception>
    public StableDiffusionPipelineOutput Generate(TextToImageOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        using CallLease lease = EnterCall();
        PipelineSnapshot model = Snapshot();
        CallPlan plan = CallPlanner.Plan(options, model, model.Vae);
        int channels = model.Unet.Info.InChannels;
        int h = plan.Height / model.VaeScaleFactor, w = plan.Width / model.VaeScaleFactor;
        int[] latentShape = [plan.Images, channels, h, w];
        if (options.Latents is { } given)
        {
            if (!given.Lengths.SequenceEqual(latentShape.Select(d => (nint)d).ToArray()))
            {
                throw new ArgumentException($"Latents must have shape [{string.Join(", ", latentShape)}]; got [{string.Join(", ", given.Shape())}].", nameof(options.Latents));
            }
            CallPlanner.CheckFinite(given, nameof(options.Latents));
        }
        using Activity? activity = Telemetry.Start(DiffusionDiagnostics.Activities.Generate);
        (TorchGenerator generator, ulong? seed) = CreateGenerator(options);

        PromptEmbeddings embeds = PromptEncodingStage.Encode(model, options.Prompt, plan.ImagesPerPrompt, plan.Guided, options.NegativePrompt,
            options.PromptEmbeds, options.NegativePromptEmbeds, CallPlanner.PromptEncoderOf(options), Logger, cancellationToken);

        IScheduler scheduler;
        float[] latents;
        using (Telemetry.Start(DiffusionDiagnostics.Activities.Prepare))
        {
            scheduler = PrepareScheduler(model, options);
            latents = new float[checked(plan.Images * channels * h * w)];
            if (options.Latents is { } initial)
            {
                initial.AsSpan().CopyTo(latents);
            }
            else
            {
                generator.Randn(latents);
            }
            float sigma = scheduler.InitNoiseSigma;
            if (sigma != 1f)
            {
                TensorPrimitives.Multiply(latents, sigma, latents);
            }
        }

        (Tensor<float> final, float[] used) = DenoisingLoop.Run(model, options, plan, scheduler, scheduler.Timesteps.ToArray(), latents, embeds, generator, cancellationToken);
        NonFinite.Check(latents, "latents");
        if (options.OutputType == OutputType.Latent)
        {
            return new StableDiffusionPipelineOutput([], null, final, seed, used);
        }
        (Tensor<float>? array, IReadOnlyList<RgbImage> images) = LatentDecoder.Decode(model.VaeDecoder, final, options.OutputType, plan.Vae, options.VaeProgress, cancellationToken);
        return new StableDiffusionPipelineOutput(images, array, final, seed, used);
    }
}
