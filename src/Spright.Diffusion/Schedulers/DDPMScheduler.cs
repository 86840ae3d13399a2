using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Random;
using Spright.Diffusion.Tensors;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// Denoising diffusion probabilistic models (DDPM) following <c>diffusers/schedulers/scheduling_ddpm.py</c> (v0.31):
/// the posterior mean of formula (7) of Ho et al. (2020) plus noise from the generator, with every
/// <c>variance_type</c> (<c>fixed_small</c>, <c>fixed_small_log</c>, <c>fixed_large</c>, <c>fixed_large_log</c>,
/// <c>learned</c>, <c>learned_range</c> — the learned ones split a model output with twice the sample's channels),
/// epsilon / sample / v-prediction, clipping, dynamic thresholding, zero-terminal-SNR, the <c>sigmoid</c> beta schedule
/// and custom timesteps. All arithmetic is float32 as in torch.
/// </summary>
public sealed class DDPMScheduler : SchedulerBase
{
    /// <summary>The <c>variance_type</c> values diffusers knows.</summary>
    public static readonly IReadOnlyList<string> VarianceTypes = Array.AsReadOnly(VpSolverMath.VarianceTypes);

    private readonly float[] _alphasCumprod;
    private float[]? _customTimesteps;
    private float[]? _predOriginal;
    private Tensor<float>? _predOriginalTensor;
    private float[]? _noise;
    private float[]? _thresholdSort;
    private float[]? _modelPart;
    private float[]? _variancePart;

    private DDPMScheduler(SchedulerConfig config, IReadOnlyCollection<string>? explicitKeys, ILogger? logger)
        : base("DDPMScheduler", config, explicitKeys, logger)
    {
        NumTrainTimesteps = Options.Int("num_train_timesteps", 1000, min: 1, max: 100_000);
        BetaStart = Options.Double("beta_start", 0.0001, min: 0, max: 1);
        BetaEnd = Options.Double("beta_end", 0.02, min: 0, max: 1);
        BetaSchedule = Options.String("beta_schedule", "linear", "linear", "scaled_linear", "squaredcos_cap_v2", "sigmoid");
        TrainedBetas = Options.NullableDoubleArray("trained_betas");
        VarianceType = Options.String("variance_type", "fixed_small", VpSolverMath.VarianceTypes);
        ClipSample = Options.Bool("clip_sample", true);
        PredictionType = Options.String("prediction_type", "epsilon", "epsilon", "sample", "v_prediction");
        Thresholding = Options.Bool("thresholding", false);
        DynamicThresholdingRatio = Options.Double("dynamic_thresholding_ratio", 0.995, min: 0, max: 1);
        ClipSampleRange = Options.Double("clip_sample_range", 1.0, min: 0);
        SampleMaxValue = Options.Double("sample_max_value", 1.0, min: 0);
        TimestepSpacing = Options.String("timestep_spacing", "leading", "linspace", "leading", "trailing");
        StepsOffset = Options.Int("steps_offset", 0, min: 0, max: 100_000);
        RescaleBetasZeroSnr = Options.Bool("rescale_betas_zero_snr", false);
        CompleteConfig();

        _alphasCumprod = BetaSchedules.AlphasCumprod(ClassName, BetaSchedule, NumTrainTimesteps, BetaStart, BetaEnd, TrainedBetas, RescaleBetasZeroSnr);
        InitNoiseSigma = 1f;
        TimestepValues = SpacedTimesteps.AllTraining(NumTrainTimesteps);
    }

    /// <summary>Creates a DDPM scheduler with diffusers' default options.</summary>
    public DDPMScheduler()
        : this(SchedulerConfig.Empty, null, null)
    {
    }

    /// <summary>Number of diffusion steps used to train the model.</summary>
    public int NumTrainTimesteps { get; }

    /// <summary>The first beta of the schedule.</summary>
    public double BetaStart { get; }

    /// <summary>The last beta of the schedule.</summary>
    public double BetaEnd { get; }

    /// <summary><c>linear</c>, <c>scaled_linear</c>, <c>squaredcos_cap_v2</c> or <c>sigmoid</c>.</summary>
    public string BetaSchedule { get; }

    /// <summary>Explicit betas, overriding the schedule, or <see langword="null"/>.</summary>
    public double[]? TrainedBetas { get; }

    /// <summary>One of <see cref="VarianceTypes"/>.</summary>
    public string VarianceType { get; }

    /// <summary>Whether x₀ is clipped to ±<see cref="ClipSampleRange"/>.</summary>
    public bool ClipSample { get; }

    /// <summary><c>epsilon</c>, <c>sample</c> or <c>v_prediction</c>.</summary>
    public string PredictionType { get; }

    /// <summary>Whether dynamic thresholding (Imagen) is applied to x₀.</summary>
    public bool Thresholding { get; }

    /// <summary>The quantile of dynamic thresholding.</summary>
    public double DynamicThresholdingRatio { get; }

    /// <summary>The clipping range when <see cref="ClipSample"/> is on.</summary>
    public double ClipSampleRange { get; }

    /// <summary>The upper bound of the dynamic threshold.</summary>
    public double SampleMaxValue { get; }

    /// <summary><c>leading</c>, <c>trailing</c> or <c>linspace</c>.</summary>
    public string TimestepSpacing { get; }

    /// <summary>Offset added to the timesteps with <c>leading</c> spacing.</summary>
    public int StepsOffset { get; }

    /// <summary>Whether betas are rescaled to zero terminal SNR.</summary>
    public bool RescaleBetasZeroSnr { get; }

    /// <summary>ᾱ for every training timestep (float32, as diffusers' <c>alphas_cumprod</c>).</summary>
    public ReadOnlySpan<float> AlphasCumprod => _alphasCumprod;

    /// <inheritdoc />
    public override bool HasIntegerTimesteps => true;

    private bool LearnedVariance => DpmSolverUpdates.HasLearnedVariance(VarianceType);

    /// <summary>Builds a scheduler from a configuration (possibly another scheduler's), like <c>DDPMScheduler.from_config</c>.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="logger">Where warnings about ignored keys go.</param>
    /// <returns>The scheduler.</returns>
    public static DDPMScheduler FromConfig(SchedulerConfig config, ILogger? logger = null) => new(config, null, logger);

    /// <summary>Builds a scheduler from a configuration with explicit overrides, like <c>from_config(config, **kwargs)</c>.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="overrides">Options to set; unknown names are an error.</param>
    /// <param name="logger">Where warnings about ignored keys go.</param>
    /// <returns>The scheduler.</returns>
    public static DDPMScheduler FromConfig(SchedulerConfig config, IEnumerable<KeyValuePair<string, object?>> overrides, ILogger? logger = null) =>
        (DDPMScheduler)SchedulerRegistry.Create("DDPMScheduler", config, overrides, logger);

    internal static IScheduler Create(SchedulerConfig config, IReadOnlyCollection<string>? explicitKeys, ILogger? logger) => new DDPMScheduler(config, explicitKeys, logger);

    /// <inheritdoc />
    public override void SetTimesteps(int numInferenceSteps)
    {
        CheckStepCount(numInferenceSteps, NumTrainTimesteps);
        NumInferenceSteps = numInferenceSteps;
        _customTimesteps = null;
        float[] timesteps = VpSolverMath.TimestepsToFloat(SpacedTimesteps.Discrete(TimestepSpacing, NumTrainTimesteps, numInferenceSteps, StepsOffset));
        TimestepValues = timesteps;
        StepIndex = null;
    }

    /// <inheritdoc />
    /// <remarks>DDPM accepts custom integer timesteps in strictly descending order, each below
    /// <c>num_train_timesteps</c>; each step then goes to the next listed timestep (the last to "−1", ᾱ = 1).
    /// Custom sigmas are not supported.</remarks>
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
        if (timesteps.Count == 0)
        {
            throw new ArgumentException("Give at least one timestep.", nameof(timesteps));
        }
        for (int i = 0; i < timesteps.Count; i++)
        {
            float t = timesteps[i];
            if (!float.IsFinite(t) || t != MathF.Floor(t) || t < 0)
            {
                throw new ArgumentException($"Custom timesteps must be non-negative integers (got {t}).", nameof(timesteps));
            }
            if (i > 0 && t >= timesteps[i - 1])
            {
                throw new ArgumentException("Custom timesteps must be in descending order.", nameof(timesteps));
            }
        }
        if (timesteps[0] >= NumTrainTimesteps)
        {
            throw new ArgumentException($"Custom timesteps must start below num_train_timesteps ({NumTrainTimesteps}).", nameof(timesteps));
        }
        _customTimesteps = timesteps.ToArray();
        TimestepValues = _customTimesteps;
        NumInferenceSteps = timesteps.Count;
        StepIndex = null;
    }

    /// <summary>diffusers' <c>previous_timestep</c>.</summary>
    private int PreviousTimestep(int t)
    {
        if (_customTimesteps is not null)
        {
            int index = Array.IndexOf(_customTimesteps, (float)t);
            if (index < 0)
            {
                throw new ArgumentException($"Timestep {t} is not one of the custom timesteps.", "timestep");
            }
            return index == _customTimesteps.Length - 1 ? -1 : (int)_customTimesteps[index + 1];
        }
        int steps = NumInferenceSteps > 0 ? NumInferenceSteps : NumTrainTimesteps;
        return t - NumTrainTimesteps / steps;
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentNullException"><paramref name="generator"/> is null at a timestep &gt; 0, where DDPM draws noise.</exception>
    public override SchedulerOutput Step(Tensor<float> modelOutput, float timestep, Tensor<float> sample, TorchGenerator? generator = null, float eta = 0f)
    {
        ArgumentNullException.ThrowIfNull(modelOutput);
        ArgumentNullException.ThrowIfNull(sample);
        EnsureTimestepsSet();
        int t = (int)timestep;
        if (t < 0 || t >= NumTrainTimesteps || t != timestep)
        {
            throw new ArgumentOutOfRangeException(nameof(timestep), timestep, $"DDPM timesteps are integers in [0, {NumTrainTimesteps - 1}].");
        }
        int n = checked((int)sample.FlattenedLength);
        ReadOnlySpan<float> mo;
        ReadOnlySpan<float> predictedVariance = default;
        bool hasPredictedVariance = false;
        if (LearnedVariance && IsDoubledChannels(modelOutput, sample))
        {
            SplitChannels(modelOutput, sample);
            mo = _modelPart;
            predictedVariance = _variancePart;
            hasPredictedVariance = true;
        }
        else
        {
            CheckStepArguments(modelOutput, sample);
            mo = modelOutput.AsSpan();
        }
        // Validate before the sample is touched: noise is drawn at every t > 0.
        if (t > 0)
        {
            if (generator is null)
            {
                throw new ArgumentNullException(nameof(generator), "DDPM draws noise at every timestep > 0: pass the generator.");
            }
            if (LearnedVariance)
            {
                RequirePredictedVariance(hasPredictedVariance);
            }
        }

        int prevT = PreviousTimestep(t);
        float alphaProdT = _alphasCumprod[t];
        float alphaProdTPrev = prevT >= 0 ? _alphasCumprod[prevT] : 1f;
        float betaProdT = 1f - alphaProdT;
        float betaProdTPrev = 1f - alphaProdTPrev;
        float currentAlphaT = alphaProdT / alphaProdTPrev;
        float currentBetaT = 1f - currentAlphaT;

        Span<float> x = sample.AsSpan();
        Tensor<float> predOriginalTensor = RentLike(ref _predOriginal, ref _predOriginalTensor, sample);
        Span<float> x0 = _predOriginal;
        float sqrtAlphaT = MathF.Sqrt(alphaProdT);
        float sqrtBetaT = MathF.Sqrt(betaProdT);
        VpSolverMath.PredictOriginalSample(PredictionType, sqrtAlphaT, sqrtBetaT, mo, x, x0);

        if (Thresholding)
        {
            int batch = (int)sample.Lengths[0];
            DynamicThresholding.Apply(x0, batch, (float)DynamicThresholdingRatio, (float)SampleMaxValue, Rent(ref _thresholdSort, n / Math.Max(batch, 1)));
        }
        else if (ClipSample)
        {
            float r = (float)ClipSampleRange;
            TensorPrimitives.Clamp(x0, -r, r, x0);
        }

        // Formula (7): μ = (√ᾱ_prev·β_t / (1 − ᾱ_t))·x₀ + (√α_t·(1 − ᾱ_prev) / (1 − ᾱ_t))·x_t
        float originalCoeff = MathF.Sqrt(alphaProdTPrev) * currentBetaT / betaProdT;
        float currentCoeff = MathF.Sqrt(currentAlphaT) * betaProdTPrev / betaProdT;
        ElementwiseOps.LinearCombination(originalCoeff, x0, currentCoeff, x, x);

        if (t > 0)
        {
            Span<float> noise = Rent(ref _noise, n);
            generator!.Randn(noise);
            float variance = ClampedVariance(alphaProdT, alphaProdTPrev, currentBetaT);
            switch (VarianceType)
            {
                case "fixed_small":
                    ElementwiseOps.AddScaled(x, MathF.Sqrt(variance), noise, x);
                    break;
                case "fixed_small_log":
                    {
                        float logVariance = SleefFloat.Log(variance);
                        float std = SleefFloat.Exp(0.5f * logVariance);
                        ElementwiseOps.AddScaled(x, std, noise, x);
                        break;
                    }
                case "fixed_large":
                    ElementwiseOps.AddScaled(x, MathF.Sqrt(currentBetaT), noise, x);
                    break;
                case "fixed_large_log":
                    // diffusers takes the square root of log(β_t) < 0 here, which is NaN.
                    ElementwiseOps.AddScaled(x, MathF.Sqrt(SleefFloat.Log(currentBetaT)), noise, x);
                    break;
                case "learned":
                    {
                        for (int i = 0; i < n; i++)
                        {
                            float scaled = MathF.Sqrt(predictedVariance[i]) * noise[i];
                            x[i] += scaled;
                        }
                        break;
                    }
                default: // learned_range
                    {
                        float minLog = SleefFloat.Log(variance);
                        float maxLog = SleefFloat.Log(currentBetaT);
                        for (int i = 0; i < n; i++)
                        {
                            float sum = predictedVariance[i] + 1f;
                            float frac = sum / 2f;
                            float hi = frac * maxLog;
                            float oneMinus = 1f - frac;
                            float lo = oneMinus * minLog;
                            float logVar = hi + lo;
                            float std = SleefFloat.Exp(0.5f * logVar);
                            float scaled = std * noise[i];
                            x[i] += scaled;
                        }
                        break;
                    }
            }
        }

        StepIndex = (StepIndex ?? 0) + 1;
        return new SchedulerOutput(sample, predOriginalTensor);
    }

    // _get_variance's clamped "fixed_small" variance: (1 − ᾱ_prev)/(1 − ᾱ_t)·β_t, at least 1e-20.
    private static float ClampedVariance(float alphaProdT, float alphaProdTPrev, float currentBetaT)
    {
        float ratio = (1f - alphaProdTPrev) / (1f - alphaProdT);
        float variance = ratio * currentBetaT;
        return Math.Max(variance, 1e-20f);
    }

    private void RequirePredictedVariance(bool present)
    {
        if (!present)
        {
            throw new ArgumentException($"{ClassName} with variance_type '{VarianceType}' needs a model output with twice the sample's channels (prediction, variance).", "modelOutput");
        }
    }

    private static bool IsDoubledChannels(Tensor<float> modelOutput, Tensor<float> sample)
    {
        ReadOnlySpan<nint> mo = modelOutput.Lengths;
        ReadOnlySpan<nint> s = sample.Lengths;
        if (mo.Length < 2 || mo.Length != s.Length || mo[1] != 2 * s[1])
        {
            return false;
        }
        for (int i = 0; i < mo.Length; i++)
        {
            if (i != 1 && mo[i] != s[i])
            {
                return false;
            }
        }
        return true;
    }

    // torch.split(model_output, C, dim=1) into scheduler-owned contiguous buffers.
    private void SplitChannels(Tensor<float> modelOutput, Tensor<float> sample)
    {
        int n = checked((int)sample.FlattenedLength);
        int batch = (int)sample.Lengths[0];
        int perItem = n / batch;
        Span<float> model = Rent(ref _modelPart, n);
        Span<float> variance = Rent(ref _variancePart, n);
        ReadOnlySpan<float> src = modelOutput.AsSpan();
        for (int b = 0; b < batch; b++)
        {
            src.Slice(2 * b * perItem, perItem).CopyTo(model.Slice(b * perItem, perItem));
            src.Slice((2 * b + 1) * perItem, perItem).CopyTo(variance.Slice(b * perItem, perItem));
        }
    }

    /// <inheritdoc />
    public override void AddNoise(ReadOnlySpan<float> originalSamples, ReadOnlySpan<float> noise, float timestep, Span<float> destination)
    {
        CheckAddNoiseArguments(originalSamples, noise, destination);
        VpSolverMath.AddNoise(_alphasCumprod[CheckTrainingTimestep(timestep, NumTrainTimesteps)], originalSamples, noise, destination);
    }
}
