namespace Spright.Diffusion.Benchmarks;

/// <summary>Finds the repository's bundled models from the benchmark process (which BenchmarkDotNet may run from a
/// generated folder under bin/).</summary>
internal static class BenchmarkPaths
{
    private static readonly Lazy<string> Root = new(() =>
    {
        foreach (string? start in new[] { Environment.GetEnvironmentVariable("SPRIGHT_REPO_ROOT"), AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (string? dir = start; dir is not null; dir = Path.GetDirectoryName(dir))
            {
                if (File.Exists(Path.Combine(dir, "Spright.Diffusion.sln")))
                {
                    return dir;
                }
            }
        }
        throw new InvalidOperationException("Could not find Spright.Diffusion.sln; set SPRIGHT_REPO_ROOT.");
    });

    /// <summary>The optimum-layout ONNX export of the tiny SD2 model (test data; 128² default).</summary>
    public static string TinyModel => Path.Combine(Root.Value, "tests", "Spright.Diffusion.Tests", "TestData", "models", "tiny-sd2-onnx");

    /// <summary>The bundled tiny SD2 diffusers folder (config.json + safetensors; graphs built at load).</summary>
    public static string TinyDiffusers => Path.Combine(Root.Value, "samples", "models", "tiny-sd2");

    /// <summary>A full-size model folder for the full-size benchmarks, from SPRIGHT_FULLSIZE_MODEL (e.g. one written by
    /// tools/fullsize/make_random_sd2.py), or null.</summary>
    public static string? FullSizeModel => Environment.GetEnvironmentVariable("SPRIGHT_FULLSIZE_MODEL") is { Length: > 0 } p && Directory.Exists(p) ? p : null;
}
