using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Spright.Diffusion.OnnxRuntime.Building;
using Spright.Diffusion.Tests.Infrastructure;

namespace Spright.Diffusion.Tests.Building;

/// <summary>
/// float16 graphs (Dtype = Float16 from float32 files; the fp16 variant files with Dtype Float16 and Float32) as a smoke
/// case on the CPU: every output within 2e-2 (+ 2e-2·|ref|) of the float32 torch references (reference README section F).
/// </summary>
public sealed class Fp16BuildTests
{
    private const double Tolerance = 2e-2;

    public static TheoryData<string, string, string, string?> Cases()
    {
        var data = new TheoryData<string, string, string, string?>();
        foreach (string component in new[] { "text_encoder", "unet", "vae_decoder", "vae_encoder" })
        {
            data.Add("sd2", component, "fp16", null);
            data.Add("sd1", component, "fp16", "fp16");
            data.Add("sd1", component, "fp32", "fp16");
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Float16Graph_IsCloseToTheFloat32Reference(string model, string component, string dtype, string? variant)
    {
        using var temp = new TempFolder();
        (DiffusersComponentKind kind, string folder) = BuiltComponentParityTests.Component(component);
        string root = model == "sd2" ? BuildingTestData.TinySd2 : BuildingTestData.TinySd1;
        GraphDtype graphDtype = dtype == "fp16" ? GraphDtype.Float16 : GraphDtype.Float32;
        string path = DiffusersGraphs.GetOrBuild(kind, Path.Combine(root, folder), BuildingTestData.Options(temp, graphDtype, variant));
        using InferenceSession session = BuildingTestData.Session(path);

        // Float16 I/O like an fp16 export, except the timestep (kept float32 as diffusers feeds it) and a force_upcast VAE.
        bool vae = component.StartsWith("vae", StringComparison.Ordinal);
        TensorElementType expectedFloat = graphDtype == GraphDtype.Float16 && !vae ? TensorElementType.Float16 : TensorElementType.Float;
        foreach ((string name, NodeMetadata meta) in session.InputMetadata.Concat(session.OutputMetadata))
        {
            if (name is "input_ids")
            {
                Assert.Equal(TensorElementType.Int64, meta.ElementDataType);
            }
            else
            {
                Assert.Equal(name == "timestep" ? TensorElementType.Float : expectedFloat, meta.ElementDataType);
            }
        }

        (string[] inputs, string[] outputs) = BuiltComponentParityTests.Io(component);
        foreach (string dir in BuiltComponentParityTests.ReferenceCases(model, component))
        {
            var feeds = inputs.Select(i => BuildingTestData.NpyInput(session, i, Path.Combine(dir, i + ".npy"))).ToList();
            Dictionary<string, (float[] Data, int[] Shape)> results = BuildingTestData.Run(session, feeds);
            foreach (string output in outputs)
            {
                AssertClose.All(Npy.Load(Path.Combine(dir, output + ".npy")).AsFloat32(), results[output].Data, Tolerance, Tolerance,
                    $"{model} {dtype} variant {variant ?? "none"} {Path.GetFileName(dir)} {output}");
            }
        }
    }

    [Fact]
    public void Float16Variant_WhenAbsent_IsAClearError()
    {
        using var temp = new TempFolder();
        var ex = Assert.Throws<ModelLoadException>(() =>
            DiffusersGraphs.GetOrBuild(DiffusersComponentKind.UNet, Path.Combine(BuildingTestData.TinySd2, "unet"), BuildingTestData.Options(temp, variant: "fp16")));
        Assert.Contains("diffusion_pytorch_model.fp16.safetensors", ex.Message, StringComparison.Ordinal);
        Assert.Contains("variant 'fp16'", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
    }
}
