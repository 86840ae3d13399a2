using Microsoft.ML.OnnxRuntime;
using Spright.Diffusion.OnnxRuntime.Building;
using Spright.Diffusion.Tests.Infrastructure;

namespace Spright.Diffusion.Tests.Building;

/// <summary>
/// The CUDA operator set. It cannot run here (no GPU; its fused operators have no CPU kernels): its layout and weight
/// handling are checked through the emulated form (<see cref="BuiltComponentParityTests"/>, "cuda-emulated"); here, that
/// the real graph uses the fused operators ONNX Runtime's Stable Diffusion optimizer emits and nothing the CUDA provider
/// lacks, and, where a CUDA provider is present, that it matches the references.
/// </summary>
public sealed class CudaGraphTests
{
    /// <summary>Operators with CUDA kernels in ONNX Runtime (onnx domain and com.microsoft) that the builders emit.</summary>
    private static readonly HashSet<string> CudaOperators =
    [
        "Add", "ArgMax", "Cast", "Concat", "Conv", "Cos", "Div", "Erf", "Gather", "GatherND", "Identity", "InstanceNormalization",
        "LayerNormalization", "MatMul", "Mul", "Reshape", "Resize", "Shape", "Sigmoid", "Sin", "Slice", "Softmax", "Split", "Sub",
        "Transpose", "Unsqueeze", "Equal",
        "BiasAdd", "BiasSplitGelu", "Gelu", "GroupNorm", "MultiHeadAttention", "NhwcConv", "QuickGelu", "SkipLayerNormalization",
    ];

    [Theory]
    [InlineData("fp32")]
    [InlineData("fp16")]
    public void CudaUNet_UsesTheFusedOperatorsOfOrtsStableDiffusionOptimizer(string precision)
    {
        GraphDtype dtype = precision == "fp16" ? GraphDtype.Float16 : GraphDtype.Float32;
        BuiltGraph built = ComponentGraphBuilder.Build(DiffusersComponentKind.UNet, Path.Combine(BuildingTestData.TinySd2, "unet"),
            new GraphBuildOptions { Target = GraphTarget.Cuda, Dtype = dtype }, new InPlaceWeightStore());
        SortedDictionary<string, int> ops = built.Graph.OperatorCounts;
        Assert.Equal([], ops.Keys.Where(op => !CudaOperators.Contains(op)).ToArray());
        Assert.Equal(21, ops["GroupNorm"]);         // every GroupNorm, SiLU fused where one follows
        Assert.Equal(25, ops["NhwcConv"]);          // every Conv, channels-last
        Assert.False(ops.ContainsKey("Conv"));
        Assert.False(ops.ContainsKey("InstanceNormalization"));
        Assert.Equal(4, ops["BiasSplitGelu"]);      // one GEGLU per transformer block
        Assert.Equal(4, ops["BiasAdd"]);            // proj_out + bias + residual per transformer
        Assert.Equal(8, ops["MultiHeadAttention"]); // packed QKV self-attention and packed KV cross-attention
        Assert.Equal(8, ops["SkipLayerNormalization"]);
        Assert.False(ops.ContainsKey("Softmax"));
    }

    [Fact]
    public void CudaGraphs_RunOnACudaProviderWhenThereIsOne()
    {
        if (!OrtEnv.Instance().GetAvailableProviders().Contains("CUDAExecutionProvider"))
        {
            return; // the CPU-only test host: the structure is checked above, the numerics through the emulated form
        }
        using var temp = new TempFolder();
        foreach (string component in new[] { "unet", "vae_decoder", "vae_encoder", "text_encoder" })
        {
            (DiffusersComponentKind kind, string folder) = BuiltComponentParityTests.Component(component);
            string path = DiffusersGraphs.GetOrBuild(kind, Path.Combine(BuildingTestData.TinySd2, folder),
                new GraphBuildOptions { Target = GraphTarget.Cuda, Dtype = GraphDtype.Float16, CacheDirectory = temp.Combine("cache") });
            using var options = new SessionOptions();
            options.AppendExecutionProvider_CUDA();
            using var session = new InferenceSession(path, options);
            (string[] inputs, string[] outputs) = BuiltComponentParityTests.Io(component);
            foreach (string dir in BuiltComponentParityTests.ReferenceCases("sd2", component))
            {
                var feeds = inputs.Select(i => BuildingTestData.NpyInput(session, i, Path.Combine(dir, i + ".npy"))).ToList();
                Dictionary<string, (float[] Data, int[] Shape)> results = BuildingTestData.Run(session, feeds);
                foreach (string name in outputs)
                {
                    AssertClose.All(Npy.Load(Path.Combine(dir, name + ".npy")).AsFloat32(), results[name].Data, 2e-2, 2e-2, $"CUDA {component} {name}");
                }
            }
        }
    }
}
