using System.Numerics.Tensors;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Random;
using Spright.Diffusion.Tensors;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// Diffusion exponential integrator sampler (DEIS, log-ρ multistep, orders 1–3). Follows
/// <c>diffusers/schedulers/scheduling_deis_multistep.py</c> (v0.31): ε re-derived through x₀ (so thresholding applies),
/// the log-ρ polynomial coefficients in float32, <c>lower_order_final</c>, Karras sigmas and the three timestep
/// spacings. <c>dpmsolver</c>/<c>dpmsolver++</c> and the other solvers' <c>solver_type</c> values are read as
/// <c>deis</c>/<c>logrho</c>, as diffusers does.
/// </summary>
/// <remarks>diffusers 0.31 cannot build a DEIS schedule with <c>use_exponential_sigmas</c> or <c>use_beta_sigmas</c>
/// (its <c>set_timesteps</c> fails), so <see cref="SetTimesteps(int)"/> throws <see cref="NotSupportedException"/> for
/// them; DEIS takes no custom timesteps in diffusers 0.31 either.</remarks>
public sealed class DEISMultistepScheduler : SchedulerBase
{
    private const string Name = "DEISMultistepScheduler";

    private readonly TrainingTables _tables;
    private readonly SolverHistory _history = new();
    private int _lowerOrderNums;
    private float[]? _scratch;
    private float[]? _thresholdSort;

    private DEISMultistepScheduler(SchedulerConfig config, IReadOnlyCollection<string>? explicitKeys, ILogger? logger)
        : base(Name, config, explicitKeys, logger)
    {
        NumTrainTimesteps = Options.Int("num_train_timesteps", 1000, min: 2, max: 100_000);
        BetaStart = Options.Double("beta_start", 0.0001, min: 0, max: 1);
        BetaEnd = Options.Double("beta_end", 0.02, min: 0, max: 1);
        BetaSchedule = Options.String("beta_schedule", "linear", BetaSchedules.Names);
        TrainedBetas = Options.NullableDoubleArray("trained_betas");
        SolverOrder = Options.Int("solver_order", 2, min: 1, max: 3);
        PredictionType = Options.String("prediction_type", "epsilon", "epsilon", "sample", "v_prediction");
        Thresholding = Options.Bool("thresholding", false);
        DynamicThresholdingRatio = Options.Double("dynamic_thresholding_ratio", 0.995, min: 0, max: 1);
        SampleMaxValue = Options.Double("sample_max_value", 1.0, min: 0);
        string algorithmType = Options.String("algorithm_type", "deis", "deis", "dpmsolver", "dpmsolver++");
        string solverType = Options.String("solver_type", "logrho", "logrho", "midpoint", "heun", "bh1", "bh2");
        LowerOrderFinal = Options.Bool("lower_order_final", true);
        UseKarrasSigmas = Options.Bool("use_karras_sigmas", false);
        UseExponentialSigmas = Options.Bool("use_exponential_sigmas", false);
        UseBetaSigmas = Options.Bool("use_beta_sigmas", false);
        TimestepSpacing = Options.String("timestep_spacing", "linspace", SpacedTimesteps.Names);
        StepsOffset = Options.Int("steps_offset", 0, min: 0, max: 100_000);
        CompleteConfig();

        SigmaScheduleMath.CheckSigmaOptions(Name, UseKarrasSigmas, UseExponentialSigmas, UseBetaSigmas);
        if (algorithmType != "deis")
        {
            UpdateConfig("algorithm_type", JsonValue.Create("deis"));
        }
        if (solverType != "logrho")
        {
            UpdateConfig("solver_type", JsonValue.Create("logrho"));
        }

        _tables = new TrainingTables(BetaSchedules.AlphasCumprod(Name, BetaSchedule, NumTrainTimesteps, BetaStart, BetaEnd, TrainedBetas, rescaleZeroSnr: false, clampTerminal: false));
        InitNoiseSigma = 1f;
        TimestepValues = SpacedTimesteps.AllTraining(NumTrainTimesteps);
        SigmaValues = (float[])_tables.Sigmas.Clone();
        _history.Reset(SolverOrder);
    }

    /// <summary>Creates a scheduler with diffusers' default options.</summary>
    public DEISMultistepScheduler()
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

    /// <summary>The solver order: 1, 2 or 3.</summary>
    public int SolverOrder { get; }

    /// <summary><c>epsilon</c>, <c>sample</c> or <c>v_prediction</c>.</summary>
    public string PredictionType { get; }

    /// <summary>Whether dynamic thresholding is applied to the predicted x₀.</summary>
    public bool Thresholding { get; }

    /// <summary>The quantile of dynamic thresholding.</summary>
    public double DynamicThresholdingRatio { get; }

    /// <summary>The upper bound of the dynamic threshold.</summary>
    public double SampleMaxValue { get; }

    /// <summary>Whether the last steps of short schedules (&lt; 15 steps) use lower orders.</summary>
    public bool LowerOrderFinal { get; }

    /// <summary>Whether the sigmas follow Karras et al. (2022).</summary>
    public bool UseKarrasSigmas { get; }

    /// <summary>Exponential sigmas (not usable with diffusers 0.31's DEIS).</summary>
    public bool UseExponentialSigmas { get; }

    /// <summary>Beta sigmas (not usable with diffusers 0.31's DEIS).</summary>
    public bool UseBetaSigmas { get; }

    /// <summary><c>linspace</c>, <c>leading</c> or <c>trailing</c>.</summary>
    public string TimestepSpacing { get; }

    /// <summary>Offset added to the timesteps with <c>leading</c> spacing.</summary>
    public int StepsOffset { get; }

    /// <summary>ᾱ for every training timestep (float32).</summary>
    public ReadOnlySpan<float> AlphasCumprod => _tables.AlphasCumprod;

    /// <inheritdoc />
    public override bool HasIntegerTimesteps => true;

    /// <summary>Builds a scheduler from a configuration (possibly another scheduler's), like <c>from_config</c>.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="logger">Where warnings go.</param>
    /// <returns>The scheduler.</returns>
    public static DEISMultistepScheduler FromConfig(SchedulerConfig config, ILogger? logger = null) => new(config, null, logger);

    /// <summary>Builds a scheduler from a configuration with explicit overrides, like <c>from_config(config, **kwargs)</c>.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="overrides">Options to set.</param>
    /// <param name="logger">Where warnings go.</param>
    /// <returns>The scheduler.</returns>
    public static DEISMultistepScheduler FromConfig(SchedulerConfig config, IEnumerable<KeyValuePair<string, object?>> overrides, ILogger? logger = null) =>
        (DEISMultistepScheduler)SchedulerRegistry.Create(Name, config, overrides, logger);

    internal static IScheduler Create(SchedulerConfig config, IReadOnlyCollection<string>? explicitKeys, ILogger? logger) => new DEISMultistepScheduler(config, explicitKeys, logger);

    /// <inheritdoc />
    public override void SetTimesteps(int numInferenceSteps)
    {
        CheckStepCount(numInferenceSteps, NumTrainTimesteps);
        long[] timesteps = SpacedTimesteps.Solver(TimestepSpacing, NumTrainTimesteps, NumTrainTimesteps, numInferenceSteps, StepsOffset);
        float[] sigmaValues;
        if (UseKarrasSigmas)
        {
            double[] sigmas = SigmaScheduleMath.Karras(_tables.Sigmas[0], _tables.Sigmas[^1], numInferenceSteps);
            timesteps = _tables.RoundedTimestepsOf(sigmas);
            sigmaValues = new float[sigmas.Length + 1];
            for (int i = 0; i < sigmas.Length; i++)
            {
                sigmaValues[i] = (float)sigmas[i];
            }
            sigmaValues[^1] = sigmaValues[^2]; // DEIS repeats the last Karras sigma
        }
        else if (UseExponentialSigmas || UseBetaSigmas)
        {
            throw VpSolverMath.UnbuildableSigmas(Name, UseExponentialSigmas, "use_karras_sigmas");
        }
        else
        {
            sigmaValues = new float[timesteps.Length + 1];
            double[] sigmas = _tables.SigmasAt(timesteps);
            for (int i = 0; i < sigmas.Length; i++)
            {
                sigmaValues[i] = (float)sigmas[i];
            }
            sigmaValues[^1] = _tables.Sigmas[0];
        }
        SigmaValues = sigmaValues;
        TimestepValues = VpSolverMath.TimestepsToFloat(timesteps);
        NumInferenceSteps = timesteps.Length;
        _history.Reset(SolverOrder);
        _lowerOrderNums = 0;
        StepIndex = null;
        BeginIndex = null;
    }

    /// <inheritdoc />
    public override SchedulerOutput Step(Tensor<float> modelOutput, float timestep, Tensor<float> sample, TorchGenerator? generator = null, float eta = 0f)
    {
        CheckStepArguments(modelOutput, sample);
        if (NumInferenceSteps == 0)
        {
            throw new InvalidOperationException($"{Name}: call SetTimesteps before Step.");
        }
        int index = EnsureSolverStepIndex(timestep);
        int count = TimestepValues.Length;
        if (index >= count)
        {
            throw new InvalidOperationException($"{Name}: all {count} steps have run; call SetTimesteps again.");
        }
        bool lowerOrderFinal = index == count - 1 && LowerOrderFinal && count < 15;
        bool lowerOrderSecond = index == count - 2 && LowerOrderFinal && count < 15;

        Span<float> x = sample.AsSpan();
        int n = x.Length;
        _history.EnsureLength(n);
        float[] converted = _history.Pending;
        ConvertModelOutput(SigmaValues[index], modelOutput.AsSpan(), x, converted, (int)sample.Lengths[0]);
        _history.Push();

        if (SolverOrder == 1 || _lowerOrderNums < 1 || lowerOrderFinal)
        {
            FirstOrder(index, x);
        }
        else if (SolverOrder == 2 || _lowerOrderNums < 2 || lowerOrderSecond)
        {
            SecondOrder(index, x);
        }
        else
        {
            ThirdOrder(index, x);
        }

        if (_lowerOrderNums < SolverOrder)
        {
            _lowerOrderNums++;
        }
        StepIndex = index + 1;
        return new SchedulerOutput(sample, null);
    }

    // convert_model_output: x₀ from the model output (thresholded when enabled), then ε = (x − α·x₀)/σ.
    private void ConvertModelOutput(float sigma, ReadOnlySpan<float> modelOutput, ReadOnlySpan<float> sample, Span<float> destination, int batch)
    {
        (float alphaT, float sigmaT) = VpSolverMath.AlphaSigma(sigma);
        int n = sample.Length;
        Span<float> x0 = Rent(ref _scratch, n);
        VpSolverMath.PredictOriginalSample(PredictionType, alphaT, sigmaT, modelOutput, sample, x0);
        if (Thresholding)
        {
            DynamicThresholding.Apply(x0, batch, (float)DynamicThresholdingRatio, (float)SampleMaxValue, Rent(ref _thresholdSort, n / Math.Max(batch, 1)));
        }
        ElementwiseOps.SubtractScaledThenDivide(sample, alphaT, x0, sigmaT, destination);
    }

    // deis_first_order_update
    private void FirstOrder(int index, Span<float> x)
    {
        (float alphaT, float sigmaT) = VpSolverMath.AlphaSigma(SigmaValues[index + 1]);
        (float alphaS, float sigmaS) = VpSolverMath.AlphaSigma(SigmaValues[index]);
        float lambdaT = VpSolverMath.Lambda(alphaT, sigmaT);
        float lambdaS = VpSolverMath.Lambda(alphaS, sigmaS);
        float h = lambdaT - lambdaS;
        float a = alphaT / alphaS;
        float b = sigmaT * (SleefFloat.Exp(h) - 1f);
        ElementwiseOps.LinearCombination(a, x, -b, _history[0], x);
    }

    // multistep_deis_second_order_update: x_t = α_t·(x/α_s0 + c1·m0 + c2·m1) with the log-ρ integrals.
    private void SecondOrder(int index, Span<float> x)
    {
        (float alphaT, float sigmaT) = VpSolverMath.AlphaSigma(SigmaValues[index + 1]);
        (float alphaS0, float sigmaS0) = VpSolverMath.AlphaSigma(SigmaValues[index]);
        (float alphaS1, float sigmaS1) = VpSolverMath.AlphaSigma(SigmaValues[index - 1]);
        float rhoT = sigmaT / alphaT;
        float rhoS0 = sigmaS0 / alphaS0;
        float rhoS1 = sigmaS1 / alphaS1;
        float coef1 = Integral2(rhoT, rhoS0, rhoS1) - Integral2(rhoS0, rhoS0, rhoS1);
        float coef2 = Integral2(rhoT, rhoS1, rhoS0) - Integral2(rhoS0, rhoS1, rhoS0);
        float[] tmp = Rent(ref _scratch, x.Length);
        TensorPrimitives.Divide(x, alphaS0, tmp);
        ElementwiseOps.AddScaled(tmp, coef1, _history[0], tmp);
        ElementwiseOps.AddScaled(tmp, coef2, _history[1], tmp);
        TensorPrimitives.Multiply(tmp, alphaT, x);
    }

    // multistep_deis_third_order_update
    private void ThirdOrder(int index, Span<float> x)
    {
        (float alphaT, float sigmaT) = VpSolverMath.AlphaSigma(SigmaValues[index + 1]);
        (float alphaS0, float sigmaS0) = VpSolverMath.AlphaSigma(SigmaValues[index]);
        (float alphaS1, float sigmaS1) = VpSolverMath.AlphaSigma(SigmaValues[index - 1]);
        (float alphaS2, float sigmaS2) = VpSolverMath.AlphaSigma(SigmaValues[index - 2]);
        float rhoT = sigmaT / alphaT;
        float rhoS0 = sigmaS0 / alphaS0;
        float rhoS1 = sigmaS1 / alphaS1;
        float rhoS2 = sigmaS2 / alphaS2;
        float coef1 = Integral3(rhoT, rhoS0, rhoS1, rhoS2) - Integral3(rhoS0, rhoS0, rhoS1, rhoS2);
        float coef2 = Integral3(rhoT, rhoS1, rhoS2, rhoS0) - Integral3(rhoS0, rhoS1, rhoS2, rhoS0);
        float coef3 = Integral3(rhoT, rhoS2, rhoS0, rhoS1) - Integral3(rhoS0, rhoS2, rhoS0, rhoS1);
        float[] tmp = Rent(ref _scratch, x.Length);
        TensorPrimitives.Divide(x, alphaS0, tmp);
        ElementwiseOps.AddScaled(tmp, coef1, _history[0], tmp);
        ElementwiseOps.AddScaled(tmp, coef2, _history[1], tmp);
        ElementwiseOps.AddScaled(tmp, coef3, _history[2], tmp);
        TensorPrimitives.Multiply(tmp, alphaT, x);
    }

    /// <summary>∫ (log t − log c)/(log b − log c) dt = t·(−log c + log t − 1)/(log b − log c), float32.</summary>
    internal static float Integral2(float t, float b, float c)
    {
        float lt = NumpyFloat32.Log(t);
        float lb = NumpyFloat32.Log(b);
        float lc = NumpyFloat32.Log(c);
        float inner = -lc + lt;
        inner -= 1f;
        float numerator = t * inner;
        return numerator / (lb - lc);
    }

    /// <summary>∫ (log t − log c)(log t − log d)/((log b − log c)(log b − log d)) dt, float32, diffusers' term order.</summary>
    internal static float Integral3(float t, float b, float c, float d)
    {
        float lt = NumpyFloat32.Log(t);
        float lb = NumpyFloat32.Log(b);
        float lc = NumpyFloat32.Log(c);
        float ld = NumpyFloat32.Log(d);
        float p = lc * (ld - lt + 1f);
        p -= ld * lt;
        p += ld;
        p += lt * lt;
        p -= 2f * lt;
        p += 2f;
        float numerator = t * p;
        float denominator = (lb - lc) * (lb - ld);
        return numerator / denominator;
    }

    /// <inheritdoc />
    public override void AddNoise(ReadOnlySpan<float> originalSamples, ReadOnlySpan<float> noise, float timestep, Span<float> destination)
    {
        CheckAddNoiseArguments(originalSamples, noise, destination);
        VpSolverMath.AddNoiseAtSigma(SigmaValues[AddNoiseIndex(timestep, lastWhenMissing: true)], originalSamples, noise, destination);
    }
}
