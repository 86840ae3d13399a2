using System.Globalization;
using System.Text.Json;
using Spright.Diffusion.IO;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Tests.Infrastructure;
using Spright.Diffusion.Tests.Reliability;

namespace Spright.Diffusion.Tests.Pipelines;

/// <summary>
/// <c>spright generate</c> reproduces diffusers' reference runs end to end (arguments → pipeline → .npy/.png files):
/// the path the held-out pipeline cases are checked through.
/// </summary>
public sealed class GenerateCommandParityTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("spright-cli-parity-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("04_batch2_x2", "optimum")]
    [InlineData("07_euler_ancestral", "optimum")]
    [InlineData("09_guidance_rescale", "legacy")]
    [InlineData("11_img2img_strength0.6", "optimum")]
    [InlineData("13_ddim_eta0.5", "optimum")]
    [InlineData("04_batch2_x2", "diffusers")]
    [InlineData("08_dpmpp_karras", "diffusers")]
    [InlineData("11_img2img_strength0.6", "diffusers")]
    [InlineData("sd1/v2_odd_104x168_ddim", "diffusers-sd1")]
    [InlineData("sd1/v3_img2img_strength0.5", "diffusers-sd1")]
    [InlineData("extras/t1_tiled_256x384", "diffusers")]
    public void GenerateCommandMatchesDiffusers(string caseName, string layout)
    {
        PipelineReferenceCase c = caseName.StartsWith("sd1/", StringComparison.Ordinal) ? PipelineReferenceCase.LoadSd1(caseName[4..])
            : caseName.StartsWith("extras/", StringComparison.Ordinal) ? PipelineReferenceCase.LoadExtra(caseName[7..])
            : PipelineReferenceCase.Load(caseName);
        string model = layout switch
        {
            "legacy" => TestPaths.LegacyModel,
            "diffusers" => TestPaths.TinySd2Diffusers,
            "diffusers-sd1" => TestPaths.TinySd1Diffusers,
            _ => TestPaths.TinyModel,
        };
        JsonElement call = c.Call;
        int[] imageShape = c.Npy("image.npy").Shape;
        var args = new List<string>
        {
            "generate", "--quiet",
            "--model", model,
            "--seed", c.Seed.ToString(CultureInfo.InvariantCulture),
            "--steps", call.GetProperty("num_inference_steps").GetInt32().ToString(CultureInfo.InvariantCulture),
            "--output", Path.Combine(_dir, "out.png"),
            "--save-npy", Path.Combine(_dir, "image.npy"),
            "--save-latents", Path.Combine(_dir, "latents.npy"),
        };
        foreach (string p in Strings(call, "prompt"))
        {
            args.AddRange(["--prompt", p]);
        }
        foreach (string p in Strings(call, "negative_prompt"))
        {
            args.AddRange(["--negative-prompt", p]);
        }
        AddNumber(args, call, "guidance_scale", "--guidance");
        AddNumber(args, call, "guidance_rescale", "--guidance-rescale");
        AddNumber(args, call, "eta", "--eta");
        AddNumber(args, call, "num_images_per_prompt", "--num-images");
        AddNumber(args, call, "strength", "--strength");
        if (call.TryGetProperty("image", out JsonElement image))
        {
            args.AddRange(["--init-image", Path.Combine(c.Directory, image.GetString()!)]);
        }
        else
        {
            args.AddRange(["--width", imageShape[2].ToString(CultureInfo.InvariantCulture), "--height", imageShape[1].ToString(CultureInfo.InvariantCulture)]);
        }
        if (call.TryGetProperty("vae_tiling", out JsonElement tiling) && tiling.GetBoolean())
        {
            args.Add("--vae-tiling");
        }
        // The case's scheduler, from the model's scheduler config with the case's overrides (as from_config(**overrides)).
        args.AddRange(["--scheduler", c.SchedulerClass]);
        foreach (KeyValuePair<string, string> o in c.SchedulerOverrides())
        {
            args.AddRange(["--scheduler-option", $"{o.Key}={o.Value}"]);
        }


        CliResult result = CliProcess.Run(_dir, [.. args]);
        Assert.True(result.ExitCode == 0, result.ToString());

        AssertClose.All(c.Npy("final_latents.npy").AsFloat32(), NpyFile.Load(Path.Combine(_dir, "latents.npy")).AsSpan(), 5e-4, 0, "final latents");
        AssertClose.All(c.Npy("image.npy").AsFloat32(), NpyFile.Load(Path.Combine(_dir, "image.npy")).AsSpan(), 5e-4, 0, "image.npy");
        int count = imageShape[0];
        for (int i = 0; i < count; i++)
        {
            string written = Path.Combine(_dir, count == 1 ? "out.png" : $"out_{i}.png");
            Spright.Diffusion.Imaging.RgbImage expected = Spright.Diffusion.ImageSharp.ImageFiles.Load(Path.Combine(c.Directory, $"image_{i}.png"));
            Spright.Diffusion.Imaging.RgbImage actual = Spright.Diffusion.ImageSharp.ImageFiles.Load(written);
            PipelineParityTests.AssertImagesWithin(expected, actual, 1, written);
        }
    }

    private static IEnumerable<string> Strings(JsonElement call, string name) =>
        !call.TryGetProperty(name, out JsonElement e) ? []
        : e.ValueKind == JsonValueKind.Array ? e.EnumerateArray().Select(x => x.GetString()!) : [e.GetString()!];

    private static void AddNumber(List<string> args, JsonElement call, string name, string option)
    {
        if (call.TryGetProperty(name, out JsonElement e))
        {
            args.AddRange([option, e.GetRawText()]);
        }
    }
}
