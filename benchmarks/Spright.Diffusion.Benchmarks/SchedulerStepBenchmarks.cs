using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;
using Spright.Diffusion.Random;
using Spright.Diffusion.Schedulers;
using Spright.Diffusion.IO;
using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Benchmarks;

/// <summary>
/// One denoising step of every scheduler (<c>scale_model_input</c> + <c>step</c>) on a 1×4×S×S latent: 96 = SPRIGHT's
/// 768 px latents, 64 = 512 px. Each iteration runs <see cref="StepsPerIteration"/> consecutive steps of a fresh
/// 45-step schedule (set up outside the measurement, history warmed by two steps; 45 ≤ LCM's 50 original steps), so
/// multistep solvers run in their steady state. Ancestral/DDPM steps include drawing the step's noise.
/// </summary>
[MemoryDiagnoser]
[InvocationCount(StepsPerIteration)]
[BenchmarkCategory("Scheduler")]
public class SchedulerStepBenchmarks
{
    public const int StepsPerIteration = 40;

    private IScheduler _scheduler = null!;
    private float[] _initial = null!;
    private float[] _latents = null!;
    private float[] _modelOutput = null!;
    private Tensor<float> _sample = null!;
    private Tensor<float> _model = null!;
    private float[] _timesteps = null!;
    private TorchGenerator _generator = null!;
    private int _index;

    public static IEnumerable<string> Schedulers => SchedulerRegistry.Names;

    [ParamsSource(nameof(Schedulers))]
    public string Scheduler { get; set; } = "DDIMScheduler";

    [Params(64, 96)]
    public int LatentSide { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        SchedulerConfig config = SchedulerConfig.Load(Path.Combine(BenchmarkPaths.TinyModel, "scheduler", "scheduler_config.json"));
        _scheduler = SchedulerRegistry.Create(Scheduler, config, [new("prediction_type", "v_prediction")]);
        int n = 4 * LatentSide * LatentSide;
        var g = new TorchGenerator(42);
        _initial = new float[n];
        g.Randn(_initial);
        _modelOutput = new float[n];
        g.Randn(_modelOutput);
        TensorPrimitives.Multiply(_modelOutput, 0.5f, _modelOutput);
        _latents = new float[n];
        _sample = TensorShapes.Wrap(_latents, 1, 4, LatentSide, LatentSide);
        _model = TensorShapes.Wrap(_modelOutput, 1, 4, LatentSide, LatentSide);
        _generator = new TorchGenerator(7);
    }

    [IterationSetup]
    public void StartSchedule()
    {
        _scheduler.SetTimesteps(45);
        _timesteps = _scheduler.Timesteps.ToArray();
        TensorPrimitives.Multiply(_initial, _scheduler.InitNoiseSigma, _latents);
        _index = 0;
        Step();
        Step();
    }

    [Benchmark]
    public void Step()
    {
        float t = _timesteps[_index++];
        _scheduler.ScaleModelInput(_latents, t, _latents);
        _scheduler.Step(_model, t, _sample, _generator);
    }
}
