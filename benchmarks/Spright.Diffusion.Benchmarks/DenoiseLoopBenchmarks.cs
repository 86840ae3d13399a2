using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;
using Microsoft.ML.OnnxRuntime;
using Spright.Diffusion.Components;
using Spright.Diffusion.OnnxRuntime;
using Spright.Diffusion.OnnxRuntime.Components;
using Spright.Diffusion.OnnxRuntime.Sessions;
using Spright.Diffusion.Random;

namespace Spright.Diffusion.Benchmarks;

/// <summary>
/// The denoising loop on the tiny model (128², classifier-free guidance, so a UNet batch of 2) against raw ONNX Runtime
/// baselines that make the UNet calls with nothing else. The baseline makes the same calls as the library: the two
/// halves of the guided batch as two batch-1 <c>RunWithBinding</c> calls side by side on two threads (the same
/// thread hand-off the library uses), on a session specialised for the shape, with I/O binding on preallocated
/// buffers. <see cref="RawOnnxRuntimeOneBatchedCall"/> is what a plain ONNX Runtime loop does: one batch-2 call per
/// step on the general session. The library side is a whole text-to-image call with precomputed prompt embeddings and
/// <see cref="OutputType.Latent"/> (scheduler set-up, initial noise, CFG batch, guidance, scheduler steps, finiteness
/// check), so the Ratio column is the loop's overhead.
/// </summary>
[MemoryDiagnoser]
[BenchmarkCategory("Loop")]
public class DenoiseLoopBenchmarks
{
    private StableDiffusionPipeline _pipe = null!;
    private TextToImageOptions _options = null!;
    private InferenceSession _session = null!;
    private OrtIoBinding _binding = null!;
    private OrtIoBinding[] _halves = null!;
    private ConcurrentCalls? _sideBySide;
    private RunOptions _runOptions = null!;
    private readonly List<IDisposable> _values = [];
    private float[] _timestep = null!;
    private float[] _timesteps = null!;

    /// <summary>The tiny model is small enough for the small-graph tuning the raw baseline mirrors.</summary>
    private static readonly OnnxRuntimeSettings Tuned = new() { SmallGraphTuning = true };

    [Params(10, 50)]
    public int Steps { get; set; }

    [GlobalSetup(Target = nameof(RawOnnxRuntime))]
    public void SetupRaw()
    {
        string model = Path.Combine(BenchmarkPaths.TinyModel, "unet", "model.onnx");
        _session = SessionFactory.Create(model, "unet", Tuned, out _, null,
            [new("batch_size", 1), new("height", 16), new("width", 16), new("sequence_length", 77)]);
        (float[] sample, float[] hidden) = Inputs();
        _runOptions = new RunOptions();
        _halves = new OrtIoBinding[2];
        for (int h = 0; h < 2; h++)
        {
            _halves[h] = _session.CreateIoBinding();
            _halves[h].BindInput("sample", Track(OrtValue.CreateTensorValueFromMemory(sample[(h * 1024)..((h + 1) * 1024)], [1, 4, 16, 16])));
            _halves[h].BindInput("timestep", Track(OrtValue.CreateTensorValueFromMemory(_timestep, [])));
            _halves[h].BindInput("encoder_hidden_states", Track(OrtValue.CreateTensorValueFromMemory(hidden[(h * 77 * 32)..((h + 1) * 77 * 32)], [1, 77, 32])));
            _halves[h].BindOutput("out_sample", Track(OrtValue.CreateTensorValueFromMemory(new float[1024], [1, 4, 16, 16])));
        }
        _sideBySide = Environment.ProcessorCount > 1 ? new ConcurrentCalls(2, h => _session.RunWithBinding(_runOptions, _halves[h]), "raw") : null;
    }

    [GlobalSetup(Target = nameof(RawOnnxRuntimeOneBatchedCall))]
    public void SetupRawBatched()
    {
        string model = Path.Combine(BenchmarkPaths.TinyModel, "unet", "model.onnx");
        _session = SessionFactory.Create(model, "unet", Tuned);
        (float[] sample, float[] hidden) = Inputs();
        _runOptions = new RunOptions();
        _binding = _session.CreateIoBinding();
        _binding.BindInput("sample", Track(OrtValue.CreateTensorValueFromMemory(sample, [2, 4, 16, 16])));
        _binding.BindInput("timestep", Track(OrtValue.CreateTensorValueFromMemory(_timestep, [])));
        _binding.BindInput("encoder_hidden_states", Track(OrtValue.CreateTensorValueFromMemory(hidden, [2, 77, 32])));
        _binding.BindOutput("out_sample", Track(OrtValue.CreateTensorValueFromMemory(new float[sample.Length], [2, 4, 16, 16])));
    }

    /// <summary>Random inputs, and the timesteps of the pipeline's DDIM schedule.</summary>
    private (float[] Sample, float[] Hidden) Inputs()
    {
        var g = new TorchGenerator(42);
        float[] sample = new float[2 * 4 * 16 * 16];
        g.Randn(sample);
        float[] hidden = new float[2 * 77 * 32];
        g.Randn(hidden);
        _timestep = new float[1];
        using var pipe = StableDiffusionPipeline.FromPretrained(BenchmarkPaths.TinyModel);
        var scheduler = pipe.Scheduler.Clone();
        scheduler.SetTimesteps(Steps);
        _timesteps = scheduler.Timesteps.ToArray();
        return (sample, hidden);
    }

    [GlobalSetup(Target = nameof(PipelineLoop))]
    public void SetupPipeline()
    {
        _pipe = StableDiffusionPipeline.FromPretrained(BenchmarkPaths.TinyModel, new DiffusionPipelineOptions { Backend = new OnnxRuntimeBackend(Tuned) });
        Tensor<float> positive = _pipe.EncodePrompt(["a red cube on top of a blue sphere"], 1, false).PromptEmbeds;
        Tensor<float> negative = _pipe.EncodePrompt([""], 1, false).PromptEmbeds;
        _options = new TextToImageOptions
        {
            PromptEmbeds = positive,
            NegativePromptEmbeds = negative,
            NumInferenceSteps = Steps,
            GuidanceScale = 7.5,
            Seed = 42,
            OutputType = OutputType.Latent,
        };
    }

    [GlobalSetup(Target = nameof(PipelineLoopWithoutUNet))]
    public void SetupPipelineWithoutUNet()
    {
        SetupPipeline();
        _pipe.Unet = new NoOpUNet(_pipe.Unet);
    }

    [Benchmark(Baseline = true)]
    public void RawOnnxRuntime()
    {
        for (int i = 0; i < _timesteps.Length; i++)
        {
            _timestep[0] = _timesteps[i];
            if (_sideBySide is not null)
            {
                _sideBySide.Invoke(lastOfSeries: i == _timesteps.Length - 1);
            }
            else
            {
                _session.RunWithBinding(_runOptions, _halves[0]);
                _session.RunWithBinding(_runOptions, _halves[1]);
            }
        }
    }

    [Benchmark]
    public void RawOnnxRuntimeOneBatchedCall()
    {
        foreach (float t in _timesteps)
        {
            _timestep[0] = t;
            _session.RunWithBinding(_runOptions, _binding);
        }
    }

    [Benchmark]
    public Tensor<float> PipelineLoop()
    {
        return _pipe.Generate(_options).Latents;
    }

    /// <summary>The same call with a UNet that costs nothing: everything the library adds around the UNet calls, measured
    /// without the UNet's run-to-run noise (overhead = this / <see cref="RawOnnxRuntime"/>).</summary>
    [Benchmark]
    public Tensor<float> PipelineLoopWithoutUNet()
    {
        return _pipe.Generate(_options).Latents;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _pipe?.Dispose();
        _sideBySide?.Dispose();
        _binding?.Dispose();
        foreach (OrtIoBinding half in _halves ?? [])
        {
            half.Dispose();
        }
        _runOptions?.Dispose();
        foreach (IDisposable v in _values)
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

/// <summary>A UNet with the real one's facts whose evaluation does nothing (its output stays zero).</summary>
internal sealed class NoOpUNet(IUNet real) : IUNet
{
    public UNetInfo Info { get; } = real.Info;

    public IDisposable? Acquire() => null;

    public IUNetRunner RentRunner(UNetShape shape) => new Runner(shape);

    public void Dispose()
    {
    }

    private sealed class Runner(UNetShape shape) : IUNetRunner
    {
        private readonly float[] _sample = new float[shape.SampleLength];
        private readonly float[] _hidden = new float[shape.HiddenStatesLength];
        private readonly float[] _output = new float[shape.SampleLength];

        public UNetShape Shape { get; } = shape;

        public Span<float> Sample => _sample;

        public Span<float> EncoderHiddenStates => _hidden;

        public ReadOnlySpan<float> Output => _output;

        public void Run(float timestep, UNetRunHints hints, CancellationToken cancellationToken)
        {
        }

        public void Dispose()
        {
        }
    }
}
