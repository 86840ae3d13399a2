using Microsoft.Extensions.Logging;
using Spright.Diffusion.Components;
using Spright.Diffusion.Configuration;
using Spright.Diffusion.Hub;
using Spright.Diffusion.Logging;
using Spright.Diffusion.Pipelines;
using Spright.Diffusion.Schedulers;
using Spright.Diffusion.Tokenization;

namespace Spright.Diffusion.Loading;

/// <summary>
/// Builds a pipeline from a model folder the way diffusers' <c>DiffusionPipeline.from_pretrained</c> does: the pipeline
/// class from <c>model_index.json</c>, the scheduler and tokenizer read here, the neural components through the backend
/// (<see cref="IComponentLoader"/>). Everything cheap is read and cross-checked first (every JSON file the core knows),
/// so a broken config fails before any multi-GB graph is loaded or built.
/// </summary>
internal static class PipelineLoader
{
    /// <summary>Pipeline class names that load as text-to-image.</summary>
    public static readonly string[] TextToImageClasses =
        ["StableDiffusionPipeline", "OnnxStableDiffusionPipeline", "ORTStableDiffusionPipeline", "StableDiffusionOnnxPipeline"];

    /// <summary>Pipeline class names that load as image-to-image.</summary>
    public static readonly string[] ImageToImageClasses =
        ["StableDiffusionImg2ImgPipeline", "OnnxStableDiffusionImg2ImgPipeline", "ORTStableDiffusionImg2ImgPipeline"];

    public static DiffusionPipeline Load(string pretrainedModelNameOrPath, DiffusionPipelineOptions options, CancellationToken cancellationToken)
    {
        CheckOptions(options);
        cancellationToken.ThrowIfCancellationRequested();
        string modelPath = Resolve(pretrainedModelNameOrPath, options, cancellationToken);
        ModelIndex index = ModelIndex.Load(modelPath);
        bool textToImage = TextToImageClasses.Contains(index.ClassName, StringComparer.Ordinal);
        bool imageToImage = ImageToImageClasses.Contains(index.ClassName, StringComparer.Ordinal);
        if (!textToImage && !imageToImage)
        {
            throw new ModelLoadException(index.Path,
                $"pipeline class '{index.ClassName}' is not supported; supported: {string.Join(", ", TextToImageClasses.Concat(ImageToImageClasses))}");
        }
        if (!options.FollowExternalLinks)
        {
            ModelFolderTrust.Check(modelPath, index);
        }
        ILoggerFactory loggerFactory = options.LoggerFactory ?? DiffusionLogging.LoggerFactory;
        IComponentLoader backend = options.Backend ?? DefaultBackend.Get();

        // 1. Files and configurations the core reads, and cross-checks that need no graph.
        IScheduler scheduler = LoadScheduler(modelPath, index, options, loggerFactory);
        string tokenizerDir = ComponentFolders.Require(modelPath, index, "tokenizer");
        TextEncoderConfigInfo textEncoderConfig = TextEncoderConfigInfo.Read(ComponentFolders.Require(modelPath, index, "text_encoder"));
        UNetConfigInfo.Read(ComponentFolders.Require(modelPath, index, "unet"));
        VaeConfigReader.Read(ComponentFolders.Vae(modelPath, index, "vae_decoder"));
        if (imageToImage)
        {
            VaeConfigReader.Read(ComponentFolders.Vae(modelPath, index, "vae_encoder"));
        }
        ClipTokenizer tokenizer = ClipTokenizer.FromPretrained(tokenizerDir,
            new ClipTokenizerOptions { UseFtfy = options.UseFtfy, Logger = loggerFactory.CreateLogger<ClipTokenizer>() });
        string tokenizerConfig = Path.Combine(tokenizerDir, "tokenizer_config.json");
        if (textEncoderConfig.VocabSize is int vocabulary && tokenizer.VocabSize > vocabulary)
        {
            // Ids at or above vocab_size would only fail at the first generate call, inside the embedding lookup.
            throw new ModelLoadException(Path.Combine(tokenizerDir, "vocab.json"),
                $"the tokenizer has {tokenizer.VocabSize} tokens but the text encoder's vocab_size is {vocabulary} ({textEncoderConfig.Path}): they come from different models");
        }
        if (textEncoderConfig.MaxPositionEmbeddings is int positions && tokenizer.ModelMaxLength > positions)
        {
            throw new ModelLoadException(tokenizerConfig,
                $"model_max_length is {tokenizer.ModelMaxLength} but the text encoder takes at most {positions} tokens (max_position_embeddings in {textEncoderConfig.Path})");
        }

        // 2. The neural components, through the backend.
        var request = new ComponentLoadRequest
        {
            ModelPath = Path.GetFullPath(modelPath),
            Components = imageToImage ? ComponentKinds.ImageToImage : ComponentKinds.TextToImage,
            Dtype = options.Dtype,
            Variant = options.Variant,
            LowMemory = options.LowMemory,
            LoggerFactory = loggerFactory,
        };
        cancellationToken.ThrowIfCancellationRequested();
        LoadedComponents loaded = backend.Load(request, cancellationToken);
        try
        {
            ITextEncoder textEncoder = loaded.TextEncoder ?? throw new ModelLoadException(modelPath, "the backend loaded no text encoder");
            IUNet unet = loaded.Unet ?? throw new ModelLoadException(modelPath, "the backend loaded no UNet");
            IVaeDecoder decoder = loaded.VaeDecoder ?? throw new ModelLoadException(modelPath, "the backend loaded no VAE decoder");
            if (imageToImage && loaded.VaeEncoder is null)
            {
                throw new ModelLoadException(modelPath, "the backend loaded no VAE encoder");
            }
            CheckComponentsAgree(modelPath, tokenizer, tokenizerConfig, textEncoder, unet, decoder);

            var shared = new SharedComponents([loaded]);
            var components = new StableDiffusionComponents
            {
                Tokenizer = tokenizer,
                TextEncoder = textEncoder,
                Unet = unet,
                VaeDecoder = decoder,
                VaeEncoder = loaded.VaeEncoder,
                Scheduler = scheduler,
                Shared = shared,
            };
            var origin = new PipelineOrigin(request.ModelPath, backend, request);
            try
            {
                return imageToImage
                    ? new StableDiffusionImg2ImgPipeline(components, origin, loggerFactory.CreateLogger(typeof(StableDiffusionImg2ImgPipeline).FullName!))
                    : new StableDiffusionPipeline(components, origin, loggerFactory.CreateLogger(typeof(StableDiffusionPipeline).FullName!));
            }
            finally
            {
                shared.Release(); // the pipeline holds its own reference now (or none, if it failed)
            }
        }
        catch
        {
            loaded.Dispose();
            throw;
        }
    }

    /// <summary>A model folder as given, or the snapshot folder of a Hub repo id (downloaded into the cache Python uses), as
    /// diffusers decides: an existing folder wins, else a valid repo id goes to the Hub.</summary>
    private static string Resolve(string pathOrRepoId, DiffusionPipelineOptions options, CancellationToken cancellationToken)
    {
        if (Directory.Exists(pathOrRepoId))
        {
            return pathOrRepoId;
        }
        if (File.Exists(pathOrRepoId) || !HubClient.IsRepoId(pathOrRepoId))
        {
            throw new ModelLoadException(pathOrRepoId, File.Exists(pathOrRepoId)
                ? "a file, not a model folder (a model folder holds model_index.json)"
                : "model folder not found (and not a Hugging Face Hub repo id such as SPRIGHT-T2I/spright-t2i-sd2)");
        }
        return HubClient.DownloadPipeline(pathOrRepoId, options.HubOverrides ?? new HubDownloadOptions
        {
            Revision = options.Revision,
            Token = options.Token,
            LocalFilesOnly = options.LocalFilesOnly,
            CacheDir = options.CacheDir,
            Variant = options.Variant,
            UseSafetensors = options.UseSafetensors,
            Progress = options.DownloadProgress,
        }, cancellationToken);
    }

    private static void CheckOptions(DiffusionPipelineOptions options)
    {
        if (options.Scheduler is { } scheduler && !SchedulerRegistry.IsKnown(scheduler))
        {
            throw new ArgumentException($"Scheduler '{scheduler}' is not supported; supported: {string.Join(", ", SchedulerRegistry.Names)}.", nameof(options.Scheduler));
        }
        if (options.Dtype is Dtype dtype && !Enum.IsDefined(dtype))
        {
            throw new ArgumentOutOfRangeException(nameof(options.Dtype), dtype, "Dtype must be Float32 or Float16.");
        }
        if (options.Variant is { } variant && (variant.Length is 0 or > 64 || !variant.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-')))
        {
            throw new ArgumentException($"Variant '{variant}' must be 1 to 64 letters, digits, '_' or '-' (e.g. fp16).", nameof(options.Variant));
        }
    }

    /// <summary>Checks that the components come from one model, each against the file at fault.</summary>
    private static void CheckComponentsAgree(string modelPath, ClipTokenizer tokenizer, string tokenizerConfig, ITextEncoder textEncoder, IUNet unet, IVaeDecoder decoder)
    {
        if (textEncoder.MaxSequenceLength is int longest && tokenizer.ModelMaxLength > longest)
        {
            throw new ModelLoadException(tokenizerConfig,
                $"model_max_length is {tokenizer.ModelMaxLength} but the text encoder takes at most {longest} tokens");
        }
        if (textEncoder.HiddenSize is int hidden && unet.Info.CrossAttentionDim is int cross && hidden != cross)
        {
            throw new ModelLoadException(Path.Combine(modelPath, "unet"),
                $"the UNet expects {cross}-wide text embeddings but the text encoder produces {hidden}-wide ones: the components come from different models");
        }
        if (unet.Info.InChannels != decoder.Info.LatentChannels)
        {
            throw new ModelLoadException(Path.Combine(modelPath, "vae"),
                $"the VAE has {decoder.Info.LatentChannels} latent channels but the UNet takes {unet.Info.InChannels}: the components come from different models");
        }
    }

    private static IScheduler LoadScheduler(string modelPath, ModelIndex index, DiffusionPipelineOptions options, ILoggerFactory loggerFactory)
    {
        string dir = ComponentFolders.Require(modelPath, index, "scheduler");
        string configPath = Path.Combine(dir, "scheduler_config.json");
        SchedulerConfig config = SchedulerConfig.Load(configPath);
        string className = options.Scheduler ?? index.Components["scheduler"].ClassName!;
        if (!SchedulerRegistry.IsKnown(className))
        {
            string where = options.Scheduler is null ? index.Path : configPath;
            throw new ModelLoadException(where, $"scheduler class '{className}' is not supported; supported: {string.Join(", ", SchedulerRegistry.Names)}");
        }
        try
        {
            return SchedulerRegistry.Create(className, config, overrides: null, loggerFactory.CreateLogger("Spright.Diffusion.Schedulers." + className));
        }
        catch (ArgumentException ex)
        {
            throw new ModelLoadException(configPath, ex.Message, ex);
        }
    }
}
