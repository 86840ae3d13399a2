using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace Spright.Diffusion.OnnxRuntime.Sessions;

/// <summary>Resolves the requested execution provider against the loaded native library, with an error naming the
/// NuGet package to add when it lacks the provider.</summary>
internal static class ProviderResolver
{
    private const string CudaProvider = "CUDAExecutionProvider";
    private const string DmlProvider = "DmlExecutionProvider";

    /// <summary>Chooses the concrete provider for <paramref name="requested"/>, checking the loaded native library.</summary>
    public static ExecutionProvider Resolve(ExecutionProvider requested, ILogger logger)
    {
        string[] available = AvailableProviders();
        switch (requested)
        {
            case ExecutionProvider.Cpu:
                return ExecutionProvider.Cpu;
            case ExecutionProvider.Cuda:
                if (!available.Contains(CudaProvider))
                {
                    throw new ExecutionProviderUnavailableException(requested, CudaUnavailableMessage(available, NativeRuntimeProbe.FindCudaProviderLibrary()));
                }
                return ExecutionProvider.Cuda;
            case ExecutionProvider.DirectML:
                if (!available.Contains(DmlProvider))
                {
                    throw new ExecutionProviderUnavailableException(requested,
                        $"DirectML was requested, but the ONNX Runtime native library loaded by this app offers only [{string.Join(", ", available)}]. " +
                        "Reference the NuGet package Microsoft.ML.OnnxRuntime.DirectML (Windows only) instead of Microsoft.ML.OnnxRuntime.");
                }
                return ExecutionProvider.DirectML;
            case ExecutionProvider.Auto:
                if (available.Contains(CudaProvider))
                {
                    return ExecutionProvider.Cuda;
                }
                if (available.Contains(DmlProvider))
                {
                    return ExecutionProvider.DirectML;
                }
                if (NativeRuntimeProbe.FindCudaProviderLibrary() is { } cudaLibrary)
                {
                    logger.LogWarning("Auto execution provider: using the CPU although the CUDA provider of Microsoft.ML.OnnxRuntime.Gpu is deployed ({Library}): " +
                        "the app references both Microsoft.ML.OnnxRuntime and Microsoft.ML.OnnxRuntime.Gpu and the CPU library won; remove Microsoft.ML.OnnxRuntime.", cudaLibrary);
                }
                if (logger.IsEnabled(LogLevel.Information))
                {
                    logger.LogInformation("Auto execution provider: no GPU provider in the loaded ONNX Runtime ({Providers}); using the CPU.", string.Join(", ", available));
                }
                return ExecutionProvider.Cpu;
            default:
                throw new ArgumentOutOfRangeException(nameof(requested), requested, "Unknown execution provider; use Cpu, Cuda, DirectML or Auto.");
        }
    }

    /// <summary>Why CUDA is unavailable: both native packages referenced (the GPU package's CUDA provider library is
    /// deployed, yet the loaded library lacks CUDA), or no GPU package.</summary>
    internal static string CudaUnavailableMessage(string[] available, string? deployedCudaProvider)
    {
        string offered = $"CUDA was requested, but the ONNX Runtime native library loaded by this app offers only [{string.Join(", ", available)}]";
        return deployedCudaProvider is not null
            ? $"{offered}, although the CUDA provider of Microsoft.ML.OnnxRuntime.Gpu is deployed with it ({deployedCudaProvider}): " +
              "the app references both Microsoft.ML.OnnxRuntime (CPU) and Microsoft.ML.OnnxRuntime.Gpu, and the CPU library won. " +
              "Remove the Microsoft.ML.OnnxRuntime reference (if another package brings it, `dotnet list package --include-transitive` shows which)."
            : $"{offered}. Reference the NuGet package Microsoft.ML.OnnxRuntime.Gpu (needs CUDA 13 and cuDNN 9) instead of Microsoft.ML.OnnxRuntime: " +
              "when both native packages are referenced the CPU-only library wins and CUDA is silently lost.";
    }

    /// <summary>The providers the loaded native library offers.</summary>
    public static string[] AvailableProviders()
    {
        try
        {
            return OrtEnv.Instance().GetAvailableProviders();
        }
        catch (Exception ex) when (ex is DllNotFoundException or TypeInitializationException or EntryPointNotFoundException)
        {
            throw new ExecutionProviderUnavailableException(ExecutionProvider.Cpu,
                "The ONNX Runtime native library could not be loaded. Add one native package to the app: Microsoft.ML.OnnxRuntime (CPU), " +
                "Microsoft.ML.OnnxRuntime.Gpu (CUDA) or Microsoft.ML.OnnxRuntime.DirectML (Windows). " + ex.Message, ex);
        }
    }
}
