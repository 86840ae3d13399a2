using System.Text.Json.Nodes;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Spright.Diffusion.OnnxRuntime.Building;
using Spright.Diffusion.Tests.Infrastructure;

namespace Spright.Diffusion.Tests.Building;

/// <summary>
/// Configurations no fixture has, with random weights written by the test (<see cref="SyntheticModels"/>): the graphs
/// must build from the config, run, give the shapes diffusers gives, agree between operator sets, and treat equivalent
/// spellings of a config (heads by either key, per-level lists, old attention key names) identically.
/// </summary>
public sealed class UnseenConfigurationTests
{
    [Theory]
    [InlineData(8, 12)]
    [InlineData(9, 13)]
    [InlineData(5, 3)]
    [InlineData(10, 7)]
    public void UNet_OfAnUnseenMix_BuildsAndRunsAtAnySize(int height, int width)
    {
        using var temp = new TempFolder();
        string folder = temp.Combine("unet");
        JsonObject config = SyntheticModels.UNetConfig();
        SyntheticModels.Write(folder, "diffusion_pytorch_model.safetensors", config, SyntheticModels.UNetParameters(config), seed: 1);

        float[] standard = RunUNet(temp, folder, GraphOptimizations.None, 2, height, width, 9);
        float[] cpu = RunUNet(temp, folder, GraphOptimizations.CpuDefault, 2, height, width, 9);
        float[] subPixel = RunUNet(temp, folder, GraphOptimizations.CpuDefault | GraphOptimizations.SubPixelAtAnyWidth | GraphOptimizations.SubPixelUpsamplingInUNet, 2, height, width, 9);
        Assert.Equal(2 * 4 * height * width, standard.Length);
        Assert.All(standard, v => Assert.True(float.IsFinite(v)));
        Assert.True(standard.Select(Math.Abs).Max() > 1e-3, "the output is not trivially zero");
        AssertClose.All(standard, cpu, 1e-4, 1e-4, "standard vs CPU operator set");
        AssertClose.All(standard, subPixel, 1e-4, 1e-4, "standard vs CPU operator set with sub-pixel upsampling (odd sides cropped)");
    }

    [Theory]
    [InlineData("mid_block_type", "\"UNetMidBlock2D\"")]
    [InlineData("mid_block_type", "null")]
    [InlineData("resnet_time_scale_shift", "\"scale_shift\"")]
    [InlineData("time_embedding_dim", "40")]
    [InlineData("conv_in_kernel", "1")]
    [InlineData("center_input_sample", "true")]
    [InlineData("act_fn", "\"mish\"")]
    public void UNet_OtherDiffusersOptions_BuildAndAgreeBetweenOperatorSets(string key, string json)
    {
        using var temp = new TempFolder();
        string folder = temp.Combine("unet");
        JsonObject config = SyntheticModels.UNetConfig();
        config[key] = JsonNode.Parse(json);
        SyntheticModels.Write(folder, "diffusion_pytorch_model.safetensors", config, SyntheticModels.UNetParameters(config), seed: 2);
        float[] standard = RunUNet(temp, folder, GraphOptimizations.None, 1, 6, 10, 3);
        Assert.All(standard, v => Assert.True(float.IsFinite(v)));
        AssertClose.All(standard, RunUNet(temp, folder, GraphOptimizations.CpuDefault, 1, 6, 10, 3), 1e-4, 1e-4, $"{key} standard vs CPU operator set");
        AssertClose.All(standard, RunUNet(temp, folder, GraphOptimizations.CudaDefault | GraphOptimizations.EmulateCudaOperators, 1, 6, 10, 3), 1e-4, 1e-4,
            $"{key} standard vs emulated CUDA operator set");
    }

    [Fact]
    public void UNet_HeadsGivenByEitherKeyAndLayersAsIntOrList_BuildTheSameGraph()
    {
        using var temp = new TempFolder();
        JsonObject config = SyntheticModels.UNetConfig();
        List<(string, long[])> parameters = SyntheticModels.UNetParameters(config);
        string a = temp.Combine("a");
        SyntheticModels.Write(a, "diffusion_pytorch_model.safetensors", config, parameters, seed: 3);

        // diffusers' naming quirk: attention_head_dim alone is the head count; per-level lists equal repeated ints.
        JsonObject renamed = SyntheticModels.UNetConfig();
        renamed.Remove("num_attention_heads");
        renamed["attention_head_dim"] = new JsonArray(1, 2, 4);
        renamed["transformer_layers_per_block"] = new JsonArray(2, 2, 2);
        renamed["cross_attention_dim"] = new JsonArray(24, 24, 24);
        string b = temp.Combine("b");
        SyntheticModels.Write(b, "diffusion_pytorch_model.safetensors", renamed, parameters, seed: 3);

        Assert.Equal(RunUNet(temp, a, GraphOptimizations.None, 1, 8, 8, 5), RunUNet(temp, b, GraphOptimizations.None, 1, 8, 8, 5));
    }

    [Fact]
    public void UNet_WithDifferentHeadCounts_GivesDifferentResults()
    {
        // The test above must be able to fail: the head count changes the result.
        using var temp = new TempFolder();
        JsonObject config = SyntheticModels.UNetConfig();
        List<(string, long[])> parameters = SyntheticModels.UNetParameters(config);
        string a = temp.Combine("a");
        SyntheticModels.Write(a, "diffusion_pytorch_model.safetensors", config, parameters, seed: 3);
        JsonObject other = SyntheticModels.UNetConfig();
        other["num_attention_heads"] = new JsonArray(1, 1, 2);
        string b = temp.Combine("b");
        SyntheticModels.Write(b, "diffusion_pytorch_model.safetensors", other, parameters, seed: 3);
        Assert.NotEqual(RunUNet(temp, a, GraphOptimizations.None, 1, 8, 8, 5), RunUNet(temp, b, GraphOptimizations.None, 1, 8, 8, 5));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Vae_WithThreeLevelsAndEitherAttentionNaming_EncodesAndDecodes(bool oldNames)
    {
        using var temp = new TempFolder();
        string folder = temp.Combine("vae");
        JsonObject config = SyntheticModels.VaeConfig();
        SyntheticModels.Write(folder, "diffusion_pytorch_model.safetensors", config, SyntheticModels.VaeParameters(config, oldNames), seed: 11);
        GraphBuildOptions options = BuildingTestData.Options(temp);

        using (InferenceSession encoder = BuildingTestData.Session(DiffusersGraphs.GetOrBuild(DiffusersComponentKind.VaeEncoder, folder, options)))
        {
            var input = BuildingTestData.FloatInput(encoder, "sample", BuildingTestData.RandomFloats(1 * 3 * 20 * 28, 2), [1, 3, 20, 28]);
            (float[] data, int[] shape) = BuildingTestData.Run(encoder, [input])["latent_parameters"];
            Assert.Equal([1, 6, 5, 7], shape);
            Assert.All(data, v => Assert.True(float.IsFinite(v)));
            Assert.Equal("sample_height / 4", encoder.OutputMetadata["latent_parameters"].SymbolicDimensions[2]);
        }
        using (InferenceSession decoder = BuildingTestData.Session(DiffusersGraphs.GetOrBuild(DiffusersComponentKind.VaeDecoder, folder, options)))
        {
            var input = BuildingTestData.FloatInput(decoder, "latent_sample", BuildingTestData.RandomFloats(2 * 3 * 5 * 7, 3), [2, 3, 5, 7]);
            (float[] data, int[] shape) = BuildingTestData.Run(decoder, [input])["sample"];
            Assert.Equal([2, 3, 20, 28], shape);
            Assert.All(data, v => Assert.True(float.IsFinite(v)));
        }
    }

    [Fact]
    public void VaeDecoder_WithUpsamplersOf128Channels_UsesSubPixelUpsamplingByDefault_AndAgreesWithStandardOperators()
    {
        using var temp = new TempFolder();
        string folder = temp.Combine("vae");
        JsonObject config = SyntheticModels.VaeConfig();
        config["block_out_channels"] = new JsonArray(64, 128, 128);
        config["norm_num_groups"] = 32;
        SyntheticModels.Write(folder, "diffusion_pytorch_model.safetensors", config, SyntheticModels.VaeParameters(config, false), seed: 13);
        float[] latents = BuildingTestData.RandomFloats(3 * 5 * 6, 4);
        var results = new Dictionary<GraphOptimizations, float[]>();
        foreach (GraphOptimizations ops in new[] { GraphOptimizations.None, GraphOptimizations.CpuDefault })
        {
            string path = DiffusersGraphs.GetOrBuild(DiffusersComponentKind.VaeDecoder, folder, BuildingTestData.Options(temp, optimizations: ops));
            // The default CPU graph of a decoder this wide has the phase form (DepthToSpace), the standard one a Resize.
            string graph = System.Text.Encoding.Latin1.GetString(File.ReadAllBytes(path));
            Assert.Equal(ops == GraphOptimizations.CpuDefault, graph.Contains("DepthToSpace", StringComparison.Ordinal));
            using InferenceSession decoder = BuildingTestData.Session(path);
            (float[] data, int[] shape) = BuildingTestData.Run(decoder, [BuildingTestData.FloatInput(decoder, "latent_sample", latents, [1, 3, 5, 6])])["sample"];
            Assert.Equal([1, 3, 20, 24], shape);
            results[ops] = data;
        }
        Assert.True(results[GraphOptimizations.None].Select(Math.Abs).Max() > 1e-3, "the output is not trivially zero");
        AssertClose.All(results[GraphOptimizations.None], results[GraphOptimizations.CpuDefault], 1e-4, 1e-4, "standard vs CPU operator set (sub-pixel upsampling)");
    }

    [Fact]
    public void Vae_OldAndNewAttentionNames_GiveIdenticalResults()
    {
        using var temp = new TempFolder();
        JsonObject config = SyntheticModels.VaeConfig();
        var outputs = new List<float[]>();
        foreach (bool old in new[] { false, true })
        {
            string folder = temp.Combine(old ? "old" : "new");
            SyntheticModels.Write(folder, "diffusion_pytorch_model.safetensors", config, SyntheticModels.VaeParameters(config, old), seed: 5);
            using InferenceSession decoder = BuildingTestData.Session(DiffusersGraphs.GetOrBuild(DiffusersComponentKind.VaeDecoder, folder, BuildingTestData.Options(temp)));
            var input = BuildingTestData.FloatInput(decoder, "latent_sample", BuildingTestData.RandomFloats(3 * 4 * 4, 8), [1, 3, 4, 4]);
            outputs.Add(BuildingTestData.Run(decoder, [input])["sample"].Data);
        }
        Assert.Equal(outputs[0], outputs[1]);
    }

    [Fact]
    public void Clip_QuickGeluWithANewEosId_PoolsTheFirstEosTokenAndIgnoresStalePositionIds()
    {
        using var temp = new TempFolder();
        string folder = temp.Combine("text_encoder");
        JsonObject config = SyntheticModels.ClipConfig();
        var stale = new SafetensorsWriter.Entry("text_model.embeddings.position_ids", "I64", [1, 20],
            Enumerable.Range(0, 20).SelectMany(i => BitConverter.GetBytes((long)i)).ToArray());
        SyntheticModels.Write(folder, "model.safetensors", config, SyntheticModels.ClipParameters(config), seed: 21, extra: [stale]);

        foreach (GraphOptimizations ops in new[] { GraphOptimizations.None, GraphOptimizations.CpuDefault })
        {
            using InferenceSession session = BuildingTestData.Session(DiffusersGraphs.GetOrBuild(DiffusersComponentKind.TextEncoder, folder, BuildingTestData.Options(temp, optimizations: ops)));
            // eos 7 first at position 3 in row 0 and 5 in row 1; a larger id (99) comes later, which the legacy rule would pick.
            long[] ids = [1, 12, 40, 7, 99, 7, 0, 0, 0, 0, 1, 50, 60, 70, 80, 7, 99, 0, 0, 0];
            var input = NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(ids, [2, 10]));
            Dictionary<string, (float[] Data, int[] Shape)> results = BuildingTestData.Run(session, [input]);
            (float[] hidden, int[] hiddenShape) = results["last_hidden_state"];
            (float[] pooled, int[] pooledShape) = results["pooler_output"];
            Assert.Equal([2, 10, 24], hiddenShape);
            Assert.Equal([2, 24], pooledShape);
            Assert.Equal(hidden.AsSpan(3 * 24, 24).ToArray(), pooled.AsSpan(0, 24).ToArray());
            Assert.Equal(hidden.AsSpan((10 + 5) * 24, 24).ToArray(), pooled.AsSpan(24, 24).ToArray());
        }
    }

    [Fact]
    public void Clip_CausalMask_MakesEarlierPositionsIndependentOfLaterTokens()
    {
        using var temp = new TempFolder();
        string folder = temp.Combine("text_encoder");
        JsonObject config = SyntheticModels.ClipConfig();
        SyntheticModels.Write(folder, "model.safetensors", config, SyntheticModels.ClipParameters(config), seed: 22);
        foreach (GraphOptimizations ops in new[] { GraphOptimizations.None, GraphOptimizations.CpuDefault })
        {
            using InferenceSession session = BuildingTestData.Session(DiffusersGraphs.GetOrBuild(DiffusersComponentKind.TextEncoder, folder, BuildingTestData.Options(temp, optimizations: ops)));
            float[] Hidden(long last)
            {
                var input = NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(new long[] { 1, 5, 9, last }, [1, 4]));
                return BuildingTestData.Run(session, [input])["last_hidden_state"].Data;
            }
            float[] a = Hidden(30);
            float[] b = Hidden(31);
            AssertClose.All(a.AsSpan(0, 3 * 24), b.AsSpan(0, 3 * 24), 1e-6, 0, "positions before the changed token");
            Assert.NotEqual(a.AsSpan(3 * 24).ToArray(), b.AsSpan(3 * 24).ToArray());
        }
    }

    [Fact]
    public void UNet_ShortFormConfig_AsSd21AndSprightShipIt_BuildsTheSameGraphAsTheFullForm()
    {
        // SD 2.1's unet/config.json (what SPRIGHT's is) names only the keys of diffusers 0.10: every other key takes
        // diffusers' default. Keep exactly those keys of the tiny model's full config.
        string[] shortForm =
        [
            "_class_name", "_diffusers_version", "act_fn", "attention_head_dim", "block_out_channels", "center_input_sample", "cross_attention_dim",
            "down_block_types", "downsample_padding", "dual_cross_attention", "flip_sin_to_cos", "freq_shift", "in_channels", "layers_per_block",
            "mid_block_scale_factor", "norm_eps", "norm_num_groups", "num_class_embeds", "only_cross_attention", "out_channels", "sample_size",
            "up_block_types", "use_linear_projection", "upcast_attention",
        ];
        using var temp = new TempFolder();
        string folder = temp.Copy(Path.Combine(BuildingTestData.TinySd2, "unet"), "unet");
        string config = Path.Combine(folder, "config.json");
        var full = (JsonObject)JsonNode.Parse(File.ReadAllText(config))!;
        var reduced = new JsonObject();
        foreach (string key in shortForm)
        {
            reduced[key] = full[key]?.DeepClone();
        }
        File.WriteAllText(config, reduced.ToJsonString());
        Assert.False(reduced.ContainsKey("transformer_layers_per_block"));
        Assert.Equal(RunUNet(temp, Path.Combine(BuildingTestData.TinySd2, "unet"), GraphOptimizations.None, 1, 8, 8, 5, 32),
            RunUNet(temp, folder, GraphOptimizations.None, 1, 8, 8, 5, 32));
    }

    private static float[] RunUNet(TempFolder temp, string folder, GraphOptimizations ops, int batch, int height, int width, int tokens, int cross = 24)
    {
        using InferenceSession session = BuildingTestData.Session(DiffusersGraphs.GetOrBuild(DiffusersComponentKind.UNet, folder, BuildingTestData.Options(temp, optimizations: ops)));
        var inputs = new List<NamedOnnxValue>
        {
            BuildingTestData.FloatInput(session, "sample", BuildingTestData.RandomFloats(batch * 4 * height * width, 4), [batch, 4, height, width]),
            NamedOnnxValue.CreateFromTensor("timestep", new DenseTensor<float>(new[] { 501f }, [])),
            BuildingTestData.FloatInput(session, "encoder_hidden_states", BuildingTestData.RandomFloats(batch * tokens * cross, 6), [batch, tokens, cross]),
        };
        (float[] data, int[] shape) = BuildingTestData.Run(session, inputs)["out_sample"];
        Assert.Equal([batch, 4, height, width], shape);
        return data;
    }
}
