using BenchmarkDotNet.Attributes;
using Microsoft.ML.OnnxRuntime;
using Spright.Diffusion.Components;
using Spright.Diffusion.OnnxRuntime;
using Spright.Diffusion.OnnxRuntime.Components;
using Spright.Diffusion.OnnxRuntime.Sessions;
using Spright.Diffusion.Random;

namespace Spright.Diffusion.Benchmarks;

/// <summary>
/// One guided UNet evaluation (batch 2) of a full-size SD 2.x / SPRIGHT UNet — set SPRIGHT_FULLSIZE_MODEL to a model
/// folder, e.g. one written by tools/fullsize/make_random_sd2.py (random weights, real architecture) — through the
/// library's runner with its default options (768²: the two batch halves one after the other) against raw ONNX
/// Runtime evaluating the batch of 2 in one call with the same session options. Skipped (empty run) without the
/// variable. Expensive: a few minutes per size on 2 cores.
/// </summary>
[MemoryDiagnoser]
[BenchmarkCategory("FullSize")]
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 2, invocationCount: 1)]
public class FullSizeUNetBenchmarks
{
    private OnnxUNet? _unet;
    private OnnxUNetRunner? _runner;
    private InferenceSession? _session;
    private OrtIoBinding? _binding;
    private RunOptions? _runOptions;
    private readonly List<OrtValue> _values = [];

    [Params(512, 768)]
    public int Side { get; set; }

    private string UNetPath => Path.Combine(BenchmarkPaths.FullSizeModel ?? throw new InvalidOperationException("Set SPRIGHT_FULLSIZE_MODEL."), "unet", "model.onnx");

    private static OnnxRuntimeSettings Settings => new()
    {
        OptimizedModelCacheDirectory = Environment.GetEnvironmentVariable("SPRIGHT_FULLSIZE_CACHE"),
    };

    [GlobalSetup(Target = nameof(RawOnnxRuntime))]
    public void SetupRaw()
    {
        int s = Side / 8;
        var settings = Settings;
        _session = SessionFactory.Create(UNetPath, "unet", settings);
        var g = new TorchGenerator(1);
        float[] sample = new float[2 * 4 * s * s];
        g.Randn(sample);
        float[] hidden = new float[2 * 77 * 1024];
        g.Randn(hidden);
        _runOptions = new RunOptions();
        _binding = _session.CreateIoBinding();
        _binding.BindInput("sample", Track(OrtValue.CreateTensorValueFromMemory(sample, [2, 4, s, s])));
        _binding.BindInput("timestep", Track(OrtValue.CreateTensorValueFromMemory(new[] { 501f }, [])));
        _binding.BindInput("encoder_hidden_states", Track(OrtValue.CreateTensorValueFromMemory(hidden, [2, 77, 1024])));
        _binding.BindOutput("out_sample", Track(OrtValue.CreateTensorValueFromMemory(new float[sample.Length], [2, 4, s, s])));
    }

    [GlobalSetup(Target = nameof(LibraryRunner))]
    public void SetupLibrary()
    {
        int s = Side / 8;
        _unet = new OnnxUNet(UNetPath, Settings);
        _runner = _unet.CreateRunner(new UNetShape(2, 4, s, s, 77, 1024));
        var g = new TorchGenerator(1);
        g.Randn(_runner.Sample);
        g.Randn(_runner.EncoderHiddenStates);
    }

    [Benchmark(Baseline = true)]
    public void RawOnnxRuntime() => _session!.RunWithBinding(_runOptions!, _binding!);

    [Benchmark]
    public void LibraryRunner() => _runner!.Run(501f, UNetRunHints.None, default);

    [GlobalCleanup]
    public void Cleanup()
    {
        _runner?.Dispose();
        _unet?.Dispose();
        _binding?.Dispose();
        _runOptions?.Dispose();
        foreach (OrtValue v in _values)
        {
            v.Dispose();
        }
        _session?.Dispose();
    }

    private OrtValue Track(OrtValue value)
    {
        _values.Add(value);
        return value;
    }
}
