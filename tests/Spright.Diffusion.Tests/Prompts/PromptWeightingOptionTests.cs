using System.Numerics.Tensors;
using System.Text.Json;
using Spright.Diffusion.Components;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Prompts;
using Spright.Diffusion.Tests.Infrastructure;
using Spright.Diffusion.Tests.Reliability;

namespace Spright.Diffusion.Tests.Prompts;

/// <summary>
/// Prompt weighting as a generation option (GenerationOptions.PromptWeighting / PromptEncoder, EncodePrompt's encoder,
/// the CLI's --prompt-weighting and embed): the pipeline reads the prompt text the way diffusers' lpw pipeline and
/// compel do (reference area J, w1/w2, from the text this time, not from precomputed embeddings).
/// </summary>
public sealed class PromptWeightingOptionTests
{
    [Theory]
    [InlineData("w1_lpw_long_weighted")]
    [InlineData("w2_compel_weighted")]
    public void Generate_PromptWeightingFromText_MatchesDiffusers(string caseName)
    {
        (JsonElement call, ulong seed, string folder) = Load(caseName);
        using var pipe = (StableDiffusionPipelineBase)DiffusionPipeline.FromPretrained(TestPaths.TinyModel);
        StableDiffusionPipelineOutput output = pipe.Generate(new TextToImageOptions
        {
            Prompt = [call.GetProperty("prompt").GetString()!],
            NegativePrompt = [call.GetProperty("negative_prompt").GetString()!],
            PromptWeighting = Mode(call),
            NumInferenceSteps = call.GetProperty("num_inference_steps").GetInt32(),
            GuidanceScale = call.GetProperty("guidance_scale").GetDouble(),
            Height = call.GetProperty("height").GetInt32(),
            Width = call.GetProperty("width").GetInt32(),
            Seed = seed,
            OutputType = OutputType.Array,
        });
        AssertClose.All(Npy.Load(Path.Combine(folder, "final_latents.npy")).AsFloat32(), output.Latents.AsSpan(), 5e-4, 0, "final latents");
        AssertClose.All(Npy.Load(Path.Combine(folder, "image.npy")).AsFloat32(), output.ImageArray!.AsSpan(), 5e-4, 0, "image.npy");
    }

    [Fact]
    public void EncodePrompt_WithAnEncoder_RepeatsItsRowsPerImageAndMatchesTheReference()
    {
        (JsonElement call, _, string folder) = Load("w1_lpw_long_weighted");
        using var pipe = (StableDiffusionPipelineBase)DiffusionPipeline.FromPretrained(TestPaths.TinyModel);
        PromptEmbeddings embeds = pipe.EncodePrompt([call.GetProperty("prompt").GetString()!], numImagesPerPrompt: 2,
            negativePrompts: [call.GetProperty("negative_prompt").GetString()!], promptEncoder: PromptEncoders.Create(PromptWeighting.Lpw));
        NpyArray expected = Npy.Load(Path.Combine(folder, "prompt_embeds.npy"));
        Assert.Equal([2, expected.Shape[1], expected.Shape[2]], embeds.PromptEmbeds.Shape());
        float[] negative = Npy.Load(Path.Combine(folder, "negative_prompt_embeds.npy")).AsFloat32();
        int row = expected.Count;
        for (int image = 0; image < 2; image++)
        {
            AssertClose.All(expected.AsFloat32(), embeds.PromptEmbeds.AsSpan().Slice(image * row, row), 1e-4, 1e-4, $"prompt row {image}");
            AssertClose.All(negative, embeds.NegativePromptEmbeds!.AsSpan().Slice(image * row, row), 1e-4, 1e-4, $"negative row {image}");
        }
    }

    [Fact]
    public void Generate_WeightingAndOwnEncoderTogether_IsAnArgumentExceptionNamingPromptEncoder()
    {
        using var pipe = DiffusionPipeline.FromPretrained(TestPaths.TinyModel);
        ArgumentException e = Assert.Throws<ArgumentException>(() => pipe.Generate(new TextToImageOptions
        {
            Prompt = ["a (red) cube"],
            PromptWeighting = PromptWeighting.Lpw,
            PromptEncoder = new CompelPromptEncoder(),
            NumInferenceSteps = 1,
        }));
        Assert.Equal(nameof(GenerationOptions.PromptEncoder), e.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => pipe.Generate(new TextToImageOptions { Prompt = ["a"], PromptWeighting = (PromptWeighting)7, NumInferenceSteps = 1 }));
    }

    [Fact]
    public void Generate_OwnEncoderWithTheWrongWidth_IsAnArgumentExceptionNamingPromptEncoder()
    {
        using var pipe = DiffusionPipeline.FromPretrained(TestPaths.TinyModel);
        ArgumentException e = Assert.Throws<ArgumentException>(() => pipe.Generate(new TextToImageOptions
        {
            Prompt = ["a cube"],
            PromptEncoder = new FixedEncoder(tokens: 77, hidden: 5),
            NumInferenceSteps = 1,
        }));
        Assert.Equal(nameof(GenerationOptions.PromptEncoder), e.ParamName);
        Assert.Contains("[1, tokens, 32]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Generate_LongWeightedPromptOnAUNetWithAFixedSequenceAxis_NamesPromptWeighting()
    {
        (JsonElement call, _, _) = Load("w1_lpw_long_weighted");
        using var pipe = (StableDiffusionPipelineBase)DiffusionPipeline.FromPretrained(TestPaths.TinyModel);
        pipe.Unet = new FixedSequenceUNet(pipe.Unet, 77);
        ArgumentException e = Assert.Throws<ArgumentException>(() => pipe.Generate(new TextToImageOptions
        {
            Prompt = [call.GetProperty("prompt").GetString()!],
            PromptWeighting = PromptWeighting.Lpw,
            NumInferenceSteps = 1,
            OutputType = OutputType.Latent,
        }));
        Assert.Equal(nameof(GenerationOptions.PromptWeighting), e.ParamName);
        Assert.Contains("154 tokens", e.Message, StringComparison.Ordinal);
        Assert.Contains("exactly 77", e.Message, StringComparison.Ordinal);
        // A short weighted prompt still fits the fixed axis.
        pipe.Generate(new TextToImageOptions { Prompt = ["a (red:1.2) cube"], PromptWeighting = PromptWeighting.Lpw, NumInferenceSteps = 1, OutputType = OutputType.Latent });
    }

    [Fact]
    public void Generate_WeightedRunsOverTheWordLimit_AreAcceptedWithWeightingAndRefusedWithout()
    {
        // 1080 characters without white space: one 1080-character word for the plain tokenizer (over
        // PromptLimits.MaxWordCharacters), but 120 separate "red" runs of weight 1.1 for lpw.
        string prompt = string.Concat(Enumerable.Repeat("(red:1.1)", 120));
        using var pipe = DiffusionPipeline.FromPretrained(TestPaths.TinyModel);
        ArgumentException plain = Assert.Throws<ArgumentException>(() => pipe.Generate(new TextToImageOptions { Prompt = [prompt], NumInferenceSteps = 1 }));
        Assert.Equal(nameof(GenerationOptions.Prompt), plain.ParamName);
        StableDiffusionPipelineOutput weighted = pipe.Generate(new TextToImageOptions
        {
            Prompt = [prompt],
            PromptWeighting = PromptWeighting.Lpw,
            NumInferenceSteps = 1,
            OutputType = OutputType.Latent,
        });
        Assert.All(weighted.Latents.AsSpan().ToArray(), v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void Cli_EmbedWritesWhatTheUNetReceives_AndGenerateTakesPromptWeighting()
    {
        (JsonElement call, ulong seed, string folder) = Load("w1_lpw_long_weighted");
        string dir = Directory.CreateTempSubdirectory("spright-embed-").FullName;
        try
        {
            CliResult embed = CliProcess.Run(dir, "embed", "--model", TestPaths.TinyModel, "--prompt", call.GetProperty("prompt").GetString()!,
                "--negative-prompt", call.GetProperty("negative_prompt").GetString()!, "--prompt-weighting", "lpw",
                "--save-prompt-embeds", "p.npy", "--save-negative-embeds", "n.npy");
            Assert.True(embed.ExitCode == 0, embed.Stderr);
            NpyArray expected = Npy.Load(Path.Combine(folder, "prompt_embeds.npy"));
            NpyArray written = Npy.Load(Path.Combine(dir, "p.npy"));
            Assert.Equal(expected.Shape, written.Shape);
            AssertClose.All(expected.AsFloat32(), written.AsFloat32(), 1e-4, 1e-4, "embed --save-prompt-embeds");
            AssertClose.All(Npy.Load(Path.Combine(folder, "negative_prompt_embeds.npy")).AsFloat32(), Npy.Load(Path.Combine(dir, "n.npy")).AsFloat32(), 1e-4, 1e-4, "embed --save-negative-embeds");

            CliResult generate = CliProcess.Run(dir, "generate", "--model", TestPaths.TinyModel, "--prompt", call.GetProperty("prompt").GetString()!,
                "--negative-prompt", call.GetProperty("negative_prompt").GetString()!, "--prompt-weighting", "lpw",
                "--steps", $"{call.GetProperty("num_inference_steps").GetInt32()}", "--width", "128", "--height", "128", "--seed", $"{seed}",
                "--output", "w1.png", "--save-latents", "w1.npy", "--quiet");
            Assert.True(generate.ExitCode == 0, generate.Stderr);
            AssertClose.All(Npy.Load(Path.Combine(folder, "final_latents.npy")).AsFloat32(), Npy.Load(Path.Combine(dir, "w1.npy")).AsFloat32(), 5e-4, 0, "generate --prompt-weighting lpw");

            CliResult bad = CliProcess.Run(dir, "embed", "--model", TestPaths.TinyModel, "--prompt", "a", "--prompt-weighting", "a1111", "--save-prompt-embeds", "x.npy");
            Assert.Equal(2, bad.ExitCode);
            Assert.Contains("--prompt-weighting must be none, lpw or compel", bad.Stderr, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(dir, "x.npy")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static (JsonElement Call, ulong Seed, string Folder) Load(string caseName)
    {
        string folder = TestPaths.Reference("pipeline_extras", caseName);
        using JsonDocument manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "manifest.json")));
        return (manifest.RootElement.GetProperty("call").Clone(), manifest.RootElement.GetProperty("seed").GetUInt64(), folder);
    }

    private static PromptWeighting Mode(JsonElement call) => call.GetProperty("prompt_weighting").GetString() switch
    {
        "lpw" => PromptWeighting.Lpw,
        "compel" => PromptWeighting.Compel,
        var other => throw new InvalidOperationException(other),
    };

    /// <summary>A host encoder returning zeros of a fixed shape.</summary>
    private sealed class FixedEncoder(int tokens, int hidden) : IPromptEncoder
    {
        public PromptEmbeddings Encode(IReadOnlyList<string> prompts, IReadOnlyList<string>? negativePrompts, PromptEncoderContext context, CancellationToken cancellationToken = default) =>
            new(TensorShapes.Wrap(new float[prompts.Count * tokens * hidden], prompts.Count, tokens, hidden),
                negativePrompts is null ? null : TensorShapes.Wrap(new float[prompts.Count * tokens * hidden], prompts.Count, tokens, hidden));
    }

    /// <summary>A UNet reporting a fixed sequence axis, as an export with a static encoder_hidden_states shape does.</summary>
    private sealed class FixedSequenceUNet(IUNet inner, int tokens) : IUNet
    {
        public UNetInfo Info { get; } = new(inner.Info.InChannels, inner.Info.SampleSize, inner.Info.CrossAttentionDim, inner.Info.DownsamplingFactor, tokens);

        public IDisposable? Acquire() => inner.Acquire();

        public IUNetRunner RentRunner(UNetShape shape) => inner.RentRunner(shape);

        public void Dispose()
        {
        }
    }
}
