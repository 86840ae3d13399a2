using System.Numerics.Tensors;
using Spright.Diffusion.ImageSharp;
using Spright.Diffusion.Imaging;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Random;
using Spright.Diffusion.Tests.Infrastructure;

namespace Spright.Diffusion.Tests.Pipelines;

/// <summary>
/// Whole-pipeline parity with diffusers 0.31 (reference area D) on the optimum and legacy fp32 layouts, and the fp16
/// export as a smoke test. Tolerances from the reference README section F: initial noise exact, prompt_embeds ≤ 1e-4,
/// latents after step 1 ≤ 1e-4, final latents ≤ 5e-4, image ≤ 5e-4, PNG ≤ 1 level; fp16 latents ≤ 0.1, image ≤ 0.05.
/// </summary>
public sealed class PipelineParityTests
{
    public static TheoryData<string, string> Fp32Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (string layout in new[] { "optimum", "legacy", "diffusers" })
        {
            foreach (string c in AllCases)
            {
                // The legacy VAE encoder samples the posterior with noise drawn inside the graph, so its
                // image-to-image cannot equal diffusers'; LegacyImageToImageStaysCloseToDiffusers covers it.
                if (layout == "legacy" && c == "11_img2img_strength0.6")
                {
                    continue;
                }
                data.Add(c, layout);
            }
        }
        return data;
    }

    public static TheoryData<string> Fp16Cases()
    {
        var data = new TheoryData<string>();
        foreach (string c in DdimCases)
        {
            data.Add(c);
        }
        return data;
    }

    private static readonly string[] DdimCases =
    [
        "01_default_ddim", "02_negative_prompt", "03_no_cfg", "04_batch2_x2", "05_nonsquare_128x192",
        "09_guidance_rescale", "10_long_prompt_truncated", "11_img2img_strength0.6", "12_prompt_embeds", "13_ddim_eta0.5",
    ];

    private static readonly string[] AllCases = [.. DdimCases, "06_euler", "07_euler_ancestral", "08_dpmpp_karras"];

    public static TheoryData<string> Sd1Cases() => new("v1_pndm_default", "v2_odd_104x168_ddim", "v3_img2img_strength0.5");

    [Theory]
    [MemberData(nameof(Fp32Cases))]
    public void MatchesDiffusersWithinTolerance(string caseName, string layout)
    {
        string model = layout switch
        {
            "legacy" => TestPaths.LegacyModel,
            "diffusers" => TestPaths.TinySd2Diffusers,
            _ => TestPaths.TinyModel,
        };
        AssertMatchesReference(PipelineReferenceCase.Load(caseName), model, layout);
    }

    /// <summary>The SD 1.x family from its diffusers folder, graphs built at load (3-level UNet, PNDM, an odd 13×21
    /// latent size through the upsample-to-the-skip's-size path, image-to-image).</summary>
    [Theory]
    [MemberData(nameof(Sd1Cases))]
    public void Sd1DiffusersFolderMatchesDiffusersWithinTolerance(string caseName) =>
        AssertMatchesReference(PipelineReferenceCase.LoadSd1(caseName), TestPaths.TinySd1Diffusers, "diffusers");

    private static void AssertMatchesReference(PipelineReferenceCase c, string model, string layout)
    {
        using StableDiffusionPipelineBase pipe = c.IsImageToImage
            ? StableDiffusionImg2ImgPipeline.FromPretrained(model)
            : (StableDiffusionPipelineBase)DiffusionPipeline.FromPretrained(model);
        c.ConfigureScheduler(pipe);
        GenerationOptions options = c.Options();
        if (layout == "legacy" && !c.IsImageToImage)
        {
            // The legacy layout has no unet/config.json, so its default size is diffusers' ONNX default (512), not the
            // torch model's 128: give the reference's size explicitly.
            int[] imageShape = c.Npy("image.npy").Shape;
            options = options with { Height = options.Height ?? imageShape[1], Width = options.Width ?? imageShape[2] };
        }

        // Tokenization and text conditioning.
        if (c.Has("prompt_input_ids.npy"))
        {
            long[] expectedIds = c.Npy("prompt_input_ids.npy").AsInt64();
            int[] actualIds = options.Prompt!.SelectMany(p => pipe.Tokenizer.EncodePadded(p)).ToArray();
            Assert.Equal(expectedIds, actualIds.Select(i => (long)i));
        }
        bool guided = options.GuidanceScale > 1;
        float[] embeds = options.Prompt is null
            ? [.. guided ? options.NegativePromptEmbeds!.AsSpan() : [], .. options.PromptEmbeds!.AsSpan()]
            : Concat(pipe.EncodePrompt(options.Prompt, options.NumImagesPerPrompt, guided, options.NegativePrompt));
        AssertClose.All(c.Npy("prompt_embeds.npy").AsFloat32(), embeds, 1e-4, 1e-4, "prompt_embeds");

        // Initial noise is a pure function of the seed.
        NpyArray noise = c.Npy("initial_noise.npy");
        var generator = new TorchGenerator(c.Seed);
        if (c.IsImageToImage)
        {
            generator.Randn(new float[c.Npy("init_image_latents.npy").Count]); // the posterior sample comes first
            AssertClose.All(c.Npy("init_image_preprocessed.npy").AsFloat32(),
                ImagePreprocessor.Preprocess(((ImageToImageOptions)options).Image!, 8).AsSpan(), 1e-6, 0, "init_image_preprocessed");
        }
        var replay = new float[noise.Count];
        generator.Randn(replay);
        AssertClose.Exact(noise.AsFloat32(), replay, "initial_noise");

        var steps = new List<float[]>();
        options = options with { CallbackOnStepEnd = ctx => steps.Add(ctx.Latents.AsSpan().ToArray()) };
        StableDiffusionPipelineOutput output = pipe.Generate(options);

        long[] expectedTimesteps = c.Npy("unet_timesteps.npy").AsFloat64().Select(d => (long)Math.Round(d * 1000)).ToArray();
        Assert.Equal(expectedTimesteps, output.Timesteps.Select(t => (long)Math.Round(t * 1000.0)));
        AssertClose.All(c.Npy("latents_step1.npy").AsFloat32(), steps[0], 1e-4, 0, "latents after step 1");
        NpyArray allSteps = c.Npy("latents_steps.npy");
        Assert.Equal(allSteps.Shape[0], steps.Count);
        AssertClose.All(c.Npy("final_latents.npy").AsFloat32(), output.Latents.AsSpan(), 5e-4, 0, "final latents");
        AssertClose.All(c.Npy("image.npy").AsFloat32(), output.ImageArray!.AsSpan(), 5e-4, 0, "image.npy");

        for (int i = 0; i < output.Images.Count; i++)
        {
            RgbImage expected = ImageFiles.Load(Path.Combine(c.Directory, $"image_{i}.png"));
            AssertImagesWithin(expected, output.Images[i], 1, $"image_{i}.png");
        }
    }

    [Theory]
    [MemberData(nameof(Fp16Cases))]
    public void Fp16ExportPassesTheSmokeTolerance(string caseName)
    {
        PipelineReferenceCase c = PipelineReferenceCase.Load(caseName);
        using StableDiffusionPipelineBase pipe = c.IsImageToImage
            ? StableDiffusionImg2ImgPipeline.FromPretrained(TestPaths.Fp16Model)
            : (StableDiffusionPipelineBase)DiffusionPipeline.FromPretrained(TestPaths.Fp16Model);
        c.ConfigureScheduler(pipe);
        GenerationOptions options = c.Options() with { OutputType = OutputType.Array };
        StableDiffusionPipelineOutput output = pipe.Generate(options);
        AssertClose.All(c.Npy("final_latents.npy").AsFloat32(), output.Latents.AsSpan(), 0.1, 0, "fp16 final latents");
        AssertClose.All(c.Npy("image.npy").AsFloat32(), output.ImageArray!.AsSpan(), 0.05, 0, "fp16 image");
    }

    public static TheoryData<string, string, string> Fp16DiffusersCases() => new()
    {
        // torch_dtype=float16 with variant="fp16": the half-precision files, float16 graphs.
        { "sd1", "v1_pndm_default", "fp16-variant-fp16" },
        { "sd1", "v2_odd_104x168_ddim", "fp16-variant-fp16" },
        { "sd1", "v3_img2img_strength0.5", "fp16-variant-fp16" },
        // variant="fp16" with float32: the half-precision files upcast into float32 graphs.
        { "sd1", "v2_odd_104x168_ddim", "fp16-variant-fp32" },
        // torch_dtype=float16 from the float32 files.
        { "sd2", "01_default_ddim", "fp32-files-fp16" },
        { "sd2", "05_nonsquare_128x192", "fp32-files-fp16" },
    };

    /// <summary>The fp16 variant and float16 graphs built from diffusers folders, at the fp16 smoke tolerance of
    /// section F (the references are the float32 runs).</summary>
    [Theory]
    [MemberData(nameof(Fp16DiffusersCases))]
    public void Fp16DiffusersFolderPassesTheSmokeTolerance(string family, string caseName, string mode)
    {
        PipelineReferenceCase c = family == "sd1" ? PipelineReferenceCase.LoadSd1(caseName) : PipelineReferenceCase.Load(caseName);
        string model = family == "sd1" ? TestPaths.TinySd1Diffusers : TestPaths.TinySd2Diffusers;
        var load = new DiffusionPipelineOptions
        {
            Variant = mode.StartsWith("fp16-variant", StringComparison.Ordinal) ? "fp16" : null,
            Dtype = mode.EndsWith("fp16", StringComparison.Ordinal) ? Dtype.Float16 : Dtype.Float32,
        };
        using StableDiffusionPipelineBase pipe = c.IsImageToImage
            ? StableDiffusionImg2ImgPipeline.FromPretrained(model, load)
            : (StableDiffusionPipelineBase)DiffusionPipeline.FromPretrained(model, load);
        c.ConfigureScheduler(pipe);
        GenerationOptions options = c.Options() with { OutputType = OutputType.Array };
        StableDiffusionPipelineOutput output = pipe.Generate(options);
        AssertClose.All(c.Npy("final_latents.npy").AsFloat32(), output.Latents.AsSpan(), 0.1, 0, $"{mode} final latents");
        AssertClose.All(c.Npy("image.npy").AsFloat32(), output.ImageArray!.AsSpan(), 0.05, 0, $"{mode} image");
    }

    [Fact]
    public void LegacyImageToImageStaysCloseToDiffusers()
    {
        // Same generator stream as diffusers (the posterior draw is consumed), but the posterior noise itself comes
        // from the graph: the difference is bounded by the posterior std (≈ 0.05 · 0.18215 in latent units), which
        // DDIM carries through the remaining steps.
        PipelineReferenceCase c = PipelineReferenceCase.Load("11_img2img_strength0.6");
        using StableDiffusionImg2ImgPipeline pipe = StableDiffusionImg2ImgPipeline.FromPretrained(TestPaths.LegacyModel);
        c.ConfigureScheduler(pipe);
        GenerationOptions options = c.Options() with { OutputType = OutputType.Array };
        StableDiffusionPipelineOutput output = pipe.Generate(options);
        AssertClose.All(c.Npy("final_latents.npy").AsFloat32(), output.Latents.AsSpan(), 0.1, 0, "legacy img2img final latents");
        AssertClose.All(c.Npy("image.npy").AsFloat32(), output.ImageArray!.AsSpan(), 0.05, 0, "legacy img2img image");
    }

    internal static void AssertImagesWithin(RgbImage expected, RgbImage actual, int levels, string what)
    {
        Assert.Equal(expected.Width, actual.Width);
        Assert.Equal(expected.Height, actual.Height);
        ReadOnlySpan<byte> e = expected.Pixels.Span, a = actual.Pixels.Span;
        int worst = 0;
        for (int i = 0; i < e.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(e[i] - a[i]));
        }
        Assert.True(worst <= levels, $"{what}: a pixel differs by {worst} levels (allowed {levels})");
    }

    /// <summary>diffusers' UNet conditioning: cat([negative, prompt]).</summary>
    internal static float[] Concat(PromptEmbeddings embeds) =>
        [.. embeds.NegativePromptEmbeds is { } n ? n.AsSpan() : [], .. embeds.PromptEmbeds.AsSpan()];
}
