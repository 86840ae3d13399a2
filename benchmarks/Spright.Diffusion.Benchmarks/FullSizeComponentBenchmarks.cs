using BenchmarkDotNet.Attributes;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Spright.Diffusion.OnnxRuntime.Building;
using Spright.Diffusion.OnnxRuntime.Sessions;
using Spright.Diffusion.Random;

namespace Spright.Diffusion.Benchmarks;

/// <summary>
/// Full-size SPRIGHT text encoder (one 77-token row) and VAE decoder (one latent of <see cref="Side"/>²) from a diffusers
/// folder (SPRIGHT_FULLSIZE_DIFFUSERS): the graph the library builds against optimum's layout exported from the same
/// weights, through raw ONNX Runtime with the same session options and I/O binding. <c>built-resize</c> is the built
/// graph without <see cref="GraphOptimizations.SubPixelUpsampling"/> (the VAE decoder's only change from the export
/// besides fused attention), so its share of the gain shows. GlobalSetup of each built case checks the outputs against
/// the export's within 1e-4. Without the variable every benchmark is an empty call.
/// </summary>
[BenchmarkCategory("FullSize")]
[Config(typeof(PeakMemoryConfig))]
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 3, invocationCount: 1)]
public class FullSizeComponentBenchmarks
{
    private BoundComponent? _run;

    /// <summary>The component: <c>text_encoder</c> or <c>vae_decoder</c>.</summary>
    [Params("text_encoder", "vae_decoder")]
    public string Component { get; set; } = "vae_decoder";

    /// <summary>The graph: the library's build, the build without sub-pixel upsampling, or the optimum export.</summary>
    [Params("built", "built-resize", "optimum")]
    public string Graph { get; set; } = "built";

    /// <summary>The image side (VAE decoder only).</summary>
    [Params(768)]
    public int Side { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        if (FullSizeSupport.Folder is not { } folder || (Component == "text_encoder" && Graph == "built-resize"))
        {
            return;
        }
        _run = Open(folder, Graph);
        if (Graph != "optimum")
        {
            using BoundComponent other = Open(folder, "optimum");
            _run.Run();
            other.Run();
            float diff = BoundComponent.MaxDiff(_run.Outputs[0], other.Outputs[0]);
            Console.WriteLine($"// {Component} {Graph} vs optimum: max |diff| {diff:E2} ({(diff <= 1e-4f ? "agree" : "DIFFER")} within 1e-4)");
        }
        FullSizeSupport.ResetPeak();
    }

    [Benchmark]
    public void Run() => _run?.Run();

    [GlobalCleanup]
    public void Cleanup()
    {
        PeakMemoryColumn.Record(this, nameof(Run), FullSizeSupport.PeakMiB());
        _run?.Dispose();
    }

    private BoundComponent Open(string folder, string graph)
    {
        bool text = Component == "text_encoder";
        string path = graph switch
        {
            "optimum" => Path.Combine(FullSizeSupport.OptimumFolder(folder), Component, "model.onnx"),
            _ => DiffusersGraphs.GetOrBuild(text ? DiffusersComponentKind.TextEncoder : DiffusersComponentKind.VaeDecoder,
                Path.Combine(folder, text ? "text_encoder" : "vae"),
                new GraphBuildOptions
                {
                    CacheDirectory = FullSizeSupport.GraphCache(folder),
                    Optimizations = graph == "built-resize" ? GraphOptimizations.CpuDefault & ~GraphOptimizations.SubPixelUpsampling : null,
                }),
        };
        var session = SessionFactory.Create(path, Component, FullSizeSupport.Settings);
        int s = Side / 8;
        return text
            ? new BoundComponent(session, [[1, 77]], [[1, 77, 1024]])
            : new BoundComponent(session, [[1, 4, s, s]], [[1, 3, Side, Side]]);
    }
}

/// <summary>One session with its first input(s) and first output(s) bound to pinned buffers (floats filled from
/// torch's generator, integer ids from a fixed pattern of real CLIP ids).</summary>
internal sealed class BoundComponent : IDisposable
{
    private readonly List<OrtValue> _values = [];
    private readonly RunOptions _runOptions = new();
    private readonly OrtIoBinding _binding;
    private readonly InferenceSession _session;

    public BoundComponent(InferenceSession session, long[][] inputShapes, long[][] outputShapes)
    {
        _session = session;
        _binding = session.CreateIoBinding();
        var generator = new TorchGenerator(7);
        for (int i = 0; i < inputShapes.Length; i++)
        {
            string name = session.InputNames[i];
            long[] shape = inputShapes[i];
            int count = (int)shape.Aggregate(1L, (a, b) => a * b);
            TensorElementType type = session.InputMetadata[name].ElementDataType;
            OrtValue value;
            if (type == TensorElementType.Float)
            {
                var data = new float[count];
                generator.Randn(data);
                value = OrtValue.CreateTensorValueFromMemory(data, shape);
            }
            else
            {
                long[] ids = Enumerable.Range(0, count).Select(k => k == 0 ? 49406L : k == count - 1 ? 49407L : 320L + (k * 37 % 4000)).ToArray();
                value = type == TensorElementType.Int64
                    ? OrtValue.CreateTensorValueFromMemory(ids, shape)
                    : OrtValue.CreateTensorValueFromMemory(ids.Select(v => (int)v).ToArray(), shape);
            }
            _values.Add(value);
            _binding.BindInput(name, value);
        }
        for (int i = 0; i < outputShapes.Length; i++)
        {
            var data = new float[(int)outputShapes[i].Aggregate(1L, (a, b) => a * b)];
            Outputs.Add(data);
            OrtValue value = OrtValue.CreateTensorValueFromMemory(data, outputShapes[i]);
            _values.Add(value);
            _binding.BindOutput(session.OutputNames[i], value);
        }
    }

    public List<float[]> Outputs { get; } = [];

    public void Run() => _session.RunWithBinding(_runOptions, _binding);

    public static float MaxDiff(float[] a, float[] b)
    {
        float diff = 0;
        for (int i = 0; i < a.Length; i++)
        {
            diff = Math.Max(diff, Math.Abs(a[i] - b[i]));
        }
        return diff;
    }

    public void Dispose()
    {
        _binding.Dispose();
        _runOptions.Dispose();
        foreach (OrtValue v in _values)
        {
            v.Dispose();
        }
        _session.Dispose();
    }
}
