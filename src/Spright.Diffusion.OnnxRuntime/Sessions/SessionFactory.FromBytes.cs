using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using Spright.Diffusion.Logging;

namespace Spright.Diffusion.OnnxRuntime.Sessions;

internal static partial class SessionFactory
{
    /// <summary>Creates a session for a graph held in memory that stands for the file <paramref name="modelPath"/>
    /// (its external weights, if any, are read from that file's folder). No optimized-graph cache.</summary>
    public static InferenceSession CreateFromBytes(byte[] model, string modelPath, string componentName, OnnxRuntimeSettings settings, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(settings);
        logger ??= DiffusionLogging.CreateLogger("Spright.Diffusion.OnnxRuntime");
        ExecutionProvider provider = ProviderResolver.Resolve(settings.ExecutionProvider, logger);
        using SessionOptions options = SessionOptionsFactory.Create(settings, provider, componentName, modelPath);
        options.AddSessionConfigEntry("session.model_external_initializers_file_folder_path", Path.GetDirectoryName(Path.GetFullPath(modelPath))!);
        settings.ConfigureSessionOptions?.Invoke(componentName, options);
        try
        {
            return new InferenceSession(model, options);
        }
        catch (OnnxRuntimeException ex)
        {
            throw new ModelLoadException(modelPath, $"ONNX Runtime cannot load the {componentName} graph: {NativeMessages.Shorten(ex.Message, modelPath)}", ex);
        }
    }
}
