using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using Spright.Diffusion.Logging;

namespace Spright.Diffusion.Models.Onnx;

/// <summary>
/// Creates ONNX Runtime sessions for model components: session options from <see cref="OnnxSessionSettings"/>,
/// the execution provider (with a clear error naming the NuGet package when the native library lacks it), the
/// optional optimized-graph cache, and load errors turned into <see cref="ModelLoadException"/>.
/// </summary>
internal static partial class OnnxSessionFactory
{
    private const string CudaProvider = "CUDAExecutionProvider";
    private const string DmlProvider = "DmlExecutionProvider";

    /// <summary>Creates a session for the graph at <paramref name="modelPath"/>.</summary>
    public static InferenceSession Create(string modelPath, string componentName, OnnxSessionSettings settings, ILogger? logger = null) =>
        Create(modelPath, componentName, settings, out _, logger);

    /// <summary>Creates a session for the graph at <paramref name="modelPath"/>; <paramref name="traits"/> tell how it
    /// runs (after the settings' hook ran). <paramref name="dimensionOverrides"/> fix named symbolic dimensions (a
    /// session specialised for one shape; such sessions bypass the optimized-graph cache).</summary>
    public static InferenceSession Create(string modelPath, string componentName, OnnxSessionSettings settings, out SessionTraits traits,
        ILogger? logger = null, IReadOnlyList<KeyValuePair<string, long>>? dimensionOverrides = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        logger ??= DiffusionLogging.CreateLogger("Spright.Diffusion.Models.Onnx");
        if (!File.Exists(modelPath))
        {
            throw new ModelLoadException(modelPath, $"the {componentName} graph file is missing");
        }

        ExecutionProvider provider = ResolveProvider(settings.ExecutionProvider, logger);
        string? cachedPath = null;
        string? cacheTarget = null;
        if (settings.OptimizedModelCacheDirectory is { } cacheDir && dimensionOverrides is null)
        {
            string key = CacheKey(modelPath, provider, settings);
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

        SessionOptions options = BuildOptions(settings, provider, componentName, modelPath);
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
                IsSmallGraph(modelPath));
            InferenceSession session = CreateSession(cachedPath ?? modelPath, options, componentName, modelPath);

            if (tempFolder is not null && cacheTarget is not null)
            {
                PublishCache(tempFolder, cacheTarget, logger);
                tempFolder = null;
            }
            return session;
        }
        finally
        {
            options.Dispose();
            if (tempFolder is not null)
            {
                TryDeleteDirectory(tempFolder);
            }
        }
    }

    /// <summary>Chooses the concrete provider for <paramref name="requested"/>, checking the loaded native library.</summary>
    public static ExecutionProvider ResolveProvider(ExecutionProvider requested, ILogger logger)
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

    private static SessionOptions BuildOptions(OnnxSessionSettings settings, ExecutionProvider provider, string componentName, string modelPath)
    {
        bool small = IsSmallGraph(modelPath);
        var options = new SessionOptions
        {
            GraphOptimizationLevel = settings.GraphOptimizationLevel,
            EnableMemoryPattern = settings.EnableMemoryPattern ?? small,
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

    /// <summary>Graphs (with their external weights) below this size run on one intra-op thread when the settings
    /// leave the thread count to the library.</summary>
    internal const long SmallGraphBytes = 64L << 20;

    /// <summary>Whether a graph (with its weights) is under <see cref="SmallGraphBytes"/>: such graphs get one intra-op
    /// thread, the memory pattern and no arena release between stages unless the settings say otherwise.</summary>
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

    private static InferenceSession CreateSession(string path, SessionOptions options, string componentName, string originalPath)
    {
        try
        {
            return new InferenceSession(path, options);
        }
        catch (OnnxRuntimeException ex)
        {
            string message = ShortenNativeMessage(ex.Message, path);
            string problem = message.Contains("external", StringComparison.OrdinalIgnoreCase) || message.Contains("No such file", StringComparison.OrdinalIgnoreCase)
                ? $"the {componentName} graph's external weights could not be read (is the weights file next to it complete?): {message}"
                : $"ONNX Runtime cannot load the {componentName} graph: {message}";
            throw new ModelLoadException(originalPath, problem, ex);
        }
    }

    /// <summary>
    /// ONNX Runtime's messages carry an error code, the path again, C++ source locations and signatures
    /// (<c>[ErrorCode:Fail] Exception during initialization: /onnxruntime_src/…/initializer.cc:79 onnxruntime::Initializer::Initializer(…) …</c>);
    /// the reason at the end is what a user needs.
    /// </summary>
    internal static string ShortenNativeMessage(string message, string path)
    {
        string shortened = message.Replace($"Load model from {path} failed:", string.Empty, StringComparison.Ordinal);
        shortened = NativeNoise().Replace(shortened, " ");
        shortened = string.Join(' ', shortened.Split([' ', '\r', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries)).Trim(' ', ':');
        return shortened.Length > 0 ? shortened : message;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"\[ErrorCode:\w+\]|\[ONNXRuntimeError\] : \d+ : \w+ :|Exception during initialization:|[\w/.\-]+\.(?:cc|cpp|h):\d+(?: [\w:~]+(?:\([^)]*\))?(?= ))?")]
    private static partial System.Text.RegularExpressions.Regex NativeNoise();

    private static string CacheKey(string modelPath, ExecutionProvider provider, OnnxSessionSettings settings)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using (FileStream stream = File.OpenRead(modelPath))
        {
            byte[] buffer = new byte[1 << 16];
            int read;
            while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
            {
                hash.AppendData(buffer, 0, read);
            }
        }
        // External weight files are identified by name, size and time instead of hashing gigabytes.
        string dir = Path.GetDirectoryName(Path.GetFullPath(modelPath))!;
        foreach (string file in Directory.EnumerateFiles(dir).Order(StringComparer.Ordinal))
        {
            if (string.Equals(file, Path.GetFullPath(modelPath), StringComparison.Ordinal) || file.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }
            var info = new FileInfo(file);
            hash.AppendData(Encoding.UTF8.GetBytes($"{info.Name}|{info.Length}|{info.LastWriteTimeUtc.Ticks};"));
        }
        hash.AppendData(Encoding.UTF8.GetBytes(
            $"ort={OrtEnv.Instance().GetVersionString()};ep={provider};dev={settings.DeviceId};opt={settings.GraphOptimizationLevel};cpu={CpuFeatures()};"));
        return Convert.ToHexString(hash.GetHashAndReset())[..24].ToLowerInvariant();
    }

    /// <summary>The instruction sets an optimized graph may depend on (level ALL picks CPU-specific layouts and kernels),
    /// so a cache folder copied to another machine is not reused there.</summary>
    private static string CpuFeatures()
    {
        var features = new StringBuilder(System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString());
        if (System.Runtime.Intrinsics.X86.Avx2.IsSupported)
        {
            features.Append("+avx2");
        }
        if (System.Runtime.Intrinsics.X86.Avx512F.IsSupported)
        {
            features.Append("+avx512f");
        }
        if (System.Runtime.Intrinsics.X86.AvxVnni.IsSupported)
        {
            features.Append("+avxvnni");
        }
        if (System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported)
        {
            features.Append("+neon");
        }
        return features.ToString();
    }

    private static void PublishCache(string tempFolder, string target, ILogger logger)
    {
        try
        {
            if (!File.Exists(Path.Combine(tempFolder, "model.onnx")))
            {
                TryDeleteDirectory(tempFolder);
                return;
            }
            Directory.Move(tempFolder, target);
        }
        catch (IOException ex)
        {
            // Another process published the same key first, or the disk is full: the cache is optional.
            if (logger.IsEnabled(LogLevel.Debug))
            {
                logger.LogDebug(ex, "Optimized graph cache not written to {Target}.", target);
            }
            TryDeleteDirectory(tempFolder);
        }
    }

    private static void TryDeleteDirectory(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>How a session runs, as created.</summary>
/// <param name="Provider">The execution provider.</param>
/// <param name="CpuArena">Whether it allocates through ONNX Runtime's CPU arena (arena shrinkage may be requested).</param>
/// <param name="SingleThreadedCpu">Whether it runs on the CPU with one intra-op thread (independent runs may then go
/// side by side on the other cores).</param>
/// <param name="SmallGraph">Whether the graph with its weights is under <see cref="OnnxSessionFactory.SmallGraphBytes"/>.</param>
internal readonly record struct SessionTraits(ExecutionProvider Provider, bool CpuArena, bool SingleThreadedCpu, bool SmallGraph);
