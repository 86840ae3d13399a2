using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace Spright.Diffusion.OnnxRuntime.Sessions;

/// <summary>Session options from <see cref="OnnxRuntimeSettings"/>: optimization level, threads, memory, the provider.</summary>
internal static class SessionOptionsFactory
{
    public static SessionOptions Create(OnnxRuntimeSettings settings, ExecutionProvider provider, string componentName, string modelPath)
    {
        bool small = settings.SmallGraphTuning && IsSmallGraph(modelPath);
        var options = new SessionOptions
        {
            GraphOptimizationLevel = settings.GraphOptimizationLevel,
            EnableMemoryPattern = settings.EnableMemoryPattern || small,
            EnableCpuMemArena = settings.EnableCpuMemArena,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL, // errors arrive as exceptions; ORT's own stderr copy is noise
            LogId = "spright." + componentName,
        };
        if (settings.IntraOpNumThreads > 0)
        {
            options.IntraOpNumThreads = settings.IntraOpNumThreads;
        }
        else if (provider == ExecutionProvider.Cpu && small && !WorksAtImageResolution(componentName))
        {
            // A small graph's operators on latents or tokens are too short to pay for handing work to other threads:
            // one thread is faster (and the UNet then runs the items of a batch side by side on the other cores).
            // The VAE works at image resolution (64 times the latent's pixels), where a second thread pays even for
            // a small graph; it and large graphs get ONNX Runtime's default.
            options.IntraOpNumThreads = 1;
        }
        if (provider == ExecutionProvider.Cpu && small && WorksAtImageResolution(componentName) && settings.IntraOpNumThreads == 0)
        {
            options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        }
        if (settings.InterOpNumThreads > 0)
        {
            options.InterOpNumThreads = settings.InterOpNumThreads;
        }

        try
        {
            switch (provider)
            {
                case ExecutionProvider.Cuda:
                    options.AppendExecutionProvider_CUDA(settings.DeviceId);
                    break;
                case ExecutionProvider.DirectML:
                    // DirectML needs sequential execution and no memory pattern.
                    options.EnableMemoryPattern = false;
                    options.AppendExecutionProvider_DML(settings.DeviceId);
                    break;
            }
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException or OnnxRuntimeException)
        {
            options.Dispose();
            string package = provider == ExecutionProvider.Cuda ? "Microsoft.ML.OnnxRuntime.Gpu (with CUDA 13 and cuDNN 9 installed)" : "Microsoft.ML.OnnxRuntime.DirectML";
            throw new ExecutionProviderUnavailableException(provider,
                $"The {provider} execution provider could not be enabled for {modelPath}: {ex.Message} " +
                $"Reference {package} as the app's only ONNX Runtime native package.", ex);
        }
        return options;
    }

    /// <summary>Whether the component's operators work on image-sized tensors (the VAE's decoder and encoder).</summary>
    private static bool WorksAtImageResolution(string componentName) => componentName.StartsWith("vae", StringComparison.Ordinal);

    /// <summary>Graphs (with their external weights) below this size get <see cref="OnnxRuntimeSettings.SmallGraphTuning"/>.</summary>
    internal const long SmallGraphBytes = 64L << 20;

    /// <summary>Whether a graph (with its weights) is under <see cref="SmallGraphBytes"/>.</summary>
    internal static bool IsSmallGraph(string modelPath) => GraphBytes(modelPath) < SmallGraphBytes;

    /// <summary>The size of a graph file plus the weight files next to it.</summary>
    internal static long GraphBytes(string modelPath)
    {
        long total = new FileInfo(modelPath).Length;
        string dir = Path.GetDirectoryName(Path.GetFullPath(modelPath))!;
        foreach (string file in Directory.EnumerateFiles(dir))
        {
            if (!string.Equals(Path.GetFullPath(file), Path.GetFullPath(modelPath), StringComparison.Ordinal) &&
                !file.EndsWith(".json", StringComparison.OrdinalIgnoreCase) && !file.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase))
            {
                total += new FileInfo(file).Length;
            }
        }
        return total;
    }
}
