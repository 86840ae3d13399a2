using Microsoft.Extensions.Logging;
using Spright.Diffusion.Components;
using Spright.Diffusion.Configuration;
using Spright.Diffusion.OnnxRuntime.Components;
using Spright.Diffusion.OnnxRuntime.LowMemory;
using Spright.Diffusion.OnnxRuntime.Sessions;

namespace Spright.Diffusion.OnnxRuntime.Loading;

/// <summary>
/// Loads a model folder's components as ONNX Runtime sessions. Each component folder is either an ONNX export
/// (<c>model.onnx</c>) or a diffusers folder (<c>config.json</c> + <c>*.safetensors</c>), whose graph is built first. In
/// low-memory mode each graph is loaded once to validate it and read its facts, then released: generation loads each
/// component for its stage only. A load that fails disposes every session it had created.
/// </summary>
internal static class OnnxComponentLoader
{
    public static LoadedComponents Load(ComponentLoadRequest request, OnnxRuntimeSettings settings, CancellationToken cancellationToken)
    {
        ILoggerFactory loggerFactory = request.LoggerFactory;
        ILogger logger = loggerFactory.CreateLogger("Spright.Diffusion.OnnxRuntime.Loading");
        // A GPU provider the app's native package lacks is reported before any file is read.
        if (settings.ExecutionProvider is ExecutionProvider.Cuda or ExecutionProvider.DirectML)
        {
            ProviderResolver.Resolve(settings.ExecutionProvider, logger);
        }
        string modelPath = request.ModelPath;
        ModelIndex index = ModelIndex.Load(modelPath);
        var sources = new GraphSources(index, request, settings, logger);

        var owned = new List<IDisposable>();
        try
        {
            ITextEncoder? textEncoder = null;
            IUNet? unet = null;
            IVaeDecoder? decoder = null;
            IVaeEncoder? encoder = null;
            if (request.Components.HasFlag(ComponentKinds.TextEncoder))
            {
                GraphSource source = sources.Get("text_encoder", ComponentFolders.Require(modelPath, index, "text_encoder"), cancellationToken);
                OnnxTextEncoder Create() => new(source.ModelPath, settings, loggerFactory.CreateLogger<OnnxTextEncoder>(), source.ConfigDirectory);
                if (request.LowMemory)
                {
                    OnnxTextEncoder first = Create();
                    textEncoder = Track(new OnDemandTextEncoder(new OnDemand<ITextEncoder>(Create, first), first.HiddenSize, first.MaxSequenceLength));
                }
                else
                {
                    textEncoder = Track(Create());
                }
            }
            if (request.Components.HasFlag(ComponentKinds.UNet))
            {
                GraphSource source = sources.Get("unet", ComponentFolders.Require(modelPath, index, "unet"), cancellationToken);
                OnnxUNet Create() => new(source.ModelPath, settings, loggerFactory.CreateLogger<OnnxUNet>(), source.ConfigDirectory, anyLatentSize: source.Built);
                if (request.LowMemory)
                {
                    using OnnxUNet probe = Create();
                    unet = Track(new OnDemandUNet(new OnDemand<IUNet>(Create), probe.Info));
                }
                else
                {
                    unet = Track(Create());
                }
            }
            if (request.Components.HasFlag(ComponentKinds.VaeDecoder))
            {
                GraphSource source = sources.Get("vae_decoder", ComponentFolders.Vae(modelPath, index, "vae_decoder"), cancellationToken);
                OnnxVaeDecoder Create() => new(source.ModelPath, settings, loggerFactory.CreateLogger<OnnxVaeDecoder>(), source.ConfigDirectory);
                if (request.LowMemory)
                {
                    using OnnxVaeDecoder probe = Create();
                    decoder = Track(new OnDemandVaeDecoder(new OnDemand<IVaeDecoder>(Create), probe.Info));
                }
                else
                {
                    decoder = Track(Create());
                }
            }
            if (request.Components.HasFlag(ComponentKinds.VaeEncoder))
            {
                GraphSource source = sources.Get("vae_encoder", ComponentFolders.Vae(modelPath, index, "vae_encoder"), cancellationToken);
                OnnxVaeEncoder Create() => new(source.ModelPath, settings, loggerFactory.CreateLogger<OnnxVaeEncoder>(), source.ConfigDirectory);
                if (request.LowMemory)
                {
                    using OnnxVaeEncoder probe = Create();
                    encoder = Track(new OnDemandVaeEncoder(new OnDemand<IVaeEncoder>(Create), probe.Info, probe.OutputKind));
                }
                else
                {
                    encoder = Track(Create());
                }
            }
            cancellationToken.ThrowIfCancellationRequested();
            CheckGraphsAgree(sources, textEncoder, unet, decoder);
            return new LoadedComponents(textEncoder, unet, decoder, encoder);
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

    /// <summary>Graphs from different models, reported against the graph that does not fit (the UNet for a text width,
    /// the VAE for latent channels).</summary>
    private static void CheckGraphsAgree(GraphSources sources, ITextEncoder? textEncoder, IUNet? unet, IVaeDecoder? decoder)
    {
        if (textEncoder?.HiddenSize is int hidden && unet?.Info.CrossAttentionDim is int cross && hidden != cross)
        {
            throw new ModelLoadException(sources.PathOf("unet"),
                $"the UNet expects {cross}-wide text embeddings but the text encoder ({sources.PathOf("text_encoder")}) produces {hidden}-wide ones: the graphs come from different models");
        }
        if (unet is not null && decoder is not null && unet.Info.InChannels != decoder.Info.LatentChannels)
        {
            throw new ModelLoadException(sources.PathOf("vae_decoder"),
                $"the VAE has {decoder.Info.LatentChannels} latent channels but the UNet ({sources.PathOf("unet")}) takes {unet.Info.InChannels}: the graphs come from different models");
        }
    }
}
