using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Random;
using Spright.Diffusion.IO;

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
    private readonly float[] _alphasCumprod;
    private float[]? _customTimesteps;
    private float[]? _predOriginal;
    private Tensor<float>? _predOriginalTensor;
    private float[]? _noise;
    private float[]? _thresholdSort;
    private float[]? _modelPart;
    private float[]? _variancePart;

    /// <summary>Creates a DDPM scheduler, like <c>DDPMScheduler(**options)</c>.</summary>
    /// <param name="options">The options; <see langword="null"/> for diffusers' defaults.</param>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public DDPMScheduler(DDPMSchedulerOptions? options = null)
        : this(SchedulerSignatures.DDPM.Bind(options ?? new()), null)
    {
    }

    internal DDPMScheduler(BoundOptions<DDPMSchedulerOptions> bound, ILogger? logger)
        : base(bound.Config, logger)
    {
        Options = bound.Options;
        Tables = new TrainingTables(BetaSchedules.AlphasCumprod(ClassName, Options, Options.RescaleBetasZeroSnr));
        _alphasCumprod = Tables.AlphasCumprod;
        TimestepValues = SpacedTimesteps.AllTraining(Options.NumTrainTimesteps);
    }

    /// <summary>The options this scheduler runs with (<see cref="IScheduler.Config"/> shows them as configuration keys).</summary>
    internal DDPMSchedulerOptions Options { get; }

    /// <summary>Builds a scheduler from a configuration (possibly another scheduler's), like
    /// <c>DDPMScheduler.from_config(config, **overrides)</c>.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="overrides">Options to set; as in diffusers, names this class does not take are ignored with a warning.</param>
    /// <param name="logger">Where warnings go.</param>
    /// <returns>The scheduler.</returns>
    /// <exception cref="ArgumentException">An option value is invalid.</exception>
    public static DDPMScheduler FromConfig(SchedulerConfig config, IEnumerable<KeyValuePair<string, object?>>? overrides = null, ILogger? logger = null) =>
        (DDPMScheduler)SchedulerRegistry.Create(nameof(DDPMScheduler), config, overrides, logger);

    private int NumTrainTimesteps => Options.NumTrainTimesteps;

    private bool LearnedVariance => DpmSolverUpdates.HasLearnedVariance(Options.VarianceType);

    /// <inheritdoc />
    private protected override void SetTimestepsCore(int numInferenceSteps)
    {
        CheckStepCount(numInferenceSteps, NumTrainTimesteps);
        NumInferenceSteps = numInferenceSteps;
        _customTimesteps = null;
        float[] timesteps = VpSolverMath.TimestepsToFloat(SpacedTimesteps.Discrete(Options.TimestepSpacing, NumTrainTimesteps, numInferenceSteps, Options.StepsOffset));
        TimestepValues = timesteps;
        StepIndex = null;
    }

    // DDPM accepts custom integer timesteps in strictly descending order, each below num_train_timesteps; each step then
    // goes to the next listed timestep (the last to "−1", ᾱ = 1). Custom sigmas are not supported.
    private protected override void SetCustomScheduleCore(IReadOnlyList<float>? timesteps, IReadOnlyList<float>? sigmas)
    {
        if (timesteps is null)
        {
            base.SetCustomScheduleCore(timesteps, sigmas);
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
    private protected override SchedulerOutput StepCore(Tensor<float> modelOutput, float timestep, Tensor<float> sample, TorchGenerator? generator)
    {
        ArgumentNullException.ThrowIfNull(modelOutput);
        ArgumentNullException.ThrowIfNull(sample);
        EnsureTimestepsSet();
        int t = CheckIntegerTimestep(timestep, "DDPM");
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
        VpSolverMath.PredictOriginalSample(Options.PredictionType, sqrtAlphaT, sqrtBetaT, mo, x, x0);
        DynamicThresholding.ClipOrThreshold(Options, x0, sample, ref _thresholdSort);

        // Formula (7): μ = (√ᾱ_prev·β_t / (1 − ᾱ_t))·x₀ + (√α_t·(1 − ᾱ_prev) / (1 − ᾱ_t))·x_t
        float originalCoeff = MathF.Sqrt(alphaProdTPrev) * currentBetaT / betaProdT;
        float currentCoeff = MathF.Sqrt(currentAlphaT) * betaProdTPrev / betaProdT;
        ElementwiseOps.LinearCombination(originalCoeff, x0, currentCoeff, x, x);

        if (t > 0)
        {
            Span<float> noise = Rent(ref _noise, n);
            generator!.Randn(noise);
            float variance = ClampedVariance(alphaProdT, alphaProdTPrev, currentBetaT);
            switch (Options.VarianceType)
            {
                case VarianceType.FixedSmall:
                    ElementwiseOps.AddScaled(x, MathF.Sqrt(variance), noise, x);
                    break;
                case VarianceType.FixedSmallLog:
                    {
                        float logVariance = SleefFloat.Log(variance);
                        float std = SleefFloat.Exp(0.5f * logVariance);
                        ElementwiseOps.AddScaled(x, std, noise, x);
                        break;
                    }
                case VarianceType.FixedLarge:
                    ElementwiseOps.AddScaled(x, MathF.Sqrt(currentBetaT), noise, x);
                    break;
                case VarianceType.FixedLargeLog:
                    // diffusers takes the square root of log(β_t) < 0 here, which is NaN.
                    ElementwiseOps.AddScaled(x, MathF.Sqrt(SleefFloat.Log(currentBetaT)), noise, x);
                    break;
                case VarianceType.Learned:
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
            throw new ArgumentException($"{ClassName} with variance_type '{ConfigNames.Of(Options.VarianceType)}' needs a model output with twice the sample's channels (prediction, variance).", "modelOutput");
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
    private protected override void AddNoiseCore(ReadOnlySpan<float> originalSamples, ReadOnlySpan<float> noise, float timestep, Span<float> destination) =>
        VpSolverMath.AddNoise(_alphasCumprod[CheckTrainingTimestep(timestep, NumTrainTimesteps)], originalSamples, noise, destination);
}
