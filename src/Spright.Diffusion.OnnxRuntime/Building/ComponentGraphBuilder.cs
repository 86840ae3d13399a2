namespace Spright.Diffusion.OnnxRuntime.Building;

/// <summary>A built component graph: the graph, the weight files it reads, and what was built.</summary>
/// <param name="Graph">The graph.</param>
/// <param name="Weights">The weight files (the in-place store's external data points into them).</param>
/// <param name="ConfigPath">The config.json read.</param>
/// <param name="ElementType">The float type of the graph's float inputs and outputs.</param>
internal sealed record BuiltGraph(OnnxGraph Graph, WeightFiles Weights, string ConfigPath, OnnxElementType ElementType);

/// <summary>Builds one component's graph from its folder (config.json + safetensors), with no file written.</summary>
internal static class ComponentGraphBuilder
{
    /// <summary>The opset of the default ONNX domain the builders emit.</summary>
    public const int Opset = 17;

    /// <summary>The weight file prefix of a component kind.</summary>
    public static string WeightPrefix(DiffusersComponentKind kind) => kind == DiffusersComponentKind.TextEncoder ? "model" : "diffusion_pytorch_model";

    /// <summary>Builds the graph of <paramref name="kind"/> from <paramref name="componentFolder"/>.</summary>
    /// <exception cref="ModelLoadException">A missing / invalid config or weight file, a tensor that does not fit the config,
    /// or a config value the builder does not implement.</exception>
    public static BuiltGraph Build(DiffusersComponentKind kind, string componentFolder, GraphBuildOptions options, WeightStore store)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        string configPath = Path.Combine(componentFolder, "config.json");
        ConfigJson config = ConfigJson.Load(configPath);
        WeightFiles weights = WeightFiles.Open(componentFolder, WeightPrefix(kind), options.Variant);
        GraphOptimizations optimizations = options.EffectiveOptimizations;
        OnnxElementType type = options.Dtype == GraphDtype.Float16 ? OnnxElementType.Float16 : OnnxElementType.Float;
        switch (kind)
        {
            case DiffusersComponentKind.TextEncoder:
                {
                    ClipTextConfig clip = ClipTextConfig.Read(config);
                    var graph = new OnnxGraph("text_encoder", Opset);
                    var net = new NetBuilder(graph, weights, store, type, optimizations);
                    ClipTextGraphBuilder.Build(net, clip, options.TextEncoderAttentionMask);
                    return new BuiltGraph(graph, weights, configPath, type);
                }
            case DiffusersComponentKind.UNet:
                {
                    UNetConfig unet = UNetConfig.Read(config);
                    var graph = new OnnxGraph("unet", Opset);
                    var net = new NetBuilder(graph, weights, store, type, optimizations);
                    UNetGraphBuilder.Build(net, unet);
                    return new BuiltGraph(graph, weights, configPath, type);
                }
            case DiffusersComponentKind.VaeEncoder:
            case DiffusersComponentKind.VaeDecoder:
                {
                    VaeConfig vae = VaeConfig.Read(config);
                    // diffusers runs a force_upcast VAE in float32 even in a float16 pipeline.
                    if (vae.ForceUpcast)
                    {
                        type = OnnxElementType.Float;
                    }
                    bool encoder = kind == DiffusersComponentKind.VaeEncoder;
                    var graph = new OnnxGraph(encoder ? "vae_encoder" : "vae_decoder", Opset);
                    var net = new NetBuilder(graph, weights, store, type, optimizations);
                    if (encoder)
                    {
                        VaeGraphBuilder.BuildEncoder(net, vae);
                    }
                    else
                    {
                        VaeGraphBuilder.BuildDecoder(net, vae);
                    }
                    return new BuiltGraph(graph, weights, configPath, type);
                }
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown component kind.");
        }
    }
}
