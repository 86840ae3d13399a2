using Spright.Diffusion.IO;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Tests.Building;
using Spright.Diffusion.Tests.Infrastructure;
using Spright.Diffusion.Tests.Reliability;

namespace Spright.Diffusion.Tests.Cli;

/// <summary>
/// <c>spright generate</c> on a diffusers folder with <c>--variant</c> and <c>--dtype</c> (tiny-sd1-diffusers has
/// <c>*.fp16.safetensors</c> beside the float32 weights): float16 graphs from the fp16 files, float32 graphs from the fp16
/// files (diffusers' upcast), a missing variant and a bad dtype as one-line errors. The graphs go to the test run's
/// private cache (SPRIGHT_GRAPH_CACHE), never the user's.
/// </summary>
public sealed class GenerateVariantDtypeTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Generate_Fp16VariantWithFp16AndFp32Dtype_WritesPngsFromTheFp16Weights()
    {
        float[] plain = Generate("plain", []);
        float[] upcast = Generate("upcast", ["--variant", "fp16", "--dtype", "fp32"]);
        float[] half = Generate("half", ["--variant", "fp16", "--dtype", "fp16"]);

        // The fp16 files hold the float32 weights rounded to float16: close to the float32 run, yet not the same numbers.
        AssertClose.All(plain, upcast, 5e-3, 0, "fp16 weights upcast vs fp32 weights");
        Assert.True(plain.Zip(upcast).Any(p => p.First != p.Second), "--variant fp16 gave exactly the fp32 weights' image");
        // float16 compute on the same weights: within float16 tolerance of the upcast run.
        AssertClose.All(upcast, half, 1e-2, 0, "fp16 graphs vs fp32 graphs of the fp16 weights");
        Assert.NotEmpty(Directory.EnumerateFiles(CliProcess.GraphCacheDirectory, "model.onnx", SearchOption.AllDirectories));
    }

    [Fact]
    public void Generate_VariantTheFolderLacks_FailsNamingTheMissingFile()
    {
        CliResult result = CliProcess.Run(_temp.Path, "generate", "--quiet", "--model", BuildingTestData.TinySd2, "--variant", "fp16",
            "--prompt", "a", "--steps", "1", "--width", "64", "--height", "64", "--output", "out.png");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains(".fp16.safetensors", Assert.Single(result.ErrorLines), StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_temp.Path));
    }

    [Theory]
    [InlineData("bf16")]
    [InlineData("float64")]
    public void Generate_BadDtype_IsAUsageError(string dtype)
    {
        CliResult result = CliProcess.Run(_temp.Path, "generate", "--quiet", "--model", BuildingTestData.TinySd1, "--dtype", dtype,
            "--prompt", "a", "--output", "out.png");

        Assert.Equal(2, result.ExitCode);
        string error = Assert.Single(result.ErrorLines);
        Assert.Contains("--dtype must be fp32 or fp16", error, StringComparison.Ordinal);
        Assert.Contains(dtype, error, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_temp.Path));
    }

    /// <summary>Runs generate on tiny-sd1-diffusers (2 steps, 64×64) and returns the image array; checks the PNG.</summary>
    private float[] Generate(string name, string[] extra)
    {
        string png = _temp.Combine(name + ".png");
        string npy = _temp.Combine(name + ".npy");
        CliResult result = CliProcess.Run(_temp.Path, [
            "generate", "--quiet", "--model", BuildingTestData.TinySd1, "--prompt", "a red cube", "--steps", "2",
            "--width", "64", "--height", "64", "--seed", "5", "--output", png, "--save-npy", npy, .. extra]);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(png, result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[0]);
        Imaging.RgbImage image = ImageSharp.ImageFiles.Load(png);
        Assert.Equal((64, 64), (image.Width, image.Height));
        return NpyFile.Load(npy).AsSpan().ToArray();
    }
}
