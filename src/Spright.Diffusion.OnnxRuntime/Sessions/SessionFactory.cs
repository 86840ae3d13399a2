using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using Spright.Diffusion.Logging;

namespace Spright.Diffusion.OnnxRuntime.Sessions;

/// <summary>Creates ONNX Runtime sessions for model components: options, provider, the optimized-graph cache, and load
/// errors turned into <see cref="ModelLoadException"/>s naming the file.</summary>
internal static partial class SessionFactory
{
    /// <summary>Creates a session for the graph at <paramref name="modelPath"/>.</summary>
    public static InferenceSession Create(string modelPath, string componentName, OnnxRuntimeSettings settings, ILogger? logger = null) =>
        Create(modelPath, componentName, settings, out _, logger);

    /// <summary>Creates a session for the graph at <paramref name="modelPath"/>; <paramref name="traits"/> tell how it
    /// runs (after the settings' hook ran). <paramref name="dimensionOverrides"/> fix named symbolic dimensions (a
    /// session specialised for one shape; such sessions bypass the optimized-graph cache).</summary>
    public static InferenceSession Create(string modelPath, string componentName, OnnxRuntimeSettings settings, out SessionTraits traits,
        ILogger? logger = null, IReadOnlyList<KeyValuePair<string, long>>? dimensionOverrides = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        logger ??= DiffusionLogging.CreateLogger("Spright.Diffusion.OnnxRuntime");
        if (!File.Exists(modelPath))
        {
            throw new ModelLoadException(modelPath, $"the {componentName} graph file is missing");
        }

        ExecutionProvider provider = ProviderResolver.Resolve(settings.ExecutionProvider, logger);
        string? cachedPath = null;
        string? cacheTarget = null;
        if (settings.OptimizedModelCacheDirectory is { } cacheDir && dimensionOverrides is null)
        {
            string key = OptimizedGraphCache.Key(modelPath, provider, settings);
            string folder = Path.Combine(cacheDir, $"{componentName}-{key}");
            string candidate = Path.Combine(folder, "model.onnx");
            if (File.Exists(candidate))
            {
                cachedPath = candidate;
            }
            else
            {
                cacheTarget = folder;
            }
        }

        SessionOptions options = SessionOptionsFactory.Create(settings, provider, componentName, modelPath);
        string? tempFolder = null;
        try
        {
            foreach ((string name, long value) in dimensionOverrides ?? [])
            {
                options.AddFreeDimensionOverrideByName(name, value);
            }
            if (cachedPath is not null)
            {
                // The cached graph is already optimized: skip the (slow) optimization passes.
                options.GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL;
            }
            else if (cacheTarget is not null)
            {
                tempFolder = cacheTarget + ".tmp-" + Guid.NewGuid().ToString("N");
                Directory.CreateDirectory(tempFolder);
                options.OptimizedModelFilePath = Path.Combine(tempFolder, "model.onnx");
                options.AddSessionConfigEntry("session.optimized_model_external_initializers_file_name", "model.onnx_data");
                options.AddSessionConfigEntry("session.optimized_model_external_initializers_min_size_in_bytes", "1024");
            }

            settings.ConfigureSessionOptions?.Invoke(componentName, options);
            traits = new SessionTraits(provider, options.EnableCpuMemArena, provider == ExecutionProvider.Cpu && options.IntraOpNumThreads == 1,
                settings.SmallGraphTuning && SessionOptionsFactory.IsSmallGraph(modelPath));
            InferenceSession session = CreateSession(cachedPath ?? modelPath, options, componentName, modelPath);

            if (tempFolder is not null && cacheTarget is not null)
            {
                OptimizedGraphCache.Publish(tempFolder, cacheTarget, logger);
                tempFolder = null;
            }
            return session;
        }
        finally
        {
            options.Dispose();
            if (tempFolder is not null)
            {
                OptimizedGraphCache.TryDeleteDirectory(tempFolder);
            }
        }
    }

    private static InferenceSession CreateSession(string path, SessionOptions options, string componentName, string originalPath)
    {
        try
        {
            return new InferenceSession(path, options);
        }
        catch (OnnxRuntimeException ex)
        {
            string message = NativeMessages.Shorten(ex.Message, path);
            string problem = message.Contains("external", StringComparison.OrdinalIgnoreCase) || message.Contains("No such file", StringComparison.OrdinalIgnoreCase)
                ? $"the {componentName} graph's external weights could not be read (is the weights file next to it complete?): {message}"
                : $"ONNX Runtime cannot load the {componentName} graph: {message}";
            throw new ModelLoadException(originalPath, problem, ex);
        }
    }
}
