using Microsoft.Extensions.Logging.Abstractions;
using Spright.Diffusion.OnnxRuntime;
using Spright.Diffusion.OnnxRuntime.Components;
using Spright.Diffusion.OnnxRuntime.Sessions;

namespace Spright.Diffusion.Tests.Models;

/// <summary>
/// The "both CPU and GPU native packages" diagnosis: the GPU package's CUDA provider library deployed next to a loaded
/// onnxruntime that lacks CUDA means the CPU library won.
/// </summary>
public sealed class NativeRuntimeProbeTests
{
    private static string NativeFileName(string name) =>
        OperatingSystem.IsWindows() ? name + ".dll" : OperatingSystem.IsMacOS() ? "lib" + name + ".dylib" : "lib" + name + ".so";

    [Fact]
    public void FindLibraryReturnsTheFirstFolderHoldingThePlatformFileName()
    {
        string root = Directory.CreateTempSubdirectory("spright-probe-").FullName;
        try
        {
            string empty = Directory.CreateDirectory(Path.Combine(root, "empty")).FullName;
            string native = Directory.CreateDirectory(Path.Combine(root, "native")).FullName;
            File.WriteAllBytes(Path.Combine(native, NativeFileName("onnxruntime_providers_cuda")), [0]);

            Assert.Null(NativeRuntimeProbe.FindLibrary("onnxruntime_providers_cuda", [empty]));
            Assert.Equal(Path.Combine(native, NativeFileName("onnxruntime_providers_cuda")),
                NativeRuntimeProbe.FindLibrary("onnxruntime_providers_cuda", ["", empty, native]));
            Assert.Null(NativeRuntimeProbe.FindLibrary("onnxruntime_providers_tensorrt", [empty, native]));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void SearchDirectoriesIncludeTheAppFolder()
    {
        Assert.Contains(AppContext.BaseDirectory, NativeRuntimeProbe.SearchDirectories());
    }

    [Fact]
    public void MessageSaysBothPackagesWhenTheCudaProviderIsDeployed()
    {
        string message = ProviderResolver.CudaUnavailableMessage(["CPUExecutionProvider"], "/app/runtimes/linux-x64/native/libonnxruntime_providers_cuda.so");
        Assert.Contains("offers only [CPUExecutionProvider]", message, StringComparison.Ordinal);
        Assert.Contains("/app/runtimes/linux-x64/native/libonnxruntime_providers_cuda.so", message, StringComparison.Ordinal);
        Assert.Contains("references both Microsoft.ML.OnnxRuntime (CPU) and Microsoft.ML.OnnxRuntime.Gpu", message, StringComparison.Ordinal);
        Assert.Contains("Remove the Microsoft.ML.OnnxRuntime reference", message, StringComparison.Ordinal);
    }

    [Fact]
    public void MessageNamesTheGpuPackageWhenNoCudaProviderIsDeployed()
    {
        string message = ProviderResolver.CudaUnavailableMessage(["CPUExecutionProvider"], null);
        Assert.Contains("offers only [CPUExecutionProvider]", message, StringComparison.Ordinal);
        Assert.Contains("Reference the NuGet package Microsoft.ML.OnnxRuntime.Gpu (needs CUDA 13 and cuDNN 9)", message, StringComparison.Ordinal);
    }

    [Fact]
    public void CudaOnTheCpuPackageThrowsNamingTheGpuPackage()
    {
        // The tests reference only the CPU package: no CUDA provider in the loaded library, none deployed.
        Assert.Null(NativeRuntimeProbe.FindCudaProviderLibrary());
        var ex = Assert.Throws<ExecutionProviderUnavailableException>(() => ProviderResolver.Resolve(ExecutionProvider.Cuda, NullLogger.Instance));
        Assert.Equal(ExecutionProvider.Cuda, ex.Provider);
        Assert.Contains("Microsoft.ML.OnnxRuntime.Gpu", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("references both", ex.Message, StringComparison.Ordinal);
    }
}
