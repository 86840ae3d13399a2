using Microsoft.Extensions.Logging;

namespace Spright.Diffusion.Components;

/// <summary>What a backend is asked to load: the model folder (a diffusers folder or an ONNX export; already downloaded
/// when it came from the Hub) and how.</summary>
public sealed class ComponentLoadRequest
{
    /// <summary>The model folder (holding <c>model_index.json</c>).</summary>
    public required string ModelPath { get; init; }

    /// <summary>Which components to load.</summary>
    public ComponentKinds Components { get; init; } = ComponentKinds.TextToImage;

    /// <summary>The precision to compute in; null keeps what the model stores.</summary>
    public Dtype? Dtype { get; init; }

    /// <summary>The weight-file variant to load (e.g. <c>fp16</c>), or null.</summary>
    public string? Variant { get; init; }

    /// <summary>Load each component only while a stage holds it (see <see cref="DiffusionPipelineOptions.LowMemory"/>).</summary>
    public bool LowMemory { get; init; }

    /// <summary>Where the components log.</summary>
    public required ILoggerFactory LoggerFactory { get; init; }

    /// <summary>The same request for other components.</summary>
    internal ComponentLoadRequest For(ComponentKinds components) => new()
    {
        ModelPath = ModelPath,
        Components = components,
        Dtype = Dtype,
        Variant = Variant,
        LowMemory = LowMemory,
        LoggerFactory = LoggerFactory,
    };
}
