using Microsoft.Extensions.Logging;
using Spright.Diffusion.Random;
using Spright.Diffusion.Schedulers;

namespace Spright.Diffusion;

/// <summary>
/// Text-to-image with Stable Diffusion 2.x / SPRIGHT-T2I (diffusers' <c>StableDiffusionPipeline</c>, and the ONNX
/// pipelines of diffusers/optimum), with diffusers' numerics: same seed, same image.
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

    internal StableDiffusionPipeline(StableDiffusionComponents components, string? modelPath, ILogger? logger)
        : base(components, modelPath, logger)
    {
    }

    /// <summary>Loads a text-to-image pipeline from a model folder (see <see cref="DiffusionPipeline.FromPretrained"/>).</summary>
    /// <param name="modelPath">The model folder.</param>
    /// <param name="options">Load options.</param>
    /// <returns>The pipeline.</returns>
    public static new StableDiffusionPipeline FromPretrained(string modelPath, DiffusionPipelineOptions? options = null)
    {
        DiffusionPipeline pipeline = DiffusionPipeline.FromPretrained(modelPath, options);
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
        return new StableDiffusionPipeline(pipeline.ToComponents(), pipeline.ModelPath, null);
    }

    /// <inheritdoc />
    public override StableDiffusionPipelineOutput Generate(GenerationOptions options, CancellationToken cancellationToken = default)
    {
        using CallLease lease = EnterCall();
        CallPlan plan = PlanCall(options);
        PrimeRunners(plan);
        if (options.Image is not null)
        {
            throw new ArgumentException("Image is an image-to-image input; text-to-image does not take one (use StableDiffusionImg2ImgPipeline, e.g. StableDiffusionImg2ImgPipeline.FromPipe(this)).", nameof(options.Image));
        }
        (TorchGenerator generator, ulong? seed) = CreateGenerator(options);
        int images = plan.Batch * plan.ImagesPerPrompt;
        int channels = Unet.InChannels;
        int h = plan.Height / VaeScaleFactor, w = plan.Width / VaeScaleFactor;

        var embeds = EncodePromptCore(options.Prompt, plan.ImagesPerPrompt, plan.Guided, options.NegativePrompt,
            options.PromptEmbeds, options.NegativePromptEmbeds, options.Observer, cancellationToken);
        long prepareStart = System.Diagnostics.Stopwatch.GetTimestamp();
        IScheduler scheduler = PrepareScheduler(options);

        int length = checked(images * channels * h * w);
        var latents = new float[length];
        if (options.Latents is { } given)
        {
            int[] expected = [images, channels, h, w];
            if (!given.Lengths.SequenceEqual(expected.Select(d => (nint)d).ToArray()))
            {
                throw new ArgumentException($"Latents must have shape [{string.Join(", ", expected)}]; got [{string.Join(", ", Tensors.TensorShapes.Shape(given))}].", nameof(options.Latents));
            }
            Tensors.TensorShapes.AsSpan(given).CopyTo(latents);
        }
        else
        {
            generator.Randn(latents);
        }
        float sigma = scheduler.InitNoiseSigma;
        if (sigma != 1f)
        {
            System.Numerics.Tensors.TensorPrimitives.Multiply(latents, sigma, latents);
        }

        return Denoise(options, plan, scheduler, scheduler.Timesteps.ToArray(), latents, embeds, generator, seed, prepareStart, cancellationToken);
    }
}
