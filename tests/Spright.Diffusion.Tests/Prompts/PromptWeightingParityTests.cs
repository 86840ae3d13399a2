using System.Numerics.Tensors;
using Spright.Diffusion.Prompts;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.OnnxRuntime.Building;
using Spright.Diffusion.OnnxRuntime.Components;
using Spright.Diffusion.Tokenization;
using Spright.Diffusion.Tests.Infrastructure;

namespace Spright.Diffusion.Tests.Prompts;

/// <summary>
/// Reference area I: the embeddings of diffusers' lpw get_weighted_text_embeddings and of compel 2.2.1 (both
/// padded to the same length, and compel's truncating default) for every case, on the optimum ONNX export of the
/// same tiny SD 2 weights, within the component tolerance 1e-4 + 1e-4·|ref|.
/// </summary>
public sealed class PromptWeightingParityTests(PromptEncoderFixture fixture) : IClassFixture<PromptEncoderFixture>
{
    private const double Tolerance = 1e-4;

    public static TheoryData<string> LpwCases() => [.. PromptWeightingCase.Ids("lpw")];

    public static TheoryData<string> CompelCases() => [.. PromptWeightingCase.Ids("compel")];

    public static TheoryData<string> Sd1LpwCases() => [.. PromptWeightingCase.Ids("sd1", "lpw")];

    public static TheoryData<string> Sd1CompelCases() => [.. PromptWeightingCase.Ids("sd1", "compel")];

    [Theory]
    [MemberData(nameof(LpwCases))]
    public void LpwEncode_ReferenceCase_MatchesGetWeightedTextEmbeddings(string id)
    {
        PromptWeightingCase c = PromptWeightingCase.Load("lpw", id);
        PromptEmbeddings pair = new LpwPromptEncoder().Encode([c.Prompt], [c.NegativePrompt], fixture.Context);
        AssertEmbeds(c.Npy("prompt_embeds.npy"), pair.PromptEmbeds, "prompt_embeds");
        AssertEmbeds(c.Npy("negative_prompt_embeds.npy"), pair.NegativePromptEmbeds!, "negative_prompt_embeds");
    }

    [Theory]
    [MemberData(nameof(CompelCases))]
    public void CompelEncode_ReferenceCase_MatchesCompelPaddedToTheSameLength(string id)
    {
        PromptWeightingCase c = PromptWeightingCase.Load("compel", id);
        PromptEmbeddings pair = new CompelPromptEncoder().Encode([c.Prompt], [c.NegativePrompt], fixture.Context);
        AssertEmbeds(c.Npy("prompt_embeds.npy"), pair.PromptEmbeds, "prompt_embeds");
        AssertEmbeds(c.Npy("negative_prompt_embeds.npy"), pair.NegativePromptEmbeds!, "negative_prompt_embeds");
    }

    [Theory]
    [MemberData(nameof(CompelCases))]
    public void CompelEncode_TruncatingMode_MatchesCompelsDefault(string id)
    {
        PromptWeightingCase c = PromptWeightingCase.Load("compel", id);
        PromptEmbeddings pair = new CompelPromptEncoder(new CompelOptions { TruncateLongPrompts = true }).Encode([c.Prompt], null, fixture.Context);
        Assert.Null(pair.NegativePromptEmbeds);
        AssertEmbeds(c.Npy("prompt_embeds_truncated.npy"), pair.PromptEmbeds, "prompt_embeds_truncated");
    }

    [Theory]
    [MemberData(nameof(Sd1LpwCases))]
    public void LpwEncode_Sd1ReferenceCase_MatchesGetWeightedTextEmbeddings(string id)
    {
        PromptWeightingCase c = PromptWeightingCase.Load("sd1", "lpw", id);
        using Sd1Encoder sd1 = Sd1Encoder.Create();
        PromptEmbeddings pair = new LpwPromptEncoder().Encode([c.Prompt], [c.NegativePrompt], sd1.Context);
        AssertEmbeds(c.Npy("prompt_embeds.npy"), pair.PromptEmbeds, "prompt_embeds");
        AssertEmbeds(c.Npy("negative_prompt_embeds.npy"), pair.NegativePromptEmbeds!, "negative_prompt_embeds");
    }

    [Theory]
    [MemberData(nameof(Sd1CompelCases))]
    public void CompelEncode_Sd1ReferenceCase_MatchesCompel(string id)
    {
        PromptWeightingCase c = PromptWeightingCase.Load("sd1", "compel", id);
        using Sd1Encoder sd1 = Sd1Encoder.Create();
        PromptEmbeddings pair = new CompelPromptEncoder().Encode([c.Prompt], [c.NegativePrompt], sd1.Context);
        AssertEmbeds(c.Npy("prompt_embeds.npy"), pair.PromptEmbeds, "prompt_embeds");
        AssertEmbeds(c.Npy("negative_prompt_embeds.npy"), pair.NegativePromptEmbeds!, "negative_prompt_embeds");
        PromptEmbeddings truncated = new CompelPromptEncoder(new CompelOptions { TruncateLongPrompts = true }).Encode([c.Prompt], null, sd1.Context);
        AssertEmbeds(c.Npy("prompt_embeds_truncated.npy"), truncated.PromptEmbeds, "prompt_embeds_truncated");
    }

    private static void AssertEmbeds(NpyArray expected, Tensor<float> actual, string what)
    {
        Assert.Equal(expected.Shape, actual.Shape());
        AssertClose.All(expected.AsFloat32(), actual.AsSpan(), Tolerance, Tolerance, what);
    }

    /// <summary>The SD 1 text encoder built from tiny-sd1-diffusers' config.json + model.safetensors (the graph
    /// builder, in the test run's graph cache) with that folder's tokenizer (pad token &lt;|endoftext|&gt;).</summary>
    private sealed class Sd1Encoder : IDisposable
    {
        private readonly OnnxTextEncoder _encoder;

        private Sd1Encoder(OnnxTextEncoder encoder, ClipTokenizer tokenizer)
        {
            _encoder = encoder;
            Context = new PromptEncoderContext(tokenizer, encoder);
        }

        public PromptEncoderContext Context { get; }

        public static Sd1Encoder Create()
        {
            string folder = Path.Combine(TestPaths.TinySd1Diffusers, "text_encoder");
            string graph = DiffusersGraphs.GetOrBuild(DiffusersComponentKind.TextEncoder, folder,
                new GraphBuildOptions { CacheDirectory = TestGraphCache.Directory, TextEncoderAttentionMask = true });
            return new Sd1Encoder(new OnnxTextEncoder(graph), ClipTokenizer.FromPretrained(Path.Combine(TestPaths.TinySd1Diffusers, "tokenizer")));
        }

        public void Dispose() => _encoder.Dispose();
    }
}
