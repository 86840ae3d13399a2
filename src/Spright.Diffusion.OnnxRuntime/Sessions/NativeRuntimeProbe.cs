using System.Runtime.InteropServices;

namespace Spright.Diffusion.OnnxRuntime.Sessions;

/// <summary>
/// Looks for ONNX Runtime provider libraries deployed with the app, to tell "the app references both the CPU package
/// and Microsoft.ML.OnnxRuntime.Gpu, and the CPU <c>onnxruntime</c> library won" apart from "no GPU package at all".
/// Both packages ship a native library of the same name; the CPU one is copied over the GPU one, while the GPU
/// package's <c>onnxruntime_providers_cuda</c> library, which has no CPU counterpart, stays next to it.
/// </summary>
internal static class NativeRuntimeProbe
{
    /// <summary>The deployed CUDA provider library (from Microsoft.ML.OnnxRuntime.Gpu), or null when there is none.</summary>
    public static string? FindCudaProviderLibrary() => FindLibrary("onnxruntime_providers_cuda", SearchDirectories());

    /// <summary>The first of <paramref name="directories"/> holding the native library <paramref name="name"/>
    /// (platform prefix and extension added), as a full path; null when none does.</summary>
    public static string? FindLibrary(string name, IEnumerable<string> directories)
    {
        string file = OperatingSystem.IsWindows() ? name + ".dll"
            : OperatingSystem.IsMacOS() ? "lib" + name + ".dylib"
            : "lib" + name + ".so";
        foreach (string directory in directories)
        {
            if (string.IsNullOrWhiteSpace(directory))
            {
                continue;
            }
            string candidate = Path.Combine(directory, file);
            if (File.Exists(candidate))
            {
                return Path.GetFullPath(candidate);
            }
        }
        return null;
    }

    /// <summary>Where the host looks for native libraries: its probe list (runtimes/&lt;rid&gt;/native of the app or
    /// of the NuGet cache), the app folder and the app's runtimes/&lt;rid&gt;/native.</summary>
    public static IEnumerable<string> SearchDirectories()
    {
        if (AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") is string probe)
        {
            foreach (string directory in probe.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            {
                yield return directory;
            }
        }
        string baseDirectory = AppContext.BaseDirectory;
        yield return baseDirectory;
        yield return Path.Combine(baseDirectory, "runtimes", RuntimeInformation.RuntimeIdentifier, "native");
    }
}
