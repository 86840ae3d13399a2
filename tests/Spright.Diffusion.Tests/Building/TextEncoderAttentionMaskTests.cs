using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Spright.Diffusion.OnnxRuntime.Building;
using Spright.Diffusion.Tests.Infrastructure;

namespace Spright.Diffusion.Tests.Building;

/// <summary>
/// The built text encoder's <c>attention_mask</c> input (what compel's down-weighting needs): ones give the unmasked
/// graph's states; a masked key changes the states of the later positions only, identically in the fused
/// (MultiHeadAttention key_padding_mask) and unfused (padding added to the causal mask) forms; the optimum export keeps
/// input_ids as its only input.
/// </summary>
public sealed class TextEncoderAttentionMaskTests
{
    private static readonly long[] Ids = [49406, 320, 736, 11181, 525, 1253, 539, 320, 1746, 49407, 49407, 49407];

    public static TheoryData<string> Models() => new("sd1", "sd2");

    [Theory]
    [MemberData(nameof(Models))]
    public void AllOnesMaskGivesTheUnmaskedStates(string model)
    {
        using var temp = new TempFolder();
        float[] plain = Run(Build(temp, model, mask: false, GraphOptimizations.CpuDefault), null);
        float[] ones = Run(Build(temp, model, mask: true, GraphOptimizations.CpuDefault), Mask(-1));
        AssertClose.All(plain, ones, 1e-6, 1e-6, "states with an all-ones mask");
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void MaskedKeyChangesOnlyLaterPositionsAlikeInFusedAndUnfusedGraphs(string model)
    {
        using var temp = new TempFolder();
        const int masked = 3;
        float[] plain = Run(Build(temp, model, mask: true, GraphOptimizations.CpuDefault), Mask(-1));
        float[] fused = Run(Build(temp, model, mask: true, GraphOptimizations.CpuDefault), Mask(masked));
        float[] unfused = Run(Build(temp, model, mask: true, GraphOptimizations.None), Mask(masked));
        AssertClose.All(unfused, fused, 1e-5, 1e-5, "fused vs unfused masked states");
        int hidden = plain.Length / Ids.Length;
        // Causal attention: positions before the masked key never saw it.
        AssertClose.All(plain.AsSpan(0, masked * hidden).ToArray(), fused.AsSpan(0, masked * hidden), 1e-6, 1e-6, "positions before the masked key");
        double change = 0;
        for (int i = (masked + 1) * hidden; i < plain.Length; i++)
        {
            change = Math.Max(change, Math.Abs(plain[i] - fused[i]));
        }
        Assert.True(change > 1e-4, $"masking key {masked} should change the later positions (max change {change})");
    }

    [Fact]
    public void OptimumExportTakesInputIdsOnly()
    {
        using var temp = new TempFolder();
        string path = Build(temp, "sd2", mask: false, GraphOptimizations.CpuDefault);
        using InferenceSession session = BuildingTestData.Session(path);
        Assert.Equal(["input_ids"], session.InputMetadata.Keys);
    }

    private static long[] Mask(int masked) => Ids.Select((_, i) => i == masked ? 0L : 1L).ToArray();

    private static string Build(TempFolder temp, string model, bool mask, GraphOptimizations optimizations)
    {
        string root = model == "sd2" ? BuildingTestData.TinySd2 : BuildingTestData.TinySd1;
        var options = new GraphBuildOptions
        {
            CacheDirectory = temp.Combine("cache"),
            Optimizations = optimizations,
            TextEncoderAttentionMask = mask,
        };
        return DiffusersGraphs.GetOrBuild(DiffusersComponentKind.TextEncoder, Path.Combine(root, "text_encoder"), options);
    }

    private static float[] Run(string path, long[]? mask)
    {
        using InferenceSession session = BuildingTestData.Session(path);
        var inputs = new List<NamedOnnxValue> { NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(Ids, [1, Ids.Length])) };
        if (mask is not null)
        {
            inputs.Add(NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensor<long>(mask, [1, Ids.Length])));
        }
        return BuildingTestData.Run(session, inputs)["last_hidden_state"].Data;
    }
}
