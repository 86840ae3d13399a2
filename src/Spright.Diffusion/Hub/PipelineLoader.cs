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

    /// <summary>
    /// Loads every component. Everything cheap is read and cross-checked first (scheduler, tokenizer, every
    /// <c>config.json</c>, the graph files' presence), so a broken JSON file fails before any multi-GB graph is
    /// loaded; then the ONNX sessions are created. On failure, every session already created is disposed.
    /// </summary>
    public static StableDiffusionComponents LoadComponents(string modelPath, ModelIndex index, DiffusionPipelineOptions options, bool loadVaeEncoder,
        ILoggerFactory loggerFactory, ILogger logger)
    {
        // 0. The options themselves, and a GPU provider the app's native package lacks: before reading anything.
        CheckOptions(options);
        if (options.ExecutionProvider is ExecutionProvider.Cuda or ExecutionProvider.DirectML)
        {
            OnnxSessionFactory.ResolveProvider(options.ExecutionProvider, logger);
        }

        // 1. Files and configurations.
        IScheduler scheduler = LoadScheduler(modelPath, index, options, loggerFactory);
        string tokenizerDir = ComponentFolder(modelPath, index, "tokenizer");
        string textEncoderDir = ComponentFolder(modelPath, index, "text_encoder");
        string textEncoderGraph = GraphPath(textEncoderDir, "text_encoder");
        TextEncoderConfigInfo textEncoderConfig = TextEncoderConfigInfo.Read(textEncoderDir);
        string unetDir = ComponentFolder(modelPath, index, "unet");
        string unetGraph = GraphPath(unetDir, "unet");
        UNetConfigInfo unetConfig = UNetConfigInfo.Read(unetDir);
        string decoderDir = VaeFolder(modelPath, index, "vae_decoder");
        string decoderGraph = GraphPath(decoderDir, "vae_decoder");
        VaeConfigReader.Read(decoderDir);
        string? encoderGraph = null;
        if (loadVaeEncoder)
        {
            string encoderDir = VaeFolder(modelPath, index, "vae_encoder");
            encoderGraph = GraphPath(encoderDir, "vae_encoder");
            VaeConfigReader.Read(encoderDir);
        }
        ClipTokenizer tokenizer = ClipTokenizer.FromPretrained(tokenizerDir,
            new ClipTokenizerOptions { UseFtfy = options.UseFtfy, Logger = loggerFactory.CreateLogger<ClipTokenizer>() });
        CheckConfigsAgree(Path.Combine(tokenizerDir, "tokenizer_config.json"), tokenizer, textEncoderConfig);

        // 2. Sessions.
        var owned = new List<IDisposable>();
        try
        {
            OnnxTextEncoder LoadTextEncoder() => new(textEncoderGraph, options, loggerFactory.CreateLogger<OnnxTextEncoder>());
            OnnxUNet LoadUNet() => new(unetGraph, options, loggerFactory.CreateLogger<OnnxUNet>());
            OnnxVaeDecoder LoadDecoder() => new(decoderGraph, options, loggerFactory.CreateLogger<OnnxVaeDecoder>());

            ITextEncoder textEncoder;
            int? fixedSequenceLength;
            IUNet unet;
            IVaeDecoder decoder;
            IVaeEncoder? encoder = null;
            if (options.LowMemory)
            {
                // Each graph is loaded once to validate it and read its facts, then released: generation loads each
                // component for its stage only (the text encoder stays loaded until the first call's encoding ends).
                OnnxTextEncoder firstTextEncoder = LoadTextEncoder();
                fixedSequenceLength = firstTextEncoder.FixedSequenceLength;
                textEncoder = Track(new OnDemandTextEncoder(new OnDemand<ITextEncoder>(LoadTextEncoder, firstTextEncoder), firstTextEncoder.HiddenSize));
                using (OnnxUNet probe = LoadUNet())
                {
                    unet = Track(new OnDemandUNet(new OnDemand<IUNet>(LoadUNet), probe.InChannels, probe.SampleSize, probe.CrossAttentionDim));
                }
                using (OnnxVaeDecoder probe = LoadDecoder())
                {
                    decoder = Track(new OnDemandVaeDecoder(new OnDemand<IVaeDecoder>(LoadDecoder), probe.Info));
                }
            }
            else
            {
                OnnxTextEncoder loaded = Track(LoadTextEncoder());
                fixedSequenceLength = loaded.FixedSequenceLength;
                textEncoder = loaded;
                unet = Track(LoadUNet());
                decoder = Track(LoadDecoder());
            }
            if (encoderGraph is not null)
            {
                encoder = Track(LoadVaeEncoderGraph(encoderGraph, options, loggerFactory));
            }

            if (fixedSequenceLength is int fixedLength && fixedLength != tokenizer.ModelMaxLength)
            {
                throw new ModelLoadException(Path.Combine(tokenizerDir, "tokenizer_config.json"),
                    $"model_max_length is {tokenizer.ModelMaxLength} but the text encoder graph ({textEncoderGraph}) takes exactly {fixedLength} tokens");
            }
            if (textEncoder.HiddenSize is int hidden && unet.CrossAttentionDim is int cross && hidden != cross)
            {
                throw new ModelLoadException(unetGraph, $"the UNet expects {cross}-wide text embeddings but the text encoder ({textEncoderGraph}) produces {hidden}-wide ones: the graphs come from different models");
            }
            if (unet.InChannels != decoder.Info.LatentChannels)
            {
                throw new ModelLoadException(decoderGraph, $"the VAE has {decoder.Info.LatentChannels} latent channels but the UNet ({unetGraph}) takes {unet.InChannels}: the graphs come from different models");
            }
            if (logger.IsEnabled(LogLevel.Debug))
            {
                logger.LogDebug("Loaded {Model}: scheduler {Scheduler}, UNet sample size {SampleSize}.", modelPath, scheduler.ClassName, unet.SampleSize);
            }

            return new StableDiffusionComponents
            {
                Tokenizer = tokenizer,
                TextEncoder = textEncoder,
                Unet = unet,
                VaeDecoder = decoder,
                VaeEncoder = encoder,
                Scheduler = scheduler,
                UNetDownsamplingFactor = unetConfig.DownsamplingFactor,
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

    private static void CheckOptions(DiffusionPipelineOptions options)
    {
        if (options.Scheduler is { } scheduler && !SchedulerRegistry.IsKnown(scheduler))
        {
            throw new ArgumentException($"Scheduler '{scheduler}' is not supported; supported: {string.Join(", ", SchedulerRegistry.Names)}.", nameof(options.Scheduler));
        }
        if (!Enum.IsDefined(options.ExecutionProvider))
        {
            throw new ArgumentOutOfRangeException(nameof(options.ExecutionProvider), options.ExecutionProvider, "ExecutionProvider must be Cpu, Cuda, DirectML or Auto.");
        }
        if (options.DeviceId < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options.DeviceId), options.DeviceId, "DeviceId must be 0 or more.");
        }
        if (options.IntraOpNumThreads < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options.IntraOpNumThreads), options.IntraOpNumThreads, "IntraOpNumThreads must be 0 (ONNX Runtime chooses) or more.");
        }
        if (options.InterOpNumThreads < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options.InterOpNumThreads), options.InterOpNumThreads, "InterOpNumThreads must be 0 (ONNX Runtime chooses) or more.");
        }
    }

    /// <summary>Checks what can be checked between configurations before any graph is loaded. Widths and channels
    /// are checked after loading, each configuration against its own graph first, so the error names the file at fault.</summary>
    private static void CheckConfigsAgree(string tokenizerConfig, ClipTokenizer tokenizer, TextEncoderConfigInfo textEncoder)
    {
        if (textEncoder.MaxPositionEmbeddings is int positions && tokenizer.ModelMaxLength > positions)
        {
            throw new ModelLoadException(tokenizerConfig,
                $"model_max_length is {tokenizer.ModelMaxLength} but the text encoder takes at most {positions} tokens (max_position_embeddings in {textEncoder.Path})");
        }
    }

    /// <summary>Loads the VAE encoder of a model folder (for image-to-image built from a text-to-image pipeline).</summary>
    public static IVaeEncoder LoadVaeEncoder(string modelPath, DiffusionPipelineOptions options, ILoggerFactory loggerFactory)
    {
        ModelIndex index = ModelIndex.Load(modelPath);
        string encoderDir = VaeFolder(modelPath, index, "vae_encoder");
        VaeConfigReader.Read(encoderDir);
        return LoadVaeEncoderGraph(GraphPath(encoderDir, "vae_encoder"), options, loggerFactory);
    }

    /// <summary>Loads the VAE encoder graph (an on-demand one in low-memory mode).</summary>
    private static IVaeEncoder LoadVaeEncoderGraph(string graphPath, DiffusionPipelineOptions options, ILoggerFactory loggerFactory)
    {
        OnnxVaeEncoder Load() => new(graphPath, options, loggerFactory.CreateLogger<OnnxVaeEncoder>());
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
}
