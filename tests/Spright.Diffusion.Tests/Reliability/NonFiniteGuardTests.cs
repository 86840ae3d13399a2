using System.Numerics.Tensors;
using Spright.Diffusion.Components;
using Spright.Diffusion.OnnxRuntime;
using Spright.Diffusion.OnnxRuntime.Components;
using Spright.Diffusion.OnnxRuntime.Sessions;
using Spright.Diffusion.IO;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Tests.Infrastructure;

namespace Spright.Diffusion.Tests.Reliability;

/// <summary>
/// The NaN guard: latents or decoded images with NaN/∞ (the float16 SD 2.x black-image trap) raise
/// <see cref="NonFiniteOutputException"/> instead of being returned, so nothing can save a black image unknowingly.
/// </summary>
public sealed class NonFiniteGuardTests(TinyPipelines pipes) : IClassFixture<TinyPipelines>
{
    [Fact]
    public void Non_finite_initial_latents_are_refused_before_the_loop_naming_the_option()
    {
        var latents = new float[4 * 4 * 4];
        latents[5] = float.NaN;
        int steps = 0;
        var ex = Assert.Throws<ArgumentException>(() => pipes.Text2Img.Generate(new TextToImageOptions
        {
            Prompt = ["a cube"],
            Width = 32,
            Height = 32,
            NumInferenceSteps = 2,
            Latents = TensorShapes.Wrap(latents, 1, 4, 4, 4),
            CallbackOnStepEnd = _ => steps++,
        }));
        Assert.Equal("Latents", ex.ParamName);
        Assert.Contains("flat index 5", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, steps);
    }

    [Theory]
    [InlineData(OutputType.Latent)]
    [InlineData(OutputType.Image)]
    public void Latents_that_become_non_finite_in_the_loop_are_reported_not_returned(OutputType outputType)
    {
        var ex = Assert.Throws<NonFiniteOutputException>(() => pipes.Text2Img.Generate(new TextToImageOptions
        {
            Prompt = ["a cube"],
            Width = 32,
            Height = 32,
            NumInferenceSteps = 2,
            Seed = 3,
            OutputType = outputType,
            CallbackOnStepEnd = ctx => ctx.Latents.AsSpan()[7] = float.PositiveInfinity,
        }));
        Assert.Equal("latents", ex.Stage);
        Assert.True(ex.Count > 0);
        Assert.Contains("inputs were finite", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_decoder_that_overflows_is_reported_with_the_count_of_bad_values()
    {
        using var decoder = new OnnxVaeDecoder(Path.Combine(TestPaths.TinyModel, "vae_decoder", "model.onnx"));
        var components = new StableDiffusionComponents
        {
            Tokenizer = pipes.Text2Img.Tokenizer,
            TextEncoder = pipes.Text2Img.TextEncoder,
            Unet = pipes.Text2Img.Unet,
            VaeDecoder = new OverflowingDecoder(decoder, badValues: 3),
            Scheduler = pipes.Text2Img.Scheduler,
        };
        using var pipe = new StableDiffusionPipeline(components);
        TextToImageOptions options = new() { Prompt = ["a cube"], Width = 32, Height = 32, NumInferenceSteps = 2, Seed = 1 };

        var ex = Assert.Throws<NonFiniteOutputException>(() => pipe.Generate(options));
        Assert.Equal("decoded image", ex.Stage);
        Assert.Equal(3, ex.Count);
        Assert.Throws<NonFiniteOutputException>(() => pipe.DecodeLatents(TensorShapes.Wrap(new float[4 * 4 * 4], 1, 4, 4, 4)));

        // The same call with an honest decoder succeeds: the guard reacts to the values, not to the call.
        StableDiffusionPipelineOutput fine = pipes.Text2Img.Generate(options);
        Assert.Single(fine.Images);
    }

    [Fact]
    public void Float16_overflow_of_the_fp16_export_is_reported()
    {
        // Latents far outside the trained range overflow float16 inside the UNet: what an fp16 SD 2.x VAE/UNet does
        // to real images. The pipeline must say so rather than return black.
        using var pipe = StableDiffusionPipeline.FromPretrained(TestPaths.Fp16Model);
        var latents = new float[4 * 4 * 4];
        latents.AsSpan().Fill(60000f);
        Assert.Throws<NonFiniteOutputException>(() => pipe.Generate(new TextToImageOptions
        {
            Prompt = ["a cube"],
            Width = 32,
            Height = 32,
            NumInferenceSteps = 2,
            Latents = TensorShapes.Wrap(latents, 1, 4, 4, 4),
        }));
    }

    /// <summary>A VAE decoder that returns some infinite pixels, like an fp16 SD 2.x VAE.</summary>
    private sealed class OverflowingDecoder(IVaeDecoder inner, int badValues) : IVaeDecoder
    {
        public VaeInfo Info => inner.Info;

        public IDisposable? Acquire() => inner.Acquire();

        public Tensor<float> Decode(Tensor<float> latents, CancellationToken cancellationToken = default)
        {
            Tensor<float> decoded = inner.Decode(latents, cancellationToken);
            Span<float> values = TensorShapes.AsSpan(decoded);
            for (int i = 0; i < badValues; i++)
            {
                values[i * 7] = i % 2 == 0 ? float.PositiveInfinity : float.NaN;
            }
            return decoded;
        }

        public void Dispose()
        {
        }
    }
}
