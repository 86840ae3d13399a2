using System.Text.Json;
using Spright.Diffusion.Prompts;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Tests.Infrastructure;

namespace Spright.Diffusion.Tests.Prompts;

/// <summary>
/// Reference area J (w1: lpw with 154-token embeddings, w2: compel with a down-weighted group): our embeddings fed to
/// the tiny SD 2 pipeline (optimum export) as prompt_embeds / negative_prompt_embeds, at section F's tolerances.
/// </summary>
public sealed class WeightedPromptPipelineTests
{
    [Theory]
    [InlineData("w1_lpw_long_weighted")]
    [InlineData("w2_compel_weighted")]
    public void Generate_WithWeightedEmbeds_MatchesDiffusers(string caseName)
    {
        string folder = TestPaths.Reference("pipeline_extras", caseName);
        using JsonDocument manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "manifest.json")));
        JsonElement call = manifest.RootElement.GetProperty("call");
        using var pipe = (StableDiffusionPipelineBase)DiffusionPipeline.FromPretrained(TestPaths.TinyModel);
        IPromptEncoder encoder = call.GetProperty("prompt_weighting").GetString() switch
        {
            "lpw" => new LpwPromptEncoder(),
            "compel" => new CompelPromptEncoder(),
            var other => throw new InvalidOperationException(other),
        };
        PromptEmbeddings embeds = encoder.Encode([call.GetProperty("prompt").GetString()!], [call.GetProperty("negative_prompt").GetString()!],
            new PromptEncoderContext(pipe.Tokenizer, pipe.TextEncoder));
        NpyArray expectedPrompt = Npy.Load(Path.Combine(folder, "prompt_embeds.npy"));
        Assert.Equal(expectedPrompt.Shape, embeds.PromptEmbeds.Shape());
        AssertClose.All(expectedPrompt.AsFloat32(), embeds.PromptEmbeds.AsSpan(), 1e-4, 1e-4, "prompt_embeds");
        AssertClose.All(Npy.Load(Path.Combine(folder, "negative_prompt_embeds.npy")).AsFloat32(), embeds.NegativePromptEmbeds!.AsSpan(), 1e-4, 1e-4, "negative_prompt_embeds");

        StableDiffusionPipelineOutput output = pipe.Generate(new TextToImageOptions
        {
            PromptEmbeds = embeds.PromptEmbeds,
            NegativePromptEmbeds = embeds.NegativePromptEmbeds,
            NumInferenceSteps = call.GetProperty("num_inference_steps").GetInt32(),
            GuidanceScale = call.GetProperty("guidance_scale").GetDouble(),
            Height = call.GetProperty("height").GetInt32(),
            Width = call.GetProperty("width").GetInt32(),
            Seed = manifest.RootElement.GetProperty("seed").GetUInt64(),
            OutputType = OutputType.Array,
        });
        AssertClose.All(Npy.Load(Path.Combine(folder, "final_latents.npy")).AsFloat32(), output.Latents.AsSpan(), 5e-4, 0, "final latents");
        AssertClose.All(Npy.Load(Path.Combine(folder, "image.npy")).AsFloat32(), output.ImageArray!.AsSpan(), 5e-4, 0, "image.npy");
    }
}
