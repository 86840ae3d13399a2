using System.Globalization;
using Spright.Diffusion.Tests.Infrastructure;
using Spright.Diffusion.Tests.Reliability;

namespace Spright.Diffusion.Tests.Cli;

/// <summary><c>spright bench</c>: a per-stage table with one row per UNet step, the options it ran with, and a last line
/// <c>median_s=</c> that scripts can parse; bad options fail with one line and exit code 2.</summary>
public sealed class BenchCommandTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PrintsTheStageTableAndEndsWithTheMedianSeconds(bool smallGraphTuning)
    {
        var args = new List<string>
        {
            "bench", "--model", TestPaths.TinyModel, "--prompt", "a red cube", "--steps", "3", "--width", "64", "--height", "64",
            "--guidance", "7.5", "--runs", "2", "--warmup", "0",
        };
        if (!smallGraphTuning)
        {
            args.Add("--no-small-graph-tuning"); // the CLI's default is on
        }
        CliResult result = CliProcess.Run(Path.GetTempPath(), [.. args]);
        Assert.True(result.ExitCode == 0, result.ToString());

        string[] lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Contains(lines, l => l.StartsWith("model ", StringComparison.Ordinal) && l.Contains("64x64 | 3 steps | guidance 7.5", StringComparison.Ordinal)
            && l.Contains(smallGraphTuning ? "small-graph tuning on" : "small-graph tuning off", StringComparison.Ordinal));
        foreach (string stage in new[] { "tokenize", "text encoder", "unet step 0", "unet step 1", "unet step 2", "unet (all steps)", "scheduler", "vae decoder", "total (wall)" })
        {
            Assert.Contains(lines, l => l.StartsWith(stage, StringComparison.Ordinal));
        }
        Assert.DoesNotContain(lines, l => l.StartsWith("unet step 3", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("peak_rss_mb=", StringComparison.Ordinal));

        string last = lines[^1];
        Assert.StartsWith("median_s=", last, StringComparison.Ordinal);
        double seconds = double.Parse(last["median_s=".Length..], CultureInfo.InvariantCulture);
        Assert.InRange(seconds, 1e-4, 60);
    }

    [Theory]
    [InlineData("--runs", "0")]
    [InlineData("--steps", "-1")]
    [InlineData("--opt-level", "fastest")]
    [InlineData("--threads", "x")]
    public void BadOptionsFailWithOneLineAndExitCode2(string option, string value)
    {
        CliResult result = CliProcess.Run(Path.GetTempPath(), "bench", "--model", TestPaths.TinyModel, option, value);
        Assert.Equal(2, result.ExitCode);
        Assert.Single(result.ErrorLines);
        Assert.Contains(option, result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("median_s=", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void CompareTimesBothModelsInterleavedAndReportsTheirLatentDifference()
    {
        // The diffusers folder against its optimum export: the same weights, so the same latents within the component
        // tolerance, and one ratio line.
        CliResult result = CliProcess.Run(Path.GetTempPath(), "bench", "--model", TestPaths.TinySd2Diffusers, "--compare", TestPaths.TinyModel,
            "--steps", "2", "--width", "64", "--height", "64", "--runs", "2", "--warmup", "0");
        Assert.True(result.ExitCode == 0, result.ToString());
        string[] lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Contains(lines, l => l.StartsWith("A ", StringComparison.Ordinal) && l.Contains("median_s=", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("B ", StringComparison.Ordinal) && l.Contains("median_s=", StringComparison.Ordinal));
        string ratio = Assert.Single(lines, l => l.StartsWith("ratio_b_over_a=", StringComparison.Ordinal));
        Assert.True(double.Parse(ratio["ratio_b_over_a=".Length..], System.Globalization.CultureInfo.InvariantCulture) > 0);
        string diffLine = Assert.Single(lines, l => l.Contains("latents max |A-B| = ", StringComparison.Ordinal));
        double diff = double.Parse(diffLine[(diffLine.IndexOf("= ", StringComparison.Ordinal) + 2)..], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(diff, 0, 1e-4);
    }
}
