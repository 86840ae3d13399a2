using Spright.Diffusion.OnnxRuntime;

namespace Spright.Diffusion.Tests.Infrastructure;

/// <summary>Load options for tests that need particular ONNX Runtime settings.</summary>
internal static class TestModels
{
    public static DiffusionPipelineOptions Options(OnnxRuntimeSettings settings) => new() { Backend = new OnnxRuntimeBackend(settings) };
}
