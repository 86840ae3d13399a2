using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Random;
using Spright.Diffusion.Tensors;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// Ancestral Euler scheduler following <c>diffusers/schedulers/scheduling_euler_ancestral_discrete.py</c> (v0.31): an
/// Euler step down to σ_down followed by fresh noise of scale σ_up drawn from the generator every step.
/// Epsilon and v-prediction (diffusers does not implement <c>sample</c> for this class), leading / trailing /
/// linspace spacing and zero-terminal-SNR rescaling.
/// </summary>
public sealed class EulerAncestralDiscreteScheduler : SigmaSchedulerBase
{
    private float[]? _predOriginal;
    private Tensor<float>? _predOriginalTensor;
    private float[]? _scratch;

    private EulerAncestralDiscreteScheduler(SchedulerConfig config, IReadOnlyCollection<string>? explicitKeys, ILogger? logger)
        : base("EulerAncestralDiscreteScheduler", config, explicitKeys, logger)
    {
        NumTrainTimesteps = Options.Int("num_train_timesteps", 1000, min: 2, max: 100_000);
        BetaStart = Options.Double("beta_start", 0.0001, min: 0, max: 1);
        BetaEnd = Options.Double("beta_end", 0.02, min: 0, max: 1);
        BetaSchedule = Options.String("beta_schedule", "linear", BetaSchedules.Names);
        TrainedBetas = Options.NullableDoubleArray("trained_betas");
        PredictionType = Options.String("prediction_type", "epsilon", "epsilon", "sample", "v_prediction");
        TimestepSpacing = Options.String("timestep_spacing", "linspace", "linspace", "leading", "trailing");
        StepsOffset = Options.Int("steps_offset", 0, min: 0, max: 100_000);
        RescaleBetasZeroSnr = Options.Bool("rescale_betas_zero_snr", false);
        CompleteConfig();

        SetAlphasCumprod(BetaSchedules.AlphasCumprod(ClassName, BetaSchedule, NumTrainTimesteps, BetaStart, BetaEnd, TrainedBetas, RescaleBetasZeroSnr, clampTerminal: true));

        var sigmas = new float[NumTrainTimesteps + 1];
        var timesteps = new float[NumTrainTimesteps];
        double[] lin = NumpyOps.Linspace(0, NumTrainTimesteps - 1, NumTrainTimesteps);
        for (int i = 0; i < NumTrainTimesteps; i++)
        {
            sigmas[i] = TrainSigmas[NumTrainTimesteps - 1 - i];
            timesteps[i] = (float)lin[NumTrainTimesteps - 1 - i];
        }
        SigmaValues = sigmas;
        TimestepValues = timesteps;
        UpdateInitNoiseSigma(TimestepSpacing);
    }

    /// <summary>Creates an ancestral Euler scheduler with diffusers' default options.</summary>
    public EulerAncestralDiscreteScheduler()
        : this(SchedulerConfig.Empty, null, null)
    {
    }

    /// <summary>Number of diffusion steps used to train the model.</summary>
    public int NumTrainTimesteps { get; }

    /// <summary>The first beta of the schedule.</summary>
    public double BetaStart { get; }

    /// <summary>The last beta of the schedule.</summary>
    public double BetaEnd { get; }

    /// <summary><c>linear</c>, <c>scaled_linear</c> or <c>squaredcos_cap_v2</c>.</summary>
    public string BetaSchedule { get; }

    /// <summary>Explicit betas, overriding the schedule, or <see langword="null"/>.</summary>
    public double[]? TrainedBetas { get; }

    /// <summary><c>epsilon</c> or <c>v_prediction</c>; <c>sample</c> is accepted in the configuration but, as in diffusers, <see cref="Step"/> rejects it.</summary>
    public string PredictionType { get; }

    /// <summary><c>linspace</c>, <c>leading</c> or <c>trailing</c>.</summary>
    public string TimestepSpacing { get; }

    /// <summary>Offset added to the timesteps with <c>leading</c> spacing.</summary>
    public int StepsOffset { get; }

    /// <summary>Whether betas are rescaled to zero terminal SNR (the last ᾱ is then set to 2⁻²⁴).</summary>
    public bool RescaleBetasZeroSnr { get; }

    /// <summary>Builds a scheduler from a configuration (possibly another scheduler's), like <c>from_config</c>.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="logger">Where warnings about ignored keys go.</param>
    /// <returns>The scheduler.</returns>
    public static EulerAncestralDiscreteScheduler FromConfig(SchedulerConfig config, ILogger? logger = null) => new(config, null, logger);

    /// <summary>Builds a scheduler from a configuration with explicit overrides, like <c>from_config(config, **kwargs)</c>.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="overrides">Options to set; unknown names are an error.</param>
    /// <param name="logger">Where warnings about ignored keys go.</param>
    /// <returns>The scheduler.</returns>
    public static EulerAncestralDiscreteScheduler FromConfig(SchedulerConfig config, IEnumerable<KeyValuePair<string, object?>> overrides, ILogger? logger = null) =>
        (EulerAncestralDiscreteScheduler)SchedulerRegistry.Create("EulerAncestralDiscreteScheduler", config, overrides, logger);

    internal static IScheduler Create(SchedulerConfig config, IReadOnlyCollection<string>? explicitKeys, ILogger? logger) => new EulerAncestralDiscreteScheduler(config, explicitKeys, logger);

    /// <inheritdoc />
    public override void SetTimesteps(int numInferenceSteps)
    {
        CheckStepCount(numInferenceSteps, NumTrainTimesteps);
        NumInferenceSteps = numInferenceSteps;
        float[] timesteps = SpacedTimesteps.Fractional(TimestepSpacing, NumTrainTimesteps, numInferenceSteps, StepsOffset);
        double[] interpolated = InterpolateSigmas(timesteps);
        var sigmas = new float[interpolated.Length + 1];
        for (int i = 0; i < interpolated.Length; i++)
        {
            sigmas[i] = (float)interpolated[i];
        }
        SigmaValues = sigmas;
        TimestepValues = timesteps;
        StepIndex = null;
        BeginIndex = null;
        UpdateInitNoiseSigma(TimestepSpacing);
    }

    /// <inheritdoc />
    /// <exception cref="NotSupportedException">The prediction type is <c>sample</c> (not implemented by diffusers either).</exception>
    /// <exception cref="ArgumentNullException"><paramref name="generator"/> is null: every step draws noise.</exception>
    public override SchedulerOutput Step(Tensor<float> modelOutput, float timestep, Tensor<float> sample, TorchGenerator? generator = null, float eta = 0f)
    {
        CheckStepArguments(modelOutput, sample);
        EnsureTimestepsSet();
        if (PredictionType == "sample")
        {
            throw new NotSupportedException($"{ClassName} does not implement prediction_type 'sample' (neither does diffusers).");
        }
        if (generator is null)
        {
            throw new ArgumentNullException(nameof(generator), $"{ClassName} draws noise every step: pass the generator.");
        }
        if (StepIndex is null)
        {
            InitStepIndex(timestep);
        }
        int index = StepIndex!.Value;
        CheckStepInRange(index, 2);

        Span<float> x = sample.AsSpan();
        Tensor<float> predOriginalTensor = RentLike(ref _predOriginal, ref _predOriginalTensor, sample);
        Span<float> x0 = _predOriginal;
        Span<float> scratch = Rent(ref _scratch, x.Length);

        float sigma = SigmaValues[index];
        PredictOriginalSample(PredictionType, modelOutput.AsSpan(), x, sigma, x0);

        float sigmaFrom = sigma;
        float sigmaTo = SigmaValues[index + 1];
        float toSquared = sigmaTo * sigmaTo;
        float fromSquared = sigmaFrom * sigmaFrom;
        float upSquared = toSquared * (fromSquared - toSquared) / fromSquared;
        float sigmaUp = MathF.Sqrt(upSquared);
        float sigmaDown = MathF.Sqrt(toSquared - sigmaUp * sigmaUp);

        ElementwiseOps.DifferenceQuotient(x, x0, sigma, scratch);
        float dt = sigmaDown - sigma;
        ElementwiseOps.AddScaled(x, dt, scratch, x);

        generator.Randn(scratch);
        ElementwiseOps.AddScaled(x, sigmaUp, scratch, x);

        StepIndex = index + 1;
        return new SchedulerOutput(sample, predOriginalTensor);
    }
}
