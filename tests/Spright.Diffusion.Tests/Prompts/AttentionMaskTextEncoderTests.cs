using System.Numerics.Tensors;
using Spright.Diffusion.OnnxRuntime;
using Spright.Diffusion.OnnxRuntime.Components;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Tests.Infrastructure;

namespace Spright.Diffusion.Tests.Prompts;

/// <summary>The attention mask of <see cref="OnnxTextEncoder"/> on exports that have no attention_mask input.</summary>
public sealed class AttentionMaskTextEncoderTests
{
    private static readonly int[] Ids = [49406, 320, 736, 11353, 525, 1253, 539, 320, 1746, 49407, 0, 0];

    public static TheoryData<string> Models() => new() { TestPaths.TinyModel, TestPaths.LegacyModel, TestPaths.Fp16Model };

    [Theory]
    [MemberData(nameof(Models))]
    public void Encode_AllOnesMask_EqualsTheUnmaskedGraph(string model)
    {
        using var encoder = new OnnxTextEncoder(Path.Combine(model, "text_encoder", "model.onnx"));
        int[] ids = [.. Ids, .. Ids];
        var ones = new int[ids.Length];
        Array.Fill(ones, 1);
        Tensor<float> plain = encoder.Encode(ids, 2);
        Tensor<float> masked = encoder.Encode(ids, ones, 2);
        Assert.Equal(plain.Shape(), masked.Shape());
        AssertClose.All(plain.AsSpan(), masked.AsSpan(), 1e-6, 1e-6, "masked with ones");
    }

    [Fact]
    public void Encode_MaskedKey_ChangesOnlyLaterPositions()
    {
        using var encoder = new OnnxTextEncoder(Path.Combine(TestPaths.TinyModel, "text_encoder", "model.onnx"));
        var mask = new int[Ids.Length];
        Array.Fill(mask, 1);
        mask[3] = 0;
        float[] plain = encoder.Encode(Ids, 1).AsSpan().ToArray();
        float[] masked = encoder.Encode(Ids, mask, 1).AsSpan().ToArray();
        int hidden = plain.Length / Ids.Length;
        // Causal attention: positions before the masked key never see it; position 3 and later do.
        AssertClose.All(plain.AsSpan(0, 3 * hidden), masked.AsSpan(0, 3 * hidden), 1e-6, 1e-6, "positions 0-2");
        Assert.True(AssertClose.MaxAbsDiff(plain.AsSpan(4 * hidden), masked.AsSpan(4 * hidden)) > 1e-3, "a masked key must change the later states");
    }

    [Fact]
    public void Encode_MaskOfTheWrongLength_ThrowsArgumentException()
    {
        using var encoder = new OnnxTextEncoder(Path.Combine(TestPaths.TinyModel, "text_encoder", "model.onnx"));
        ArgumentException e = Assert.Throws<ArgumentException>(() => encoder.Encode(Ids, new int[3], 1));
        Assert.Equal("attentionMask", e.ParamName);
    }

    [Fact]
    public void TryPatch_GraphWithoutATextEncodersCausalMask_ReportsWhy()
    {
        byte[] vae = File.ReadAllBytes(Path.Combine(TestPaths.TinyModel, "vae_decoder", "model.onnx"));
        string? problem = TextEncoderAttentionMaskPatch.TryPatch(vae, out byte[]? patched);
        Assert.NotNull(problem);
        Assert.Null(patched);
        Assert.NotNull(TextEncoderAttentionMaskPatch.TryPatch([1, 2, 3], out _));
    }
}
