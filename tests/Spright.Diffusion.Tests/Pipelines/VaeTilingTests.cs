using System.Numerics.Tensors;
using Spright.Diffusion.ImageSharp;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Tests.Infrastructure;

namespace Spright.Diffusion.Tests.Pipelines;

/// <summary>
/// VAE tiling and slicing against diffusers' <c>vae.enable_tiling()</c> (reference area J: t1 tiled text-to-image at
/// 256×384, t2 tiled image-to-image at 256², tiles of the VAE's sample_size 128 px, overlap 0.25), and their edge cases:
/// a single-tile image takes the untiled path exactly, slicing changes no number, sizes that are not multiples of the
/// tile, portrait and landscape, slicing and tiling together, progress per tile.
/// </summary>
public sealed class VaeTilingTests
{
    public static TheoryData<string> Layouts() => new("optimum", "diffusers");

    private static string Model(string layout) => layout == "diffusers" ? TestPaths.TinySd2Diffusers : TestPaths.TinyModel;

    [Theory]
    [MemberData(nameof(Layouts))]
    public void TiledTextToImageMatchesDiffusersEnableTiling(string layout)
    {
        PipelineReferenceCase c = PipelineReferenceCase.LoadExtra("t1_tiled_256x384");
        using var pipe = StableDiffusionPipeline.FromPretrained(Model(layout));
        pipe.EnableVaeTiling();
        var reports = new List<VaeTileProgress>();
        GenerationOptions options = c.Options() with { VaeProgress = new SynchronousProgress<VaeTileProgress>(reports.Add) };
        StableDiffusionPipelineOutput output = pipe.Generate(options);
        AssertClose.All(c.Npy("final_latents.npy").AsFloat32(), output.Latents.AsSpan(), 5e-4, 0, "final latents");
        AssertClose.All(c.Npy("image.npy").AsFloat32(), output.ImageArray!.AsSpan(), 5e-4, 0, "tiled image.npy");
        PipelineParityTests.AssertImagesWithin(ImageFiles.Load(Path.Combine(c.Directory, "image_0.png")), output.Images[0], 1, "tiled image_0.png");
        // 32×48 latents in tiles of 16 every 12: 3 rows × 4 columns.
        Assert.Equal(Enumerable.Range(1, 12), reports.Select(r => r.Tile));
        Assert.All(reports, r => Assert.Equal((12, false), (r.Tiles, r.Encoding)));
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void TiledImageToImageEncodesAndDecodesLikeDiffusers(string layout)
    {
        PipelineReferenceCase c = PipelineReferenceCase.LoadExtra("t2_tiled_img2img_256");
        using var pipe = StableDiffusionImg2ImgPipeline.FromPretrained(Model(layout));
        var steps = new List<float[]>();
        var reports = new List<VaeTileProgress>();
        // Per call this time: the option enables tiling for both the encoder and the decoder.
        GenerationOptions options = c.Options() with
        {
            VaeTiling = true,
            CallbackOnStepEnd = ctx => steps.Add(ctx.Latents.AsSpan().ToArray()),
            VaeProgress = new SynchronousProgress<VaeTileProgress>(reports.Add),
        };
        StableDiffusionPipelineOutput output = pipe.Generate(options);
        AssertClose.All(c.Npy("latents_step1.npy").AsFloat32(), steps[0], 1e-4, 0, "latents after step 1 (from the tiled encode)");
        AssertClose.All(c.Npy("final_latents.npy").AsFloat32(), output.Latents.AsSpan(), 5e-4, 0, "final latents");
        AssertClose.All(c.Npy("image.npy").AsFloat32(), output.ImageArray!.AsSpan(), 5e-4, 0, "tiled image.npy");
        // 256 px in tiles of 128 every 96: 3 × 3 encoder tiles, then 32 latents in tiles of 16 every 12: 3 × 3 decoder tiles.
        Assert.Equal(9, reports.Count(r => r.Encoding));
        Assert.Equal(9, reports.Count(r => !r.Encoding));
    }

    [Fact]
    public void AnImageOfOneTileTakesTheUntiledPathExactly()
    {
        using var pipe = StableDiffusionPipeline.FromPretrained(TestPaths.TinyModel);
        var options = new TextToImageOptions { Prompt = ["a cube"], Width = 128, Height = 128, NumInferenceSteps = 2, Seed = 4, OutputType = OutputType.Array };
        float[] plain = pipe.Generate(options).ImageArray!.AsSpan().ToArray();
        var reports = new List<VaeTileProgress>();
        float[] tiled = pipe.Generate(options with { VaeTiling = true, VaeProgress = new SynchronousProgress<VaeTileProgress>(reports.Add) }).ImageArray!.AsSpan().ToArray();
        Assert.Equal(plain, tiled);
        Assert.Empty(reports);
    }

    [Theory]
    [InlineData(160, 288)] // landscape, neither side a multiple of the 96 px stride
    [InlineData(304, 144)] // portrait
    public void SlicingAndTilingTogetherOnABatchGiveOneImageOfTheRightSizePerItem(int height, int width)
    {
        using var pipe = StableDiffusionPipeline.FromPretrained(TestPaths.TinyModel);
        var options = new TextToImageOptions
        {
            Prompt = ["a cube", "a sphere"],
            Height = height,
            Width = width,
            NumInferenceSteps = 1,
            Seed = 9,
            OutputType = OutputType.Latent,
        };
        Tensor<float> latents = pipe.Generate(options).Latents;

        pipe.EnableVaeTiling();
        Tensor<float> tiledBatch = pipe.DecodeLatents(latents, OutputType.Array).ImageArray!;
        pipe.EnableVaeSlicing();
        StableDiffusionPipelineOutput tiledSliced = pipe.DecodeLatents(latents, OutputType.Image);
        Assert.Equal([2, height, width, 3], tiledSliced.ImageArray!.Shape());
        Assert.Equal(2, tiledSliced.Images.Count);
        Assert.All(tiledSliced.Images, i => Assert.Equal((width, height), (i.Width, i.Height)));
        // Slicing only changes how many items go through the decoder at once.
        Assert.Equal(tiledBatch.AsSpan().ToArray(), tiledSliced.ImageArray!.AsSpan().ToArray());

        // Item by item, each slice equals that item decoded on its own.
        int per = (int)(latents.FlattenedLength / 2);
        Tensor<float> second = TensorShapes.Wrap(latents.AsSpan()[per..].ToArray(), 1, 4, height / 8, width / 8);
        float[] alone = pipe.DecodeLatents(second, OutputType.Array).ImageArray!.AsSpan().ToArray();
        Assert.Equal(alone, tiledSliced.ImageArray!.AsSpan()[(height * width * 3)..].ToArray());
    }

    [Fact]
    public void SlicingAloneChangesNoNumber()
    {
        using var pipe = StableDiffusionPipeline.FromPretrained(TestPaths.TinyModel);
        var options = new TextToImageOptions { Prompt = ["a"], NumImagesPerPrompt = 3, Width = 64, Height = 64, NumInferenceSteps = 1, Seed = 2, OutputType = OutputType.Array };
        float[] whole = pipe.Generate(options).ImageArray!.AsSpan().ToArray();
        float[] sliced = pipe.Generate(options with { VaeSlicing = true }).ImageArray!.AsSpan().ToArray();
        Assert.Equal(whole, sliced);
    }

    [Fact]
    public void CancellationStopsBetweenTiles()
    {
        using var pipe = StableDiffusionPipeline.FromPretrained(TestPaths.TinyModel);
        using var cts = new CancellationTokenSource();
        var options = new TextToImageOptions
        {
            Prompt = ["a"],
            Width = 384,
            Height = 256,
            NumInferenceSteps = 1,
            Seed = 2,
            VaeTiling = true,
            VaeProgress = new SynchronousProgress<VaeTileProgress>(p =>
            {
                if (p.Tile == 2)
                {
                    cts.Cancel();
                }
            }),
        };
        Assert.ThrowsAny<OperationCanceledException>(() => pipe.Generate(options, cts.Token));
    }

    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
