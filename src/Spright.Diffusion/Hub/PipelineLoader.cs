using Microsoft.Extensions.Logging;
using Spright.Diffusion.Logging;
using Spright.Diffusion.Models;
using Spright.Diffusion.Models.Onnx;
using Spright.Diffusion.Pipelines;
using Spright.Diffusion.Schedulers;
using Spright.Diffusion.Tokenization;

namespace Spright.Diffusion.Hub;

/// <summary>
/// Builds a pipeline from a model folder the way diffusers' <c>DiffusionPipeline.from_pretrained</c> does: the pipeline
/// class from <c>model_index.json</c>, each component from its sub-folder. Knows optimum's export layout (the VAE as
/// <c>vae_decoder</c>/<c>vae_encoder</c> folders while the index says <c>vae</c>) and the legacy ONNX script layout.
/// </summary>
internal static class PipelineLoader
{
    /// <summary>Pipeline class names that load as text-to-image.</summary>
    public static readonly string[] TextToImageClasses =
        ["StableDiffusionPipeline", "OnnxStableDiffusionPipeline", "ORTStableDiffusionPipeline", "StableDiffusionOnnxPipeline"];

    /// <summary>Pipeline class names that load as image-to-image.</summary>
    public static readonly string[] ImageToImageClasses =
        ["StableDiffusionImg2ImgPipeline", "OnnxStableDiffusionImg2ImgPipeline", "ORTStableDiffusionImg2ImgPipeline"];

    public static DiffusionPipeline Load(string modelPath, ModelIndex index, DiffusionPipelineOptions options)
    {
        bool textToImage = TextToImageClasses.Contains(index.ClassName, StringComparer.Ordinal);
        bool imageToImage = ImageToImageClasses.Contains(index.ClassName, StringComparer.Ordinal);
        if (!textToImage && !imageToImage)
        {
            throw new ModelLoadException(index.Path,
                $"pipeline class '{index.ClassName}' is not supported; supported: {string.Join(", ", TextToImageClasses.Concat(ImageToImageClasses))}");
        }

        ILoggerFactory loggerFactory = options.LoggerFactory ?? DiffusionLogging.LoggerFactory;
        ILogger logger = loggerFactory.CreateLogger("Spright.Diffusion.Hub.PipelineLoader");
        StableDiffusionComponents components = LoadComponents(modelPath, index, options, loadVaeEncoder: imageToImage, loggerFactory, logger);
        try
        {
            ILogger pipelineLogger = loggerFactory.CreateLogger(imageToImage ? typeof(StableDiffusionImg2ImgPipeline).FullName! : typeof(StableDiffusionPipeline).FullName!);
            DiffusionPipeline pipeline = imageToImage
                ? new StableDiffusionImg2ImgPipeline(components, Path.GetFullPath(modelPath), pipelineLogger)
                : new StableDiffusionPipeline(components, Path.GetFullPath(modelPath), pipelineLogger);
            components.Shared!.Release(); // the pipeline holds its own reference now
            return pipeline;
        }
        catch
        {
            components.Shared!.Release();
            throw;
        }
    }

    /// <summary>Loads every component; on failure, disposes what was loaded.</summary>
    public static StableDiffusionComponents LoadComponents(string modelPath, ModelIndex index, DiffusionPipelineOptions options, bool loadVaeEncoder,
        ILoggerFactory loggerFactory, ILogger logger)
    {
        var owned = new List<IDisposable>();
        try
        {
            IScheduler scheduler = LoadScheduler(modelPath, index, options, loggerFactory);
            string tokenizerDir = ComponentFolder(modelPath, index, "tokenizer");
            IPromptTokenizer tokenizer = ClipTokenizer.FromPretrained(tokenizerDir,
                new ClipTokenizerOptions { UseFtfy = options.UseFtfy, Logger = loggerFactory.CreateLogger<ClipTokenizer>() });

            string textEncoderPath = GraphPath(ComponentFolder(modelPath, index, "text_encoder"), "text_encoder");
            OnnxTextEncoder LoadTextEncoder() => new(textEncoderPath, options, loggerFactory.CreateLogger<OnnxTextEncoder>());
            string unetDir = ComponentFolder(modelPath, index, "unet");
            OnnxUNet LoadUNet() => new(GraphPath(unetDir, "unet"), options, loggerFactory.CreateLogger<OnnxUNet>());
            int? downsampling = UNetDownsampling(unetDir);
            string decoderDir = VaeFolder(modelPath, index, "vae_decoder");
            OnnxVaeDecoder LoadDecoder() => new(GraphPath(decoderDir, "vae_decoder"), options, loggerFactory.CreateLogger<OnnxVaeDecoder>());

            ITextEncoder textEncoder;
            IUNet unet;
            IVaeDecoder decoder;
            IVaeEncoder? encoder = null;
            if (options.LowMemory)
            {
                // Each graph is loaded once to validate it and read its facts, then released: generation loads each
                // component for its stage only (the text encoder stays loaded until the first call's encoding ends).
                OnnxTextEncoder firstTextEncoder = LoadTextEncoder();
                textEncoder = Track(new OnDemandTextEncoder(new OnDemand<ITextEncoder>(LoadTextEncoder, firstTextEncoder), firstTextEncoder.HiddenSize));
                using (OnnxUNet probe = LoadUNet())
                {
                    unet = Track(new OnDemandUNet(new OnDemand<IUNet>(LoadUNet), probe.InChannels, probe.SampleSize, probe.CrossAttentionDim));
                }
                using (OnnxVaeDecoder probe = LoadDecoder())
                {
                    decoder = Track(new OnDemandVaeDecoder(new OnDemand<IVaeDecoder>(LoadDecoder), probe.Info));
                }
                if (loadVaeEncoder)
                {
                    encoder = Track(LoadVaeEncoder(modelPath, index, options, loggerFactory));
                }
            }
            else
            {
                textEncoder = Track(LoadTextEncoder());
                unet = Track(LoadUNet());
                decoder = Track(LoadDecoder());
                if (loadVaeEncoder)
                {
                    encoder = Track(LoadVaeEncoder(modelPath, index, options, loggerFactory));
                }
            }

            if (textEncoder.HiddenSize is int hidden && unet.CrossAttentionDim is int cross && hidden != cross)
            {
                throw new ModelLoadException(GraphPath(unetDir, "unet"), $"the UNet expects {cross}-wide text embeddings but the text encoder produces {hidden}");
            }
            if (unet.InChannels != decoder.Info.LatentChannels)
            {
                throw new ModelLoadException(GraphPath(decoderDir, "vae_decoder"), $"the VAE has {decoder.Info.LatentChannels} latent channels but the UNet takes {unet.InChannels}");
            }
            logger.LogDebug("Loaded {Model}: scheduler {Scheduler}, UNet sample size {SampleSize}.", modelPath, scheduler.ClassName, unet.SampleSize);

            return new StableDiffusionComponents
            {
                Tokenizer = tokenizer,
                TextEncoder = textEncoder,
                Unet = unet,
                VaeDecoder = decoder,
                VaeEncoder = encoder,
                Scheduler = scheduler,
                UNetDownsamplingFactor = downsampling,
                Shared = new SharedComponents(owned),
            };
        }
        catch
        {
            foreach (IDisposable d in owned)
            {
                d.Dispose();
            }
            throw;
        }

        T Track<T>(T item) where T : IDisposable
        {
            owned.Add(item);
            return item;
        }
    }

    /// <summary>Loads the VAE encoder of a model folder (for image-to-image built from a text-to-image pipeline).</summary>
    public static IVaeEncoder LoadVaeEncoder(string modelPath, DiffusionPipelineOptions options, ILoggerFactory loggerFactory) =>
        LoadVaeEncoder(modelPath, ModelIndex.Load(modelPath), options, loggerFactory);

    /// <summary>Loads the VAE encoder (an on-demand one in low-memory mode).</summary>
    private static IVaeEncoder LoadVaeEncoder(string modelPath, ModelIndex index, DiffusionPipelineOptions options, ILoggerFactory loggerFactory)
    {
        string path = GraphPath(VaeFolder(modelPath, index, "vae_encoder"), "vae_encoder");
        OnnxVaeEncoder Load() => new(path, options, loggerFactory.CreateLogger<OnnxVaeEncoder>());
        if (!options.LowMemory)
        {
            return Load();
        }
        using OnnxVaeEncoder probe = Load();
        return new OnDemandVaeEncoder(new OnDemand<IVaeEncoder>(Load), probe.Info, probe.OutputKind);
    }

    private static IScheduler LoadScheduler(string modelPath, ModelIndex index, DiffusionPipelineOptions options, ILoggerFactory loggerFactory)
    {
        string dir = ComponentFolder(modelPath, index, "scheduler");
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

    private static string ComponentFolder(string modelPath, ModelIndex index, string name)
    {
        if (!index.TryGetComponent(name, out _))
        {
            throw new ModelLoadException(index.Path, $"the pipeline needs a '{name}' component but model_index.json has none");
        }
        string dir = ModelFiles.ResolveInside(modelPath, name, index.Path);
        if (!Directory.Exists(dir))
        {
            throw new ModelLoadException(dir, $"the '{name}' component folder is missing");
        }
        return dir;
    }

    /// <summary>optimum lists the VAE as <c>vae</c> but exports <c>vae_decoder/</c> and <c>vae_encoder/</c>.</summary>
    private static string VaeFolder(string modelPath, ModelIndex index, string name)
    {
        if (!index.TryGetComponent(name, out _) && !index.TryGetComponent("vae", out _))
        {
            throw new ModelLoadException(index.Path, $"the pipeline needs a VAE ('{name}' or 'vae') but model_index.json has none");
        }
        string dir = ModelFiles.ResolveInside(modelPath, name, index.Path);
        if (!Directory.Exists(dir))
        {
            throw new ModelLoadException(dir, $"the '{name}' folder is missing (an ONNX export keeps the VAE as vae_decoder/ and vae_encoder/)");
        }
        return dir;
    }

    private static string GraphPath(string dir, string component)
    {
        string path = Path.Combine(dir, "model.onnx");
        if (!File.Exists(path))
        {
            throw new ModelLoadException(path, $"the {component} graph file is missing");
        }
        return path;
    }

    private static int? UNetDownsampling(string unetDir)
    {
        JsonConfigFile? config = JsonConfigFile.LoadOptional(Path.Combine(unetDir, "config.json"));
        int[]? blocks = config?.GetIntArray("block_out_channels", 1, 1 << 16);
        return blocks is { Length: > 0 } ? 1 << Math.Min(blocks.Length - 1, 16) : null;
    }
}
