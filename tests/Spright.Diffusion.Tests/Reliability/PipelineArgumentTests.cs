using System.Numerics.Tensors;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Spright.Diffusion.Schedulers;
using Spright.Diffusion.Tensors;

namespace Spright.Diffusion.Tests.Reliability;

/// <summary>
/// diffusers' check_inputs and more: every invalid argument is an <see cref="ArgumentException"/> (out-of-range values an
/// <see cref="ArgumentOutOfRangeException"/> carrying the value) whose parameter name is the option, with a message
/// that says what is allowed, raised before any model runs.
/// </summary>
public sealed class PipelineArgumentTests(TinyPipelines pipes) : IClassFixture<TinyPipelines>
{
    private static GenerationOptions Valid() => new() { Prompt = ["a cube"], NumInferenceSteps = 2, Width = 32, Height = 32, Seed = 1, OutputType = OutputType.Latent };

    public static TheoryData<string, object, string> OutOfRange() => new()
    {
        { "NumInferenceSteps", 0, "[1, 1000]" },
        { "NumInferenceSteps", -5, "[1, 1000]" },
        { "NumInferenceSteps", 1001, "[1, 1000]" },
        { "GuidanceScale", double.NaN, "finite" },
        { "GuidanceScale", double.PositiveInfinity, "finite" },
        { "GuidanceRescale", 2.0, "[0, 1]" },
        { "GuidanceRescale", -0.1, "[0, 1]" },
        { "GuidanceRescale", double.NaN, "[0, 1]" },
        { "Eta", 1.5, "[0, 1]" },
        { "Height", 100, "multiple of 8" },
        { "Width", 0, "multiple of 8" },
        { "Width", -32, "multiple of 8" },
        { "Width", 16384, "8192" },
        { "Width", 40, "multiple of 16" }, // the tiny UNet downsamples twice: latents must be even
        { "NumImagesPerPrompt", 0, "[1, 64]" },
        { "NumImagesPerPrompt", 65, "[1, 64]" },
    };

    [Theory]
    [MemberData(nameof(OutOfRange))]
    public void Out_of_range_values_name_the_option_the_value_and_the_range(string option, object value, string allowed)
    {
        GenerationOptions options = Valid();
        typeof(GenerationOptions).GetProperty(option)!.SetValue(options, value);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => pipes.Text2Img.Generate(options));
        Assert.Equal(option, ex.ParamName);
        Assert.Equal(value, ex.ActualValue);
        Assert.Contains(allowed, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Batch_limit_counts_prompts_times_images()
    {
        GenerationOptions options = Valid();
        options.Prompt = ["a", "b", "c"];
        options.NumImagesPerPrompt = 22;
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => pipes.Text2Img.Generate(options));
        Assert.Equal("NumImagesPerPrompt", ex.ParamName);
        Assert.Contains("3 prompts × 22 images", ex.Message, StringComparison.Ordinal);
        Assert.Contains(StableDiffusionPipelineBase.MaxBatchSize.ToString(System.Globalization.CultureInfo.InvariantCulture), ex.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string, string> Inconsistent() => new()
    {
        { "negative prompts fewer than prompts", "NegativePrompt" },
        { "prompt and embeddings", "Prompt" },
        { "neither prompt nor embeddings", "Prompt" },
        { "null prompt", "Prompt" },
        { "negative prompt and negative embeddings", "NegativePrompt" },
        { "embeddings of the wrong width", "PromptEmbeds" },
        { "embeddings of rank 2", "PromptEmbeds" },
        { "negative embeddings of another shape", "NegativePromptEmbeds" },
        { "latents of the wrong shape", "Latents" },
        { "timesteps and sigmas", "Timesteps" },
        { "empty sigmas", "Sigmas" },
        { "image given to text-to-image", "Image" },
    };

    [Theory]
    [MemberData(nameof(Inconsistent))]
    public void Inconsistent_arguments_throw_ArgumentException_naming_the_option(string name, string option)
    {
        GenerationOptions options = Valid();
        switch (name)
        {
            case "negative prompts fewer than prompts":
                options.Prompt = ["a", "b"];
                options.NegativePrompt = ["x"];
                break;
            case "prompt and embeddings":
                options.PromptEmbeds = Embeds(1, 32);
                break;
            case "neither prompt nor embeddings":
                options.Prompt = [];
                break;
            case "null prompt":
                options.Prompt = ["a", null!];
                break;
            case "negative prompt and negative embeddings":
                options.NegativePrompt = ["x"];
                options.NegativePromptEmbeds = Embeds(1, 32);
                break;
            case "embeddings of the wrong width":
                options.Prompt = null;
                options.PromptEmbeds = Embeds(1, 1024);
                break;
            case "embeddings of rank 2":
                options.Prompt = null;
                options.PromptEmbeds = TensorShapes.Wrap(new float[77 * 32], 77, 32);
                break;
            case "negative embeddings of another shape":
                options.Prompt = null;
                options.PromptEmbeds = Embeds(2, 32);
                options.NegativePromptEmbeds = Embeds(1, 32);
                break;
            case "latents of the wrong shape":
                options.Latents = TensorShapes.Wrap(new float[4 * 8 * 8], 1, 4, 8, 8);
                break;
            case "timesteps and sigmas":
                options.Timesteps = [999f, 500f];
                options.Sigmas = [14f, 1f];
                break;
            case "empty sigmas":
                options.Sigmas = [];
                break;
            case "image given to text-to-image":
                options.Image = ImageInput.FromArray(TensorShapes.Wrap(new float[32 * 32 * 3], 1, 32, 32, 3));
                break;
        }
        ArgumentException ex = Assert.ThrowsAny<ArgumentException>(() => pipes.Text2Img.Generate(options));
        Assert.Equal(option, ex.ParamName);
        Assert.False(string.IsNullOrWhiteSpace(ex.Message));
    }

    public static TheoryData<double> BadStrengths() => new() { 1.5, -0.1, double.NaN };

    [Theory]
    [MemberData(nameof(BadStrengths))]
    public void Image_to_image_strength_outside_0_1_is_refused(double strength)
    {
        using var image = new Image<Rgb24>(32, 32);
        GenerationOptions options = Valid();
        options.Image = image;
        options.Strength = strength;
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => pipes.Img2Img.Generate(options));
        Assert.Equal("Strength", ex.ParamName);
        Assert.Equal(strength, ex.ActualValue);
        Assert.Contains("[0, 1]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Image_to_image_needs_an_image_and_no_latents_and_at_least_one_step()
    {
        Assert.Equal("Image", Assert.ThrowsAny<ArgumentException>(() => pipes.Img2Img.Generate(Valid())).ParamName);

        using var image = new Image<Rgb24>(32, 32);
        GenerationOptions withLatents = Valid();
        withLatents.Image = image;
        withLatents.Latents = TensorShapes.Wrap(new float[4 * 4 * 4], 1, 4, 4, 4);
        Assert.Equal("Latents", Assert.ThrowsAny<ArgumentException>(() => pipes.Img2Img.Generate(withLatents)).ParamName);

        GenerationOptions tooWeak = Valid();
        tooWeak.Image = image;
        tooWeak.Strength = 0.2; // int(2 steps × 0.2) = 0 denoising steps
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => pipes.Img2Img.Generate(tooWeak));
        Assert.Equal("Strength", ex.ParamName);
        Assert.Contains("no denoising step", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Null_arguments_throw_ArgumentNullException_with_the_parameter_name()
    {
        Assert.Equal("options", Assert.Throws<ArgumentNullException>(() => pipes.Text2Img.Generate((GenerationOptions)null!)).ParamName);
        Assert.Equal("options", Assert.Throws<ArgumentNullException>(() => pipes.Img2Img.Generate((GenerationOptions)null!)).ParamName);
        Assert.Equal("prompt", Assert.Throws<ArgumentNullException>(() => pipes.Text2Img.Generate((string)null!)).ParamName);
        Assert.Equal("latents", Assert.Throws<ArgumentNullException>(() => pipes.Text2Img.DecodeLatents(null!)).ParamName);
        Assert.Equal("value", Assert.Throws<ArgumentNullException>(() => pipes.Text2Img.Scheduler = null!).ParamName);
        Assert.Equal("modelPath", Assert.ThrowsAny<ArgumentException>(() => DiffusionPipeline.FromPretrained(" ")).ParamName);
    }

    [Fact]
    public void Direct_component_calls_validate_their_arguments()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => pipes.Text2Img.EncodePrompt(["a"], 0, true));
        Assert.Equal("numImagesPerPrompt", ex.ParamName);
        Assert.Equal("latents", Assert.ThrowsAny<ArgumentException>(() => pipes.Text2Img.DecodeLatents(TensorShapes.Wrap(new float[16], 4, 4))).ParamName);
    }

    [Fact]
    public void Unknown_scheduler_and_bad_scheduler_option_values_are_named()
    {
        SchedulerConfig config = pipes.Text2Img.Scheduler.Config;
        var unknown = Assert.ThrowsAny<ArgumentException>(() => SchedulerRegistry.Create("FastScheduler", config));
        Assert.Equal("className", unknown.ParamName);
        Assert.Contains("FastScheduler", unknown.Message, StringComparison.Ordinal);
        Assert.Contains("DDIMScheduler", unknown.Message, StringComparison.Ordinal);

        var badValue = Assert.ThrowsAny<ArgumentException>(() => SchedulerRegistry.Create("DDIMScheduler", config, [new("beta_schedule", "cosine")]));
        Assert.Equal("beta_schedule", badValue.ParamName);
        Assert.Contains("cosine", badValue.Message, StringComparison.Ordinal);
        Assert.Contains("scaled_linear", badValue.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_rejected_call_leaves_the_pipeline_usable_and_unchanged()
    {
        GenerationOptions bad = Valid();
        bad.GuidanceRescale = 3;
        Assert.Throws<ArgumentOutOfRangeException>(() => pipes.Text2Img.Generate(bad));
        using StableDiffusionPipelineOutput a = pipes.Text2Img.Generate(Valid());
        using StableDiffusionPipelineOutput b = pipes.Text2Img.Generate(Valid());
        Assert.Equal(a.Latents.AsSpan().ToArray(), b.Latents.AsSpan().ToArray());
    }

    private static Tensor<float> Embeds(int batch, int width) => TensorShapes.Wrap(new float[batch * 77 * width], batch, 77, width);
}
