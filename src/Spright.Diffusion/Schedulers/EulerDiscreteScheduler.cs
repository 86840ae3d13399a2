using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Random;
using Spright.Diffusion.Tensors;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// Euler scheduler (Karras et al. 2022, Algorithm 2) following <c>diffusers/schedulers/scheduling_euler_discrete.py</c>
/// (v0.31): epsilon / v-prediction / sample, leading / trailing / linspace spacing, linear or log-linear sigma
/// interpolation, Karras / exponential / beta sigmas, continuous timesteps, zero-terminal-SNR, <c>final_sigmas_type</c>,
/// custom timesteps or sigmas, and stochastic churn (<c>s_churn</c>, <c>s_tmin</c>, <c>s_tmax</c>, <c>s_noise</c>).
/// </summary>
public sealed class EulerDiscreteScheduler : SigmaSchedulerBase
{
    private float[]? _predOriginal;
    private Tensor<float>? _predOriginalTensor;
    private float[]? _scratch;

    private EulerDiscreteScheduler(SchedulerConfig config, IReadOnlyCollection<string>? explicitKeys, ILogger? logger)
        : base("EulerDiscreteScheduler", config, explicitKeys, logger)
    {
        NumTrainTimesteps = Options.Int("num_train_timesteps", 1000, min: 2, max: 100_000);
        BetaStart = Options.Double("beta_start", 0.0001, min: 0, max: 1);
        BetaEnd = Options.Double("beta_end", 0.02, min: 0, max: 1);
        BetaSchedule = Options.String("beta_schedule", "linear", BetaSchedules.Names);
        TrainedBetas = Options.NullableDoubleArray("trained_betas");
        PredictionType = Options.String("prediction_type", "epsilon", "epsilon", "sample", "v_prediction", "original_sample");
        InterpolationType = Options.String("interpolation_type", "linear", "linear", "log_linear");
        UseKarrasSigmas = Options.Bool("use_karras_sigmas", false);
        UseExponentialSigmas = Options.Bool("use_exponential_sigmas", false);
        UseBetaSigmas = Options.Bool("use_beta_sigmas", false);
        SigmaMin = Options.NullableDouble("sigma_min", null, min: 0);
        SigmaMax = Options.NullableDouble("sigma_max", null, min: 0);
        TimestepSpacing = Options.String("timestep_spacing", "linspace", "linspace", "leading", "trailing");
        TimestepType = Options.String("timestep_type", "discrete", "discrete", "continuous");
        StepsOffset = Options.Int("steps_offset", 0, min: 0, max: 100_000);
        RescaleBetasZeroSnr = Options.Bool("rescale_betas_zero_snr", false);
        FinalSigmasType = Options.String("final_sigmas_type", "zero", "zero", "sigma_min");
        CompleteConfig();
        SigmaScheduleMath.CheckSigmaOptions(ClassName, UseKarrasSigmas, UseExponentialSigmas, UseBetaSigmas);

        SetAlphasCumprod(BetaSchedules.AlphasCumprod(ClassName, BetaSchedule, NumTrainTimesteps, BetaStart, BetaEnd, TrainedBetas, RescaleBetasZeroSnr, clampTerminal: true));

        // Before set_timesteps: every training timestep, largest σ first.
        var sigmas = new float[NumTrainTimesteps + 1];
        var timesteps = new float[NumTrainTimesteps];
        double[] lin = NumpyOps.Linspace(0, NumTrainTimesteps - 1, NumTrainTimesteps);
        for (int i = 0; i < NumTrainTimesteps; i++)
        {
            sigmas[i] = TrainSigmas[NumTrainTimesteps - 1 - i];
            timesteps[i] = ContinuousTimesteps ? SigmaScheduleMath.ContinuousTimestep(sigmas[i]) : (float)lin[NumTrainTimesteps - 1 - i];
        }
        SigmaValues = sigmas;
        TimestepValues = timesteps;
        UpdateInitNoiseSigma(TimestepSpacing);
    }

    /// <summary>Creates an Euler scheduler with diffusers' default options.</summary>
    public EulerDiscreteScheduler()
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

    /// <summary><c>epsilon</c>, <c>sample</c> (alias <c>original_sample</c>) or <c>v_prediction</c>.</summary>
    public string PredictionType { get; }

    /// <summary><c>linear</c> (np.interp of σ over the timesteps) or <c>log_linear</c> (log-uniform σ from the largest to the smallest training σ).</summary>
    public string InterpolationType { get; }

    /// <summary>Whether the sigmas follow Karras et al. (2022).</summary>
    public bool UseKarrasSigmas { get; }

    /// <summary>Whether the sigmas are log-uniformly spaced.</summary>
    public bool UseExponentialSigmas { get; }

    /// <summary>Whether the sigmas follow Beta(0.6, 0.6) quantiles (arXiv:2407.12173).</summary>
    public bool UseBetaSigmas { get; }

    /// <summary>The smallest σ of Karras / exponential / beta schedules (default: the last interpolated σ).</summary>
    public double? SigmaMin { get; }

    /// <summary>The largest σ of Karras / exponential / beta schedules (default: the first interpolated σ).</summary>
    public double? SigmaMax { get; }

    /// <summary><c>linspace</c>, <c>leading</c> or <c>trailing</c>.</summary>
    public string TimestepSpacing { get; }

    /// <summary><c>discrete</c>, or <c>continuous</c> (timesteps 0.25·log σ, with v-prediction only).</summary>
    public string TimestepType { get; }

    /// <summary>Offset added to the timesteps with <c>leading</c> spacing.</summary>
    public int StepsOffset { get; }

    /// <summary>Whether betas are rescaled to zero terminal SNR (the last ᾱ is then set to 2⁻²⁴).</summary>
    public bool RescaleBetasZeroSnr { get; }

    /// <summary><c>zero</c> (the last σ is 0) or <c>sigma_min</c> (the smallest training σ).</summary>
    public string FinalSigmasType { get; }

    private bool ContinuousTimesteps => TimestepType == "continuous" && PredictionType == "v_prediction";

    /// <summary>Builds a scheduler from a configuration (possibly another scheduler's), like <c>EulerDiscreteScheduler.from_config</c>.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="logger">Where warnings about ignored keys go.</param>
    /// <returns>The scheduler.</returns>
    public static EulerDiscreteScheduler FromConfig(SchedulerConfig config, ILogger? logger = null) => new(config, null, logger);

    /// <summary>Builds a scheduler from a configuration with explicit overrides, like <c>from_config(config, **kwargs)</c>.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="overrides">Options to set; unknown names are an error.</param>
    /// <param name="logger">Where warnings about ignored keys go.</param>
    /// <returns>The scheduler.</returns>
    public static EulerDiscreteScheduler FromConfig(SchedulerConfig config, IEnumerable<KeyValuePair<string, object?>> overrides, ILogger? logger = null) =>
        (EulerDiscreteScheduler)SchedulerRegistry.Create("EulerDiscreteScheduler", config, overrides, logger);

    internal static IScheduler Create(SchedulerConfig config, IReadOnlyCollection<string>? explicitKeys, ILogger? logger) => new EulerDiscreteScheduler(config, explicitKeys, logger);

    /// <inheritdoc />
    public override void SetTimesteps(int numInferenceSteps)
    {
        CheckStepCount(numInferenceSteps, NumTrainTimesteps);
        NumInferenceSteps = numInferenceSteps;
        float[] timesteps = SpacedTimesteps.Fractional(TimestepSpacing, NumTrainTimesteps, numInferenceSteps, StepsOffset);
        BuildFromTimesteps(timesteps);
    }

    /// <inheritdoc />
    /// <remarks>Euler accepts either custom timesteps (not with Karras / exponential / beta sigmas, nor with
    /// continuous timesteps) or custom sigmas (whose last value is used as the final σ).</remarks>
    public override void SetTimesteps(IReadOnlyList<float>? timesteps, IReadOnlyList<float>? sigmas)
    {
        if (timesteps is not null && sigmas is not null)
        {
            throw new ArgumentException("Only one of timesteps or sigmas can be given.", nameof(sigmas));
        }
        if (timesteps is null && sigmas is null)
        {
            throw new ArgumentException("Give custom timesteps or sigmas (or call SetTimesteps(numInferenceSteps)).", nameof(timesteps));
        }
        if (timesteps is not null)
        {
            if (UseKarrasSigmas || UseExponentialSigmas || UseBetaSigmas)
            {
                throw new ArgumentException($"{ClassName}: custom timesteps cannot be used with use_karras_sigmas, use_exponential_sigmas or use_beta_sigmas.", nameof(timesteps));
            }
            if (ContinuousTimesteps)
            {
                throw new ArgumentException($"{ClassName}: custom timesteps cannot be used with timestep_type 'continuous' and prediction_type 'v_prediction'.", nameof(timesteps));
            }
            CheckCustom(timesteps, 1, nameof(timesteps));
            NumInferenceSteps = timesteps.Count;
            BuildFromTimesteps(timesteps.ToArray());
            return;
        }

        CheckCustom(sigmas!, 2, nameof(sigmas));
        NumInferenceSteps = sigmas!.Count - 1;
        float[] s = sigmas.ToArray();
        var t = new float[s.Length - 1];
        for (int i = 0; i < t.Length; i++)
        {
            t[i] = ContinuousTimesteps
                ? SigmaScheduleMath.ContinuousTimestep(s[i])
                : (float)SigmaScheduleMath.SigmaToT(s[i], torchBlend: false, LogTrainSigmas);
        }
        Install(s, t);
    }

    private void BuildFromTimesteps(float[] timesteps)
    {
        double[] sigmas;
        bool f32;
        if (InterpolationType == "linear")
        {
            sigmas = InterpolateSigmas(timesteps);
            f32 = false;
        }
        else
        {
            // log_linear: torch.linspace(log σ[-1], log σ[0], n + 1).exp() over the training sigmas.
            float logMax = NumpyFloat32.Log(TrainSigmas[^1]);
            float logMin = NumpyFloat32.Log(TrainSigmas[0]);
            float[] lin = BetaSchedules.LinspaceFloat32(logMax, logMin, NumInferenceSteps + 1);
            sigmas = new double[lin.Length];
            for (int i = 0; i < lin.Length; i++)
            {
                sigmas[i] = SleefFloat.Exp(lin[i]);
            }
            f32 = true;
        }
        double[] t64 = Array.ConvertAll(timesteps, x => (double)x);
        SigmaScheduleParts parts = Respace(sigmas, f32, t64, SpacingOf(UseKarrasSigmas, UseExponentialSigmas, UseBetaSigmas), NumInferenceSteps, SigmaMin, SigmaMax);

        float last = FinalSigmasType == "sigma_min" ? TrainSigmas[0] : 0f;
        var s = new float[parts.Sigmas.Length + 1];
        for (int i = 0; i < parts.Sigmas.Length; i++)
        {
            s[i] = (float)parts.Sigmas[i];
        }
        s[^1] = last;

        float[] t;
        if (ContinuousTimesteps)
        {
            t = new float[s.Length - 1];
            for (int i = 0; i < t.Length; i++)
            {
                t[i] = SigmaScheduleMath.ContinuousTimestep(s[i]);
            }
        }
        else
        {
            t = ToFloat(parts.Timesteps);
        }
        Install(s, t);
    }

    private void Install(float[] sigmas, float[] timesteps)
    {
        SigmaValues = sigmas;
        TimestepValues = timesteps;
        StepIndex = null;
        BeginIndex = null;
        UpdateInitNoiseSigma(TimestepSpacing);
    }

    private static void CheckCustom(IReadOnlyList<float> values, int minCount, string name)
    {
        if (values.Count < minCount)
        {
            throw new ArgumentException($"Give at least {minCount} value(s).", name);
        }
        foreach (float v in values)
        {
            if (!float.IsFinite(v))
            {
                throw new ArgumentException("Custom schedules must be finite.", name);
            }
        }
    }

    /// <inheritdoc />
    public override SchedulerOutput Step(Tensor<float> modelOutput, float timestep, Tensor<float> sample, TorchGenerator? generator = null, float eta = 0f) =>
        Step(modelOutput, timestep, sample, 0f, 0f, float.PositiveInfinity, 1f, generator);

    /// <summary>One Euler step with stochastic churn (diffusers' <c>step(..., s_churn, s_tmin, s_tmax, s_noise, generator)</c>):
    /// when s_tmin ≤ σ ≤ s_tmax, σ is raised to σ̂ = σ·(1 + γ) with γ = min(s_churn / (len(sigmas) − 1), √2 − 1) by
    /// adding s_noise-scaled noise from <paramref name="generator"/>.</summary>
    /// <param name="modelOutput">The model output.</param>
    /// <param name="timestep">The current timestep (a value of <see cref="IScheduler.Timesteps"/>).</param>
    /// <param name="sample">The current latents; updated in place.</param>
    /// <param name="sChurn">Amount of churn (0 = deterministic Euler).</param>
    /// <param name="sTmin">Lowest σ that gets churn.</param>
    /// <param name="sTmax">Highest σ that gets churn.</param>
    /// <param name="sNoise">Scale of the churn noise.</param>
    /// <param name="generator">The generator for the churn noise (required when γ &gt; 0).</param>
    /// <returns>The previous sample and the predicted x₀.</returns>
    public SchedulerOutput Step(Tensor<float> modelOutput, float timestep, Tensor<float> sample, float sChurn, float sTmin, float sTmax, float sNoise, TorchGenerator? generator)
    {
        CheckStepArguments(modelOutput, sample);
        EnsureTimestepsSet();
        if (float.IsNaN(sChurn) || sChurn < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(sChurn), sChurn, "s_churn must be ≥ 0.");
        }
        if (StepIndex is null)
        {
            InitStepIndex(timestep);
        }
        int index = StepIndex!.Value;
        CheckStepInRange(index, 2);

        Span<float> x = sample.AsSpan();
        ReadOnlySpan<float> mo = modelOutput.AsSpan();
        Tensor<float> predOriginalTensor = RentLike(ref _predOriginal, ref _predOriginalTensor, sample);
        Span<float> x0 = _predOriginal;
        Span<float> scratch = Rent(ref _scratch, x.Length);

        float sigma = SigmaValues[index];
        double gamma = sTmin <= sigma && sigma <= sTmax
            ? Math.Min(sChurn / (double)(SigmaValues.Length - 1), Math.Sqrt(2.0) - 1)
            : 0.0;
        float sigmaHat = sigma * (float)(gamma + 1);
        if (gamma > 0)
        {
            if (generator is null)
            {
                throw new ArgumentNullException(nameof(generator), "Euler with s_churn > 0 draws noise: pass the generator.");
            }
            generator.Randn(scratch);
            TensorPrimitives.Multiply(scratch, sNoise, scratch);
            float noiseScale = MathF.Sqrt(sigmaHat * sigmaHat - sigma * sigma);
            ElementwiseOps.AddScaled(x, noiseScale, scratch, x);
        }

        PredictOriginalSample(PredictionType, mo, x, PredictionType == "epsilon" ? sigmaHat : sigma, x0);

        // derivative = (x − x₀)/σ̂; prev = x + derivative·(σ_next − σ̂)
        ElementwiseOps.DifferenceQuotient(x, x0, sigmaHat, scratch);
        float dt = SigmaValues[index + 1] - sigmaHat;
        ElementwiseOps.AddScaled(x, dt, scratch, x);

        StepIndex = index + 1;
        return new SchedulerOutput(sample, predOriginalTensor);
    }
}
