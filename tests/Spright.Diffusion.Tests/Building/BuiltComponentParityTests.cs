using System.Numerics.Tensors;
using Microsoft.ML.OnnxRuntime;
using Spright.Diffusion.Components;
using Spright.Diffusion.OnnxRuntime.Components;
using Spright.Diffusion.OnnxRuntime.Building;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Tests.Infrastructure;

namespace Spright.Diffusion.Tests.Building;

/// <summary>
/// Graphs built from the tiny diffusers folders against the torch component references (reference README sections E
/// and H) at the component tolerance 1e-4 + 1e-4·|ref|: every component of tiny-sd2-diffusers and tiny-sd1-diffusers,
/// including the non-square and odd (13×21 latent, 104×168 px) cases, with the CPU operator set and with standard
/// operators only.
/// </summary>
public sealed class BuiltComponentParityTests
{
    private const double Tolerance = 1e-4;

    public static TheoryData<string, string, string> Cases()
    {
        var data = new TheoryData<string, string, string>();
        foreach (string ops in new[] { "cpu", "standard", "nhwc", "cuda-emulated", "cpu-subpixel" })
        {
            foreach (string model in new[] { "sd2", "sd1" })
            {
                foreach (string component in new[] { "text_encoder", "unet", "vae_decoder", "vae_encoder" })
                {
                    // The text encoder has no channels-last form: its CUDA graph is the CPU one. Only the UNet and the VAE
                    // decoder have upsamplers.
                    if (ops == "cpu-subpixel" ? component is "unet" or "vae_decoder" : component != "text_encoder" || ops is "cpu" or "standard")
                    {
                        data.Add(model, component, ops);
                    }
                }
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void BuiltGraph_MatchesTorchReference(string model, string component, string ops)
    {
        using var temp = new TempFolder();
        GraphOptimizations optimizations = Optimizations(ops);
        (DiffusersComponentKind kind, string folder) = Component(component);
        string root = model == "sd2" ? BuildingTestData.TinySd2 : BuildingTestData.TinySd1;
        string path = DiffusersGraphs.GetOrBuild(kind, Path.Combine(root, folder), BuildingTestData.Options(temp, optimizations: optimizations));
        using InferenceSession session = BuildingTestData.Session(path);

        string[] cases = ReferenceCases(model, component);
        Assert.NotEmpty(cases);
        foreach (string dir in cases)
        {
            (string[] inputs, string[] outputs) = Io(component);
            var feeds = inputs.Select(i => BuildingTestData.NpyInput(session, i, Path.Combine(dir, i + ".npy"))).ToList();
            Dictionary<string, (float[] Data, int[] Shape)> results = BuildingTestData.Run(session, feeds);
            foreach (string output in outputs)
            {
                NpyArray expected = Npy.Load(Path.Combine(dir, output + ".npy"));
                Assert.Equal(expected.Shape, results[output].Shape);
                AssertClose.All(expected.AsFloat32(), results[output].Data, Tolerance, Tolerance, $"{model} {Path.GetFileName(dir)} {output} ({ops})");
            }
        }
    }

    [Fact]
    public void BuiltGraphs_LoadInTheLibrarysOnnxComponentsUnchanged()
    {
        using var temp = new TempFolder();
        GraphBuildOptions options = BuildingTestData.Options(temp);
        string sd2 = BuildingTestData.TinySd2;

        using (var encoder = new OnnxTextEncoder(DiffusersGraphs.GetOrBuild(DiffusersComponentKind.TextEncoder, Path.Combine(sd2, "text_encoder"), options)))
        {
            int[] ids = Npy.Load(BuildingTestData.Sd2Reference("text_encoder", "input_ids.npy")).AsInt64().Select(l => (int)l).ToArray();
            Tensor<float> hidden = encoder.Encode(ids, 2);
            Assert.Equal(32, encoder.HiddenSize);
            AssertClose.All(Npy.Load(BuildingTestData.Sd2Reference("text_encoder", "last_hidden_state.npy")).AsFloat32(), hidden.AsSpan(), Tolerance, Tolerance, "text");
        }

        using (var unet = new OnnxUNet(DiffusersGraphs.GetOrBuild(DiffusersComponentKind.UNet, Path.Combine(sd2, "unet"), options)))
        {
            Assert.Equal(4, unet.Info.InChannels);
            Assert.Equal(32, unet.Info.CrossAttentionDim);
            // 154 tokens: a weighted prompt's two chunks; the sequence axis must be dynamic.
            foreach (int tokens in new[] { 77, 154 })
            {
                using IUNetRunner runner = unet.RentRunner(new UNetShape(2, 4, 16, 16, tokens, 32));
                float[] ehs = Npy.Load(BuildingTestData.Sd2Reference("unet", "encoder_hidden_states.npy")).AsFloat32();
                float[] wide = tokens == 77 ? ehs : Enumerable.Range(0, 2).SelectMany(b => ehs.AsSpan(b * 77 * 32, 77 * 32).ToArray().Concat(ehs.AsSpan(b * 77 * 32, 77 * 32).ToArray())).ToArray();
                Npy.Load(BuildingTestData.Sd2Reference("unet", "sample.npy")).AsFloat32().CopyTo(runner.Sample);
                wide.CopyTo(runner.EncoderHiddenStates);
                runner.Run(Npy.Load(BuildingTestData.Sd2Reference("unet", "timestep.npy")).AsFloat32()[0], UNetRunHints.None, CancellationToken.None);
                if (tokens == 77)
                {
                    AssertClose.All(Npy.Load(BuildingTestData.Sd2Reference("unet", "out_sample.npy")).AsFloat32(), runner.Output, Tolerance, Tolerance, "unet");
                }
                else
                {
                    Assert.All(runner.Output.ToArray(), v => Assert.True(float.IsFinite(v)));
                }
            }
        }

        using (var decoder = new OnnxVaeDecoder(DiffusersGraphs.GetOrBuild(DiffusersComponentKind.VaeDecoder, Path.Combine(sd2, "vae"), options)))
        {
            Assert.Equal(0.18215f, decoder.Info.ScalingFactor);
            NpyArray latents = Npy.Load(BuildingTestData.Sd2Reference("vae_decoder", "latent_sample.npy"));
            Tensor<float> image = decoder.Decode(TensorShapes.Wrap(latents.AsFloat32(), latents.Shape));
            AssertClose.All(Npy.Load(BuildingTestData.Sd2Reference("vae_decoder", "sample.npy")).AsFloat32(), image.AsSpan(), Tolerance, Tolerance, "decoder");
        }

        using (var vaeEncoder = new OnnxVaeEncoder(DiffusersGraphs.GetOrBuild(DiffusersComponentKind.VaeEncoder, Path.Combine(sd2, "vae"), options)))
        {
            Assert.Equal(VaeEncoderOutputKind.LatentParameters, vaeEncoder.OutputKind);
            NpyArray sample = Npy.Load(BuildingTestData.Sd2Reference("vae_encoder", "sample.npy"));
            Tensor<float> parameters = vaeEncoder.Encode(TensorShapes.Wrap(sample.AsFloat32(), sample.Shape));
            AssertClose.All(Npy.Load(BuildingTestData.Sd2Reference("vae_encoder", "latent_parameters.npy")).AsFloat32(), parameters.AsSpan(), Tolerance, Tolerance, "encoder");
        }
    }

    [Fact]
    public void BuiltGraphs_HaveTheOptimumExportsInputsAndOutputs()
    {
        using var temp = new TempFolder();
        GraphBuildOptions options = BuildingTestData.Options(temp);
        var expected = new Dictionary<DiffusersComponentKind, (string Folder, string[] Inputs, string[] Outputs)>
        {
            [DiffusersComponentKind.TextEncoder] = ("text_encoder", ["input_ids:Int64:batch_size,sequence_length"],
                ["last_hidden_state:Float:batch_size,sequence_length,32", "pooler_output:Float:batch_size,32"]),
            [DiffusersComponentKind.UNet] = ("unet",
                ["sample:Float:batch_size,4,height,width", "timestep:Float:", "encoder_hidden_states:Float:batch_size,sequence_length,32"],
                ["out_sample:Float:batch_size,4,height,width"]),
            [DiffusersComponentKind.VaeEncoder] = ("vae", ["sample:Float:batch_size,3,sample_height,sample_width"],
                ["latent_parameters:Float:batch_size,8,sample_height / 8,sample_width / 8"]),
            [DiffusersComponentKind.VaeDecoder] = ("vae", ["latent_sample:Float:batch_size,4,latent_height,latent_width"],
                ["sample:Float:batch_size,3,latent_height * 8,latent_width * 8"]),
        };
        foreach ((DiffusersComponentKind kind, (string folder, string[] inputs, string[] outputs)) in expected)
        {
            using InferenceSession session = BuildingTestData.Session(DiffusersGraphs.GetOrBuild(kind, Path.Combine(BuildingTestData.TinySd2, folder), options));
            Assert.Equal(inputs, session.InputMetadata.Select(Describe));
            Assert.Equal(outputs, session.OutputMetadata.Select(Describe));
        }
    }

    private static string Describe(KeyValuePair<string, NodeMetadata> kv) =>
        $"{kv.Key}:{kv.Value.ElementDataType}:{string.Join(",", kv.Value.Dimensions.Select((d, i) => d >= 0 ? d.ToString(System.Globalization.CultureInfo.InvariantCulture) : kv.Value.SymbolicDimensions[i]))}";

    /// <summary>cpu: the CPU operator set; standard: ONNX operators only; nhwc: the CPU set channels-last; cuda-emulated: the
    /// CUDA graph with each CUDA-only operator replaced by CPU operators (layout, weight permutations, head interleaving);
    /// cpu-subpixel: the CPU set with sub-pixel upsampling in the UNet too and on the tiny models' narrow upsamplers.</summary>
    internal static GraphOptimizations Optimizations(string ops) => ops switch
    {
        "cpu" => GraphOptimizations.CpuDefault,
        "standard" => GraphOptimizations.None,
        "nhwc" => GraphOptimizations.CpuDefault | GraphOptimizations.ChannelsLast,
        "cuda-emulated" => GraphOptimizations.CudaDefault | GraphOptimizations.EmulateCudaOperators,
        "cpu-subpixel" => GraphOptimizations.CpuDefault | GraphOptimizations.SubPixelAtAnyWidth | GraphOptimizations.SubPixelUpsamplingInUNet,
        _ => throw new ArgumentOutOfRangeException(nameof(ops)),
    };

    internal static (DiffusersComponentKind Kind, string Folder) Component(string component) => component switch
    {
        "text_encoder" => (DiffusersComponentKind.TextEncoder, "text_encoder"),
        "unet" => (DiffusersComponentKind.UNet, "unet"),
        "vae_decoder" => (DiffusersComponentKind.VaeDecoder, "vae"),
        "vae_encoder" => (DiffusersComponentKind.VaeEncoder, "vae"),
        _ => throw new ArgumentOutOfRangeException(nameof(component)),
    };

    internal static (string[] Inputs, string[] Outputs) Io(string component) => component switch
    {
        "text_encoder" => (["input_ids"], ["last_hidden_state", "pooler_output"]),
        "unet" => (["sample", "timestep", "encoder_hidden_states"], ["out_sample"]),
        "vae_decoder" => (["latent_sample"], ["sample"]),
        "vae_encoder" => (["sample"], ["latent_parameters"]),
        _ => throw new ArgumentOutOfRangeException(nameof(component)),
    };

    /// <summary>The reference folders of a component: e.g. unet, unet_nonsquare (sd2) or unet, unet_odd (sd1).</summary>
    internal static string[] ReferenceCases(string model, string component)
    {
        string root = model == "sd2" ? BuildingTestData.Sd2Reference() : BuildingTestData.Sd1Reference();
        return Directory.GetDirectories(root)
            .Where(d => Path.GetFileName(d) == component || Path.GetFileName(d).StartsWith(component + "_", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToArray();
    }
}
