using System.Numerics.Tensors;
using Spright.Diffusion.Imaging;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Pipelines;
using Spright.Diffusion.Schedulers;

namespace Spright.Diffusion.Tests.Reliability;

/// <summary>
/// diffusers' check_inputs and more: every invalid argument is an <see cref="ArgumentException"/> (out-of-range values an
/// <see cref="ArgumentOutOfRangeException"/> carrying the value) whose parameter name is the option, with a message
/// that says what is allowed, raised before any model runs.
/// </summary>
public sealed class PipelineArgumentTests(TinyPipelines pipes) : IClassFixture<TinyPipelines>
{
    private static TextToImageOptions Valid() => new() { Prompt = ["a cube"], NumInferenceSteps = 2, Width = 32, Height = 32, Seed = 1, OutputType = OutputType.Latent };

    private static ImageToImageOptions ValidImageToImage() => new(Valid()) { Image = new RgbImage(32, 32, new byte[32 * 32 * 3]) };

    public static TheoryData<string, object, string> OutOfRange() => new()
    {
        { "NumInferenceSteps", 0, "[1, 1000]" },
        { "NumInferenceSteps", -5, "[1, 1000]" },
        { "NumInferenceSteps", 1001, "[1, 1000]" },
        { "GuidanceScale", double.NaN, "finite" },
        { "GuidanceScale", double.PositiveInfinity, "finite" },
        { "GuidanceScale", 1e308, "[-1000, 1000]" },
        { "OutputType", (OutputType)7, "Image, Array or Latent" },
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
        GenerationOptions options = Valid() with { };
        typeof(GenerationOptions).GetProperty(option)!.SetValue(options, value);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => pipes.Text2Img.Generate(options));
        Assert.Equal(option, ex.ParamName);
        Assert.Equal(value, ex.ActualValue);
        Assert.Contains(allowed, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Batch_limit_counts_prompts_times_images()
    {
        GenerationOptions options = Valid() with { Prompt = ["a", "b", "c"], NumImagesPerPrompt = 22 };
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => pipes.Text2Img.Generate(options));
        Assert.Equal("NumImagesPerPrompt", ex.ParamName);
        Assert.Contains("3 prompts × 22 images", ex.Message, StringComparison.Ordinal);
        Assert.Contains(CallPlanner.MaxBatchSize.ToString(System.Globalization.CultureInfo.InvariantCulture), ex.Message, StringComparison.Ordinal);
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
        { "latents with NaN", "Latents" },
        { "embeddings with infinity", "PromptEmbeds" },
        { "non-finite custom timesteps", "Timesteps" },
        { "timesteps and sigmas", "Timesteps" },
        { "empty sigmas", "Sigmas" },
        { "image-to-image options given to text-to-image", "options" },
    };

    [Theory]
    [MemberData(nameof(Inconsistent))]
    public void Inconsistent_arguments_throw_ArgumentException_naming_the_option(string name, string option)
    {
        TextToImageOptions valid = Valid();
        GenerationOptions options = name switch
        {
            "negative prompts fewer than prompts" => valid with { Prompt = ["a", "b"], NegativePrompt = ["x"] },
            "prompt and embeddings" => valid with { PromptEmbeds = Embeds(1, 32) },
            "neither prompt nor embeddings" => valid with { Prompt = [] },
            "null prompt" => valid with { Prompt = ["a", null!] },
            "negative prompt and negative embeddings" => valid with { NegativePrompt = ["x"], NegativePromptEmbeds = Embeds(1, 32) },
            "embeddings of the wrong width" => valid with { Prompt = null, PromptEmbeds = Embeds(1, 1024) },
            "embeddings of rank 2" => valid with { Prompt = null, PromptEmbeds = TensorShapes.Wrap(new float[77 * 32], 77, 32) },
            "negative embeddings of another shape" => valid with { Prompt = null, PromptEmbeds = Embeds(2, 32), NegativePromptEmbeds = Embeds(1, 32) },
            "latents of the wrong shape" => valid with { Latents = TensorShapes.Wrap(new float[4 * 8 * 8], 1, 4, 8, 8) },
            "latents with NaN" => valid with { Latents = WithValue(TensorShapes.Wrap(new float[4 * 4 * 4], 1, 4, 4, 4), float.NaN) },
            "embeddings with infinity" => valid with { Prompt = null, PromptEmbeds = WithValue(Embeds(1, 32), float.PositiveInfinity) },
            "non-finite custom timesteps" => valid with { Timesteps = [999f, float.NaN] },
            "timesteps and sigmas" => valid with { Timesteps = [999f, 500f], Sigmas = [14f, 1f] },
            "empty sigmas" => valid with { Sigmas = [] },
            "image-to-image options given to text-to-image" => ValidImageToImage(),
            _ => throw new ArgumentOutOfRangeException(nameof(name)),
        };
        ArgumentException ex = Assert.ThrowsAny<ArgumentException>(() => pipes.Text2Img.Generate(options));
        Assert.Equal(option, ex.ParamName);
        Assert.False(string.IsNullOrWhiteSpace(ex.Message));
    }

    public static TheoryData<double> BadStrengths() => new() { 1.5, -0.1, double.NaN };

    [Theory]
    [MemberData(nameof(BadStrengths))]
    public void Image_to_image_strength_outside_0_1_is_refused(double strength)
    {
        ImageToImageOptions options = ValidImageToImage() with { Strength = strength };
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => pipes.Img2Img.Generate(options));
        Assert.Equal("Strength", ex.ParamName);
        Assert.Equal(strength, ex.ActualValue);
        Assert.Contains("[0, 1]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Image_to_image_needs_an_image_its_own_options_and_at_least_one_step()
    {
        Assert.Equal("Image", Assert.ThrowsAny<ArgumentException>(() => pipes.Img2Img.Generate(new ImageToImageOptions(Valid()))).ParamName);
        Assert.Equal("options", Assert.ThrowsAny<ArgumentException>(() => pipes.Img2Img.Generate((GenerationOptions)Valid())).ParamName);

        ImageToImageOptions tooWeak = ValidImageToImage() with { Strength = 0.2 }; // int(2 steps × 0.2) = 0 denoising steps
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
        Assert.Equal("pretrainedModelNameOrPath", Assert.ThrowsAny<ArgumentException>(() => DiffusionPipeline.FromPretrained(" ")).ParamName);
    }

    [Fact]
    public void Direct_component_calls_validate_their_arguments()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => pipes.Text2Img.EncodePrompt(["a"], 0, true));
        Assert.Equal("latents", Assert.Throws<ArgumentException>(() => pipes.Text2Img.DecodeLatents(WithValue(TensorShapes.Wrap(new float[64], 1, 4, 4, 4), float.NaN))).ParamName);
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

    [Theory]
    [InlineData("Prompt", 16385, false)]
    [InlineData("NegativePrompt", 1 << 20, false)]
    [InlineData("Prompt", 4000, true)]      // one 4000-character word
    [InlineData("NegativePrompt", 1025, true)]
    public void Prompts_over_the_documented_caps_are_refused_at_once_naming_the_option(string option, int length, bool oneWord)
    {
        string text = oneWord ? new string('x', length) : string.Concat(Enumerable.Repeat("a red cube ", length / 11 + 1))[..length];
        TextToImageOptions options = option == "Prompt" ? Valid() with { Prompt = [text] } : Valid() with { NegativePrompt = [text] };
        var timer = System.Diagnostics.Stopwatch.StartNew();
        var ex = Assert.ThrowsAny<ArgumentException>(() => pipes.Text2Img.Generate(options));
        Assert.Equal(option, ex.ParamName);
        Assert.Contains(oneWord ? $"{Spright.Diffusion.Tokenization.PromptLimits.MaxWordCharacters}" : $"{Spright.Diffusion.Tokenization.PromptLimits.MaxCharacters}", ex.Message, StringComparison.Ordinal);
        Assert.True(timer.Elapsed < TimeSpan.FromSeconds(5), $"refusing took {timer.Elapsed}");
        // Under the caps a long prompt is tokenized exactly as before (and truncated to 77 tokens).
        pipes.Text2Img.Generate(Valid() with { Prompt = [string.Concat(Enumerable.Repeat("a red cube ", 1400))] });
    }

    [Fact]
    public void A_rejected_call_leaves_the_pipeline_usable_and_unchanged()
    {
        GenerationOptions bad = Valid() with { GuidanceRescale = 3 };
        Assert.Throws<ArgumentOutOfRangeException>(() => pipes.Text2Img.Generate(bad));
        StableDiffusionPipelineOutput a = pipes.Text2Img.Generate(Valid());
        StableDiffusionPipelineOutput b = pipes.Text2Img.Generate(Valid());
        Assert.Equal(a.Latents.AsSpan().ToArray(), b.Latents.AsSpan().ToArray());
    }

    private static Tensor<float> Embeds(int batch, int width) => TensorShapes.Wrap(new float[batch * 77 * width], batch, 77, width);

    private static Tensor<float> WithValue(Tensor<float> tensor, float value)
    {
        tensor.AsSpan()[^1] = value;
        return tensor;
    }
}
