using Microsoft.Extensions.Logging;
using Spright.Diffusion.Components;
using Spright.Diffusion.Configuration;
using Spright.Diffusion.IO;
using Spright.Diffusion.OnnxRuntime.Building;
using Spright.Diffusion.OnnxRuntime.Sessions;

namespace Spright.Diffusion.OnnxRuntime.Loading;

/// <summary>The graph of one component: the <c>model.onnx</c> to load and the folder holding its <c>config.json</c>.</summary>
/// <param name="ModelPath">The graph file.</param>
/// <param name="ConfigDirectory">The folder of the component's <c>config.json</c>.</param>
/// <param name="Built">Whether the graph was built from a diffusers folder (rather than exported).</param>
internal readonly record struct GraphSource(string ModelPath, string ConfigDirectory, bool Built);

/// <summary>Finds each component's graph: an exported <c>model.onnx</c> in its folder, or a graph built from the
/// folder's <c>config.json</c> and safetensors (diffusers layout).</summary>
internal sealed class GraphSources(ModelIndex index, ComponentLoadRequest request, OnnxRuntimeSettings settings, ILogger logger)
{
    private readonly Dictionary<string, string> _paths = new(StringComparer.Ordinal);
    private bool _warnedExportOptions;
    private GraphBuildOptions? _buildOptions;

    /// <summary>The graph file found for <paramref name="component"/> (for messages).</summary>
    public string PathOf(string component) => _paths.GetValueOrDefault(component, component);

    /// <summary>The graph of <paramref name="component"/> (<c>text_encoder</c>, <c>unet</c>, <c>vae_decoder</c>,
    /// <c>vae_encoder</c>) in <paramref name="folder"/>.</summary>
    public GraphSource Get(string component, string folder, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        string exported = Path.Combine(folder, "model.onnx");
        if (File.Exists(exported))
        {
            RequireRegularFiles(folder);
            WarnIgnoredOptions();
            _paths[component] = exported;
            return new GraphSource(exported, folder, Built: false);
        }
        if (DiffusersGraphs.IsDiffusersLayout(folder))
        {
            string built = DiffusersGraphs.GetOrBuild(KindOf(component), folder, BuildOptions(), cancellationToken);
            _paths[component] = folder;
            return new GraphSource(built, Path.GetDirectoryName(built)!, Built: true);
        }
        throw new ModelLoadException(exported, $"the {component} graph file is missing (no model.onnx, and no config.json with *.safetensors to build one from)");
    }

    private static DiffusersComponentKind KindOf(string component) => component switch
    {
        "text_encoder" => DiffusersComponentKind.TextEncoder,
        "unet" => DiffusersComponentKind.UNet,
        "vae_decoder" => DiffusersComponentKind.VaeDecoder,
        "vae_encoder" => DiffusersComponentKind.VaeEncoder,
        _ => throw new ArgumentOutOfRangeException(nameof(component), component, "Unknown component."),
    };

    /// <summary>How graphs are built for this load: the caller's dtype and variant, the operator set of the provider the
    /// sessions will run on, and the cache folder of the settings.</summary>
    private GraphBuildOptions BuildOptions()
    {
        if (_buildOptions is not null)
        {
            return _buildOptions;
        }
        ExecutionProvider provider = settings.ExecutionProvider is ExecutionProvider.Cpu
            ? ExecutionProvider.Cpu
            : ProviderResolver.Resolve(settings.ExecutionProvider, logger);
        (GraphTarget target, GraphOptimizations? optimizations) = provider switch
        {
            ExecutionProvider.Cuda when settings.CudaFusedOperators => (GraphTarget.Cuda, (GraphOptimizations?)null),
            // The CPU operator set's contrib operators (MultiHeadAttention, SkipLayerNormalization, Gelu) have CUDA kernels too.
            ExecutionProvider.Cuda => (GraphTarget.Cpu, null),
            // DirectML: standard operators only (its contrib-operator coverage differs; untested here).
            ExecutionProvider.DirectML => (GraphTarget.Cpu, GraphOptimizations.None),
            _ => (GraphTarget.Cpu, null),
        };
        _buildOptions = new GraphBuildOptions
        {
            Dtype = request.Dtype == Dtype.Float16 ? GraphDtype.Float16 : GraphDtype.Float32,
            Variant = request.Variant,
            Target = target,
            Optimizations = optimizations,
            CacheDirectory = settings.GraphCacheDirectory,
            TextEncoderAttentionMask = true,
        };
        return _buildOptions;
    }

    /// <summary>ONNX Runtime opens the graph and its external weights itself: a FIFO among them would block it forever and
    /// a device could stream without end, so every file it may open must be a regular file.</summary>
    private static void RequireRegularFiles(string folder)
    {
        foreach (string file in Directory.EnumerateFiles(folder))
        {
            if (!file.EndsWith(".json", StringComparison.OrdinalIgnoreCase) && SafeFiles.Problem(file) is { } problem)
            {
                throw new ModelLoadException(file, problem);
            }
        }
    }

    /// <summary>An ONNX export fixes its precision and weight files: Dtype and Variant cannot change them.</summary>
    private void WarnIgnoredOptions()
    {
        if (_warnedExportOptions || (request.Dtype is null && request.Variant is null))
        {
            return;
        }
        _warnedExportOptions = true;
        logger.LogWarning("{Model} is an ONNX export ({Index}): its graphs fix their precision and weights, so Dtype {Dtype} and Variant {Variant} are ignored.",
            request.ModelPath, index.Path, request.Dtype, request.Variant);
    }
}
