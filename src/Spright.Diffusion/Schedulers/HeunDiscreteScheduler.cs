using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Spright.Diffusion.Random;
using Spright.Diffusion.IO;
using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// Heun's second-order scheduler (Karras et al. 2022, Algorithm 1) following
/// <c>diffusers/schedulers/scheduling_heun_discrete.py</c> (v0.31). Each solver step takes two model evaluations:
/// the timesteps are interleaved (t₀, t₁, t₁, t₂, t₂, …) and <see cref="Step"/> alternates between the Euler predictor
/// (first order) and the trapezoidal corrector (second order), exactly like diffusers' <c>state_in_first_order</c>.
/// </summary>
public sealed class HeunDiscreteScheduler : SigmaSchedulerBase
{
    private float[]? _predOriginal;
    private Tensor<float>? _predOriginalTensor;
    private float[]? _derivative;
    private float[]? _prevDerivative;
    private float[]? _storedSample;
    private float? _dt;

    private HeunDiscreteScheduler(SchedulerConfig config, IReadOnlyCollection<string>? explicitKeys, ILogger? logger)
        : base("HeunDiscreteScheduler", config, explicitKeys, logger)
    {
        NumTrainTimesteps = Options.Int("num_train_timesteps", 1000, min: 2, max: 100_000);
        BetaStart = Options.Double("beta_start", 0.00085, min: 0, max: 1);
        BetaEnd = Options.Double("beta_end", 0.012, min: 0, max: 1);
        BetaSchedule = Options.String("beta_schedule", "linear", "linear", "scaled_linear", "squaredcos_cap_v2", "exp");
        TrainedBetas = Options.NullableDoubleArray("trained_betas");
        PredictionType = Options.String("prediction_type", "epsilon", "epsilon", "sample", "v_prediction");
        UseKarrasSigmas = Options.Bool("use_karras_sigmas", false);
        UseExponentialSigmas = Options.Bool("use_exponential_sigmas", false);
        UseBetaSigmas = Options.Bool("use_beta_sigmas", false);
        ClipSample = Options.Bool("clip_sample", false);
        ClipSampleRange = Options.Double("clip_sample_range", 1.0, min: 0);
        TimestepSpacing = Options.String("timestep_spacing", "linspace", "linspace", "leading", "trailing");
        StepsOffset = Options.Int("steps_offset", 0, min: 0, max: 100_000);
        CompleteConfig();
        SigmaScheduleMath.CheckSigmaOptions(ClassName, UseKarrasSigmas, UseExponentialSigmas, UseBetaSigmas);

        SetAlphasCumprod(BetaSchedules.AlphasCumprod(ClassName, BetaSchedule, NumTrainTimesteps, BetaStart, BetaEnd, TrainedBetas, rescaleZeroSnr: false));
        // diffusers calls set_timesteps(num_train_timesteps) in the constructor.
        SetTimesteps(NumTrainTimesteps);
    }

    /// <summary>Creates a Heun scheduler with diffusers' default options.</summary>
    public HeunDiscreteScheduler()
        : this(SchedulerConfig.Empty, null, null)
    {
    }

    /// <summary>Number of diffusion steps used to train the model.</summary>
    public int NumTrainTimesteps { get; }

    /// <summary>The first beta of the schedule.</summary>
    public double BetaStart { get; }

    /// <summary>The last beta of the schedule.</summary>
    public double BetaEnd { get; }

    /// <summary><c>linear</c>, <c>scaled_linear</c>, <c>squaredcos_cap_v2</c> or <c>exp</c>.</summary>
    public string BetaSchedule { get; }

    /// <summary>Explicit betas, overriding the schedule, or <see langword="null"/>.</summary>
    public double[]? TrainedBetas { get; }

    /// <summary><c>epsilon</c>, <c>sample</c> or <c>v_prediction</c>.</summary>
    public string PredictionType { get; }

    /// <summary>Whether the sigmas follow Karras et al. (2022).</summary>
    public bool UseKarrasSigmas { get; }

    /// <summary>Whether the sigmas are log-uniformly spaced.</summary>
    public bool UseExponentialSigmas { get; }

    /// <summary>Whether the sigmas follow Beta(0.6, 0.6) quantiles.</summary>
    public bool UseBetaSigmas { get; }

    /// <summary>Whether x₀ is clipped to ±<see cref="ClipSampleRange"/>.</summary>
    public bool ClipSample { get; }

    /// <summary>The clipping range when <see cref="ClipSample"/> is on.</summary>
    public double ClipSampleRange { get; }

    /// <summary><c>linspace</c>, <c>leading</c> or <c>trailing</c>.</summary>
    public string TimestepSpacing { get; }

    /// <summary>Offset added to the timesteps with <c>leading</c> spacing.</summary>
    public int StepsOffset { get; }

    /// <inheritdoc />
    public override int Order => 2;

    /// <summary>Whether the next <see cref="Step"/> is a first-order (predictor) step.</summary>
    public bool StateInFirstOrder => _dt is null;

    /// <summary>Builds a scheduler from a configuration (possibly another scheduler's), like <c>from_config</c>.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="logger">Where warnings about ignored keys go.</param>
    /// <returns>The scheduler.</returns>
    public static HeunDiscreteScheduler FromConfig(SchedulerConfig config, ILogger? logger = null) => new(config, null, logger);

    /// <summary>Builds a scheduler from a configuration with explicit overrides, like <c>from_config(config, **kwargs)</c>.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="overrides">Options to set; unknown names are an error.</param>
    /// <param name="logger">Where warnings about ignored keys go.</param>
    /// <returns>The scheduler.</returns>
    public static HeunDiscreteScheduler FromConfig(SchedulerConfig config, IEnumerable<KeyValuePair<string, object?>> overrides, ILogger? logger = null) =>
        (HeunDiscreteScheduler)SchedulerRegistry.Create("HeunDiscreteScheduler", config, overrides, logger);

    internal static IScheduler Create(SchedulerConfig config, IReadOnlyCollection<string>? explicitKeys, ILogger? logger) => new HeunDiscreteScheduler(config, explicitKeys, logger);

    /// <inheritdoc />
    public override void SetTimesteps(int numInferenceSteps)
    {
        CheckStepCount(numInferenceSteps, NumTrainTimesteps);
        NumInferenceSteps = numInferenceSteps;
        Build(SpacedTimesteps.Fractional(TimestepSpacing, NumTrainTimesteps, numInferenceSteps, StepsOffset));
    }

    /// <inheritdoc />
    /// <remarks>Heun accepts custom timesteps (not with Karras / exponential / beta sigmas); custom sigmas are not supported.</remarks>
    public override void SetTimesteps(IReadOnlyList<float>? timesteps, IReadOnlyList<float>? sigmas)
    {
        if (timesteps is null)
        {
            base.SetTimesteps(timesteps, sigmas);
            return;
        }
        if (sigmas is not null)
        {
            throw new NotSupportedException($"{ClassName} does not accept custom sigmas.");
        }
        if (UseKarrasSigmas || UseExponentialSigmas || UseBetaSigmas)
        {
            throw new ArgumentException($"{ClassName}: custom timesteps cannot be used with use_karras_sigmas, use_exponential_sigmas or use_beta_sigmas.", nameof(timesteps));
        }
        if (timesteps.Count == 0 || timesteps.Any(t => !float.IsFinite(t)))
        {
            throw new ArgumentException("Give at least one finite timestep.", nameof(timesteps));
        }
        NumInferenceSteps = timesteps.Count;
        Build(timesteps.ToArray());
    }

    private void Build(float[] timesteps)
    {
        double[] t64 = Array.ConvertAll(timesteps, x => (double)x);
        SigmaScheduleParts parts = Respace(InterpolateSigmas(timesteps), false, t64, SpacingOf(UseKarrasSigmas, UseExponentialSigmas, UseBetaSigmas),
            NumInferenceSteps, ConfigNumber("sigma_min"), ConfigNumber("sigma_max"));

        var sigmas = new float[parts.Sigmas.Length + 1];
        for (int i = 0; i < parts.Sigmas.Length; i++)
        {
            sigmas[i] = (float)parts.Sigmas[i];
        }
        // cat([σ[:1], σ[1:-1].repeat_interleave(2), σ[-1:]]) — the final 0 appears once.
        float[] withoutLast = sigmas[..^1];
        float[] interleaved = SigmaScheduleMath.RepeatInterleaveTail(withoutLast, appendLast: false);
        SigmaValues = [.. interleaved, sigmas[^1]];
        TimestepValues = SigmaScheduleMath.RepeatInterleaveTail(ToFloat(parts.Timesteps), appendLast: false);
        _dt = null;
        StepIndex = null;
        BeginIndex = null;
        UpdateInitNoiseSigma(TimestepSpacing);
    }

    /// <inheritdoc />
    public override SchedulerOutput Step(Tensor<float> modelOutput, float timestep, Tensor<float> sample, TorchGenerator? generator = null, float eta = 0f)
    {
        CheckStepArguments(modelOutput, sample);
        EnsureTimestepsSet();
        if (StepIndex is null)
        {
            InitStepIndex(timestep);
        }
        int index = StepIndex!.Value;
        bool firstOrder = StateInFirstOrder;
        CheckStepInRange(firstOrder ? index : index - 1, 2);

        Span<float> x = sample.AsSpan();
        int n = x.Length;
        Tensor<float> predOriginalTensor = RentLike(ref _predOriginal, ref _predOriginalTensor, sample);
        Span<float> x0 = _predOriginal;
        Span<float> derivative = Rent(ref _derivative, n);

        float sigma = firstOrder ? SigmaValues[index] : SigmaValues[index - 1];
        float sigmaNext = firstOrder ? SigmaValues[index + 1] : SigmaValues[index];
        float sigmaHat = sigma; // γ = 0
        PredictOriginalSample(PredictionType, modelOutput.AsSpan(), x, firstOrder ? sigmaHat : sigmaNext, x0);
        if (ClipSample)
        {
            float r = (float)ClipSampleRange;
            TensorPrimitives.Clamp(x0, -r, r, x0);
        }

        if (firstOrder)
        {
            ElementwiseOps.DifferenceQuotient(x, x0, sigmaHat, derivative);
            float dt = sigmaNext - sigmaHat;
            derivative.CopyTo(Rent(ref _prevDerivative, n));
            x.CopyTo(Rent(ref _storedSample, n));
            _dt = dt;
            ElementwiseOps.AddScaled(x, dt, derivative, x);
        }
        else
        {
            if (_prevDerivative is null || _storedSample is null || _prevDerivative.Length != n || _storedSample.Length != n)
            {
                throw new InvalidOperationException($"{ClassName}: the second-order step needs the first-order step's state for a sample of the same size.");
            }
            ElementwiseOps.DifferenceQuotient(x, x0, sigmaNext, derivative);
            ElementwiseOps.Average(_prevDerivative, derivative, derivative);
            float dt = _dt!.Value;
            _dt = null;
            ElementwiseOps.AddScaled(_storedSample, dt, derivative, x);
        }

        StepIndex = index + 1;
        return new SchedulerOutput(sample, predOriginalTensor);
    }
}
