using System.Numerics.Tensors;
using Spright.Diffusion.Components;
using Spright.Diffusion.OnnxRuntime;
using Spright.Diffusion.OnnxRuntime.Components;
using Spright.Diffusion.OnnxRuntime.Sessions;
using Spright.Diffusion.IO;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Tests.Infrastructure;

namespace Spright.Diffusion.Tests.Models;

/// <summary>
/// Each ONNX component against the raw torch outputs of reference area E, for the optimum fp32 layout, the legacy
/// layout and the fp16 export. Tolerances from the reference README section F: fp32 atol 1e-4 + rtol 1e-4; fp16
/// against the fp32 references 2e-2.
/// </summary>
public sealed class ComponentParityTests
{
    public static TheoryData<string, double> Layouts() => new()
    {
        { "optimum", 1e-4 },
        { "legacy", 1e-4 },
        { "fp16", 2e-2 },
    };

    private static string ModelFolder(string layout) => layout switch
    {
        "optimum" => TestPaths.TinyModel,
        "legacy" => TestPaths.LegacyModel,
        "fp16" => TestPaths.Fp16Model,
        _ => throw new ArgumentOutOfRangeException(nameof(layout)),
    };

    private static NpyArray Ref(string path) => Npy.Load(TestPaths.Reference("components", path));

    [Theory]
    [MemberData(nameof(Layouts))]
    public void TextEncoderLastHiddenStateMatchesTorch(string layout, double tolerance)
    {
        using var encoder = new OnnxTextEncoder(Path.Combine(ModelFolder(layout), "text_encoder", "model.onnx"));
        int[] ids = Ref("text_encoder/input_ids.npy").AsInt64().Select(l => (int)l).ToArray();
        Tensor<float> hidden = encoder.Encode(ids, 2);
        Assert.Equal([2, 77, 32], hidden.Shape());
        Assert.Equal(32, encoder.HiddenSize);
        AssertClose.All(Ref("text_encoder/last_hidden_state.npy").AsFloat32(), hidden.AsSpan(), tolerance, tolerance, "last_hidden_state");
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void UNetOutputMatchesTorchSquareAndNonSquare(string layout, double tolerance)
    {
        using var unet = new OnnxUNet(Path.Combine(ModelFolder(layout), "unet", "model.onnx"));
        foreach ((string dir, int batch, int h, int w) in new[] { ("unet", 2, 16, 16), ("unet_nonsquare", 1, 16, 24) })
        {
            using OnnxUNetRunner runner = unet.CreateRunner(new UNetShape(batch, 4, h, w, 77, 32));
            Ref($"{dir}/sample.npy").AsFloat32().CopyTo(runner.Sample);
            Ref($"{dir}/encoder_hidden_states.npy").AsFloat32().CopyTo(runner.EncoderHiddenStates);
            float t = Ref($"{dir}/timestep.npy").AsFloat32()[0];
            runner.Run(t, UNetRunHints.None, default);
            AssertClose.All(Ref($"{dir}/out_sample.npy").AsFloat32(), runner.Output, tolerance, tolerance, $"{dir} out_sample");
        }
    }

    [Fact]
    public void UNetRunnerGivesIdenticalResultsWhenReused()
    {
        using var unet = new OnnxUNet(Path.Combine(TestPaths.TinyModel, "unet", "model.onnx"));
        using OnnxUNetRunner runner = unet.CreateRunner(new UNetShape(2, 4, 16, 16, 77, 32));
        Ref("unet/sample.npy").AsFloat32().CopyTo(runner.Sample);
        Ref("unet/encoder_hidden_states.npy").AsFloat32().CopyTo(runner.EncoderHiddenStates);
        runner.Run(981, UNetRunHints.None, default);
        float[] first = runner.Output.ToArray();
        runner.Run(500, UNetRunHints.None, default);
        Assert.NotEqual(first, runner.Output.ToArray());
        runner.Run(981, UNetRunHints.None, default);
        Assert.Equal(first, runner.Output.ToArray());
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void VaeDecoderMatchesTorchSquareAndNonSquare(string layout, double tolerance)
    {
        using var decoder = new OnnxVaeDecoder(Path.Combine(ModelFolder(layout), "vae_decoder", "model.onnx"));
        Assert.Equal(0.18215f, decoder.Info.ScalingFactor);
        Assert.Equal(8, decoder.Info.ScaleFactor);
        foreach (string dir in new[] { "vae_decoder", "vae_decoder_nonsquare" })
        {
            NpyArray latents = Ref($"{dir}/latent_sample.npy");
            Tensor<float> image = decoder.Decode(TensorShapes.Wrap(latents.AsFloat32(), latents.Shape));
            NpyArray expected = Ref($"{dir}/sample.npy");
            Assert.Equal(expected.Shape, image.Shape());
            // Raw decoder outputs reach ~6.6: the fp32 bound is relative to that scale.
            AssertClose.All(expected.AsFloat32(), image.AsSpan(), layout == "fp16" ? tolerance : 1e-4, tolerance, dir);
        }
    }

    [Theory]
    [InlineData("optimum", 1e-4)]
    [InlineData("fp16", 2e-2)]
    public void VaeEncoderLatentParametersMatchTorch(string layout, double tolerance)
    {
        using var encoder = new OnnxVaeEncoder(Path.Combine(ModelFolder(layout), "vae_encoder", "model.onnx"));
        Assert.Equal(VaeEncoderOutputKind.LatentParameters, encoder.OutputKind);
        NpyArray sample = Ref("vae_encoder/sample.npy");
        Tensor<float> parameters = encoder.Encode(TensorShapes.Wrap(sample.AsFloat32(), sample.Shape));
        Assert.Equal([1, 8, 16, 16], parameters.Shape());
        AssertClose.All(Ref("vae_encoder/latent_parameters.npy").AsFloat32(), parameters.AsSpan(), tolerance, tolerance, "latent_parameters");
    }

    [Fact]
    public void LegacyVaeEncoderSamplesAroundTheTorchMeanWithTheTorchStd()
    {
        using var encoder = new OnnxVaeEncoder(Path.Combine(TestPaths.LegacyModel, "vae_encoder", "model.onnx"));
        Assert.Equal(VaeEncoderOutputKind.LatentSample, encoder.OutputKind);
        NpyArray sample = Ref("vae_encoder/sample.npy");
        float[] z = encoder.Encode(TensorShapes.Wrap(sample.AsFloat32(), sample.Shape)).AsSpan().ToArray();
        float[] mean = Ref("vae_encoder/mean.npy").AsFloat32();
        float[] std = Ref("vae_encoder/std.npy").AsFloat32();
        double[] normalized = z.Select((v, i) => (v - mean[i]) / (double)std[i]).ToArray();
        double m = normalized.Average();
        double s = Math.Sqrt(normalized.Select(v => (v - m) * (v - m)).Average());
        Assert.InRange(m, -0.2, 0.2);
        Assert.InRange(s, 0.8, 1.2);
    }

    [Fact]
    public void LegacyTextEncoderTakesInt32IdsAndOptimumInt64()
    {
        using var legacy = new OnnxTextEncoder(Path.Combine(TestPaths.LegacyModel, "text_encoder", "model.onnx"));
        using var optimum = new OnnxTextEncoder(Path.Combine(TestPaths.TinyModel, "text_encoder", "model.onnx"));
        Assert.Equal(Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Int32, legacy.InputIdsType);
        Assert.Equal(Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Int64, optimum.InputIdsType);
    }

    [Fact]
    public void UNetTimestepConventionsAreReadFromTheGraph()
    {
        using var optimum = new OnnxUNet(Path.Combine(TestPaths.TinyModel, "unet", "model.onnx"));
        using var legacy = new OnnxUNet(Path.Combine(TestPaths.LegacyModel, "unet", "model.onnx"));
        using var fp16 = new OnnxUNet(Path.Combine(TestPaths.Fp16Model, "unet", "model.onnx"));
        Assert.Equal(0, optimum.TimestepRank);
        Assert.Equal(1, legacy.TimestepRank);
        Assert.Equal(Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float16, fp16.SampleType);
        Assert.Equal(16, optimum.Info.SampleSize);
        Assert.Null(legacy.Info.SampleSize);
        Assert.Equal(32, optimum.Info.CrossAttentionDim);
        Assert.Equal(2, optimum.Info.DownsamplingFactor); // an export upsamples by fixed factors
        Assert.Null(optimum.Info.FixedSequenceLength);
    }
}
