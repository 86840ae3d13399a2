using System.Text.Json.Nodes;
using Microsoft.ML.OnnxRuntime;
using Spright.Diffusion.OnnxRuntime.Building;
using Spright.Diffusion.OnnxRuntime.Safetensors;

namespace Spright.Diffusion.Tests.Building;

/// <summary>Weight storage forms: sharded files with an index, BF16 and F16 storage (cast in the graph, folded at load),
/// and the exporter's written weights, each giving exactly the numbers of plain float32 storage of the same values.</summary>
public sealed class WeightStorageTests
{
    private const string UNetWeights = "diffusion_pytorch_model.safetensors";

    [Fact]
    public void ShardedWeights_WithAnIndex_GiveTheSameGraphResults()
    {
        using var temp = new TempFolder();
        string single = Path.Combine(BuildingTestData.TinySd2, "unet");
        string sharded = temp.Combine("sharded");
        Directory.CreateDirectory(sharded);
        File.Copy(Path.Combine(single, "config.json"), Path.Combine(sharded, "config.json"));
        SafetensorsFile file = SafetensorsFile.Read(Path.Combine(single, UNetWeights));
        byte[] bytes = File.ReadAllBytes(Path.Combine(single, UNetWeights));
        var map = new JsonObject();
        var shards = new[] { new List<SafetensorsWriter.Entry>(), new List<SafetensorsWriter.Entry>() };
        for (int i = 0; i < file.Tensors.Count; i++)
        {
            SafetensorsTensor t = file.Tensors[i];
            int shard = i % 2;
            shards[shard].Add(new SafetensorsWriter.Entry(t.Name, SafetensorsDTypes.Name(t.DType), t.Shape, bytes.AsSpan((int)t.FileOffset, (int)t.ByteLength).ToArray()));
            map[t.Name] = $"diffusion_pytorch_model-0000{shard + 1}-of-00002.safetensors";
        }
        for (int s = 0; s < 2; s++)
        {
            SafetensorsWriter.Write(Path.Combine(sharded, $"diffusion_pytorch_model-0000{s + 1}-of-00002.safetensors"), shards[s]);
        }
        File.WriteAllText(Path.Combine(sharded, "diffusion_pytorch_model.safetensors.index.json"),
            new JsonObject { ["metadata"] = new JsonObject { ["total_size"] = bytes.Length }, ["weight_map"] = map }.ToJsonString());

        Assert.True(DiffusersGraphs.IsDiffusersLayout(sharded));
        string path = DiffusersGraphs.GetOrBuild(DiffusersComponentKind.UNet, sharded, BuildingTestData.Options(temp));
        Assert.Equal(2, Directory.GetFiles(Path.GetDirectoryName(path)!, "*-of-00002.safetensors").Length);
        Assert.Equal(RunUNet(DiffusersGraphs.GetOrBuild(DiffusersComponentKind.UNet, single, BuildingTestData.Options(temp))), RunUNet(path));
    }

    [Fact]
    public void ShardIndex_NamingAMissingTensor_IsAClearError()
    {
        using var temp = new TempFolder();
        string folder = temp.Copy(Path.Combine(BuildingTestData.TinySd2, "unet"), "unet");
        File.Move(Path.Combine(folder, UNetWeights), Path.Combine(folder, "renamed.safetensors"));
        File.WriteAllText(Path.Combine(folder, "diffusion_pytorch_model.safetensors.index.json"),
            new JsonObject { ["weight_map"] = new JsonObject { ["conv_in.weight"] = "renamed.safetensors", ["ghost.weight"] = "renamed.safetensors" } }.ToJsonString());
        var ex = Assert.Throws<ModelLoadException>(() => DiffusersGraphs.GetOrBuild(DiffusersComponentKind.UNet, folder, BuildingTestData.Options(temp)));
        Assert.Contains("tensor 'ghost.weight' is listed in diffusion_pytorch_model.safetensors.index.json but missing from this shard", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("BF16")]
    [InlineData("F16")]
    public void ReducedPrecisionStorage_GivesExactlyTheResultsOfTheSameValuesStoredAsF32(string dtype)
    {
        using var temp = new TempFolder();
        // The tiny UNet's weights rounded to the storage type, written once in that type and once widened to F32.
        string source = Path.Combine(BuildingTestData.TinySd2, "unet", UNetWeights);
        SafetensorsFile file = SafetensorsFile.Read(source);
        var reduced = new List<SafetensorsWriter.Entry>();
        var widened = new List<SafetensorsWriter.Entry>();
        foreach (SafetensorsTensor t in file.Tensors)
        {
            float[] values = WeightStore.ReadFloats(new WeightRef(new WeightFile(source, source, file), t));
            float[] rounded = dtype == "BF16"
                ? values.Select(v => BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(v) & unchecked((int)0xFFFF0000))).ToArray()
                : values.Select(v => (float)(Half)v).ToArray();
            reduced.Add(SafetensorsWriter.Floats(t.Name, t.Shape, rounded, dtype));
            widened.Add(SafetensorsWriter.Floats(t.Name, t.Shape, rounded));
        }
        string a = temp.Copy(Path.Combine(BuildingTestData.TinySd2, "unet"), "reduced");
        string b = temp.Copy(Path.Combine(BuildingTestData.TinySd2, "unet"), "widened");
        SafetensorsWriter.Write(Path.Combine(a, UNetWeights), reduced);
        SafetensorsWriter.Write(Path.Combine(b, UNetWeights), widened);
        Assert.True(new FileInfo(Path.Combine(a, UNetWeights)).Length < new FileInfo(Path.Combine(b, UNetWeights)).Length * 0.6);
        Assert.Equal(RunUNet(DiffusersGraphs.GetOrBuild(DiffusersComponentKind.UNet, b, BuildingTestData.Options(temp))),
            RunUNet(DiffusersGraphs.GetOrBuild(DiffusersComponentKind.UNet, a, BuildingTestData.Options(temp))));
    }

    private static float[] RunUNet(string path)
    {
        using InferenceSession session = BuildingTestData.Session(path);
        string dir = BuildingTestData.Sd2Reference("unet");
        var feeds = new[] { "sample", "timestep", "encoder_hidden_states" }.Select(i => BuildingTestData.NpyInput(session, i, Path.Combine(dir, i + ".npy"))).ToList();
        return BuildingTestData.Run(session, feeds)["out_sample"].Data;
    }
}
