using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Spright.Diffusion.Random;
using Spright.Diffusion.IO;
using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// Denoising diffusion implicit models (DDIM), SPRIGHT-T2I's default scheduler. Follows
/// <c>diffusers/schedulers/scheduling_ddim.py</c> (v0.31): epsilon / sample / v-prediction, leading / trailing /
/// linspace spacing, <c>steps_offset</c>, <c>set_alpha_to_one</c>, η-noise from the generator, sample clipping,
/// dynamic thresholding and zero-terminal-SNR rescaling. All arithmetic is float32 as in torch.
/// </summary>
public sealed class DDIMScheduler : SchedulerBase, IEtaScheduler
{
    private readonly float[] _alphasCumprod;
    private readonly float _finalAlphaCumprod;
    private float[]? _predOriginal;
    private float[]? _noise;
    private float[]? _thresholdSort;
    private Tensor<float>? _predOriginalTensor;

    /// <summary>Creates a DDIM scheduler, like <c>DDIMScheduler(**options)</c>.</summary>
    /// <param name="options">The options; <see langword="null"/> for diffusers' defaults.</param>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public DDIMScheduler(DDIMSchedulerOptions? options = null)
        : this(SchedulerSignatures.DDIM.Bind(options ?? new()), null)
    {
    }

    internal DDIMScheduler(BoundOptions<DDIMSchedulerOptions> bound, ILogger? logger)
        : base(bound.Config, logger)
    {
        Options = bound.Options;
        Tables = new TrainingTables(BetaSchedules.AlphasCumprod(ClassName, Options, Options.RescaleBetasZeroSnr));
        _alphasCumprod = Tables.AlphasCumprod;
        _finalAlphaCumprod = Options.SetAlphaToOne ? 1f : _alphasCumprod[0];
        TimestepValues = SpacedTimesteps.AllTraining(Options.NumTrainTimesteps);
    }

    /// <summary>The options this scheduler runs with (<see cref="IScheduler.Config"/> shows them as configuration keys).</summary>
    internal DDIMSchedulerOptions Options { get; }

    /// <summary>Builds a scheduler from a configuration (possibly another scheduler's), like
    /// <c>DDIMScheduler.from_config(config, **overrides)</c>.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="overrides">Options to set; as in diffusers, names this class does not take are ignored with a warning.</param>
    /// <param name="logger">Where warnings go.</param>
    /// <returns>The scheduler.</returns>
    /// <exception cref="ArgumentException">An option value is invalid.</exception>
    public static DDIMScheduler FromConfig(SchedulerConfig config, IEnumerable<KeyValuePair<string, object?>>? overrides = null, ILogger? logger = null) =>
        (DDIMScheduler)SchedulerRegistry.Create(nameof(DDIMScheduler), config, overrides, logger);

    private int NumTrainTimesteps => Options.NumTrainTimesteps;

    /// <inheritdoc />
    private protected override void SetTimestepsCore(int numInferenceSteps)
    {
        CheckStepCount(numInferenceSteps, NumTrainTimesteps);
        NumInferenceSteps = numInferenceSteps;
        float[] timesteps = VpSolverMath.TimestepsToFloat(SpacedTimesteps.Discrete(Options.TimestepSpacing, NumTrainTimesteps, numInferenceSteps, Options.StepsOffset));
        TimestepValues = timesteps;
        StepIndex = null;
    }

    /// <inheritdoc />
    private protected override SchedulerOutput StepCore(Tensor<float> modelOutput, float timestep, Tensor<float> sample, TorchGenerator? generator) =>
        Step(modelOutput, timestep, sample, 0f, generator);

    /// <inheritdoc />
    /// <exception cref="ArgumentNullException"><paramref name="generator"/> is null while <paramref name="eta"/> &gt; 0.</exception>
    public SchedulerOutput Step(Tensor<float> modelOutput, float timestep, Tensor<float> sample, float eta, TorchGenerator? generator = null)
    {
        CheckStepArguments(modelOutput, sample);
        EnsureStepsSet();
        if (!float.IsFinite(eta) || eta < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(eta), eta, "eta must be a finite number ≥ 0.");
        }

        int t = CheckIntegerTimestep(timestep, "DDIM");
        int prevT = t - NumTrainTimesteps / NumInferenceSteps;

        float alphaProdT = _alphasCumprod[t];
        float alphaProdTPrev = prevT >= 0 ? _alphasCumprod[prevT] : _finalAlphaCumprod;
        float betaProdT = 1f - alphaProdT;
        float sqrtAlphaT = MathF.Sqrt(alphaProdT);
        float sqrtBetaT = MathF.Sqrt(betaProdT);

        Span<float> x = sample.AsSpan();
        ReadOnlySpan<float> mo = modelOutput.AsSpan();
        Tensor<float> predOriginalTensor = RentLike(ref _predOriginal, ref _predOriginalTensor, sample);
        float[] predOriginal = _predOriginal!;

        // x₀ and ε (the direction term needs ε from the unclipped x₀).
        Span<float> x0 = predOriginal;
        VpSolverMath.PredictOriginalSample(Options.PredictionType, sqrtAlphaT, sqrtBetaT, mo, x, x0);
        float[] eps = Rent(ref _noise, x.Length);
        VpSolverMath.PredictEpsilon(Options.PredictionType, sqrtAlphaT, sqrtBetaT, mo, x, eps);
        DynamicThresholding.ClipOrThreshold(Options, x0, sample, ref _thresholdSort);

        float betaProdTPrev = 1f - alphaProdTPrev;
        float variance = betaProdTPrev / betaProdT * (1f - alphaProdT / alphaProdTPrev);
        float stdDevT = eta * MathF.Sqrt(variance);
        float directionScale = MathF.Sqrt(1f - alphaProdTPrev - stdDevT * stdDevT);
        float sqrtAlphaPrev = MathF.Sqrt(alphaProdTPrev);

        // prev = √ᾱ_prev·x₀ + √(1−ᾱ_prev−σ²)·ε
        ElementwiseOps.LinearCombination(sqrtAlphaPrev, x0, directionScale, eps, x);

        if (eta > 0)
        {
            if (generator is null)
            {
                throw new ArgumentNullException(nameof(generator), "DDIM with eta > 0 draws variance noise: pass the generator.");
            }
            generator.Randn(eps);
            ElementwiseOps.AddScaled(x, stdDevT, eps, x);
        }

        StepIndex = (StepIndex ?? 0) + 1;
        return new SchedulerOutput(sample, predOriginalTensor);
    }

    /// <inheritdoc />
    private protected override void AddNoiseCore(ReadOnlySpan<float> originalSamples, ReadOnlySpan<float> noise, float timestep, Span<float> destination) =>
        VpSolverMath.AddNoise(_alphasCumprod[CheckTrainingTimestep(timestep, NumTrainTimesteps)], originalSamples, noise, destination);
}
