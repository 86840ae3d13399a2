using System.Text.Json.Nodes;
using Spright.Diffusion.OnnxRuntime.Building;
using Spright.Diffusion.OnnxRuntime.Safetensors;

namespace Spright.Diffusion.Tests.Building;

/// <summary>
/// Broken or unsupported component folders: each is a one-line <see cref="ModelLoadException"/> naming the file and the
/// tensor or config key at fault, raised before any graph is written (never a silently wrong graph or a crash).
/// </summary>
public sealed class BadModelInputTests
{
    private const string UNetWeights = "diffusion_pytorch_model.safetensors";

    [Fact]
    public void TruncatedWeights_NameTheFileAndATensor()
    {
        using var temp = new TempFolder();
        string unet = temp.Copy(Path.Combine(BuildingTestData.TinySd2, "unet"), "unet");
        using (var stream = new FileStream(Path.Combine(unet, UNetWeights), FileMode.Open, FileAccess.Write))
        {
            stream.SetLength(stream.Length - 1000);
        }
        ModelLoadException ex = BuildFails(temp, DiffusersComponentKind.UNet, unet);
        Assert.Equal(Path.Combine(unet, UNetWeights), ex.FilePath);
        Assert.Matches("tensor '[^']+': data_offsets .* point past the end", ex.Message);
        AssertNoEntry(temp);
    }

    [Fact]
    public void MissingTensor_IsNamedWithTheShapeTheConfigImplies()
    {
        using var temp = new TempFolder();
        string unet = temp.Copy(Path.Combine(BuildingTestData.TinySd2, "unet"), "unet");
        RewriteWeights(Path.Combine(unet, UNetWeights), e => e.Name == "mid_block.attentions.0.proj_in.weight" ? null : e);
        ModelLoadException ex = BuildFails(temp, DiffusersComponentKind.UNet, unet);
        Assert.Contains("tensor 'mid_block.attentions.0.proj_in.weight' is missing (the config implies one of shape [64, 64])", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TensorOfTheWrongShape_IsNamedWithBothShapes()
    {
        using var temp = new TempFolder();
        string vae = temp.Copy(Path.Combine(BuildingTestData.TinySd2, "vae"), "vae");
        RewriteWeights(Path.Combine(vae, UNetWeights), e => e.Name == "decoder.conv_in.weight"
            ? SafetensorsWriter.Floats(e.Name, [16, 4, 1, 9], new float[16 * 4 * 9])
            : e);
        ModelLoadException ex = BuildFails(temp, DiffusersComponentKind.VaeDecoder, vae);
        Assert.Equal(Path.Combine(vae, UNetWeights), ex.FilePath);
        Assert.Contains("tensor 'decoder.conv_in.weight' has shape [16, 4, 1, 9]; the config implies [16, 4, 3, 3]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void HeaderPointingPastTheEnd_IsRefused()
    {
        using var temp = new TempFolder();
        string text = temp.Copy(Path.Combine(BuildingTestData.TinySd2, "text_encoder"), "text_encoder");
        string path = Path.Combine(text, "model.safetensors");
        SafetensorsFile file = SafetensorsFile.Read(path);
        byte[] bytes = File.ReadAllBytes(path);
        string header = System.Text.Encoding.UTF8.GetString(bytes, 8, (int)file.HeaderLength);
        JsonObject json = (JsonObject)JsonNode.Parse(header)!;
        SafetensorsTensor last = file.Tensors[^1];
        long dataLength = file.FileLength - 8 - file.HeaderLength;
        json[last.Name]!["data_offsets"] = new JsonArray(dataLength - 4, dataLength + last.ByteLength - 4);
        SafetensorsWriter.WriteRaw(path, json.ToJsonString(), bytes.AsSpan((int)(8 + file.HeaderLength)).ToArray());
        ModelLoadException ex = BuildFails(temp, DiffusersComponentKind.TextEncoder, text);
        Assert.Contains($"tensor '{last.Name}'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("point past the end", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void StrayTensor_TheConfigDoesNotDescribe_IsRefused()
    {
        using var temp = new TempFolder();
        string unet = temp.Copy(Path.Combine(BuildingTestData.TinySd2, "unet"), "unet");
        RewriteWeights(Path.Combine(unet, UNetWeights), e => e, [SafetensorsWriter.Floats("down_blocks.0.resnets.7.conv1.weight", [2], [1f, 2f])]);
        ModelLoadException ex = BuildFails(temp, DiffusersComponentKind.UNet, unet);
        Assert.Contains("tensor 'down_blocks.0.resnets.7.conv1.weight' [2] is not used by the architecture config.json describes", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void IntegerWeight_IsRefusedWithItsDtype()
    {
        using var temp = new TempFolder();
        string unet = temp.Copy(Path.Combine(BuildingTestData.TinySd2, "unet"), "unet");
        RewriteWeights(Path.Combine(unet, UNetWeights), e => e.Name == "conv_in.bias" ? new SafetensorsWriter.Entry(e.Name, "I32", e.Shape, e.Data) : e);
        ModelLoadException ex = BuildFails(temp, DiffusersComponentKind.UNet, unet);
        Assert.Contains("tensor 'conv_in.bias' is I32; the graph builder takes F32, F16 or BF16 weights", ex.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string, string, string, string> UnsupportedConfigs() => new()
    {
        { "unet", "addition_embed_type", "\"text_time\"", "SDXL-style added embeddings" },
        { "unet", "class_embed_type", "\"timestep\"", "class embeddings" },
        { "unet", "time_cond_proj_dim", "256", "LCM guidance embeddings" },
        { "unet", "mid_block_type", "\"UNetMidBlock2DSimpleCrossAttn\"", "UNetMidBlock2DCrossAttn, UNetMidBlock2D and null are built" },
        { "unet", "down_block_types", "[\"AttnDownBlock2D\",\"DownBlock2D\"]", "block 'AttnDownBlock2D' is not" },
        { "unet", "resnet_time_scale_shift", "\"spatial\"", "'default' and 'scale_shift' are built" },
        { "unet", "only_cross_attention", "true", "only_cross_attention false" },
        { "unet", "dual_cross_attention", "true", "dual cross-attention" },
        { "unet", "time_embedding_type", "\"fourier\"", "positional" },
        { "unet", "encoder_hid_dim", "64", "encoder hidden-state projection" },
        { "unet", "attention_type", "\"gated\"", "GLIGEN" },
        { "text_encoder", "hidden_act", "\"gelu_10\"", "gelu, quick_gelu" },
        { "text_encoder", "architectures", "[\"CLIPTextModelWithProjection\"]", "only CLIPTextModel" },
        { "vae", "down_block_types", "[\"AttnDownEncoderBlock2D\",\"DownEncoderBlock2D\",\"DownEncoderBlock2D\",\"DownEncoderBlock2D\"]", "only DownEncoderBlock2D" },
        { "vae", "act_fn", "\"tanh\"", "silu/swish" },
    };

    [Theory]
    [MemberData(nameof(UnsupportedConfigs))]
    public void UnsupportedConfigValue_NamesFileKeyAndValue(string component, string key, string json, string reason)
    {
        using var temp = new TempFolder();
        string folder = temp.Copy(Path.Combine(BuildingTestData.TinySd2, component), component);
        string config = Path.Combine(folder, "config.json");
        var root = (JsonObject)JsonNode.Parse(File.ReadAllText(config))!;
        root[key] = JsonNode.Parse(json);
        File.WriteAllText(config, root.ToJsonString());
        DiffusersComponentKind kind = component switch
        {
            "unet" => DiffusersComponentKind.UNet,
            "text_encoder" => DiffusersComponentKind.TextEncoder,
            _ => DiffusersComponentKind.VaeDecoder,
        };
        ModelLoadException ex = BuildFails(temp, kind, folder);
        Assert.Equal(config, ex.FilePath);
        string shown = JsonNode.Parse(json)!.ToJsonString();
        Assert.Contains($"key '{key}' is {shown[..Math.Min(shown.Length, 40)]}", ex.Message, StringComparison.Ordinal);
        Assert.Contains(reason, ex.Message, StringComparison.Ordinal);
        AssertNoEntry(temp);
    }

    [Theory]
    [InlineData("block_out_channels", "\"wide\"", "expected a list of integers")]
    [InlineData("layers_per_block", "[1, 2, 3]", "3 entries, expected 2 (one per level)")]
    [InlineData("norm_num_groups", "7", "block_out_channels 32 is not divisible by it")]
    [InlineData("up_block_types", "[\"UpBlock2D\"]", "1 entries but down_block_types has 2")]
    public void InvalidConfigValue_NamesFileAndKey(string key, string json, string expected)
    {
        using var temp = new TempFolder();
        string unet = temp.Copy(Path.Combine(BuildingTestData.TinySd2, "unet"), "unet");
        string config = Path.Combine(unet, "config.json");
        var root = (JsonObject)JsonNode.Parse(File.ReadAllText(config))!;
        root[key] = JsonNode.Parse(json);
        File.WriteAllText(config, root.ToJsonString());
        ModelLoadException ex = BuildFails(temp, DiffusersComponentKind.UNet, unet);
        Assert.Equal(config, ex.FilePath);
        Assert.Contains($"key '{key}'", ex.Message, StringComparison.Ordinal);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ConfigThatDisagreesWithTheWeights_IsATensorError()
    {
        // attention_head_dim is a head count: changing it keeps every shape, but layers_per_block does not.
        using var temp = new TempFolder();
        string unet = temp.Copy(Path.Combine(BuildingTestData.TinySd2, "unet"), "unet");
        string config = Path.Combine(unet, "config.json");
        var root = (JsonObject)JsonNode.Parse(File.ReadAllText(config))!;
        root["layers_per_block"] = 2;
        File.WriteAllText(config, root.ToJsonString());
        ModelLoadException ex = BuildFails(temp, DiffusersComponentKind.UNet, unet);
        Assert.Contains("tensor 'down_blocks.0.resnets.1.norm1.weight' is missing", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingConfigOrWeights_AreClearErrors()
    {
        using var temp = new TempFolder();
        string unet = temp.Copy(Path.Combine(BuildingTestData.TinySd2, "unet"), "unet");
        File.Delete(Path.Combine(unet, UNetWeights));
        ModelLoadException ex = BuildFails(temp, DiffusersComponentKind.UNet, unet);
        Assert.Contains("neither diffusion_pytorch_model.safetensors nor diffusion_pytorch_model.safetensors.index.json", ex.Message, StringComparison.Ordinal);
        File.Delete(Path.Combine(unet, "config.json"));
        ex = BuildFails(temp, DiffusersComponentKind.UNet, unet);
        Assert.Contains("config.json not found", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void InvalidOptions_AreArgumentExceptionsNamingTheOption()
    {
        using var temp = new TempFolder();
        string unet = Path.Combine(BuildingTestData.TinySd2, "unet");
        var ex = Assert.Throws<ArgumentException>(() => DiffusersGraphs.GetOrBuild(DiffusersComponentKind.UNet, unet, BuildingTestData.Options(temp, variant: "../x")));
        Assert.Equal("Variant", ex.ParamName);
        var range = Assert.Throws<ArgumentOutOfRangeException>(() => DiffusersGraphs.GetOrBuild(DiffusersComponentKind.UNet, unet, BuildingTestData.Options(temp, (GraphDtype)7)));
        Assert.Equal("Dtype", range.ParamName);
    }

    private static ModelLoadException BuildFails(TempFolder temp, DiffusersComponentKind kind, string folder)
    {
        var ex = Assert.Throws<ModelLoadException>(() => DiffusersGraphs.GetOrBuild(kind, folder, BuildingTestData.Options(temp)));
        Assert.DoesNotContain('\n', ex.Message);
        Assert.StartsWith(ex.FilePath + ": ", ex.Message, StringComparison.Ordinal);
        return ex;
    }

    private static void AssertNoEntry(TempFolder temp)
    {
        string cache = temp.Combine("cache");
        Assert.True(!Directory.Exists(cache) || !Directory.EnumerateFileSystemEntries(cache).Any(), "a failed build left something in the cache");
    }

    /// <summary>Rewrites a safetensors file through <paramref name="edit"/> (null drops a tensor), adding <paramref name="extra"/>.</summary>
    internal static void RewriteWeights(string path, Func<SafetensorsWriter.Entry, SafetensorsWriter.Entry?> edit, IEnumerable<SafetensorsWriter.Entry>? extra = null)
    {
        SafetensorsFile file = SafetensorsFile.Read(path);
        byte[] bytes = File.ReadAllBytes(path);
        var entries = new List<SafetensorsWriter.Entry>();
        foreach (SafetensorsTensor t in file.Tensors)
        {
            var entry = new SafetensorsWriter.Entry(t.Name, SafetensorsDTypes.Name(t.DType), t.Shape, bytes.AsSpan((int)t.FileOffset, (int)t.ByteLength).ToArray());
            if (edit(entry) is { } edited)
            {
                entries.Add(edited);
            }
        }
        entries.AddRange(extra ?? []);
        SafetensorsWriter.Write(path, entries);
    }
}
