using System.Collections.Concurrent;
using System.Diagnostics;
using System.Numerics.Tensors;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using Spright.Diffusion.Imaging;
using Spright.Diffusion.Logging;
using Spright.Diffusion.Models;
using Spright.Diffusion.Pipelines;
using Spright.Diffusion.Random;
using Spright.Diffusion.Schedulers;
using Spright.Diffusion.Tensors;
using Spright.Diffusion.Tokenization;

namespace Spright.Diffusion;

/// <summary>
/// What the Stable Diffusion pipelines share (diffusers' <c>StableDiffusionPipeline</c> building blocks): the pluggable
/// components, <c>EncodePrompt</c>, the denoising loop and <see cref="DecodeLatents"/>.
/// </summary>
/// <remarks>
/// <para>Thread safety: <c>Generate</c>, <c>EncodePrompt</c> and <see cref="DecodeLatents"/> may be called from
/// several threads at once on one pipeline, and each call gives exactly the result it gives alone (same seed, same
/// bits). Every call works on its own scheduler clone, generator and UNet buffers; ONNX Runtime sessions are
/// thread-safe for concurrent runs. Not supported while calls run: assigning components or the scheduler, and sharing
/// one <see cref="GenerationOptions.Generator"/> between concurrent calls (use <see cref="GenerationOptions.Seed"/>).</para>
/// <para>Lifetime: components loaded by <see cref="DiffusionPipeline.FromPretrained"/> are disposed with the last
/// pipeline that uses them; components you assign stay yours to dispose. <see cref="DiffusionPipeline.Dispose()"/> may
/// be called while calls run: new calls throw <see cref="ObjectDisposedException"/> at once, running calls finish,
/// and the native resources are released when the last of them returns.</para>
/// </remarks>
public abstract class StableDiffusionPipelineBase : DiffusionPipeline
{
    /// <summary>The most images one call may produce (prompts × images per prompt).</summary>
    public const int MaxBatchSize = 64;

    private readonly ConcurrentDictionary<(UNetShape Shape, int Images), ConcurrentBag<DenoiseBuffers>> _runners = new();
    private readonly SharedComponents? _shared;
    private int _leases = 1; // the pipeline's own reference (released by Dispose) plus one per running call
    private IPromptTokenizer _tokenizer;
    private ITextEncoder _textEncoder;
    private IUNet _unet;
    private IVaeDecoder _vaeDecoder;
    private IScheduler _scheduler;

    /// <summary>Assembles a pipeline from components.</summary>
    /// <param name="components">The components.</param>
    /// <param name="modelPath">The folder they came from, if any.</param>
    /// <param name="logger">Where warnings go.</param>
    private protected StableDiffusionPipelineBase(StableDiffusionComponents components, string? modelPath, ILogger? logger)
        : base(modelPath)
    {
        ArgumentNullException.ThrowIfNull(components);
        _tokenizer = components.Tokenizer ?? throw new ArgumentException("A tokenizer is required.", nameof(components));
        _textEncoder = components.TextEncoder ?? throw new ArgumentException("A text encoder is required.", nameof(components));
        _unet = components.Unet ?? throw new ArgumentException("A UNet is required.", nameof(components));
        _vaeDecoder = components.VaeDecoder ?? throw new ArgumentException("A VAE decoder is required.", nameof(components));
        _scheduler = components.Scheduler ?? throw new ArgumentException("A scheduler is required.", nameof(components));
        VaeEncoder = components.VaeEncoder;
        UNetDownsamplingFactor = components.UNetDownsamplingFactor;
        _shared = components.Shared?.AddReference();
        Logger = logger ?? DiffusionLogging.CreateLogger(GetType().FullName ?? "Spright.Diffusion.Pipeline");
    }

    /// <summary>The tokenizer (<c>pipe.tokenizer</c>).</summary>
    public IPromptTokenizer Tokenizer { get => _tokenizer; set => _tokenizer = NotDisposed(value); }

    /// <summary>The text encoder (<c>pipe.text_encoder</c>).</summary>
    public ITextEncoder TextEncoder { get => _textEncoder; set => _textEncoder = NotDisposed(value); }

    /// <summary>The UNet (<c>pipe.unet</c>). Assigning one drops the buffers cached for the previous one.</summary>
    public IUNet Unet
    {
        get => _unet;
        set
        {
            _unet = NotDisposed(value);
            ClearRunners();
        }
    }

    /// <summary>The VAE decoder (<c>pipe.vae.decode</c>).</summary>
    public IVaeDecoder VaeDecoder { get => _vaeDecoder; set => _vaeDecoder = NotDisposed(value); }

    /// <summary>The VAE encoder (image-to-image), or null when the folder has none.</summary>
    public IVaeEncoder? VaeEncoder { get; set; }

    /// <summary>The scheduler (<c>pipe.scheduler</c>); swap it like <c>pipe.scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config)</c>.
    /// Each call runs on a fresh clone, so the instance here is never mutated by generation.</summary>
    public IScheduler Scheduler { get => _scheduler; set => _scheduler = NotDisposed(value); }

    /// <summary>Pixels per latent (<c>vae_scale_factor</c>, 8).</summary>
    public int VaeScaleFactor => VaeDecoder.Info.ScaleFactor;

    /// <summary>The default image side: <c>unet.sample_size × vae_scale_factor</c> (768 for SPRIGHT), or 512 when the
    /// UNet has no config (as diffusers' ONNX pipeline defaults).</summary>
    public int DefaultImageSize => (Unet.SampleSize ?? 64) * VaeScaleFactor;

    /// <summary>How much the UNet downsamples latents (2^(levels−1)), when known from its config; latent sides must be multiples of it.</summary>
    public int? UNetDownsamplingFactor { get; }

    /// <summary>Where warnings go.</summary>
    private protected ILogger Logger { get; }

    /// <summary>
    /// diffusers' <c>encode_prompt</c>: tokenizes (warning about truncated text), encodes, repeats per image and, with
    /// guidance, prepends the negative embeddings. Returns [(2·)batch·images, sequence, hidden].
    /// </summary>
    /// <param name="prompts">The prompts (ignored when <paramref name="promptEmbeds"/> is given).</param>
    /// <param name="numImagesPerPrompt">Images per prompt.</param>
    /// <param name="doClassifierFreeGuidance">Whether to prepend negative embeddings.</param>
    /// <param name="negativePrompts">Negative prompts (null → "" per prompt).</param>
    /// <param name="promptEmbeds">Precomputed embeddings.</param>
    /// <param name="negativePromptEmbeds">Precomputed negative embeddings.</param>
    /// <param name="cancellationToken">Stops the text encoder.</param>
    /// <returns>The UNet conditioning.</returns>
    public Tensor<float> EncodePrompt(IReadOnlyList<string>? prompts, int numImagesPerPrompt, bool doClassifierFreeGuidance,
        IReadOnlyList<string>? negativePrompts = null, Tensor<float>? promptEmbeds = null, Tensor<float>? negativePromptEmbeds = null,
        CancellationToken cancellationToken = default) =>
        EncodePrompt(prompts, numImagesPerPrompt, doClassifierFreeGuidance, negativePrompts, promptEmbeds, negativePromptEmbeds, null, cancellationToken);

    /// <summary><see cref="EncodePrompt(IReadOnlyList{string}?, int, bool, IReadOnlyList{string}?, Tensor{float}?, Tensor{float}?, CancellationToken)"/>
    /// reporting its stages to <paramref name="observer"/>; an on-demand text encoder is held for both encodings and
    /// released afterwards.</summary>
    private protected Tensor<float> EncodePrompt(IReadOnlyList<string>? prompts, int numImagesPerPrompt, bool doClassifierFreeGuidance,
        IReadOnlyList<string>? negativePrompts, Tensor<float>? promptEmbeds, Tensor<float>? negativePromptEmbeds,
        IGenerationObserver? observer, CancellationToken cancellationToken)
    {
        using CallLease lease = EnterCall();
        return EncodePromptCore(prompts, numImagesPerPrompt, doClassifierFreeGuidance, negativePrompts, promptEmbeds, negativePromptEmbeds, observer, cancellationToken);
    }

    /// <summary><c>EncodePrompt</c> for a call that already holds a lease (see <see cref="EnterCall"/>).</summary>
    private protected Tensor<float> EncodePromptCore(IReadOnlyList<string>? prompts, int numImagesPerPrompt, bool doClassifierFreeGuidance,
        IReadOnlyList<string>? negativePrompts, Tensor<float>? promptEmbeds, Tensor<float>? negativePromptEmbeds,
        IGenerationObserver? observer, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numImagesPerPrompt, 1);
        bool needsEncoder = promptEmbeds is null || (doClassifierFreeGuidance && negativePromptEmbeds is null);
        using IDisposable? hold = needsEncoder ? (TextEncoder as IOnDemandComponent)?.Acquire(observer) : null;
        Tensor<float> positive;
        Tensor<float>? negative = null;
        if (promptEmbeds is null && doClassifierFreeGuidance && negativePromptEmbeds is null)
        {
            // Negative prompts and prompts go through the text encoder as one batch: its rows are independent, so the
            // numbers are those of two calls (tested), for the price of one.
            if (prompts is null)
            {
                throw new ArgumentNullException(nameof(prompts), "Pass prompts or prompt embeddings.");
            }
            IReadOnlyList<string> uncond = NegativeTexts(negativePrompts, prompts.Count);
            Tensor<float> both = EncodeTexts(prompts, observer, cancellationToken, negativesFirst: uncond);
            int[] bothShape = both.Shape();
            int half = uncond.Count * bothShape[1] * bothShape[2];
            negative = TensorShapes.Wrap(both.AsSpan()[..half].ToArray(), uncond.Count, bothShape[1], bothShape[2]);
            positive = TensorShapes.Wrap(both.AsSpan()[half..].ToArray(), prompts.Count, bothShape[1], bothShape[2]);
        }
        else
        {
            positive = promptEmbeds ?? EncodeTexts(prompts ?? throw new ArgumentNullException(nameof(prompts), "Pass prompts or prompt embeddings."), observer, cancellationToken);
        }
        int[] shape = positive.Shape();
        int batch = shape[0], sequence = shape[1], hidden = shape[2];

        if (doClassifierFreeGuidance)
        {
            if (negative is not null)
            {
                // Encoded together with the prompts above.
            }
            else if (negativePromptEmbeds is not null)
            {
                negative = negativePromptEmbeds;
            }
            else
            {
                IReadOnlyList<string> uncond = NegativeTexts(negativePrompts, batch);
                if (sequence != Tokenizer.ModelMaxLength)
                {
                    throw new ArgumentException($"The prompt embeddings have {sequence} tokens but the tokenizer pads to {Tokenizer.ModelMaxLength}; pass negative prompt embeddings too.", nameof(negativePromptEmbeds));
                }
                negative = EncodeTexts([], observer, cancellationToken, negativesFirst: uncond);
            }
            if (!negative.Lengths.SequenceEqual(positive.Lengths))
            {
                throw new ArgumentException($"Negative prompt embeddings [{string.Join(", ", negative.Shape())}] must have the shape of the prompt embeddings [{string.Join(", ", shape)}].", nameof(negativePromptEmbeds));
            }
        }

        int per = sequence * hidden;
        int copies = doClassifierFreeGuidance ? 2 : 1;
        var result = new float[checked(copies * batch * numImagesPerPrompt * per)];
        int offset = 0;
        if (negative is not null)
        {
            offset = Repeat(negative.AsSpan(), batch, per, numImagesPerPrompt, result, 0);
        }
        Repeat(positive.AsSpan(), batch, per, numImagesPerPrompt, result, offset);
        return TensorShapes.Wrap(result, copies * batch * numImagesPerPrompt, sequence, hidden);

        static int Repeat(ReadOnlySpan<float> source, int batch, int per, int times, float[] destination, int start)
        {
            int at = start;
            for (int b = 0; b < batch; b++)
            {
                for (int n = 0; n < times; n++)
                {
                    source.Slice(b * per, per).CopyTo(destination.AsSpan(at, per));
                    at += per;
                }
            }
            return at;
        }
    }

    /// <summary>Decodes latents (as returned with <see cref="OutputType.Latent"/>) into images: divides by the VAE
    /// scaling factor, runs the decoder and post-processes like diffusers.</summary>
    /// <param name="latents">[N, channels, h, w] latents, still scaled.</param>
    /// <param name="outputType"><see cref="OutputType.Image"/> or <see cref="OutputType.Array"/>.</param>
    /// <param name="cancellationToken">Stops the decoder.</param>
    /// <returns>The output (its <see cref="StableDiffusionPipelineOutput.Latents"/> are the input).</returns>
    public StableDiffusionPipelineOutput DecodeLatents(Tensor<float> latents, OutputType outputType = OutputType.Image, CancellationToken cancellationToken = default)
    {
        using CallLease lease = EnterCall();
        ArgumentNullException.ThrowIfNull(latents);
        if (latents.Rank != 4)
        {
            throw new ArgumentException($"Latents must be [N, channels, h, w]; got rank {latents.Rank}.", nameof(latents));
        }
        (Tensor<float>? array, IReadOnlyList<SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.Rgb24>> images) =
            Decode(latents, outputType, null, cancellationToken);
        return new StableDiffusionPipelineOutput(images, array, latents, null, []);
    }

    /// <summary>Validates everything both pipelines check (diffusers' <c>check_inputs</c>) and resolves the size.</summary>
    private protected CallPlan PlanCall(GenerationOptions options)
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
        if (options.NegativePrompt is not null && options.NegativePromptEmbeds is not null)
        {
            throw new ArgumentException("Pass either NegativePrompt or NegativePromptEmbeds, not both.", nameof(options.NegativePrompt));
        }
        if (options.NegativePrompt is not null && options.NegativePrompt.Any(p => p is null))
        {
            throw new ArgumentException("Negative prompts must not be null.", nameof(options.NegativePrompt));
        }

        int batch = hasPrompt ? options.Prompt!.Count : CheckEmbeds(options.PromptEmbeds!, nameof(options.PromptEmbeds));
        if (options.NegativePromptEmbeds is not null)
        {
            CheckEmbeds(options.NegativePromptEmbeds, nameof(options.NegativePromptEmbeds));
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
        bool guided = options.GuidanceScale > 1.0;
        if (options.NegativePrompt is not null && guided && options.NegativePrompt.Count != batch)
        {
            throw new ArgumentException($"{options.NegativePrompt.Count} negative prompts were given for {batch} prompts; give none, or one per prompt.", nameof(options.NegativePrompt));
        }
        if (!double.IsFinite(options.GuidanceScale))
        {
            throw new ArgumentOutOfRangeException(nameof(options.GuidanceScale), options.GuidanceScale, "GuidanceScale must be a finite number (guidance runs when it is > 1).");
        }
        if (!(options.GuidanceRescale >= 0 && options.GuidanceRescale <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(options.GuidanceRescale), options.GuidanceRescale, "GuidanceRescale must be in [0, 1].");
        }
        if (!(options.Eta >= 0 && options.Eta <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(options.Eta), options.Eta, "Eta must be in [0, 1].");
        }
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

        int height = options.Height ?? DefaultImageSize;
        int width = options.Width ?? DefaultImageSize;
        CheckSide(height, nameof(options.Height));
        CheckSide(width, nameof(options.Width));
        return new CallPlan(batch, options.NumImagesPerPrompt, height, width, guided);
    }

    /// <summary>The denoising loop shared by text-to-image and image-to-image (diffusers' <c>__call__</c> loop). Runs on
    /// pooled, preallocated buffers (UNet I/O bound once, CFG batch built in place), so a step allocates nothing.</summary>
    /// <remarks><c>prepareStart</c> is the <see cref="Stopwatch"/> timestamp at which the call's preparation began (for the observer).</remarks>
    private protected StableDiffusionPipelineOutput Denoise(GenerationOptions options, CallPlan plan, IScheduler scheduler, float[] timesteps,
        float[] latents, Tensor<float> embeds, TorchGenerator generator, ulong? seed, long prepareStart, CancellationToken cancellationToken)
    {
        int images = plan.Batch * plan.ImagesPerPrompt;
        int channels = Unet.InChannels;
        int h = plan.Height / VaeScaleFactor, w = plan.Width / VaeScaleFactor;
        int[] embedShape = embeds.Shape();
        var shape = new UNetShape(plan.Guided ? 2 * images : images, channels, h, w, embedShape[1], embedShape[2]);
        if (Unet.CrossAttentionDim is int crossDim && crossDim != shape.HiddenSize)
        {
            throw new ArgumentException($"The text embeddings are {shape.HiddenSize} wide but the UNet expects {crossDim}.", nameof(options.PromptEmbeds));
        }
        IGenerationObserver? observer = options.Observer;

        DenoiseBuffers buffers = RentBuffers(shape, images, observer, out long loadTicks);
        bool returnBuffers = true;
        try
        {
            IUNetRunner runner = buffers.Runner;
            embeds.AsSpan().CopyTo(runner.EncoderHiddenStates);
            int latentLength = images * channels * h * w;
            Tensor<float> latentTensor = TensorShapes.Wrap(latents, images, channels, h, w);
            float[] noisePred = buffers.NoisePrediction;
            Tensor<float> noiseTensor = buffers.NoisePredictionTensor;
            float guidance = (float)options.GuidanceScale;
            float eta = (float)options.Eta;
            StepEndContext? stepEnd = options.CallbackOnStepEnd is null ? null : new StepEndContext(latentTensor, timesteps.Length);
            long start = Stopwatch.GetTimestamp();
            observer?.OnStage(GenerationStage.Prepare, -1, start - prepareStart - loadTicks);
            int evaluated = 0;

            for (int i = 0; i < timesteps.Length; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                long t0 = observer is null ? 0 : Stopwatch.GetTimestamp();
                float t = timesteps[i];
                Span<float> sample = runner.Sample;
                scheduler.ScaleModelInput(latents, t, sample[..latentLength]);
                if (plan.Guided)
                {
                    // diffusers' torch.cat([latents] * 2): both halves of the UNet batch are the same scaled latents.
                    sample[..latentLength].CopyTo(sample[latentLength..]);
                }

                long t1 = observer is null ? 0 : Stopwatch.GetTimestamp();
                // The last step hands the UNet's scratch memory back, so the VAE decoder does not run on top of it.
                RunUNet(runner, t, releaseMemory: i == timesteps.Length - 1, cancellationToken);
                evaluated++;
                long t2 = observer is null ? 0 : Stopwatch.GetTimestamp();

                ReadOnlySpan<float> output = runner.Output;
                if (plan.Guided)
                {
                    ReadOnlySpan<float> uncond = output[..latentLength];
                    ReadOnlySpan<float> text = output[latentLength..];
                    Guidance.Combine(uncond, text, guidance, noisePred);
                    if (options.GuidanceRescale > 0)
                    {
                        Guidance.Rescale(noisePred, text, images, options.GuidanceRescale);
                    }
                }
                else
                {
                    output.CopyTo(noisePred);
                }
                long t3 = observer is null ? 0 : Stopwatch.GetTimestamp();

                // diffusers' prepare_extra_step_kwargs: eta goes only to a scheduler whose step takes it (DDIM).
                _ = scheduler is IEtaScheduler etaScheduler
                    ? etaScheduler.Step(noiseTensor, t, latentTensor, eta, generator)
                    : scheduler.Step(noiseTensor, t, latentTensor, generator);

                if (observer is not null)
                {
                    long t4 = Stopwatch.GetTimestamp();
                    observer.OnStage(GenerationStage.UNet, i, t2 - t1);
                    observer.OnStage(GenerationStage.Guidance, i, t3 - t2);
                    observer.OnStage(GenerationStage.Scheduler, i, (t1 - t0) + (t4 - t3));
                }
                if (stepEnd is not null)
                {
                    stepEnd.Step = i;
                    stepEnd.Timestep = t;
                    options.CallbackOnStepEnd!(stepEnd);
                }
                options.Progress?.Report(new GenerationProgress(i + 1, timesteps.Length, t, Stopwatch.GetElapsedTime(start)));
                if (stepEnd is { StopRequested: true })
                {
                    break;
                }
            }

            returnBuffers = false;
            ReturnBuffers(buffers);

            Tensor<float> finalLatents = latentTensor;
            float[] used = evaluated == timesteps.Length ? timesteps : timesteps[..evaluated];
            CheckFinite(latents, "latents");
            if (options.OutputType == OutputType.Latent)
            {
                return new StableDiffusionPipelineOutput([], null, finalLatents, seed, used);
            }
            (Tensor<float>? array, IReadOnlyList<SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.Rgb24>> pictures) =
                Decode(finalLatents, options.OutputType, observer, cancellationToken);
            return new StableDiffusionPipelineOutput(pictures, array, finalLatents, seed, used);
        }
        finally
        {
            if (returnBuffers)
            {
                // A cancelled or failed run: the buffers are still fine to reuse.
                ReturnBuffers(buffers);
            }
        }
    }

    /// <summary>Creates the generator for a call: the given one, else a fresh one from the seed (random when none).</summary>
    private protected static (TorchGenerator Generator, ulong? Seed) CreateGenerator(GenerationOptions options)
    {
        if (options.Generator is not null)
        {
            return (options.Generator, null);
        }
        ulong seed = options.Seed ?? BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8)) % (1UL << 53);
        return (new TorchGenerator(seed), seed);
    }

    /// <summary>Sets the call's schedule on a fresh scheduler (diffusers' <c>retrieve_timesteps</c>).</summary>
    private protected IScheduler PrepareScheduler(GenerationOptions options)
    {
        IScheduler scheduler = Scheduler.Clone();
        if (options.Timesteps is not null || options.Sigmas is not null)
        {
            scheduler.SetTimesteps(options.Timesteps, options.Sigmas);
        }
        else
        {
            scheduler.SetTimesteps(options.NumInferenceSteps);
        }
        return scheduler;
    }

    /// <summary>Releases the pipeline's own reference to its native resources: at once when no call runs, else when
    /// the last running call returns.</summary>
    /// <param name="disposing">Whether called from Dispose.</param>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            ExitCall();
        }
    }

    /// <summary>Releases what this pipeline owns (pooled buffers, its share of the loaded components); runs once,
    /// after <see cref="DiffusionPipeline.Dispose()"/> and the last running call.</summary>
    private protected virtual void ReleaseNativeResources()
    {
        ClearRunners();
        _shared?.Release();
    }

    /// <summary>Marks a call as running, so that a concurrent <see cref="DiffusionPipeline.Dispose()"/> defers the
    /// release of native resources until it returns.</summary>
    /// <exception cref="ObjectDisposedException">The pipeline was disposed.</exception>
    private protected CallLease EnterCall()
    {
        while (true)
        {
            int current = Volatile.Read(ref _leases);
            if (current == 0 || IsDisposed)
            {
                throw new ObjectDisposedException(GetType().Name, "The pipeline was disposed.");
            }
            if (Interlocked.CompareExchange(ref _leases, current + 1, current) == current)
            {
                return new CallLease(this);
            }
        }
    }

    private void ExitCall()
    {
        if (Interlocked.Decrement(ref _leases) == 0)
        {
            ReleaseNativeResources();
        }
    }

    private T NotDisposed<T>(T value) where T : class
    {
        ArgumentNullException.ThrowIfNull(value);
        ThrowIfDisposed();
        return value;
    }

    /// <summary>One running call (see <see cref="EnterCall"/>); disposing it ends the call.</summary>
    private protected readonly struct CallLease : IDisposable
    {
        private readonly StableDiffusionPipelineBase? _pipeline;

        internal CallLease(StableDiffusionPipelineBase pipeline) => _pipeline = pipeline;

        /// <summary>Ends the call.</summary>
        public void Dispose() => _pipeline?.ExitCall();
    }

    /// <summary>The components of this pipeline, sharing ownership of what it loaded.</summary>
    internal StableDiffusionComponents ToComponents()
    {
        ThrowIfDisposed();
        return new StableDiffusionComponents
        {
            Tokenizer = Tokenizer,
            TextEncoder = TextEncoder,
            Unet = Unet,
            VaeDecoder = VaeDecoder,
            VaeEncoder = VaeEncoder,
            Scheduler = Scheduler,
            UNetDownsamplingFactor = UNetDownsamplingFactor,
            Shared = _shared,
        };
    }

    private (Tensor<float>? Array, IReadOnlyList<SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.Rgb24>> Images) Decode(
        Tensor<float> latents, OutputType outputType, IGenerationObserver? observer, CancellationToken cancellationToken)
    {
        Tensor<float> decoded;
        using (IDisposable? hold = (VaeDecoder as IOnDemandComponent)?.Acquire(observer))
        {
            long start = Stopwatch.GetTimestamp();
            float scaling = VaeDecoder.Info.ScalingFactor;
            var scaled = new float[latents.FlattenedLength];
            TensorPrimitives.Divide(latents.AsSpan(), scaling, scaled);
            decoded = VaeDecoder.Decode(TensorShapes.Wrap(scaled, latents.Shape()), cancellationToken);
            observer?.OnStage(GenerationStage.VaeDecoder, -1, Stopwatch.GetTimestamp() - start);
        }
        long post = Stopwatch.GetTimestamp();
        CheckFinite(decoded.AsSpan(), "decoded image");
        Tensor<float> array = ImageConversions.ToImageArray(decoded);
        IReadOnlyList<SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.Rgb24>> images =
            outputType == OutputType.Image ? ImageConversions.ToImages(array) : [];
        observer?.OnStage(GenerationStage.Postprocess, -1, Stopwatch.GetTimestamp() - post);
        return (array, images);
    }

    private static void CheckFinite(ReadOnlySpan<float> values, string what)
    {
        int bad = 0;
        foreach (float v in values)
        {
            if (!float.IsFinite(v))
            {
                bad++;
            }
        }
        if (bad > 0)
        {
            throw new NonFiniteOutputException(
                $"The {what} contain {bad} NaN/infinite values, so the image would be black. This is the known float16 overflow of SD 2.x " +
                "VAEs/UNets: use a float32 VAE (or the float32 export) for this model.", what, bad);
        }
    }

    /// <summary>The negative prompts of a guided call: the given ones (one per prompt) or empty strings.</summary>
    private static IReadOnlyList<string> NegativeTexts(IReadOnlyList<string>? negativePrompts, int batch)
    {
        IReadOnlyList<string> uncond = negativePrompts ?? Enumerable.Repeat(string.Empty, batch).ToArray();
        if (uncond.Count != batch)
        {
            throw new ArgumentException($"{uncond.Count} negative prompts were given for {batch} prompts; give none, or one per prompt.", nameof(negativePrompts));
        }
        return uncond;
    }

    /// <summary>Tokenizes and encodes <paramref name="negativesFirst"/> (rows first) and <paramref name="texts"/> in one
    /// text-encoder call.</summary>
    private Tensor<float> EncodeTexts(IReadOnlyList<string> texts, IGenerationObserver? observer, CancellationToken cancellationToken, IReadOnlyList<string>? negativesFirst = null)
    {
        long start = Stopwatch.GetTimestamp();
        int max = Tokenizer.ModelMaxLength;
        // The batch call logs diffusers' truncation warning for prompts; negative prompts are tokenized without it, as in diffusers.
        int[][] rows = [.. (negativesFirst ?? []).Select(Tokenizer.EncodePadded), .. texts.Count > 0 ? Tokenizer.EncodeBatchPadded(texts) : []];
        var ids = new int[checked(rows.Length * max)];
        for (int i = 0; i < rows.Length; i++)
        {
            if (rows[i].Length != max)
            {
                throw new InvalidOperationException($"The tokenizer returned {rows[i].Length} ids instead of {max}.");
            }
            rows[i].CopyTo(ids, i * max);
        }
        long encodeStart = Stopwatch.GetTimestamp();
        observer?.OnStage(GenerationStage.Tokenize, -1, encodeStart - start);
        Tensor<float> hidden = TextEncoder.Encode(ids, rows.Length, cancellationToken);
        observer?.OnStage(GenerationStage.TextEncoder, -1, Stopwatch.GetTimestamp() - encodeStart);
        if (TextEncoder.HiddenSize is int expected && hidden.Lengths[2] != expected)
        {
            throw new InvalidOperationException($"The text encoder returned {hidden.Lengths[2]}-wide states, expected {expected}.");
        }
        return hidden;
    }

    private int CheckEmbeds(Tensor<float> embeds, string name)
    {
        if (embeds.Rank != 3 || embeds.Lengths[0] < 1 || embeds.Lengths[1] < 1)
        {
            throw new ArgumentException($"{name} must be [batch, sequence, hidden]; got [{string.Join(", ", embeds.Shape())}].", name);
        }
        int hidden = (int)embeds.Lengths[2];
        int? expected = TextEncoder.HiddenSize ?? Unet.CrossAttentionDim;
        if (expected is int e && e != hidden)
        {
            throw new ArgumentException($"{name} are {hidden} wide but this model's text encoder/UNet use {e}.", name);
        }
        return (int)embeds.Lengths[0];
    }

    private void CheckSide(int pixels, string name)
    {
        int multiple = VaeScaleFactor * (UNetDownsamplingFactor ?? 1);
        if (pixels < VaeScaleFactor || pixels > 8192 || pixels % VaeScaleFactor != 0)
        {
            throw new ArgumentOutOfRangeException(name, pixels, $"{name} must be a multiple of {VaeScaleFactor} in [{VaeScaleFactor}, 8192].");
        }
        if (pixels % multiple != 0)
        {
            throw new ArgumentOutOfRangeException(name, pixels,
                $"{name} must be a multiple of {multiple} for this model (VAE scale factor {VaeScaleFactor} × UNet downsampling {UNetDownsamplingFactor}).");
        }
    }

    private void RunUNet(IUNetRunner runner, float t, bool releaseMemory, CancellationToken cancellationToken)
    {
        try
        {
            runner.Run(t, releaseMemory, cancellationToken);
        }
        catch (OnnxRuntimeException ex) when (!cancellationToken.IsCancellationRequested)
        {
            UNetShape s = runner.Shape;
            throw new InvalidOperationException(
                $"The UNet rejected a {s.Height}×{s.Width} latent (image {s.Height * VaeScaleFactor}×{s.Width * VaeScaleFactor}); " +
                $"try sizes that are multiples of 64. ONNX Runtime said: {ex.Message}", ex);
        }
    }

    private DenoiseBuffers RentBuffers(UNetShape shape, int images, IGenerationObserver? observer, out long loadTicks)
    {
        loadTicks = 0;
        if (_runners.TryGetValue((shape, images), out ConcurrentBag<DenoiseBuffers>? bag) && bag.TryTake(out DenoiseBuffers? buffers))
        {
            return buffers;
        }
        // An on-demand UNet is loaded here (the observer hears of it as a Load stage); the runner's own lease keeps it
        // until the loop ends.
        long start = Stopwatch.GetTimestamp();
        using IDisposable? hold = (Unet as IOnDemandComponent)?.Acquire(observer);
        loadTicks = hold is null ? 0 : Stopwatch.GetTimestamp() - start;
        return new DenoiseBuffers(Unet.CreateRunner(shape), images);
    }

    /// <summary>Readies the pooled UNet runners this call will use (their side-by-side threads start spinning while
    /// the prompt is encoded), so the first step does not pay for waking them.</summary>
    private protected void PrimeRunners(CallPlan plan)
    {
        int images = plan.Batch * plan.ImagesPerPrompt;
        int batch = plan.Guided ? 2 * images : images;
        foreach (KeyValuePair<(UNetShape Shape, int Images), ConcurrentBag<DenoiseBuffers>> pool in _runners)
        {
            UNetShape s = pool.Key.Shape;
            if (s.BatchSize == batch && s.Height * VaeScaleFactor == plan.Height && s.Width * VaeScaleFactor == plan.Width &&
                pool.Value.TryPeek(out DenoiseBuffers? buffers) && buffers.Runner is Models.Onnx.OnnxUNetRunner runner)
            {
                runner.Prime();
            }
        }
    }

    private void ReturnBuffers(DenoiseBuffers buffers)
    {
        // Low-memory mode keeps nothing: disposing the runner releases the UNet before the VAE decoder loads.
        if (IsDisposed || Unet is IOnDemandComponent)
        {
            buffers.Dispose();
            return;
        }
        _runners.GetOrAdd((buffers.Runner.Shape, buffers.Images), _ => []).Add(buffers);
    }

    private void ClearRunners()
    {
        foreach (ConcurrentBag<DenoiseBuffers> bag in _runners.Values)
        {
            while (bag.TryTake(out DenoiseBuffers? b))
            {
                b.Dispose();
            }
        }
        _runners.Clear();
    }

    /// <summary>What one denoising loop works on, pooled per shape: the UNet runner (bound, pinned I/O buffers) and
    /// the guided noise prediction [images, channels, h, w].</summary>
    private sealed class DenoiseBuffers : IDisposable
    {
        public DenoiseBuffers(IUNetRunner runner, int images)
        {
            Runner = runner;
            Images = images;
            UNetShape s = runner.Shape;
            NoisePrediction = new float[checked(images * s.Channels * s.Height * s.Width)];
            NoisePredictionTensor = TensorShapes.Wrap(NoisePrediction, images, s.Channels, s.Height, s.Width);
        }

        public IUNetRunner Runner { get; }

        public int Images { get; }

        public float[] NoisePrediction { get; }

        public Tensor<float> NoisePredictionTensor { get; }

        public void Dispose() => Runner.Dispose();
    }

    /// <summary>The validated shape of a call.</summary>
    private protected readonly record struct CallPlan(int Batch, int ImagesPerPrompt, int Height, int Width, bool Guided);
}
