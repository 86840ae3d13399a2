namespace Spright.Diffusion.Tests.Infrastructure;

/// <summary>Locates the repository's bundled test data (copied from ../shared, so a fresh clone is self-contained).</summary>
internal static class TestPaths
{
    private static readonly Lazy<string> Root = new(FindRepoRoot);

    public static string RepoRoot => Root.Value;

    public static string TestData => Path.Combine(RepoRoot, "tests", "Spright.Diffusion.Tests", "TestData");

    public static string Reference(params string[] parts) => Path.Combine([TestData, "reference", .. parts]);

    /// <summary>The optimum-layout fp32 ONNX export of the tiny SD2 model (reference area A's tiny-sd2-onnx).</summary>
    public static string TinyModel => Path.Combine(TestData, "models", "tiny-sd2-onnx");

    /// <summary>The tiny SD2 (SPRIGHT architecture) diffusers folder: config.json + safetensors, graphs built at load
    /// (the CLI's and the samples' bundled model, samples/models/tiny-sd2).</summary>
    public static string TinySd2Diffusers => Path.Combine(RepoRoot, "samples", "models", "tiny-sd2");

    /// <summary>The tiny SD 1.x diffusers folder (3-level UNet, quick_gelu CLIP, fp16 variant files).</summary>
    public static string TinySd1Diffusers => Path.Combine(TestData, "models", "tiny-sd1-diffusers");

    public static string LegacyModel => Path.Combine(TestData, "models", "tiny-sd2-onnx-legacy");

    public static string Fp16Model => Path.Combine(TestData, "models", "tiny-sd2-onnx-fp16");

    public static string ClipTokenizerSd2 => Path.Combine(TestData, "models", "clip-tokenizer-sd2");

    private static string FindRepoRoot()
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null)
        {
            if (File.Exists(Path.Combine(dir, "Spright.Diffusion.sln")))
            {
                return dir;
            }
            dir = Path.GetDirectoryName(dir);
        }
        throw new InvalidOperationException("Could not find Spright.Diffusion.sln above " + AppContext.BaseDirectory);
    }
}
