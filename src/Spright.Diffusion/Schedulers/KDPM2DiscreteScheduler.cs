using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Spright.Diffusion.Random;
using Spright.Diffusion.IO;
using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// KDPM2 (DPM-Solver-2, Karras et al. 2022 Algorithm 2 variant) following
/// <c>diffusers/schedulers/scheduling_k_dpm_2_discrete.py</c> (v0.31). Every solver step evaluates the model at σᵢ and
/// at the geometric midpoint √(σᵢσᵢ₊₁), so the timesteps interleave the schedule with interpolated timesteps; the
/// first/second order state machine matches diffusers' <c>state_in_first_order</c>.
/// </summary>
public sealed class KDPM2DiscreteScheduler : SigmaSchedulerBase
{
    private float[]? _predOriginal;
    private Tensor<float>? _predOriginalTensor;
    private float[]? _derivative;
    private float[]? _storedSample;
    private bool _hasStoredSample;
    private float[] _sigmasInterpol = [];

    private KDPM2DiscreteScheduler(SchedulerConfig config, IReadOnlyCollection<string>? explicitKeys, ILogger? logger)
        : base("KDPM2DiscreteScheduler", config, explicitKeys, logger)
    {
        NumTrainTimesteps = Options.Int("num_train_timesteps", 1000, min: 2, max: 100_000);
        BetaStart = Options.Double("beta_start", 0.00085, min: 0, max: 1);
        BetaEnd = Options.Double("beta_end", 0.012, min: 0, max: 1);
        BetaSchedule = Options.String("beta_schedule", "linear", BetaSchedules.Names);
        TrainedBetas = Options.NullableDoubleArray("trained_betas");
        UseKarrasSigmas = Options.Bool("use_karras_sigmas", false);
        UseExponentialSigmas = Options.Bool("use_exponential_sigmas", false);
        UseBetaSigmas = Options.Bool("use_beta_sigmas", false);
        PredictionType = Options.String("prediction_type", "epsilon", "epsilon", "sample", "v_prediction");
        TimestepSpacing = Options.String("timestep_spacing", "linspace", "linspace", "leading", "trailing");
        StepsOffset = Options.Int("steps_offset", 0, min: 0, max: 100_000);
        CompleteConfig();
        SigmaScheduleMath.CheckSigmaOptions(ClassName, UseKarrasSigmas, UseExponentialSigmas, UseBetaSigmas);

        SetAlphasCumprod(BetaSchedules.AlphasCumprod(ClassName, BetaSchedule, NumTrainTimesteps, BetaStart, BetaEnd, TrainedBetas, rescaleZeroSnr: false));
        SetTimesteps(NumTrainTimesteps);
    }

    /// <summary>Creates a KDPM2 scheduler with diffusers' default options.</summary>
    public KDPM2DiscreteScheduler()
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

    /// <summary>Whether the sigmas follow Karras et al. (2022) (their timesteps are then rounded).</summary>
    public bool UseKarrasSigmas { get; }

    /// <summary>Whether the sigmas are log-uniformly spaced.</summary>
    public bool UseExponentialSigmas { get; }

    /// <summary>Whether the sigmas follow Beta(0.6, 0.6) quantiles.</summary>
    public bool UseBetaSigmas { get; }

    /// <summary><c>epsilon</c> or <c>v_prediction</c>; <c>sample</c> is accepted in the configuration but, as in diffusers, <see cref="Step"/> rejects it.</summary>
    public string PredictionType { get; }

    /// <summary><c>linspace</c>, <c>leading</c> or <c>trailing</c>.</summary>
    public string TimestepSpacing { get; }

    /// <summary>Offset added to the timesteps with <c>leading</c> spacing.</summary>
    public int StepsOffset { get; }

    /// <inheritdoc />
    public override int Order => 2;

    /// <summary>Whether the next <see cref="Step"/> is a first-order step.</summary>
    public bool StateInFirstOrder => !_hasStoredSample;

    /// <summary>The interleaved midpoint sigmas (diffusers' <c>sigmas_interpol</c>; the first entry is NaN as in torch).</summary>
    public ReadOnlySpan<float> SigmasInterpol => _sigmasInterpol;

    /// <summary>Builds a scheduler from a configuration (possibly another scheduler's), like <c>from_config</c>.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="logger">Where warnings about ignored keys go.</param>
    /// <returns>The scheduler.</returns>
    public static KDPM2DiscreteScheduler FromConfig(SchedulerConfig config, ILogger? logger = null) => new(config, null, logger);

    /// <summary>Builds a scheduler from a configuration with explicit overrides, like <c>from_config(config, **kwargs)</c>.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="overrides">Options to set; unknown names are an error.</param>
    /// <param name="logger">Where warnings about ignored keys go.</param>
    /// <returns>The scheduler.</returns>
    public static KDPM2DiscreteScheduler FromConfig(SchedulerConfig config, IEnumerable<KeyValuePair<string, object?>> overrides, ILogger? logger = null) =>
        (KDPM2DiscreteScheduler)SchedulerRegistry.Create("KDPM2DiscreteScheduler", config, overrides, logger);

    internal static IScheduler Create(SchedulerConfig config, IReadOnlyCollection<string>? explicitKeys, ILogger? logger) => new KDPM2DiscreteScheduler(config, explicitKeys, logger);

    /// <inheritdoc />
    public override void SetTimesteps(int numInferenceSteps)
    {
        CheckStepCount(numInferenceSteps, NumTrainTimesteps);
        NumInferenceSteps = numInferenceSteps;
        float[] spaced = SpacedTimesteps.Fractional(TimestepSpacing, NumTrainTimesteps, numInferenceSteps, StepsOffset);
        SigmaScheduleParts parts = Respace(InterpolateSigmas(spaced), false, Array.ConvertAll(spaced, x => (double)x),
            SpacingOf(UseKarrasSigmas, UseExponentialSigmas, UseBetaSigmas), numInferenceSteps,
            ConfigNumber("sigma_min"), ConfigNumber("sigma_max"), roundKarrasTimesteps: true);

        int count = parts.Sigmas.Length + 1;
        var sigmas = new float[count];
        for (int i = 0; i < parts.Sigmas.Length; i++)
        {
            sigmas[i] = (float)parts.Sigmas[i];
        }

        // σ_interpol = exp(lerp(log σ, log σ.roll(1), 0.5)); the first one mixes with the final 0 (→ NaN).
        var interpol = new float[count];
        for (int i = 0; i < count; i++)
        {
            interpol[i] = SigmaScheduleMath.LogMidpoint(sigmas[i], sigmas[(i - 1 + count) % count]);
        }

        SigmaValues = SigmaScheduleMath.RepeatInterleaveTail(sigmas, appendLast: true);
        _sigmasInterpol = SigmaScheduleMath.RepeatInterleaveTail(interpol, appendLast: true);

        float[] t = ToFloat(parts.Timesteps);
        var timesteps = new float[1 + 2 * (t.Length - 1)];
        timesteps[0] = t[0];
        for (int i = 1; i < t.Length; i++)
        {
            timesteps[2 * i - 1] = (float)SigmaScheduleMath.SigmaToT(interpol[i], torchBlend: true, LogTrainSigmas);
            timesteps[2 * i] = t[i];
        }
        TimestepValues = timesteps;
        _hasStoredSample = false;
        StepIndex = null;
        BeginIndex = null;
        UpdateInitNoiseSigma(TimestepSpacing);
    }

    /// <inheritdoc />
    private protected override float InputSigma(int stepIndex) => StateInFirstOrder ? SigmaValues[stepIndex] : _sigmasInterpol[stepIndex];

    /// <inheritdoc />
    /// <exception cref="NotSupportedException">The prediction type is <c>sample</c> (not implemented by diffusers either).</exception>
    public override SchedulerOutput Step(Tensor<float> modelOutput, float timestep, Tensor<float> sample, TorchGenerator? generator = null, float eta = 0f)
    {
        CheckStepArguments(modelOutput, sample);
        EnsureTimestepsSet();
        if (PredictionType == "sample")
        {
            throw new NotSupportedException($"{ClassName} does not implement prediction_type 'sample' (neither does diffusers).");
        }
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

        float sigma, sigmaInterpol, sigmaNext;
        if (firstOrder)
        {
            sigma = SigmaValues[index];
            sigmaInterpol = _sigmasInterpol[index + 1];
            sigmaNext = SigmaValues[index + 1];
        }
        else
        {
            sigma = SigmaValues[index - 1];
            sigmaInterpol = _sigmasInterpol[index];
            sigmaNext = SigmaValues[index];
        }
        float sigmaHat = sigma; // γ = 0

        PredictOriginalSample(PredictionType, modelOutput.AsSpan(), x, firstOrder ? sigmaHat : sigmaInterpol, x0);

        if (firstOrder)
        {
            ElementwiseOps.DifferenceQuotient(x, x0, sigmaHat, derivative);
            float dt = sigmaInterpol - sigmaHat;
            x.CopyTo(Rent(ref _storedSample, n));
            _hasStoredSample = true;
            ElementwiseOps.AddScaled(x, dt, derivative, x);
        }
        else
        {
            if (_storedSample is null || _storedSample.Length != n)
            {
                throw new InvalidOperationException($"{ClassName}: the second-order step needs the first-order step's sample of the same size.");
            }
            ElementwiseOps.DifferenceQuotient(x, x0, sigmaInterpol, derivative);
            float dt = sigmaNext - sigmaHat;
            _hasStoredSample = false;
            ElementwiseOps.AddScaled(_storedSample, dt, derivative, x);
        }

        StepIndex = index + 1;
        return new SchedulerOutput(sample, predOriginalTensor);
    }
}
