using System.Numerics.Tensors;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Spright.Diffusion.Components;
using Spright.Diffusion.Imaging;
using Spright.Diffusion.Logging;
using Spright.Diffusion.Pipelines;
using Spright.Diffusion.Random;
using Spright.Diffusion.Schedulers;
using Spright.Diffusion.Tokenization;

namespace Spright.Diffusion;

/// <summary>
/// What the Stable Diffusion pipelines share (diffusers' <c>StableDiffusionPipeline</c> building blocks): the pluggable
/// components, <see cref="EncodePrompt"/>, <see cref="DecodeLatents"/> and the VAE's tiling and slicing switches. The
/// stages of a call live in small internal types (prompt encoding, call validation, the denoising loop, latent decoding).
/// </summary>
/// <remarks>
/// <para>Thread safety: <c>Generate</c>, <see cref="EncodePrompt"/> and <see cref="DecodeLatents"/> may be called from
/// several threads at once, and each call gives exactly the result it gives alone (same seed, same bits): every call works
/// on its own scheduler clone, generator and UNet runner. Not supported while calls run: assigning components, the
/// scheduler or the VAE switches, and sharing one <see cref="GenerationOptions.Generator"/> between concurrent calls.</para>
/// <para>Lifetime: components loaded by <see cref="DiffusionPipeline.FromPretrained"/> are disposed with the last pipeline
/// that uses them; components you assign stay yours to dispose. <see cref="DiffusionPipeline.Dispose()"/> may be called
/// while calls run: new calls throw <see cref="ObjectDisposedException"/> at once, running calls finish, and the
/// components are released when the last of them returns.</para>
/// </remarks>
public abstract class StableDiffusionPipelineBase : DiffusionPipeline
{
    private readonly RefCount _calls;
    private readonly SharedComponents? _shared;
    private readonly IDisposable? _owned;
    private IPromptTokenizer _tokenizer;
    private ITextEncoder _textEncoder;
    private IUNet _unet;
    private IVaeDecoder _vaeDecoder;
    private IScheduler _scheduler;
    private VaeSettings _vae;

    private protected StableDiffusionPipelineBase(StableDiffusionComponents components, PipelineOrigin? origin, ILogger? logger, IDisposable? owned = null)
        : base(origin?.ModelPath)
    {
        ArgumentNullException.ThrowIfNull(components);
        _tokenizer = components.Tokenizer ?? throw new ArgumentException("A tokenizer is required.", nameof(components));
        _textEncoder = components.TextEncoder ?? throw new ArgumentException("A text encoder is required.", nameof(components));
        _unet = components.Unet ?? throw new ArgumentException("A UNet is required.", nameof(components));
        _vaeDecoder = components.VaeDecoder ?? throw new ArgumentException("A VAE decoder is required.", nameof(components));
        _scheduler = components.Scheduler ?? throw new ArgumentException("A scheduler is required.", nameof(components));
        VaeEncoder = components.VaeEncoder;
        Origin = origin;
        _shared = components.Shared?.AddReference();
        _owned = owned;
        _calls = new RefCount(ReleaseComponents);
        Logger = logger ?? DiffusionLogging.CreateLogger(GetType().FullName ?? "Spright.Diffusion.Pipeline");
    }

    /// <summary>The tokenizer (<c>pipe.tokenizer</c>).</summary>
    public IPromptTokenizer Tokenizer { get => _tokenizer; set => _tokenizer = NotDisposed(value); }

    /// <summary>The text encoder (<c>pipe.text_encoder</c>).</summary>
    public ITextEncoder TextEncoder { get => _textEncoder; set => _textEncoder = NotDisposed(value); }

    /// <summary>The UNet (<c>pipe.unet</c>).</summary>
    public IUNet Unet { get => _unet; set => _unet = NotDisposed(value); }

    /// <summary>The VAE decoder (<c>pipe.vae.decode</c>).</summary>
    public IVaeDecoder VaeDecoder { get => _vaeDecoder; set => _vaeDecoder = NotDisposed(value); }

    /// <summary>The VAE encoder (<c>pipe.vae.encode</c>, image-to-image), or null when the pipeline has none.</summary>
    public IVaeEncoder? VaeEncoder { get; set; }

    /// <summary>The scheduler (<c>pipe.scheduler</c>); swap it like <c>pipe.scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config)</c>.
    /// Each call runs on a fresh clone, so the instance here is never changed by generation.</summary>
    public IScheduler Scheduler { get => _scheduler; set => _scheduler = NotDisposed(value); }

    /// <summary>Pixels per latent (<c>vae_scale_factor</c>, 8).</summary>
    public int VaeScaleFactor => VaeDecoder.Info.ScaleFactor;

    /// <summary>The default image side: <c>unet.sample_size × vae_scale_factor</c> (768 for SPRIGHT), or 512 when the UNet
    /// has no config (as diffusers' ONNX pipeline defaults).</summary>
    public int DefaultImageSize => Snapshot().DefaultImageSize;

    /// <summary>Where the pipeline came from (folder and backend), for loading more components later.</summary>
    internal PipelineOrigin? Origin { get; }

    /// <summary>Where warnings go.</summary>
    private protected ILogger Logger { get; }

    /// <summary>Decode (and, for image-to-image, encode) in overlapping tiles of <c>vae.config.sample_size</c> pixels,
    /// blended like diffusers' <c>pipe.enable_vae_tiling()</c>: large images in bounded memory. Only images larger than one
    /// tile are tiled. A call's <see cref="GenerationOptions.VaeTiling"/> overrides it.</summary>
    public void EnableVaeTiling() => _vae = _vae with { Tiling = true };

    /// <summary>Back to decoding in one piece (diffusers' <c>pipe.disable_vae_tiling()</c>).</summary>
    public void DisableVaeTiling() => _vae = _vae with { Tiling = false };

    /// <summary>Decode the images of a batch one at a time (diffusers' <c>pipe.enable_vae_slicing()</c>): the same numbers,
    /// the memory of one image. A call's <see cref="GenerationOptions.VaeSlicing"/> overrides it.</summary>
    public void EnableVaeSlicing() => _vae = _vae with { Slicing = true };

    /// <summary>Back to decoding the whole batch at once (diffusers' <c>pipe.disable_vae_slicing()</c>).</summary>
    public void DisableVaeSlicing() => _vae = _vae with { Slicing = false };

    /// <summary>
    /// diffusers' <c>encode_prompt</c>: tokenizes (warning about truncated text, as diffusers does), encodes, and repeats
    /// each prompt's embeddings per image; with guidance the negative prompts (or empty ones) are encoded too.
    /// </summary>
    /// <param name="prompts">The prompts.</param>
    /// <param name="numImagesPerPrompt">Images per prompt (each prompt's rows are repeated that many times).</param>
    /// <param name="doClassifierFreeGuidance">Whether to encode the negative prompts too.</param>
    /// <param name="negativePrompts">Negative prompts, one per prompt (null: empty ones).</param>
    /// <param name="promptEncoder">How the texts are read: null for diffusers' plain truncation, else e.g.
    /// <c>PromptEncoders.Create(PromptWeighting.Lpw)</c> or a host's own <see cref="Prompts.IPromptEncoder"/>. The
    /// result can be passed as <see cref="GenerationOptions.PromptEmbeds"/> / <see cref="GenerationOptions.NegativePromptEmbeds"/>.</param>
    /// <param name="cancellationToken">Stops the text encoder.</param>
    /// <returns>The embeddings, [prompts × images, tokens, hidden] per side.</returns>
    /// <exception cref="ArgumentException">A prompt is over <see cref="Tokenization.PromptLimits"/>, the negative prompts
    /// are not one per prompt, or the encoder's output does not fit the model.</exception>
    public PromptEmbeddings EncodePrompt(IReadOnlyList<string> prompts, int numImagesPerPrompt = 1, bool doClassifierFreeGuidance = true,
        IReadOnlyList<string>? negativePrompts = null, Prompts.IPromptEncoder? promptEncoder = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        if (prompts.Count == 0 || prompts.Any(p => p is null))
        {
            throw new ArgumentException("Give at least one prompt, none of them null.", nameof(prompts));
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(numImagesPerPrompt, 1);
        using CallLease lease = EnterCall();
        return PromptEncodingStage.Encode(Snapshot(), prompts, numImagesPerPrompt, doClassifierFreeGuidance, negativePrompts, null, null,
            promptEncoder, Logger, cancellationToken);
    }

    /// <summary>Decodes latents (as returned with <see cref="OutputType.Latent"/>) into images: divides by the VAE scaling
    /// factor, runs the decoder (with the pipeline's tiling and slicing) and post-processes like diffusers.</summary>
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
        if (outputType is not (OutputType.Image or OutputType.Array))
        {
            throw new ArgumentOutOfRangeException(nameof(outputType), outputType, "outputType must be Image or Array.");
        }
        CallPlanner.CheckFinite(latents, nameof(latents));
        (Tensor<float>? array, IReadOnlyList<RgbImage> images) = LatentDecoder.Decode(VaeDecoder, latents, outputType, _vae, null, cancellationToken);
        return new StableDiffusionPipelineOutput(images, array, latents, null, []);
    }

    /// <summary>The components a call works with (taken once when it starts).</summary>
    private protected PipelineSnapshot Snapshot() => new(Tokenizer, TextEncoder, Unet, VaeDecoder, VaeEncoder, Scheduler, _vae);

    /// <summary>The components of this pipeline, sharing ownership of what it loaded (for <c>FromPipe</c>).</summary>
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
            Shared = _shared,
        };
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
    private protected static IScheduler PrepareScheduler(PipelineSnapshot model, GenerationOptions options)
    {
        IScheduler scheduler = model.Scheduler.Clone();
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

    /// <summary>Marks a call as running, so that a concurrent <see cref="DiffusionPipeline.Dispose()"/> defers the release
    /// of the components until it returns.</summary>
    /// <exception cref="ObjectDisposedException">The pipeline was disposed.</exception>
    private protected CallLease EnterCall()
    {
        if (IsDisposed || !_calls.TryAcquire())
        {
            throw new ObjectDisposedException(GetType().Name, "The pipeline was disposed.");
        }
        return new CallLease(_calls);
    }

    /// <summary>Drops the pipeline's own reference: the components are released now, or when the last running call returns.</summary>
    /// <param name="disposing">Whether called from Dispose.</param>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _calls.Release();
        }
    }

    private void ReleaseComponents()
    {
        _shared?.Release();
        _owned?.Dispose();
    }

    private T NotDisposed<T>(T value) where T : class
    {
        ArgumentNullException.ThrowIfNull(value);
        ThrowIfDisposed();
        return value;
    }

    /// <summary>One running call (see <see cref="EnterCall"/>); disposing it ends the call.</summary>
    private protected readonly struct CallLease(RefCount calls) : IDisposable
    {
        /// <summary>Ends the call.</summary>
        public void Dispose() => calls?.Release();
    }
}
