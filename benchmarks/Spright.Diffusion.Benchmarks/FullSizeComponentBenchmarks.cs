using BenchmarkDotNet.Attributes;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Spright.Diffusion.OnnxRuntime.Building;
using Spright.Diffusion.OnnxRuntime.Sessions;
using Spright.Diffusion.Random;

namespace Spright.Diffusion.Benchmarks;

/// <summary>
/// Full-size SPRIGHT text encoder (one 77-token row) and VAE decoder (one latent of a given side) from a diffusers folder
/// (SPRIGHT_FULLSIZE_DIFFUSERS): the graph the library builds against optimum's layout exported from the same weights,
/// through raw ONNX Runtime with the same session options and I/O binding. GlobalCleanup of each built case checks the
/// output against the export's within 1e-4 (after the peak is recorded). Without the variable every benchmark is an empty
/// call.
/// </summary>
public abstract class FullSizeComponentBenchmarks
{
    private BoundComponent? _run;

    /// <summary>The optimum folder name of the component.</summary>
    protected abstract string Component { get; }

    /// <summary>The graph: <c>built</c>, <c>optimum</c> or a variant the derived class knows.</summary>
    public abstract string Graph { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        if (FullSizeSupport.Folder is not { } folder)
        {
            return;
        }
        _run = Open(folder, Graph);
        FullSizeSupport.ResetPeak();
    }

    [Benchmark]
    public void Run() => _run?.Run();

    /// <summary>Records the peak, then (built graphs) checks the last output against the export's: after the
    /// measurement, so the comparison session never counts in the peak.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        PeakMemoryColumn.Record(this, nameof(Run), FullSizeSupport.PeakMiB());
        if (_run is not null && Graph != "optimum" && FullSizeSupport.Folder is { } folder)
        {
            using BoundComponent other = Open(folder, "optimum");
            other.Run();
            float diff = BoundComponent.MaxDiff(_run.Outputs[0], other.Outputs[0]);
            Console.WriteLine($"// {Component} {Graph} vs optimum: max |diff| {diff:E2} ({(diff <= 1e-4f ? "agree" : "DIFFER")} within 1e-4)");
        }
        _run?.Dispose();
    }

    /// <summary>The built graph of <paramref name="graph"/> (a variant name) from <paramref name="folder"/>.</summary>
    protected abstract string Built(string folder, string graph);

    /// <summary>Binds the session's inputs and outputs.</summary>
    private protected abstract BoundComponent Bind(InferenceSession session);

    private BoundComponent Open(string folder, string graph)
    {
        string path = graph == "optimum" ? Path.Combine(FullSizeSupport.OptimumFolder(folder), Component, "model.onnx") : Built(folder, graph);
        return Bind(SessionFactory.Create(path, Component, FullSizeSupport.Settings));
    }
}

/// <summary>The full-size text encoder (OpenCLIP-H, 23 layers), one 77-token row: built vs export.</summary>
[BenchmarkCategory("FullSize")]
[Config(typeof(PeakMemoryConfig))]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 15, invocationCount: 1)]
public class FullSizeTextEncoderBenchmarks : FullSizeComponentBenchmarks
{
    /// <inheritdoc />
    protected override string Component => "text_encoder";

    /// <inheritdoc />
    [Params("built", "optimum")]
    public override string Graph { get; set; } = "built";

    /// <inheritdoc />
    protected override string Built(string folder, string graph) =>
        DiffusersGraphs.GetOrBuild(DiffusersComponentKind.TextEncoder, Path.Combine(folder, "text_encoder"), new GraphBuildOptions { CacheDirectory = FullSizeSupport.GraphCache(folder) });

    /// <inheritdoc />
    private protected override BoundComponent Bind(InferenceSession session) => new(session, [[1, 77]], [[1, 77, 1024]]);
}

/// <summary>The full-size VAE decoder, one latent of <see cref="Side"/>²: built, built without
/// <see cref="GraphOptimizations.SubPixelUpsampling"/> (<c>built-resize</c>, to show that change's share) and the export.</summary>
[BenchmarkCategory("FullSize")]
[Config(typeof(PeakMemoryConfig))]
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 3, invocationCount: 1)]
public class FullSizeVaeDecoderBenchmarks : FullSizeComponentBenchmarks
{
    /// <inheritdoc />
    protected override string Component => "vae_decoder";

    /// <inheritdoc />
    [Params("built", "built-resize", "optimum")]
    public override string Graph { get; set; } = "built";

    /// <summary>The image side.</summary>
    [Params(768)]
    public int Side { get; set; }

    /// <inheritdoc />
    protected override string Built(string folder, string graph) =>
        DiffusersGraphs.GetOrBuild(DiffusersComponentKind.VaeDecoder, Path.Combine(folder, "vae"), new GraphBuildOptions
        {
            CacheDirectory = FullSizeSupport.GraphCache(folder),
            Optimizations = graph == "built-resize" ? GraphOptimizations.CpuDefault & ~GraphOptimizations.SubPixelUpsampling : null,
        });

    /// <inheritdoc />
    private protected override BoundComponent Bind(InferenceSession session) => new(session, [[1, 4, Side / 8, Side / 8]], [[1, 3, Side, Side]]);
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
