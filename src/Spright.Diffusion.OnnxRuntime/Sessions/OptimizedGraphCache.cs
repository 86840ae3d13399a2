using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace Spright.Diffusion.OnnxRuntime.Sessions;

/// <summary>The optional cache of graphs ONNX Runtime has optimized (<see cref="OnnxRuntimeSettings.OptimizedModelCacheDirectory"/>):
/// keyed by the graph, its weight files, the ONNX Runtime version, provider, settings and CPU; published atomically.</summary>
internal static class OptimizedGraphCache
{
    public static string Key(string modelPath, ExecutionProvider provider, OnnxRuntimeSettings settings)
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

    public static void Publish(string tempFolder, string target, ILogger logger)
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

    public static void TryDeleteDirectory(string path)
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
