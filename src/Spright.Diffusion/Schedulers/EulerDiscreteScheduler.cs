using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Random;
using Spright.Diffusion.IO;

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

    /// <summary>Creates an Euler scheduler, like <c>EulerDiscreteScheduler(**options)</c>.</summary>
    /// <param name="options">The options; <see langword="null"/> for diffusers' defaults.</param>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public EulerDiscreteScheduler(EulerDiscreteSchedulerOptions? options = null)
        : this(SchedulerSignatures.Euler.Bind(options ?? new()), null)
    {
    }

    internal EulerDiscreteScheduler(BoundOptions<EulerDiscreteSchedulerOptions> bound, ILogger? logger)
        : base(bound.Config, bound.Options, logger)
    {
        Options = bound.Options;
        Tables = new TrainingTables(BetaSchedules.AlphasCumprod(ClassName, Options, Options.RescaleBetasZeroSnr, clampTerminal: true));
        SetTrainingSchedule(ContinuousTimesteps);
    }

    /// <summary>The options this scheduler runs with (<see cref="IScheduler.Config"/> shows them as configuration keys).</summary>
    internal EulerDiscreteSchedulerOptions Options { get; }

    private bool ContinuousTimesteps => Options.TimestepType == TimestepType.Continuous && Options.PredictionType == PredictionType.VPrediction;

    /// <summary>Builds a scheduler from a configuration (possibly another scheduler's), like
    /// <c>EulerDiscreteScheduler.from_config(config, **overrides)</c>.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="overrides">Options to set; as in diffusers, names this class does not take are ignored with a warning.</param>
    /// <param name="logger">Where warnings go.</param>
    /// <returns>The scheduler.</returns>
    /// <exception cref="ArgumentException">An option value is invalid.</exception>
    public static EulerDiscreteScheduler FromConfig(SchedulerConfig config, IEnumerable<KeyValuePair<string, object?>>? overrides = null, ILogger? logger = null) =>
        (EulerDiscreteScheduler)SchedulerRegistry.Create(nameof(EulerDiscreteScheduler), config, overrides, logger);

    /// <inheritdoc />
    private protected override void SetTimestepsCore(int numInferenceSteps)
    {
        CheckStepCount(numInferenceSteps, NumTrainTimesteps);
        NumInferenceSteps = numInferenceSteps;
        BuildFromTimesteps(SpacedTimestepsFor(numInferenceSteps));
    }

    // Euler accepts either custom timesteps (not with Karras / exponential / beta sigmas, nor with continuous timesteps)
    // or custom sigmas (whose last value is used as the final σ).
    private protected override void SetCustomScheduleCore(IReadOnlyList<float>? timesteps, IReadOnlyList<float>? sigmas)
    {
        if (timesteps is not null && sigmas is not null)
        {
            throw new ArgumentException("Only one of timesteps or sigmas can be given.", nameof(sigmas));
        }
        if (timesteps is not null)
        {
            if (Options.SigmaSpacing != SigmaSpacing.None)
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
        InstallSchedule(s, t);
    }

    private void BuildFromTimesteps(float[] timesteps)
    {
        double[] sigmas;
        bool f32;
        if (Options.InterpolationType == InterpolationType.Linear)
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
        SigmaScheduleParts parts = Respace(sigmas, f32, t64, Options.SigmaSpacing, NumInferenceSteps, Options.SigmaMin, Options.SigmaMax);

        float last = Options.FinalSigmasType == FinalSigmasType.SigmaMin ? TrainSigmas[0] : 0f;
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
        InstallSchedule(s, t);
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
    private protected override SchedulerOutput StepCore(Tensor<float> modelOutput, float timestep, Tensor<float> sample, TorchGenerator? generator) =>
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

        PredictOriginalSample(Options.PredictionType, mo, x, Options.PredictionType == PredictionType.Epsilon ? sigmaHat : sigma, x0);

        // derivative = (x − x₀)/σ̂; prev = x + derivative·(σ_next − σ̂)
        ElementwiseOps.DifferenceQuotient(x, x0, sigmaHat, scratch);
        float dt = SigmaValues[index + 1] - sigmaHat;
        ElementwiseOps.AddScaled(x, dt, scratch, x);

        StepIndex = index + 1;
        return new SchedulerOutput(sample, predOriginalTensor);
    }
}
