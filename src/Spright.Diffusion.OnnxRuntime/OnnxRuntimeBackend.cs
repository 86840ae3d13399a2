using Spright.Diffusion.Components;
using Spright.Diffusion.OnnxRuntime.Loading;

namespace Spright.Diffusion.OnnxRuntime;

/// <summary>
/// The ONNX Runtime backend: loads ONNX exports (optimum's layout in all its versions, diffusers' legacy layout, float32
/// or float16) and diffusers folders (config.json + safetensors, whose ONNX graphs it builds and caches), and runs them
/// on the execution provider of <see cref="Settings"/>. Pass it as <see cref="DiffusionPipelineOptions.Backend"/>; it is
/// also the backend <see cref="DiffusionPipeline.FromPretrained"/> uses when none is given.
/// </summary>
/// <example>
/// <code>
/// var options = new DiffusionPipelineOptions
/// {
///     Backend = new OnnxRuntimeBackend(new OnnxRuntimeSettings { ExecutionProvider = ExecutionProvider.Cuda }),
///     Dtype = Dtype.Float16,
/// };
/// using var pipe = DiffusionPipeline.FromPretrained("SPRIGHT-T2I/spright-t2i-sd2", options);
/// </code>
/// </example>
public sealed class OnnxRuntimeBackend : IComponentLoader
{
    /// <summary>The backend with default settings (CPU).</summary>
    public OnnxRuntimeBackend()
        : this(new OnnxRuntimeSettings())
    {
    }

    /// <summary>The backend with the given settings.</summary>
    /// <param name="settings">Provider and session settings.</param>
    /// <exception cref="ArgumentException">A setting is out of range (the parameter name is the setting).</exception>
    public OnnxRuntimeBackend(OnnxRuntimeSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        Validate(settings);
        Settings = settings;
    }

    /// <summary>The settings sessions are created with.</summary>
    public OnnxRuntimeSettings Settings { get; }

    /// <inheritdoc />
    public LoadedComponents Load(ComponentLoadRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        return OnnxComponentLoader.Load(request, Settings, cancellationToken);
    }

    private static void Validate(OnnxRuntimeSettings settings)
    {
        if (!Enum.IsDefined(settings.ExecutionProvider))
        {
            throw new ArgumentOutOfRangeException(nameof(settings.ExecutionProvider), settings.ExecutionProvider, "ExecutionProvider must be Cpu, Cuda, DirectML or Auto.");
        }
        if (settings.DeviceId < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(settings.DeviceId), settings.DeviceId, "DeviceId must be 0 or more.");
        }
        if (settings.IntraOpNumThreads < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(settings.IntraOpNumThreads), settings.IntraOpNumThreads, "IntraOpNumThreads must be 0 (ONNX Runtime chooses) or more.");
        }
        if (settings.InterOpNumThreads < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(settings.InterOpNumThreads), settings.InterOpNumThreads, "InterOpNumThreads must be 0 (ONNX Runtime chooses) or more.");
        }
        if (settings.SplitUNetBatchFromLatentPixels < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(settings.SplitUNetBatchFromLatentPixels), settings.SplitUNetBatchFromLatentPixels, "SplitUNetBatchFromLatentPixels must be 0 (never split) or more.");
        }
    }
}
