using System.Numerics.Tensors;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Random;
using Spright.Diffusion.Tensors;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// DPM-Solver / DPM-Solver++ singlestep (orders 1–3): each higher-order step restarts from the sample at the start
/// of its segment. Follows <c>diffusers/schedulers/scheduling_dpmsolver_singlestep.py</c> (v0.31): the per-step order
/// list, midpoint / heun solvers, <c>sde-dpmsolver++</c>, Karras sigmas, <c>final_sigmas_type</c>,
/// <c>lambda_min_clipped</c>, learned variance, dynamic thresholding and custom timesteps. Its timesteps are always
/// evenly spaced (<c>timestep_spacing</c> is not an option of this class).
/// </summary>
/// <remarks>
/// diffusers switches <c>lower_order_final</c> on (in the configuration, with a warning) when it is off and
/// <c>final_sigmas_type</c> is <c>zero</c> — unconditionally at the first <c>set_timesteps</c>; this class applies that
/// at construction so the configuration reads the same before and after. With <c>sigma_min</c> it happens in
/// <see cref="SetTimesteps(int)"/> when the step count is not a multiple of the order. Not usable in diffusers 0.31
/// and therefore rejected: <c>use_exponential_sigmas</c> / <c>use_beta_sigmas</c> (their schedule raises),
/// thresholding with <c>dpmsolver</c>, and third-order <c>sde-dpmsolver++</c> steps.
/// </remarks>
public sealed class DPMSolverSinglestepScheduler : SchedulerBase
{
    private const string Name = "DPMSolverSinglestepScheduler";

    private readonly TrainingTables _tables;
    private readonly SolverHistory _history = new();
    private int[] _orderList = [];
    private float[]? _segmentStart;
    private bool _hasSegmentStart;
    private float[]? _scratchA;
    private float[]? _scratchB;
    private float[]? _scratchC;
    private float[]? _noise;
    private float[]? _meanScratch;
    private float[]? _thresholdSort;
    private float[]? _thresholdWork;

    private DPMSolverSinglestepScheduler(SchedulerConfig config, IReadOnlyCollection<string>? explicitKeys, ILogger? logger)
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
        string algorithmType = Options.String("algorithm_type", "dpmsolver++", "dpmsolver", "dpmsolver++", "sde-dpmsolver++", "deis");
        string solverType = Options.String("solver_type", "midpoint", "midpoint", "heun", "logrho", "bh1", "bh2");
        bool lowerOrderFinal = Options.Bool("lower_order_final", false);
        UseKarrasSigmas = Options.Bool("use_karras_sigmas", false);
        UseExponentialSigmas = Options.Bool("use_exponential_sigmas", false);
        UseBetaSigmas = Options.Bool("use_beta_sigmas", false);
        FinalSigmasType = Options.String("final_sigmas_type", "zero", "zero", "sigma_min");
        LambdaMinClipped = Options.Double("lambda_min_clipped", double.NegativeInfinity);
        VarianceType = Options.NullableString("variance_type", null, VpSolverMath.VarianceTypes);
        CompleteConfig();

        SigmaScheduleMath.CheckSigmaOptions(Name, UseKarrasSigmas, UseExponentialSigmas, UseBetaSigmas);
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
        LowerOrderFinal = lowerOrderFinal;
        if (!LowerOrderFinal && FinalSigmasType == "zero")
        {
            Logger.LogWarning("{ClassName}: final_sigmas_type \"zero\" is not supported with lower_order_final=false; setting lower_order_final to true.", Name);
            SetLowerOrderFinal();
        }

        _tables = new TrainingTables(BetaSchedules.AlphasCumprod(Name, BetaSchedule, NumTrainTimesteps, BetaStart, BetaEnd, TrainedBetas, rescaleZeroSnr: false, clampTerminal: false));
        InitNoiseSigma = 1f;
        TimestepValues = SpacedTimesteps.AllTraining(NumTrainTimesteps);
        SigmaValues = (float[])_tables.Sigmas.Clone();
        _history.Reset(SolverOrder);
    }

    /// <summary>Creates a scheduler with diffusers' default options.</summary>
    public DPMSolverSinglestepScheduler()
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

    /// <summary>Whether dynamic thresholding is applied to the predicted x₀ (DPM-Solver++ only).</summary>
    public bool Thresholding { get; }

    /// <summary>The quantile of dynamic thresholding.</summary>
    public double DynamicThresholdingRatio { get; }

    /// <summary>The upper bound of the dynamic threshold.</summary>
    public double SampleMaxValue { get; }

    /// <summary><c>dpmsolver++</c>, <c>sde-dpmsolver++</c> or <c>dpmsolver</c> (<c>deis</c> is read as <c>dpmsolver++</c>).</summary>
    public string AlgorithmType { get; }

    /// <summary><c>midpoint</c> or <c>heun</c> (<c>logrho</c>, <c>bh1</c>, <c>bh2</c> are read as <c>midpoint</c>).</summary>
    public string SolverType { get; }

    /// <summary>Whether the order list ends with lower orders (see the class remarks for when it is forced on).</summary>
    public bool LowerOrderFinal { get; private set; }

    /// <summary>Whether the sigmas follow Karras et al. (2022).</summary>
    public bool UseKarrasSigmas { get; }

    /// <summary>Exponential sigmas (not usable with diffusers 0.31's singlestep solver).</summary>
    public bool UseExponentialSigmas { get; }

    /// <summary>Beta sigmas (not usable with diffusers 0.31's singlestep solver).</summary>
    public bool UseBetaSigmas { get; }

    /// <summary><c>zero</c> or <c>sigma_min</c>.</summary>
    public string FinalSigmasType { get; }

    /// <summary>The λ(t) below which training timesteps are excluded (−∞ = none).</summary>
    public double LambdaMinClipped { get; }

    /// <summary><c>learned</c> / <c>learned_range</c> for models that also predict their variance, another DDPM variance
    /// name, or <see langword="null"/>.</summary>
    public string? VarianceType { get; }

    /// <summary>ᾱ for every training timestep (float32).</summary>
    public ReadOnlySpan<float> AlphasCumprod => _tables.AlphasCumprod;

    /// <summary>The solver order of every step of the current schedule (diffusers' <c>order_list</c>).</summary>
    public IReadOnlyList<int> OrderList => _orderList;

    /// <inheritdoc />
    public override bool HasIntegerTimesteps => true;

    /// <summary>Builds a scheduler from a configuration (possibly another scheduler's), like <c>from_config</c>.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="logger">Where warnings go.</param>
    /// <returns>The scheduler.</returns>
    public static DPMSolverSinglestepScheduler FromConfig(SchedulerConfig config, ILogger? logger = null) => new(config, null, logger);

    /// <summary>Builds a scheduler from a configuration with explicit overrides, like <c>from_config(config, **kwargs)</c>.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="overrides">Options to set; unknown names are an error.</param>
    /// <param name="logger">Where warnings go.</param>
    /// <returns>The scheduler.</returns>
    public static DPMSolverSinglestepScheduler FromConfig(SchedulerConfig config, IEnumerable<KeyValuePair<string, object?>> overrides, ILogger? logger = null) =>
        (DPMSolverSinglestepScheduler)SchedulerRegistry.Create(Name, config, overrides, logger);

    internal static IScheduler Create(SchedulerConfig config, IReadOnlyCollection<string>? explicitKeys, ILogger? logger) => new DPMSolverSinglestepScheduler(config, explicitKeys, logger);

    /// <summary>diffusers' <c>get_order_list</c>: the solver order of each of <paramref name="steps"/> steps.</summary>
    /// <param name="steps">The number of steps.</param>
    /// <returns>The orders.</returns>
    public int[] GetOrderList(int steps)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(steps);
        var orders = new List<int>(steps);
        void Repeat(int[] pattern, int times)
        {
            for (int i = 0; i < times; i++)
            {
                orders.AddRange(pattern);
            }
        }
        int order = SolverOrder;
        if (LowerOrderFinal)
        {
            if (order == 3)
            {
                if (steps % 3 == 0)
                {
                    Repeat([1, 2, 3], steps / 3 - 1);
                    orders.AddRange([1, 2, 1]);
                }
                else if (steps % 3 == 1)
                {
                    Repeat([1, 2, 3], steps / 3);
                    orders.Add(1);
                }
                else
                {
                    Repeat([1, 2, 3], steps / 3);
                    orders.AddRange([1, 2]);
                }
            }
            else if (order == 2)
            {
                if (steps % 2 == 0)
                {
                    Repeat([1, 2], steps / 2 - 1);
                    orders.AddRange([1, 1]);
                }
                else
                {
                    Repeat([1, 2], steps / 2);
                    orders.Add(1);
                }
            }
            else
            {
                Repeat([1], steps);
            }
        }
        else if (order == 3)
        {
            Repeat([1, 2, 3], steps / 3);
        }
        else if (order == 2)
        {
            Repeat([1, 2], steps / 2);
        }
        else
        {
            Repeat([1], steps);
        }
        return orders.ToArray();
    }

    /// <inheritdoc />
    public override void SetTimesteps(int numInferenceSteps)
    {
        CheckStepCount(numInferenceSteps, NumTrainTimesteps);
        RejectUnusableSigmas();
        int clipped = VpSolverMath.ClippedCount(_tables.Lambdas, LambdaMinClipped);
        // Always evenly spaced (this class has no timestep_spacing option).
        long[] timesteps = SpacedTimesteps.Solver("linspace", NumTrainTimesteps, NumTrainTimesteps - clipped, numInferenceSteps, 0);
        double[] sigmas;
        if (UseKarrasSigmas)
        {
            sigmas = SigmaScheduleMath.Karras(_tables.Sigmas[0], _tables.Sigmas[^1], numInferenceSteps);
            timesteps = _tables.RoundedTimestepsOf(sigmas);
        }
        else
        {
            sigmas = _tables.SigmasAt(timesteps);
        }
        Apply(numInferenceSteps, timesteps, sigmas);
    }

    /// <summary>Uses custom timesteps (<c>set_timesteps(timesteps=[...])</c>); custom sigmas are not accepted by this
    /// scheduler in diffusers 0.31.</summary>
    /// <param name="timesteps">Integer timesteps in decreasing order (fractions are truncated like numpy's int64 cast).</param>
    /// <param name="sigmas">Must be <see langword="null"/>.</param>
    /// <exception cref="NotSupportedException">Custom sigmas were given.</exception>
    /// <exception cref="ArgumentException">Custom timesteps with Karras, exponential or beta sigmas.</exception>
    public override void SetTimesteps(IReadOnlyList<float>? timesteps, IReadOnlyList<float>? sigmas)
    {
        if (sigmas is not null || timesteps is null)
        {
            base.SetTimesteps(timesteps, sigmas);
            return;
        }
        string? conflicting = UseKarrasSigmas ? "use_karras_sigmas" : UseExponentialSigmas ? "use_exponential_sigmas" : UseBetaSigmas ? "use_beta_sigmas" : null;
        if (conflicting is not null)
        {
            throw new ArgumentException($"{Name}: custom timesteps cannot be used with {conflicting} = true.", nameof(timesteps));
        }
        long[] ts = VpSolverMath.CustomTimesteps(timesteps);
        Apply(ts.Length, ts, _tables.SigmasAt(ts));
    }

    private void RejectUnusableSigmas()
    {
        if (!UseKarrasSigmas && (UseExponentialSigmas || UseBetaSigmas))
        {
            throw VpSolverMath.UnbuildableSigmas(Name, UseExponentialSigmas, "use_karras_sigmas");
        }
    }

    private void Apply(int steps, long[] timesteps, double[] sigmas)
    {
        var sigmaValues = new float[sigmas.Length + 1];
        for (int i = 0; i < sigmas.Length; i++)
        {
            sigmaValues[i] = (float)sigmas[i];
        }
        sigmaValues[^1] = FinalSigmasType == "sigma_min" ? _tables.Sigmas[0] : 0f;
        SigmaValues = sigmaValues;
        TimestepValues = VpSolverMath.TimestepsToFloat(timesteps);
        NumInferenceSteps = steps;
        _history.Reset(SolverOrder);
        _hasSegmentStart = false;

        if (!LowerOrderFinal && steps % SolverOrder != 0)
        {
            Logger.LogWarning("{ClassName}: {Steps} steps are not a multiple of solver_order {Order}; setting lower_order_final to true.", Name, steps, SolverOrder);
            SetLowerOrderFinal();
        }
        if (!LowerOrderFinal && FinalSigmasType == "zero")
        {
            SetLowerOrderFinal();
        }
        _orderList = GetOrderList(steps);
        StepIndex = null;
        BeginIndex = null;
    }

    private void SetLowerOrderFinal()
    {
        LowerOrderFinal = true;
        UpdateConfig("lower_order_final", JsonValue.Create(true));
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
        if (Thresholding && AlgorithmType == "dpmsolver")
        {
            throw new NotSupportedException($"{Name}: diffusers 0.31 fails on thresholding with algorithm_type \"dpmsolver\"; use \"dpmsolver++\".");
        }
        int index = EnsureSolverStepIndex(timestep);
        if (index >= _orderList.Length)
        {
            throw new InvalidOperationException($"{Name}: all {_orderList.Length} steps have run; call SetTimesteps again.");
        }
        bool sde = AlgorithmType == "sde-dpmsolver++";
        if (sde && generator is null)
        {
            throw new ArgumentNullException(nameof(generator), $"{Name} with {AlgorithmType} draws noise every step: pass the generator.");
        }

        Span<float> x = sample.AsSpan();
        int n = x.Length;
        // The order of this step, lowered while the history (including this step's output) is too short, as for
        // image-to-image starting mid-segment.
        int order = _orderList[index];
        int available = Math.Min(_history.Count + 1, SolverOrder);
        while (order > available)
        {
            order--;
        }
        if (order == 3 && sde)
        {
            throw new NotSupportedException($"{Name}: diffusers 0.31 has no third-order update for sde-dpmsolver++; use solver_order 2.");
        }

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

        // Singlestep updates start from the sample at the beginning of the segment (kept when order == 1).
        float[] start = Rent(ref _segmentStart, n);
        if (order == 1)
        {
            x.CopyTo(start);
            _hasSegmentStart = true;
        }
        else if (!_hasSegmentStart)
        {
            throw new InvalidOperationException($"{Name}: no segment start sample; the schedule must begin with a first-order step.");
        }

        switch (order)
        {
            case 1:
                DpmSolverUpdates.FirstOrder(AlgorithmType, SigmaValues[index + 1], SigmaValues[index], _history[0], start, noise, x);
                break;
            case 2:
                SecondOrder(index, start, noise, x);
                break;
            default:
                ThirdOrder(index, start, x);
                break;
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

    // singlestep_dpm_solver_second_order_update: from the segment start at s1 through s0 to t.
    private void SecondOrder(int index, ReadOnlySpan<float> start, ReadOnlySpan<float> noise, Span<float> x)
    {
        (float alphaT, float sigmaT) = VpSolverMath.AlphaSigma(SigmaValues[index + 1]);
        (float alphaS0, float sigmaS0) = VpSolverMath.AlphaSigma(SigmaValues[index]);
        (float alphaS1, float sigmaS1) = VpSolverMath.AlphaSigma(SigmaValues[index - 1]);
        float lambdaT = VpSolverMath.Lambda(alphaT, sigmaT);
        float lambdaS0 = VpSolverMath.Lambda(alphaS0, sigmaS0);
        float lambdaS1 = VpSolverMath.Lambda(alphaS1, sigmaS1);
        float[] m0 = _history[0];
        float[] m1 = _history[1];
        float h = lambdaT - lambdaS1;
        float h0 = lambdaS0 - lambdaS1;
        float r0 = h0 / h;
        float[] d1 = Rent(ref _scratchA, x.Length);
        ElementwiseOps.ScaledDifference(1f / r0, m0, m1, d1);
        bool midpoint = SolverType == "midpoint";
        switch (AlgorithmType)
        {
            case "dpmsolver++":
                {
                    float a = sigmaT / sigmaS1;
                    float b = alphaT * (SleefFloat.Exp(-h) - 1f);
                    float c = midpoint ? -(0.5f * b) : alphaT * ((SleefFloat.Exp(-h) - 1f) / h + 1f);
                    ElementwiseOps.LinearCombination(a, start, -b, m1, c, d1, x);
                    break;
                }
            case "dpmsolver":
                {
                    float a = alphaT / alphaS1;
                    float b = sigmaT * (SleefFloat.Exp(h) - 1f);
                    float c = midpoint ? 0.5f * b : sigmaT * ((SleefFloat.Exp(h) - 1f) / h - 1f);
                    ElementwiseOps.LinearCombination(a, start, -b, m1, -c, d1, x);
                    break;
                }
            default: // sde-dpmsolver++
                {
                    float e2 = SleefFloat.Exp(-2f * h);
                    float a = sigmaT / sigmaS1 * SleefFloat.Exp(-h);
                    float b = alphaT * (1f - e2);
                    float c = midpoint ? 0.5f * b : alphaT * ((1f - e2) / (-2f * h) + 1f);
                    float d = sigmaT * MathF.Sqrt(1f - e2);
                    ElementwiseOps.LinearCombination(a, start, b, m1, c, d1, d, noise, x);
                    break;
                }
        }
    }

    // singlestep_dpm_solver_third_order_update: from the segment start at s2 through s1, s0 to t.
    private void ThirdOrder(int index, ReadOnlySpan<float> start, Span<float> x)
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
        float h = lambdaT - lambdaS2;
        float h0 = lambdaS0 - lambdaS2;
        float h1 = lambdaS1 - lambdaS2;
        float r0 = h0 / h;
        float r1 = h1 / h;
        int n = x.Length;
        float[] d10 = Rent(ref _scratchA, n);
        float[] d11 = Rent(ref _scratchB, n);
        ElementwiseOps.ScaledDifference(1f / r1, m1, m2, d10);
        ElementwiseOps.ScaledDifference(1f / r0, m0, m2, d11);
        bool midpoint = SolverType == "midpoint";
        float[]? d1 = null;
        float[]? d2 = null;
        float rDiff = r0 - r1;
        if (!midpoint)
        {
            // D1 = (r0·D1_0 − r1·D1_1) / (r0 − r1);  D2 = 2·(D1_1 − D1_0) / (r0 − r1)
            d1 = Rent(ref _scratchC, n);
            ElementwiseOps.LinearCombination(r0, d10, -r1, d11, d1);
            TensorPrimitives.Divide(d1, rDiff, d1);
            d2 = d10;
            TensorPrimitives.Subtract(d11, d10, d2);
            TensorPrimitives.Multiply(d2, 2f, d2);
            TensorPrimitives.Divide(d2, rDiff, d2);
        }
        if (AlgorithmType == "dpmsolver++")
        {
            float em = SleefFloat.Exp(-h) - 1f;
            float a = sigmaT / sigmaS2;
            float b = alphaT * em;
            float c = alphaT * (em / h + 1f);
            if (midpoint)
            {
                ElementwiseOps.LinearCombination(a, start, -b, m2, c, d11, x);
            }
            else
            {
                float d = alphaT * ((em + h) / (h * h) - 0.5f);
                ElementwiseOps.LinearCombination(a, start, -b, m2, c, d1!, -d, d2!, x);
            }
        }
        else
        {
            float ep = SleefFloat.Exp(h) - 1f;
            float a = alphaT / alphaS2;
            float b = sigmaT * ep;
            float c = sigmaT * (ep / h - 1f);
            if (midpoint)
            {
                ElementwiseOps.LinearCombination(a, start, -b, m2, -c, d11, x);
            }
            else
            {
                float d = sigmaT * ((ep - h) / (h * h) - 0.5f);
                ElementwiseOps.LinearCombination(a, start, -b, m2, -c, d1!, -d, d2!, x);
            }
        }
    }

    /// <inheritdoc />
    public override void AddNoise(ReadOnlySpan<float> originalSamples, ReadOnlySpan<float> noise, float timestep, Span<float> destination)
    {
        CheckAddNoiseArguments(originalSamples, noise, destination);
        VpSolverMath.AddNoiseAtSigma(SigmaValues[AddNoiseIndex(timestep, lastWhenMissing: true)], originalSamples, noise, destination);
    }
}
