using System.Numerics.Tensors;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Random;
using Spright.Diffusion.Tensors;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// DPM-Solver / DPM-Solver++ multistep (orders 1–3, ODE and SDE variants), the "DPM++ 2M (Karras)" family. Follows
/// <c>diffusers/schedulers/scheduling_dpmsolver_multistep.py</c> (v0.31): midpoint / heun second-order solvers,
/// <c>lower_order_final</c>, <c>euler_at_final</c>, Karras sigmas, uniform-logSNR (Lu) lambdas,
/// <c>final_sigmas_type</c>, <c>lambda_min_clipped</c>, learned variance, dynamic thresholding, custom timesteps and
/// zero-terminal-SNR rescaling. Schedules are numpy float64 cast to float32; solver arithmetic is torch float32.
/// </summary>
/// <remarks>
/// diffusers 0.31 cannot build a schedule with <c>use_exponential_sigmas</c> or <c>use_beta_sigmas</c> for this class
/// (its <c>set_timesteps</c> passes <c>num_inference_steps=None</c>), so those options are accepted in the
/// configuration but <see cref="SetTimesteps(int)"/> throws <see cref="NotSupportedException"/>; likewise diffusers
/// has no third-order SDE update, so a step that would need one throws.
/// </remarks>
public sealed class DPMSolverMultistepScheduler : SchedulerBase
{
    private const string Name = "DPMSolverMultistepScheduler";

    private readonly TrainingTables _tables;
    private readonly SolverHistory _history = new();
    private int _lowerOrderNums;
    private float[]? _scratchA;
    private float[]? _scratchB;
    private float[]? _scratchC;
    private float[]? _noise;
    private float[]? _meanScratch;
    private float[]? _thresholdSort;
    private float[]? _thresholdWork;

    private DPMSolverMultistepScheduler(SchedulerConfig config, IReadOnlyCollection<string>? explicitKeys, ILogger? logger)
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
        string algorithmType = Options.String("algorithm_type", "dpmsolver++", "dpmsolver", "dpmsolver++", "sde-dpmsolver", "sde-dpmsolver++", "deis");
        string solverType = Options.String("solver_type", "midpoint", "midpoint", "heun", "logrho", "bh1", "bh2");
        LowerOrderFinal = Options.Bool("lower_order_final", true);
        EulerAtFinal = Options.Bool("euler_at_final", false);
        UseKarrasSigmas = Options.Bool("use_karras_sigmas", false);
        UseExponentialSigmas = Options.Bool("use_exponential_sigmas", false);
        UseBetaSigmas = Options.Bool("use_beta_sigmas", false);
        UseLuLambdas = Options.Bool("use_lu_lambdas", false);
        FinalSigmasType = Options.String("final_sigmas_type", "zero", "zero", "sigma_min");
        LambdaMinClipped = Options.Double("lambda_min_clipped", double.NegativeInfinity);
        VarianceType = Options.NullableString("variance_type", null, VpSolverMath.VarianceTypes);
        TimestepSpacing = Options.String("timestep_spacing", "linspace", SpacedTimesteps.Names);
        StepsOffset = Options.Int("steps_offset", 0, min: 0, max: 100_000);
        RescaleBetasZeroSnr = Options.Bool("rescale_betas_zero_snr", false);
        CompleteConfig();

        SigmaScheduleMath.CheckSigmaOptions(Name, UseKarrasSigmas, UseExponentialSigmas, UseBetaSigmas);
        // diffusers checks final_sigmas_type against the algorithm as given, before mapping "deis" to "dpmsolver++".
        if (!DpmSolverUpdates.IsDataPrediction(algorithmType) && FinalSigmasType == "zero")
        {
            throw new ArgumentException($"{Name} option 'final_sigmas_type' \"zero\" is not supported with algorithm_type \"{algorithmType}\"; use \"sigma_min\" (\"zero\" needs \"dpmsolver++\" or \"sde-dpmsolver++\").", "final_sigmas_type");
        }
        if (algorithmType == "deis")
        {
            algorithmType = "dpmsolver++";
            UpdateConfig("algorithm_type", JsonValue.Create(algorithmType));
        }
        if (solverType is "logrho" or "bh1" or "bh2")
        {
            solverType = "midpoint";
            UpdateConfig("solver_type", JsonValue.Create(solverType));
        }
        AlgorithmType = algorithmType;
        SolverType = solverType;

        _tables = new TrainingTables(BetaSchedules.AlphasCumprod(Name, BetaSchedule, NumTrainTimesteps, BetaStart, BetaEnd, TrainedBetas, RescaleBetasZeroSnr, clampTerminal: true));
        InitNoiseSigma = 1f;
        TimestepValues = SpacedTimesteps.AllTraining(NumTrainTimesteps);
        SigmaValues = (float[])_tables.Sigmas.Clone();
        _history.Reset(SolverOrder);
    }

    /// <summary>Creates a scheduler with diffusers' default options.</summary>
    public DPMSolverMultistepScheduler()
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

    /// <summary>The solver order: 1, 2 (recommended for guided sampling) or 3.</summary>
    public int SolverOrder { get; }

    /// <summary><c>epsilon</c>, <c>sample</c> or <c>v_prediction</c>.</summary>
    public string PredictionType { get; }

    /// <summary>Whether dynamic thresholding is applied to the predicted x₀.</summary>
    public bool Thresholding { get; }

    /// <summary>The quantile of dynamic thresholding.</summary>
    public double DynamicThresholdingRatio { get; }

    /// <summary>The upper bound of the dynamic threshold.</summary>
    public double SampleMaxValue { get; }

    /// <summary><c>dpmsolver++</c>, <c>sde-dpmsolver++</c>, <c>dpmsolver</c> or <c>sde-dpmsolver</c> (<c>deis</c> in a
    /// configuration is read as <c>dpmsolver++</c>, as diffusers does).</summary>
    public string AlgorithmType { get; }

    /// <summary><c>midpoint</c> or <c>heun</c> (<c>logrho</c>, <c>bh1</c>, <c>bh2</c> are read as <c>midpoint</c>).</summary>
    public string SolverType { get; }

    /// <summary>Whether the last steps of short schedules (&lt; 15 steps) use lower orders.</summary>
    public bool LowerOrderFinal { get; }

    /// <summary>Whether the final step is always first order (Euler).</summary>
    public bool EulerAtFinal { get; }

    /// <summary>Whether the sigmas follow Karras et al. (2022).</summary>
    public bool UseKarrasSigmas { get; }

    /// <summary>Exponential sigmas (not usable with diffusers 0.31's DPM-Solver; see the class remarks).</summary>
    public bool UseExponentialSigmas { get; }

    /// <summary>Beta sigmas (not usable with diffusers 0.31's DPM-Solver; see the class remarks).</summary>
    public bool UseBetaSigmas { get; }

    /// <summary>Whether the steps are uniform in log-SNR (Lu et al.).</summary>
    public bool UseLuLambdas { get; }

    /// <summary><c>zero</c> (the last step lands on σ = 0) or <c>sigma_min</c>.</summary>
    public string FinalSigmasType { get; }

    /// <summary>The λ(t) below which training timesteps are excluded from the schedule (−∞ = none).</summary>
    public double LambdaMinClipped { get; }

    /// <summary><c>learned</c> / <c>learned_range</c> when the model also predicts its variance (then the first three
    /// channels of an ε-prediction are used), another DDPM variance name, or <see langword="null"/>.</summary>
    public string? VarianceType { get; }

    /// <summary><c>linspace</c>, <c>leading</c> or <c>trailing</c>.</summary>
    public string TimestepSpacing { get; }

    /// <summary>Offset added to the timesteps with <c>leading</c> spacing.</summary>
    public int StepsOffset { get; }

    /// <summary>Whether betas are rescaled to zero terminal SNR (then ᾱ[−1] is set to 2⁻²⁴).</summary>
    public bool RescaleBetasZeroSnr { get; }

    /// <summary>ᾱ for every training timestep (float32).</summary>
    public ReadOnlySpan<float> AlphasCumprod => _tables.AlphasCumprod;

    /// <summary>How many lower-order warm-up steps have run (diffusers' <c>lower_order_nums</c>).</summary>
    public int LowerOrderNums => _lowerOrderNums;

    /// <inheritdoc />
    public override bool HasIntegerTimesteps => true;

    /// <summary>Builds a scheduler from a configuration (possibly another scheduler's), like <c>from_config</c>.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="logger">Where warnings about ignored keys go.</param>
    /// <returns>The scheduler.</returns>
    public static DPMSolverMultistepScheduler FromConfig(SchedulerConfig config, ILogger? logger = null) => new(config, null, logger);

    /// <summary>Builds a scheduler from a configuration with explicit overrides, like <c>from_config(config, **kwargs)</c>.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="overrides">Options to set; unknown names are an error.</param>
    /// <param name="logger">Where warnings about ignored keys go.</param>
    /// <returns>The scheduler.</returns>
    public static DPMSolverMultistepScheduler FromConfig(SchedulerConfig config, IEnumerable<KeyValuePair<string, object?>> overrides, ILogger? logger = null) =>
        (DPMSolverMultistepScheduler)SchedulerRegistry.Create(Name, config, overrides, logger);

    internal static IScheduler Create(SchedulerConfig config, IReadOnlyCollection<string>? explicitKeys, ILogger? logger) => new DPMSolverMultistepScheduler(config, explicitKeys, logger);

    /// <inheritdoc />
    public override void SetTimesteps(int numInferenceSteps)
    {
        CheckStepCount(numInferenceSteps, NumTrainTimesteps);
        if (!UseKarrasSigmas && !UseLuLambdas && (UseExponentialSigmas || UseBetaSigmas))
        {
            throw VpSolverMath.UnbuildableSigmas(Name, UseExponentialSigmas, "use_karras_sigmas or use_lu_lambdas");
        }
        int clipped = VpSolverMath.ClippedCount(_tables.Lambdas, LambdaMinClipped);
        int lastTimestep = NumTrainTimesteps - clipped;
        long[] timesteps = SpacedTimesteps.Solver(TimestepSpacing, NumTrainTimesteps, lastTimestep, numInferenceSteps, StepsOffset);

        double[] sigmas;
        if (UseKarrasSigmas)
        {
            sigmas = SigmaScheduleMath.Karras(_tables.Sigmas[0], _tables.Sigmas[^1], numInferenceSteps);
            timesteps = _tables.RoundedTimestepsOf(sigmas);
        }
        else if (UseLuLambdas)
        {
            double[] lambdas = SigmaScheduleMath.Lu(_tables.LogSigmas[0], _tables.LogSigmas[^1], numInferenceSteps);
            sigmas = new double[lambdas.Length];
            for (int i = 0; i < sigmas.Length; i++)
            {
                sigmas[i] = Math.Exp(lambdas[i]);
            }
            timesteps = _tables.RoundedTimestepsOf(sigmas);
        }
        else
        {
            sigmas = _tables.SigmasAt(timesteps);
        }
        Apply(timesteps, sigmas);
    }

    /// <summary>Uses custom timesteps (<c>set_timesteps(timesteps=[...])</c>); custom sigmas are not accepted by this
    /// scheduler in diffusers 0.31.</summary>
    /// <param name="timesteps">Integer timesteps in decreasing order (fractions are truncated like numpy's int64 cast).</param>
    /// <param name="sigmas">Must be <see langword="null"/>.</param>
    /// <exception cref="NotSupportedException">Custom sigmas were given.</exception>
    /// <exception cref="ArgumentException">Custom timesteps with Karras, Lu, exponential or beta sigmas.</exception>
    public override void SetTimesteps(IReadOnlyList<float>? timesteps, IReadOnlyList<float>? sigmas)
    {
        if (sigmas is not null || timesteps is null)
        {
            base.SetTimesteps(timesteps, sigmas);
            return;
        }
        string? conflicting = UseKarrasSigmas ? "use_karras_sigmas" : UseLuLambdas ? "use_lu_lambdas" : UseExponentialSigmas ? "use_exponential_sigmas" : UseBetaSigmas ? "use_beta_sigmas" : null;
        if (conflicting is not null)
        {
            throw new ArgumentException($"{Name}: custom timesteps cannot be used with {conflicting} = true.", nameof(timesteps));
        }
        long[] ts = VpSolverMath.CustomTimesteps(timesteps);
        Apply(ts, _tables.SigmasAt(ts));
    }

    private void Apply(long[] timesteps, double[] sigmas)
    {
        float sigmaLast = FinalSigmasType == "sigma_min" ? _tables.Sigmas[0] : 0f;
        var sigmaValues = new float[sigmas.Length + 1];
        for (int i = 0; i < sigmas.Length; i++)
        {
            sigmaValues[i] = (float)sigmas[i];
        }
        sigmaValues[^1] = sigmaLast;
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
        bool sliceMean = PredictionType == "epsilon" && DpmSolverUpdates.HasLearnedVariance(VarianceType);
        ReadOnlySpan<float> mo = DpmSolverUpdates.EffectiveModelOutput(modelOutput, sample, sliceMean, ref _meanScratch, Name);
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

        bool lowerOrderFinal = index == count - 1 && (EulerAtFinal || (LowerOrderFinal && count < 15) || FinalSigmasType == "zero");
        bool lowerOrderSecond = index == count - 2 && LowerOrderFinal && count < 15;
        int order = SolverOrder == 1 || _lowerOrderNums < 1 || lowerOrderFinal ? 1
            : SolverOrder == 2 || _lowerOrderNums < 2 || lowerOrderSecond ? 2
            : 3;
        bool sde = AlgorithmType is "sde-dpmsolver++" or "sde-dpmsolver";
        if (order == 3 && sde)
        {
            throw new NotSupportedException($"{Name}: diffusers 0.31 has no third-order update for {AlgorithmType}; use solver_order 2.");
        }
        if (sde && generator is null)
        {
            throw new ArgumentNullException(nameof(generator), $"{Name} with {AlgorithmType} draws noise every step: pass the generator.");
        }

        Span<float> x = sample.AsSpan();
        int n = x.Length;
        _history.EnsureLength(n);
        float[] converted = _history.Pending;
        DpmSolverUpdates.ConvertModelOutput(AlgorithmType, PredictionType, SigmaValues[index], mo, x, converted, Threshold(sample));
        _history.Push();

        Span<float> noise = default;
        if (sde)
        {
            noise = Rent(ref _noise, n);
            generator!.Randn(noise);
        }

        switch (order)
        {
            case 1:
                DpmSolverUpdates.FirstOrder(AlgorithmType, SigmaValues[index + 1], SigmaValues[index], _history[0], x, noise, x);
                break;
            case 2:
                SecondOrder(index, x, noise);
                break;
            default:
                ThirdOrder(index, x);
                break;
        }

        if (_lowerOrderNums < SolverOrder)
        {
            _lowerOrderNums++;
        }
        StepIndex = index + 1;
        return new SchedulerOutput(sample, null);
    }

    private ThresholdSettings Threshold(Tensor<float> sample)
    {
        if (!Thresholding)
        {
            return default;
        }
        int n = checked((int)sample.FlattenedLength);
        int batch = (int)sample.Lengths[0];
        return new ThresholdSettings(true, batch, (float)DynamicThresholdingRatio, (float)SampleMaxValue,
            Rent(ref _thresholdSort, n / Math.Max(batch, 1)), Rent(ref _thresholdWork, n));
    }

    // multistep_dpm_solver_second_order_update
    private void SecondOrder(int index, Span<float> x, ReadOnlySpan<float> noise)
    {
        (float alphaT, float sigmaT) = VpSolverMath.AlphaSigma(SigmaValues[index + 1]);
        (float alphaS0, float sigmaS0) = VpSolverMath.AlphaSigma(SigmaValues[index]);
        (float alphaS1, float sigmaS1) = VpSolverMath.AlphaSigma(SigmaValues[index - 1]);
        float lambdaT = VpSolverMath.Lambda(alphaT, sigmaT);
        float lambdaS0 = VpSolverMath.Lambda(alphaS0, sigmaS0);
        float lambdaS1 = VpSolverMath.Lambda(alphaS1, sigmaS1);
        float[] m0 = _history[0];
        float[] m1 = _history[1];
        float h = lambdaT - lambdaS0;
        float h0 = lambdaS0 - lambdaS1;
        float r0 = h0 / h;
        float[] d1 = Rent(ref _scratchA, x.Length);
        ElementwiseOps.ScaledDifference(1f / r0, m0, m1, d1);
        bool midpoint = SolverType == "midpoint";
        switch (AlgorithmType)
        {
            case "dpmsolver++":
                {
                    float a = sigmaT / sigmaS0;
                    float b = alphaT * (SleefFloat.Exp(-h) - 1f);
                    float c = midpoint ? -(0.5f * b) : alphaT * ((SleefFloat.Exp(-h) - 1f) / h + 1f);
                    ElementwiseOps.LinearCombination(a, x, -b, m0, c, d1, x);
                    break;
                }
            case "dpmsolver":
                {
                    float a = alphaT / alphaS0;
                    float b = sigmaT * (SleefFloat.Exp(h) - 1f);
                    float c = midpoint ? 0.5f * b : sigmaT * ((SleefFloat.Exp(h) - 1f) / h - 1f);
                    ElementwiseOps.LinearCombination(a, x, -b, m0, -c, d1, x);
                    break;
                }
            case "sde-dpmsolver++":
                {
                    float e2 = SleefFloat.Exp(-2f * h);
                    float a = sigmaT / sigmaS0 * SleefFloat.Exp(-h);
                    float b = alphaT * (1f - e2);
                    float c = midpoint ? 0.5f * b : alphaT * ((1f - e2) / (-2f * h) + 1f);
                    float d = sigmaT * MathF.Sqrt(1f - e2);
                    ElementwiseOps.LinearCombination(a, x, b, m0, c, d1, d, noise, x);
                    break;
                }
            default: // sde-dpmsolver
                {
                    float a = alphaT / alphaS0;
                    float e = sigmaT * (SleefFloat.Exp(h) - 1f);
                    float b = 2f * e;
                    float c = midpoint ? e : 2f * (sigmaT * ((SleefFloat.Exp(h) - 1f) / h - 1f));
                    float d = sigmaT * MathF.Sqrt(SleefFloat.Exp(2f * h) - 1f);
                    ElementwiseOps.LinearCombination(a, x, -b, m0, -c, d1, d, noise, x);
                    break;
                }
        }
    }

    // multistep_dpm_solver_third_order_update (ODE variants only, as in diffusers)
    private void ThirdOrder(int index, Span<float> x)
    {
        (float alphaT, float sigmaT) = VpSolverMath.AlphaSigma(SigmaValues[index + 1]);
        (float alphaS0, float sigmaS0) = VpSolverMath.AlphaSigma(SigmaValues[index]);
        (float alphaS1, float sigmaS1) = VpSolverMath.AlphaSigma(SigmaValues[index - 1]);
        (float alphaS2, float sigmaS2) = VpSolverMath.AlphaSigma(SigmaValues[index - 2]);
        float lambdaT = VpSolverMath.Lambda(alphaT, sigmaT);
        float lambdaS0 = VpSolverMath.Lambda(alphaS0, sigmaS0);
        float lambdaS1 = VpSolverMath.Lambda(alphaS1, sigmaS1);
        float lambdaS2 = VpSolverMath.Lambda(alphaS2, sigmaS2);
        float[] m0 = _history[0];
        float[] m1 = _history[1];
        float[] m2 = _history[2];
        float h = lambdaT - lambdaS0;
        float h0 = lambdaS0 - lambdaS1;
        float h1 = lambdaS1 - lambdaS2;
        float r0 = h0 / h;
        float r1 = h1 / h;
        int n = x.Length;
        float[] d1 = Rent(ref _scratchA, n);   // D1_0, then D1
        float[] diff = Rent(ref _scratchB, n); // D1_1, then D1_0 − D1_1
        float[] d2 = Rent(ref _scratchC, n);
        ElementwiseOps.ScaledDifference(1f / r0, m0, m1, d1);
        ElementwiseOps.ScaledDifference(1f / r1, m1, m2, diff);
        TensorPrimitives.Subtract(d1, diff, diff);
        float rSum = r0 + r1;
        TensorPrimitives.Multiply(diff, 1f / rSum, d2);
        ElementwiseOps.AddScaled(d1, r0 / rSum, diff, d1);
        if (AlgorithmType == "dpmsolver++")
        {
            float em = SleefFloat.Exp(-h) - 1f;
            float a = sigmaT / sigmaS0;
            float b = alphaT * em;
            float c = alphaT * (em / h + 1f);
            float d = alphaT * ((em + h) / (h * h) - 0.5f);
            ElementwiseOps.LinearCombination(a, x, -b, m0, c, d1, -d, d2, x);
        }
        else
        {
            float ep = SleefFloat.Exp(h) - 1f;
            float a = alphaT / alphaS0;
            float b = sigmaT * ep;
            float c = sigmaT * (ep / h - 1f);
            float d = sigmaT * ((ep - h) / (h * h) - 0.5f);
            ElementwiseOps.LinearCombination(a, x, -b, m0, -c, d1, -d, d2, x);
        }
    }

    /// <inheritdoc />
    public override void AddNoise(ReadOnlySpan<float> originalSamples, ReadOnlySpan<float> noise, float timestep, Span<float> destination)
    {
        CheckAddNoiseArguments(originalSamples, noise, destination);
        VpSolverMath.AddNoiseAtSigma(SigmaValues[AddNoiseIndex(timestep, lastWhenMissing: true)], originalSamples, noise, destination);
    }
}
