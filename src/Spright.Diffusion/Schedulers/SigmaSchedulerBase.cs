using System.Numerics.Tensors;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// Common ground of the k-diffusion style schedulers that work on noise levels σ (Euler, Euler ancestral, Heun,
/// LMS, KDPM2 and KDPM2 ancestral): the model input is scaled by 1/√(σ²+1), the initial noise by the largest σ,
/// image-to-image noising is x₀ + σ·ε, and the step index follows diffusers' <c>_init_step_index</c>.
/// </summary>
public abstract class SigmaSchedulerBase : SchedulerBase
{
    private protected SigmaSchedulerBase(SchedulerConfig config, SigmaSchedulerOptions options, ILogger? logger)
        : base(config, logger)
    {
        HasIntegerTimesteps = false;
        Spacing = options.TimestepSpacing;
        StepsOffset = options.StepsOffset;
        NumTrainTimesteps = options.NumTrainTimesteps;
    }

    /// <summary>The configured <c>timestep_spacing</c>.</summary>
    private protected TimestepSpacing Spacing { get; }

    /// <summary>The configured <c>steps_offset</c>.</summary>
    private protected int StepsOffset { get; }

    /// <summary>The configured <c>num_train_timesteps</c>.</summary>
    private protected int NumTrainTimesteps { get; }

    /// <summary>σ per training timestep, ascending (float32 <c>((1 − ᾱ)/ᾱ) ** 0.5</c>).</summary>
    private protected float[] TrainSigmas => Tables.Sigmas;

    /// <summary>numpy float32 <c>np.log</c> of <see cref="TrainSigmas"/> (diffusers' <c>log_sigmas</c>).</summary>
    private protected float[] LogTrainSigmas => Tables.LogSigmas;

    /// <summary>The spaced timesteps of <paramref name="numInferenceSteps"/> steps (float32, fractional for <c>linspace</c>).</summary>
    private protected float[] SpacedTimestepsFor(int numInferenceSteps) =>
        SpacedTimesteps.Fractional(Spacing, NumTrainTimesteps, numInferenceSteps, StepsOffset);

    /// <summary>The Euler schedulers' schedule before <c>set_timesteps</c>: every training timestep, largest σ first, with
    /// <c>linspace</c> timesteps (or the continuous 0.25·log σ).</summary>
    private protected void SetTrainingSchedule(bool continuousTimesteps)
    {
        int trainSteps = NumTrainTimesteps;
        var sigmas = new float[trainSteps + 1];
        var timesteps = new float[trainSteps];
        double[] lin = NumpyOps.Linspace(0, trainSteps - 1, trainSteps);
        for (int i = 0; i < trainSteps; i++)
        {
            sigmas[i] = TrainSigmas[trainSteps - 1 - i];
            timesteps[i] = continuousTimesteps ? SigmaScheduleMath.ContinuousTimestep(sigmas[i]) : (float)lin[trainSteps - 1 - i];
        }
        SigmaValues = sigmas;
        TimestepValues = timesteps;
        UpdateInitNoiseSigma();
    }

    /// <summary>Installs a new schedule: the step and begin indices start over and <see cref="IScheduler.InitNoiseSigma"/>
    /// follows the largest σ.</summary>
    private protected void InstallSchedule(float[] sigmas, float[] timesteps)
    {
        SigmaValues = sigmas;
        TimestepValues = timesteps;
        StepIndex = null;
        BeginIndex = null;
        UpdateInitNoiseSigma();
    }

    /// <summary>diffusers' <c>init_noise_sigma</c> property: the largest σ for <c>linspace</c>/<c>trailing</c> spacing,
    /// √(σmax² + 1) for <c>leading</c> (float32).</summary>
    private protected void UpdateInitNoiseSigma()
    {
        float max = SigmaScheduleMath.Max(SigmaValues);
        if (Spacing is TimestepSpacing.Linspace or TimestepSpacing.Trailing)
        {
            InitNoiseSigma = max;
        }
        else
        {
            float squared = max * max;
            InitNoiseSigma = MathF.Sqrt(squared + 1f);
        }
    }

    /// <summary>The σ that <see cref="IScheduler.ScaleModelInput"/> divides by at
    /// <paramref name="stepIndex"/> (second-order schedulers override it).</summary>
    /// <param name="stepIndex">The current step index.</param>
    /// <returns>σ.</returns>
    private protected virtual float InputSigma(int stepIndex) => SigmaValues[stepIndex];

    /// <inheritdoc />
    private protected override void ScaleModelInputCore(ReadOnlySpan<float> sample, float timestep, Span<float> destination)
    {
        EnsureTimestepsSet();
        if (StepIndex is null)
        {
            InitStepIndex(timestep);
        }
        int index = StepIndex!.Value;
        if (index >= SigmaValues.Length)
        {
            throw new InvalidOperationException($"{ClassName}: every step of the schedule has been taken; call SetTimesteps again.");
        }
        float sigma = InputSigma(index);
        float squared = sigma * sigma;
        float divisor = MathF.Sqrt(squared + 1f);
        TensorPrimitives.Divide(sample, divisor, destination);
    }

    /// <inheritdoc />
    private protected override void AddNoiseCore(ReadOnlySpan<float> originalSamples, ReadOnlySpan<float> noise, float timestep, Span<float> destination)
    {
        EnsureTimestepsSet();
        int index = AddNoiseIndex(timestep, lastWhenMissing: false);
        if (index >= SigmaValues.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(timestep), timestep, $"{ClassName}: step index {index} is past the schedule.");
        }
        ElementwiseOps.AddScaled(originalSamples, SigmaValues[index], noise, destination);
    }

    /// <summary>x₀ from the model output at noise level <paramref name="sigma"/>: ε → x − σ·ε; v → v·(−σ/√(σ²+1)) +
    /// x/(σ²+1); sample → the output itself (float32, torch's rounding).</summary>
    /// <param name="predictionType">The configured prediction type.</param>
    /// <param name="modelOutput">The model output.</param>
    /// <param name="sample">The current sample.</param>
    /// <param name="sigma">The σ of the input.</param>
    /// <param name="x0">Where to write x₀.</param>
    private protected static void PredictOriginalSample(PredictionType predictionType, ReadOnlySpan<float> modelOutput, ReadOnlySpan<float> sample, float sigma, Span<float> x0)
    {
        switch (predictionType)
        {
            case PredictionType.Epsilon:
                ElementwiseOps.AddScaled(sample, -sigma, modelOutput, x0);
                break;
            case PredictionType.VPrediction:
                {
                    float squaredPlusOne = sigma * sigma + 1f;
                    float cOut = -sigma / MathF.Sqrt(squaredPlusOne);
                    ElementwiseOps.ScaleAddQuotient(modelOutput, cOut, sample, squaredPlusOne, x0);
                    break;
                }
            default: // sample / original_sample
                modelOutput.CopyTo(x0);
                break;
        }
    }

    /// <summary>Throws for <see cref="PredictionType.Sample"/>, which the ancestral and KDPM2 schedulers accept in their
    /// configuration but, as in diffusers, do not implement.</summary>
    private protected void RejectSamplePrediction(PredictionType predictionType)
    {
        if (predictionType == PredictionType.Sample)
        {
            throw new NotSupportedException($"{ClassName} does not implement prediction_type 'sample' (neither does diffusers).");
        }
    }

    /// <summary>A number from the resolved configuration (including keys kept for other classes, as diffusers'
    /// <c>hasattr(self.config, key)</c> sees them), or <see langword="null"/>.</summary>
    /// <param name="key">The key.</param>
    /// <returns>The value.</returns>
    private protected double? ConfigNumber(string key)
    {
        if (Config.TryGetValue(key, out JsonNode? node) && node is JsonValue v && v.GetValueKind() == JsonValueKind.Number)
        {
            return v.GetValue<double>();
        }
        return null;
    }

    /// <summary>The sigma schedule before the final σ is appended, with diffusers' dtypes recorded.</summary>
    /// <param name="Sigmas">The sigmas (values exact in double; float32 when <paramref name="SigmasAreFloat32"/>).</param>
    /// <param name="SigmasAreFloat32">Whether diffusers holds them as a float32 tensor/array.</param>
    /// <param name="Timesteps">The matching timesteps.</param>
    private protected readonly record struct SigmaScheduleParts(double[] Sigmas, bool SigmasAreFloat32, double[] Timesteps);

    /// <summary>
    /// Respaces interpolated sigmas (Karras / exponential / beta) and recomputes their timesteps with
    /// <c>_sigma_to_t</c>, as every sigma scheduler's <c>set_timesteps</c> does.
    /// </summary>
    /// <param name="sigmas">The sigmas (e.g. <c>np.interp</c> of the timesteps).</param>
    /// <param name="sigmasAreFloat32">Their dtype in diffusers.</param>
    /// <param name="timesteps">The timesteps before respacing.</param>
    /// <param name="spacing">The respacing.</param>
    /// <param name="numInferenceSteps">The step count (the length of respaced schedules).</param>
    /// <param name="sigmaMin">σmin override (<c>config.sigma_min</c>), or <see langword="null"/> for the last sigma.</param>
    /// <param name="sigmaMax">σmax override, or <see langword="null"/> for the first sigma.</param>
    /// <param name="roundKarrasTimesteps">KDPM2 rounds the Karras timesteps.</param>
    /// <returns>The respaced schedule.</returns>
    private protected SigmaScheduleParts Respace(double[] sigmas, bool sigmasAreFloat32, double[] timesteps, SigmaSpacing spacing, int numInferenceSteps,
        double? sigmaMin, double? sigmaMax, bool roundKarrasTimesteps = false)
    {
        if (spacing == SigmaSpacing.None)
        {
            return new SigmaScheduleParts(sigmas, sigmasAreFloat32, timesteps);
        }
        double min = sigmaMin ?? sigmas[^1];
        double max = sigmaMax ?? sigmas[0];
        double[] result;
        bool f32;
        switch (spacing)
        {
            case SigmaSpacing.Karras:
                result = SigmaScheduleMath.Karras(min, max, numInferenceSteps);
                f32 = false;
                break;
            case SigmaSpacing.Exponential:
                result = Array.ConvertAll(SigmaScheduleMath.Exponential(min, max, numInferenceSteps), x => (double)x);
                f32 = true;
                break;
            default:
                result = Array.ConvertAll(SigmaScheduleMath.BetaSigmas(min, max, numInferenceSteps), x => (double)x);
                f32 = true;
                break;
        }
        var t = new double[result.Length];
        for (int i = 0; i < t.Length; i++)
        {
            // Karras sigmas are a numpy float64 array; exponential / beta ones a torch float32 tensor.
            t[i] = SigmaScheduleMath.SigmaToT(result[i], torchBlend: f32, LogTrainSigmas);
            if (roundKarrasTimesteps && spacing == SigmaSpacing.Karras)
            {
                t[i] = NumpyOps.Round(t[i]);
            }
        }
        return new SigmaScheduleParts(result, f32, t);
    }

    /// <summary>np.interp of <paramref name="timesteps"/> on the training sigmas (float64).</summary>
    /// <param name="timesteps">The timesteps.</param>
    /// <returns>The sigmas.</returns>
    private protected double[] InterpolateSigmas(ReadOnlySpan<float> timesteps)
    {
        var sigmas = new double[timesteps.Length];
        for (int i = 0; i < sigmas.Length; i++)
        {
            sigmas[i] = SigmaScheduleMath.Interp(timesteps[i], TrainSigmas);
        }
        return sigmas;
    }

    /// <summary>Checks that a step is still inside the schedule.</summary>
    /// <param name="index">The step index.</param>
    /// <param name="needed">How many sigmas the step reads from <paramref name="index"/> on.</param>
    private protected void CheckStepInRange(int index, int needed)
    {
        if (index < 0 || index + needed > SigmaValues.Length)
        {
            throw new InvalidOperationException($"{ClassName}: step index {index} is outside the schedule of {SigmaValues.Length} sigmas; call SetTimesteps again.");
        }
    }

    /// <summary>Float32 copies of a double array.</summary>
    private protected static float[] ToFloat(ReadOnlySpan<double> values)
    {
        var result = new float[values.Length];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = (float)values[i];
        }
        return result;
    }
}
