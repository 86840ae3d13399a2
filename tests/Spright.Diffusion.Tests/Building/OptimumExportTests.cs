using System.Numerics.Tensors;
using System.Text.Json.Nodes;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Spright.Diffusion.OnnxRuntime.Building;
using Spright.Diffusion.Pipelines;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Tests.Infrastructure;
using Spright.Diffusion.Tests.Pipelines;

namespace Spright.Diffusion.Tests.Building;

/// <summary>
/// The optimum-layout export written without Python: the folder's files and configs as optimum writes them, graphs that
/// give the torch references, external data for large graphs, float16, a pipeline that runs from the exported folder,
/// and an export that fails or is cancelled leaving nothing behind.
/// </summary>
public sealed class OptimumExportTests
{
    [Fact]
    public void Export_WritesTheOptimumLayout()
    {
        using var temp = new TempFolder();
        string output = OptimumExport.Write(BuildingTestData.TinySd2, temp.Combine("onnx"), GraphDtype.Float32);
        string[] files = Directory.GetFiles(output, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(output, f).Replace('\\', '/')).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(new[]
        {
            "model_index.json", "scheduler/scheduler_config.json",
            "text_encoder/config.json", "text_encoder/model.onnx",
            "tokenizer/merges.txt", "tokenizer/special_tokens_map.json", "tokenizer/tokenizer_config.json", "tokenizer/vocab.json",
            "unet/config.json", "unet/model.onnx",
            "vae_decoder/config.json", "vae_decoder/model.onnx",
            "vae_encoder/config.json", "vae_encoder/model.onnx",
        }, files);
        Assert.Equal(File.ReadAllBytes(Path.Combine(BuildingTestData.TinySd2, "model_index.json")), File.ReadAllBytes(Path.Combine(output, "model_index.json")));
        JsonObject text = (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(output, "text_encoder", "config.json")))!;
        Assert.Equal("clip-text", text["export_model_type"]!.GetValue<string>());
        Assert.Equal(32, text["hidden_size"]!.GetValue<int>());
        byte[] vae = File.ReadAllBytes(Path.Combine(BuildingTestData.TinySd2, "vae", "config.json"));
        Assert.Equal(vae, File.ReadAllBytes(Path.Combine(output, "vae_encoder", "config.json")));
        Assert.Equal(vae, File.ReadAllBytes(Path.Combine(output, "vae_decoder", "config.json")));
        Assert.Empty(Directory.GetDirectories(temp.Path, ".onnx.tmp-*"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ExportedGraphs_MatchTheTorchReferences(bool externalData)
    {
        using var temp = new TempFolder();
        string output = OptimumExport.Write(BuildingTestData.TinySd2, temp.Combine("onnx"), GraphDtype.Float32, GraphOptimizations.None,
            externalData ? 0 : OptimumExport.DefaultExternalDataThreshold);
        foreach (string component in new[] { "text_encoder", "unet", "vae_decoder", "vae_encoder" })
        {
            string folder = Path.Combine(output, component);
            Assert.Equal(externalData, File.Exists(Path.Combine(folder, "model.onnx_data")));
            using InferenceSession session = BuildingTestData.Session(Path.Combine(folder, "model.onnx"));
            (string[] inputs, string[] outputs) = BuiltComponentParityTests.Io(component);
            foreach (string dir in BuiltComponentParityTests.ReferenceCases("sd2", component))
            {
                var feeds = inputs.Select(i => BuildingTestData.NpyInput(session, i, Path.Combine(dir, i + ".npy"))).ToList();
                Dictionary<string, (float[] Data, int[] Shape)> results = BuildingTestData.Run(session, feeds);
                foreach (string name in outputs)
                {
                    AssertClose.All(Npy.Load(Path.Combine(dir, name + ".npy")).AsFloat32(), results[name].Data, 1e-4, 1e-4, $"{component} {name}");
                }
            }
        }
    }

    [Fact]
    public void ExportedFolder_RunsTheLibrarysPipelineLikeDiffusers()
    {
        using var temp = new TempFolder();
        string output = OptimumExport.Write(BuildingTestData.TinySd2, temp.Combine("onnx"), GraphDtype.Float32);
        PipelineReferenceCase c = PipelineReferenceCase.Load("01_default_ddim");
        using var pipe = (StableDiffusionPipelineBase)DiffusionPipeline.FromPretrained(output);
        c.ConfigureScheduler(pipe);
        StableDiffusionPipelineOutput result = pipe.Generate(c.Options());
        AssertClose.All(c.Npy("final_latents.npy").AsFloat32(), result.Latents.AsSpan(), 5e-4, 0, "final latents");
        AssertClose.All(c.Npy("image.npy").AsFloat32(), result.ImageArray!.AsSpan(), 5e-4, 0, "image");
    }

    [Fact]
    public void Float16Export_HasFloat16TextAndUNetAndAnUpcastVae()
    {
        using var temp = new TempFolder();
        string output = OptimumExport.Write(BuildingTestData.TinySd2, temp.Combine("onnx"), GraphDtype.Float16);
        JsonObject text = (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(output, "text_encoder", "config.json")))!;
        Assert.Equal("float16", text["torch_dtype"]!.GetValue<string>());
        using (InferenceSession unet = BuildingTestData.Session(Path.Combine(output, "unet", "model.onnx")))
        {
            Assert.Equal(TensorElementType.Float16, unet.InputMetadata["sample"].ElementDataType);
            Assert.Equal(TensorElementType.Float16, unet.OutputMetadata["out_sample"].ElementDataType);
            string dir = BuildingTestData.Sd2Reference("unet");
            var feeds = new[] { "sample", "timestep", "encoder_hidden_states" }.Select(i => BuildingTestData.NpyInput(unet, i, Path.Combine(dir, i + ".npy"))).ToList();
            AssertClose.All(Npy.Load(Path.Combine(dir, "out_sample.npy")).AsFloat32(), BuildingTestData.Run(unet, feeds)["out_sample"].Data, 2e-2, 2e-2, "fp16 unet");
        }
        using InferenceSession decoder = BuildingTestData.Session(Path.Combine(output, "vae_decoder", "model.onnx"));
        Assert.Equal(TensorElementType.Float, decoder.InputMetadata["latent_sample"].ElementDataType);
        // The fp16 UNet stores float16 weights: about half the float32 size.
        long fp16 = new FileInfo(Path.Combine(output, "unet", "model.onnx")).Length;
        long fp32 = new FileInfo(Path.Combine(BuildingTestData.TinySd2, "unet", "diffusion_pytorch_model.safetensors")).Length;
        Assert.InRange(fp16, fp32 * 0.4, fp32 * 0.6);
    }

    [Fact]
    public void Export_IntoANonEmptyFolder_IsRefused()
    {
        using var temp = new TempFolder();
        string output = temp.Combine("onnx");
        Directory.CreateDirectory(output);
        File.WriteAllText(Path.Combine(output, "keep.txt"), "mine");
        var ex = Assert.Throws<ArgumentException>(() => OptimumExport.Write(BuildingTestData.TinySd2, output, GraphDtype.Float32));
        Assert.Equal("outputFolder", ex.ParamName);
        Assert.Equal("mine", File.ReadAllText(Path.Combine(output, "keep.txt")));
    }

    [Fact]
    public void FailedOrCancelledExport_LeavesNothingBehind()
    {
        using var temp = new TempFolder();
        using (var cts = new CancellationTokenSource())
        {
            cts.Cancel();
            Assert.ThrowsAny<OperationCanceledException>(() => OptimumExport.Write(BuildingTestData.TinySd2, temp.Combine("onnx"), GraphDtype.Float32, cts.Token));
        }
        string broken = temp.Copy(BuildingTestData.TinySd2, "broken");
        File.Delete(Path.Combine(broken, "vae", "diffusion_pytorch_model.safetensors"));
        Assert.Throws<ModelLoadException>(() => OptimumExport.Write(broken, temp.Combine("onnx"), GraphDtype.Float32));
        Assert.Equal(["broken"], Directory.GetFileSystemEntries(temp.Path).Select(Path.GetFileName));
    }
}
