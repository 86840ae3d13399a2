using BenchmarkDotNet.Attributes;

namespace Spright.Diffusion.Benchmarks;

/// <summary>A whole text-to-image call on the tiny model — tokenizer, text encoder (prompt and empty negative prompt),
/// 10 guided UNet steps at 128², VAE decoder and RGB image — the call diffusers needs about 0.49 s for on the same
/// 2-core machine.</summary>
[MemoryDiagnoser]
[BenchmarkCategory("Generate")]
public class GenerateBenchmarks
{
    private StableDiffusionPipeline _pipe = null!;
    private TextToImageOptions _options = null!;

    [Params(10, 50)]
    public int Steps { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _pipe = StableDiffusionPipeline.FromPretrained(BenchmarkPaths.TinyModel);
        _options = new TextToImageOptions { Prompt = ["a red cube on top of a blue sphere"], NumInferenceSteps = Steps, GuidanceScale = 7.5, Seed = 42 };
    }

    [Benchmark]
    public int Generate()
    {
        return _pipe.Generate(_options).Images[0].Width;
    }

    [GlobalCleanup]
    public void Cleanup() => _pipe.Dispose();
}

/// <summary>Loading the tiny model pipeline (tokenizer, scheduler and three ONNX sessions at optimization level ALL):
/// cold (graphs optimized at load) and from the optimized-graph cache (<see cref="OnnxRuntime.OnnxRuntimeSettings.OptimizedModelCacheDirectory"/>,
/// filled in the set-up). The files themselves are in the OS cache either way.</summary>
[MemoryDiagnoser]
[BenchmarkCategory("Load")]
[SimpleJob(launchCount: 1, warmupCount: 2, iterationCount: 10)]
public class LoadBenchmarks
{
    private string _cache = null!;

    [GlobalSetup]
    public void Setup()
    {
        _cache = Path.Combine(Path.GetTempPath(), "spright-bench-cache-" + Environment.ProcessId);
        using var warm = StableDiffusionPipeline.FromPretrained(BenchmarkPaths.TinyModel, new DiffusionPipelineOptions { Backend = new OnnxRuntime.OnnxRuntimeBackend(new OnnxRuntime.OnnxRuntimeSettings { OptimizedModelCacheDirectory = _cache }) });
    }

    [Benchmark(Baseline = true)]
    public bool LoadCold()
    {
        using var pipe = StableDiffusionPipeline.FromPretrained(BenchmarkPaths.TinyModel);
        return pipe.IsDisposed;
    }

    [Benchmark]
    public bool LoadFromOptimizedCache()
    {
        using var pipe = StableDiffusionPipeline.FromPretrained(BenchmarkPaths.TinyModel, new DiffusionPipelineOptions { Backend = new OnnxRuntime.OnnxRuntimeBackend(new OnnxRuntime.OnnxRuntimeSettings { OptimizedModelCacheDirectory = _cache }) });
        return pipe.IsDisposed;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        try
        {
            Directory.Delete(_cache, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
