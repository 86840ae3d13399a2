using System.Numerics.Tensors;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Random;
using Spright.Diffusion.Tensors;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// UniPC: a unified predictor (UniP) – corrector (UniC) multistep solver. Follows
/// <c>diffusers/schedulers/scheduling_unipc_multistep.py</c> (v0.31): B(h) variants <c>bh1</c>/<c>bh2</c>, data
/// (<c>predict_x0</c>) or noise prediction, <c>lower_order_final</c>, <c>disable_corrector</c>, Karras sigmas,
/// <c>final_sigmas_type</c>, dynamic thresholding and zero-terminal-SNR rescaling. The small linear systems for the
/// higher-order coefficients are solved in float32 like LAPACK's <c>sgesv</c>.
/// </summary>
/// <remarks>
/// <c>solver_p</c> (an external predictor scheduler) is not supported and must be null. diffusers 0.31 cannot build a
/// UniPC schedule with <c>use_exponential_sigmas</c> or <c>use_beta_sigmas</c> (its <c>set_timesteps</c> fails), so
/// <see cref="SetTimesteps(int)"/> throws <see cref="NotSupportedException"/> for them; it takes no custom timesteps.
/// </remarks>
public sealed class UniPCMultistepScheduler : SchedulerBase
{
    private const string Name = "UniPCMultistepScheduler";
    private const int MaxOrder = 8;

    private readonly TrainingTables _tables;
    private readonly int[] _disableCorrector;
    private readonly SolverHistory _history = new();
    private int _lowerOrderNums;
    private int _thisOrder;
    private bool _hasLastSample;
    private float[]? _lastSample;
    private float[][] _differences = [];
    private float[]? _sumScratch;
    private float[]? _termScratch;
    private float[]? _thresholdSort;

    private UniPCMultistepScheduler(SchedulerConfig config, IReadOnlyCollection<string>? explicitKeys, ILogger? logger)
        : base(Name, config, explicitKeys, logger)
    {
        NumTrainTimesteps = Options.Int("num_train_timesteps", 1000, min: 2, max: 100_000);
        BetaStart = Options.Double("beta_start", 0.0001, min: 0, max: 1);
        BetaEnd = Options.Double("beta_end", 0.02, min: 0, max: 1);
        BetaSchedule = Options.String("beta_schedule", "linear", BetaSchedules.Names);
        TrainedBetas = Options.NullableDoubleArray("trained_betas");
        SolverOrder = Options.Int("solver_order", 2, min: 1, max: MaxOrder);
        PredictionType = Options.String("prediction_type", "epsilon", "epsilon", "sample", "v_prediction");
        Thresholding = Options.Bool("thresholding", false);
        DynamicThresholdingRatio = Options.Double("dynamic_thresholding_ratio", 0.995, min: 0, max: 1);
        SampleMaxValue = Options.Double("sample_max_value", 1.0, min: 0);
        PredictX0 = Options.Bool("predict_x0", true);
        string solverType = Options.String("solver_type", "bh2", "bh1", "bh2", "midpoint", "heun", "logrho");
        LowerOrderFinal = Options.Bool("lower_order_final", true);
        double[] disable = Options.NumberOrList("disable_corrector", []) ?? [];
        string? solverP = Options.NullableString("solver_p", null);
        UseKarrasSigmas = Options.Bool("use_karras_sigmas", false);
        UseExponentialSigmas = Options.Bool("use_exponential_sigmas", false);
        UseBetaSigmas = Options.Bool("use_beta_sigmas", false);
        TimestepSpacing = Options.String("timestep_spacing", "linspace", SpacedTimesteps.Names);
        StepsOffset = Options.Int("steps_offset", 0, min: 0, max: 100_000);
        FinalSigmasType = Options.String("final_sigmas_type", "zero", "zero", "sigma_min");
        RescaleBetasZeroSnr = Options.Bool("rescale_betas_zero_snr", false);
        CompleteConfig();

        if (solverP is not null)
        {
            throw new NotSupportedException($"{Name} option 'solver_p' (an external predictor scheduler) is not supported; it must be null.");
        }
        _disableCorrector = new int[disable.Length];
        for (int i = 0; i < disable.Length; i++)
        {
            if (disable[i] != Math.Floor(disable[i]) || !double.IsFinite(disable[i]))
            {
                throw new ArgumentException($"{Name} option 'disable_corrector' must be a list of step indices (integers); got {disable[i]}.", "disable_corrector");
            }
            _disableCorrector[i] = (int)Math.Clamp(disable[i], int.MinValue, int.MaxValue);
        }
        SigmaScheduleMath.CheckSigmaOptions(Name, UseKarrasSigmas, UseExponentialSigmas, UseBetaSigmas);
        if (solverType is "midpoint" or "heun" or "logrho")
        {
            solverType = "bh2";
            UpdateConfig("solver_type", JsonValue.Create(solverType));
        }
        SolverType = solverType;

        _tables = new TrainingTables(BetaSchedules.AlphasCumprod(Name, BetaSchedule, NumTrainTimesteps, BetaStart, BetaEnd, TrainedBetas, RescaleBetasZeroSnr, clampTerminal: true));
        InitNoiseSigma = 1f;
        TimestepValues = SpacedTimesteps.AllTraining(NumTrainTimesteps);
        SigmaValues = (float[])_tables.Sigmas.Clone();
        _history.Reset(SolverOrder);
    }

    /// <summary>Creates a scheduler with diffusers' default options.</summary>
    public UniPCMultistepScheduler()
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

    /// <summary>The order of the predictor (the corrector's accuracy is one higher); 2 for guided sampling.</summary>
    public int SolverOrder { get; }

    /// <summary><c>epsilon</c>, <c>sample</c> or <c>v_prediction</c>.</summary>
    public string PredictionType { get; }

    /// <summary>Whether dynamic thresholding is applied to the predicted x₀ (with <see cref="PredictX0"/>).</summary>
    public bool Thresholding { get; }

    /// <summary>The quantile of dynamic thresholding.</summary>
    public double DynamicThresholdingRatio { get; }

    /// <summary>The upper bound of the dynamic threshold.</summary>
    public double SampleMaxValue { get; }

    /// <summary>Whether the solver integrates the data prediction x₀ (else the noise ε).</summary>
    public bool PredictX0 { get; }

    /// <summary><c>bh1</c> (B(h) = h) or <c>bh2</c> (B(h) = eʰ − 1); the other solvers' names are read as <c>bh2</c>.</summary>
    public string SolverType { get; }

    /// <summary>Whether the last steps use lower orders.</summary>
    public bool LowerOrderFinal { get; }

    /// <summary>The step indices whose corrector is skipped (diffusers' <c>disable_corrector</c>).</summary>
    public IReadOnlyList<int> DisableCorrector => _disableCorrector;

    /// <summary>Whether the sigmas follow Karras et al. (2022).</summary>
    public bool UseKarrasSigmas { get; }

    /// <summary>Exponential sigmas (not usable with diffusers 0.31's UniPC).</summary>
    public bool UseExponentialSigmas { get; }

    /// <summary>Beta sigmas (not usable with diffusers 0.31's UniPC).</summary>
    public bool UseBetaSigmas { get; }

    /// <summary><c>linspace</c>, <c>leading</c> or <c>trailing</c>.</summary>
    public string TimestepSpacing { get; }

    /// <summary>Offset added to the timesteps with <c>leading</c> spacing.</summary>
    public int StepsOffset { get; }

    /// <summary><c>zero</c> or <c>sigma_min</c>.</summary>
    public string FinalSigmasType { get; }

    /// <summary>Whether betas are rescaled to zero terminal SNR (then ᾱ[−1] is set to 2⁻²⁴).</summary>
    public bool RescaleBetasZeroSnr { get; }

    /// <summary>ᾱ for every training timestep (float32).</summary>
    public ReadOnlySpan<float> AlphasCumprod => _tables.AlphasCumprod;

    /// <inheritdoc />
    public override bool HasIntegerTimesteps => true;

    /// <summary>Builds a scheduler from a configuration (possibly another scheduler's), like <c>from_config</c>.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="logger">Where warnings go.</param>
    /// <returns>The scheduler.</returns>
    public static UniPCMultistepScheduler FromConfig(SchedulerConfig config, ILogger? logger = null) => new(config, null, logger);

    /// <summary>Builds a scheduler from a configuration with explicit overrides, like <c>from_config(config, **kwargs)</c>.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="overrides">Options to set.</param>
    /// <param name="logger">Where warnings go.</param>
    /// <returns>The scheduler.</returns>
    public static UniPCMultistepScheduler FromConfig(SchedulerConfig config, IEnumerable<KeyValuePair<string, object?>> overrides, ILogger? logger = null) =>
        (UniPCMultistepScheduler)SchedulerRegistry.Create(Name, config, overrides, logger);

    internal static IScheduler Create(SchedulerConfig config, IReadOnlyCollection<string>? explicitKeys, ILogger? logger) => new UniPCMultistepScheduler(config, explicitKeys, logger);

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
            sigmaValues[^1] = FinalSigmasType == "sigma_min" ? (float)sigmas[^1] : 0f;
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
            sigmaValues[^1] = FinalSigmasType == "sigma_min" ? _tables.Sigmas[0] : 0f;
        }
        SigmaValues = sigmaValues;
        TimestepValues = VpSolverMath.TimestepsToFloat(timesteps);
        NumInferenceSteps = timesteps.Length;
        _history.Reset(SolverOrder);
        _lowerOrderNums = 0;
        _hasLastSample = false;
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
        bool useCorrector = index > 0 && Array.IndexOf(_disableCorrector, index - 1) < 0 && _hasLastSample;

        Span<float> x = sample.AsSpan();
        int n = x.Length;
        _history.EnsureLength(n);
        EnsureScratch(n);
        float[] converted = _history.Pending;
        ConvertModelOutput(SigmaValues[index], modelOutput.AsSpan(), x, converted, (int)sample.Lengths[0]);
        if (useCorrector)
        {
            Corrector(index, converted, x);
        }
        _history.Push();

        int thisOrder = LowerOrderFinal ? Math.Min(SolverOrder, count - index) : SolverOrder;
        _thisOrder = Math.Min(thisOrder, _lowerOrderNums + 1);
        x.CopyTo(_lastSample);
        _hasLastSample = true;
        Predictor(index, x, _thisOrder);

        if (_lowerOrderNums < SolverOrder)
        {
            _lowerOrderNums++;
        }
        StepIndex = index + 1;
        return new SchedulerOutput(sample, null);
    }

    private void EnsureScratch(int n)
    {
        if (_lastSample is null || _lastSample.Length != n)
        {
            _lastSample = new float[n];
            _hasLastSample = false;
            _sumScratch = new float[n];
            _termScratch = new float[n];
            _differences = new float[Math.Max(SolverOrder - 1, 0)][];
            for (int i = 0; i < _differences.Length; i++)
            {
                _differences[i] = new float[n];
            }
        }
    }

    // convert_model_output: x₀ (thresholded when enabled) with predict_x0, else ε.
    private void ConvertModelOutput(float sigma, ReadOnlySpan<float> modelOutput, ReadOnlySpan<float> sample, Span<float> destination, int batch)
    {
        bool threshold = PredictX0 && Thresholding;
        int n = sample.Length;
        var settings = threshold
            ? new ThresholdSettings(true, batch, (float)DynamicThresholdingRatio, (float)SampleMaxValue, Rent(ref _thresholdSort, n / Math.Max(batch, 1)), default)
            : default;
        DpmSolverUpdates.ConvertModelOutput(PredictX0 ? "dpmsolver++" : "dpmsolver", PredictionType, sigma, modelOutput, sample, destination, settings);
    }

    /// <summary>The B(h)-dependent right-hand side b and the φ terms shared by UniP and UniC.</summary>
    private void Coefficients(float h, int order, Span<float> b, out float hh, out float hPhi1, out float bh)
    {
        hh = PredictX0 ? -h : h;
        hPhi1 = SleefFloat.Expm1(hh);
        float hPhiK = hPhi1 / hh - 1f;
        long factorial = 1;
        bh = SolverType == "bh1" ? hh : SleefFloat.Expm1(hh);
        for (int i = 1; i <= order; i++)
        {
            b[i - 1] = hPhiK * factorial / bh;
            factorial *= i + 1;
            hPhiK = hPhiK / hh - (float)(1.0 / factorial);
        }
    }

    // multistep_uni_p_bh_update
    private void Predictor(int index, Span<float> x, int order)
    {
        (float alphaT, float sigmaT) = VpSolverMath.AlphaSigma(SigmaValues[index + 1]);
        (float alphaS0, float sigmaS0) = VpSolverMath.AlphaSigma(SigmaValues[index]);
        float lambdaT = VpSolverMath.Lambda(alphaT, sigmaT);
        float lambdaS0 = VpSolverMath.Lambda(alphaS0, sigmaS0);
        float h = lambdaT - lambdaS0;
        float[] m0 = _history[0];

        Span<float> rks = stackalloc float[MaxOrder];
        for (int i = 1; i < order; i++)
        {
            (float alphaSi, float sigmaSi) = VpSolverMath.AlphaSigma(SigmaValues[index - i]);
            float lambdaSi = VpSolverMath.Lambda(alphaSi, sigmaSi);
            float rk = (lambdaSi - lambdaS0) / h;
            rks[i - 1] = rk;
            ElementwiseOps.DifferenceQuotient(_history[i], m0, rk, _differences[i - 1]);
        }
        rks[order - 1] = 1f;

        Span<float> b = stackalloc float[MaxOrder];
        Coefficients(h, order, b, out _, out float hPhi1, out float bh);

        Span<float> rhos = stackalloc float[MaxOrder];
        int k = order - 1;
        if (k == 1)
        {
            rhos[0] = 0.5f;
        }
        else if (k > 1)
        {
            Span<float> r = stackalloc float[k * k];
            for (int row = 0; row < k; row++)
            {
                for (int col = 0; col < k; col++)
                {
                    r[row * k + col] = VpSolverMath.PowInt(rks[col], row);
                }
            }
            b[..k].CopyTo(rhos);
            VpSolverMath.Solve(r, rhos, k);
        }

        float a = PredictX0 ? sigmaT / sigmaS0 : alphaT / alphaS0;
        float scale = PredictX0 ? alphaT : sigmaT;
        ElementwiseOps.LinearCombination(a, x, -(scale * hPhi1), m0, x);
        if (k > 0)
        {
            float[] res = WeightedSum(rhos[..k]);
            ElementwiseOps.AddScaled(x, -(scale * bh), res, x);
        }
    }

    // multistep_uni_c_bh_update: corrects this step's sample (x, in place) using the model output at it.
    private void Corrector(int index, float[] modelT, Span<float> x)
    {
        int order = _thisOrder;
        float[] last = _lastSample!;
        (float alphaT, float sigmaT) = VpSolverMath.AlphaSigma(SigmaValues[index]);
        (float alphaS0, float sigmaS0) = VpSolverMath.AlphaSigma(SigmaValues[index - 1]);
        float lambdaT = VpSolverMath.Lambda(alphaT, sigmaT);
        float lambdaS0 = VpSolverMath.Lambda(alphaS0, sigmaS0);
        float h = lambdaT - lambdaS0;
        float[] m0 = _history[0];

        Span<float> rks = stackalloc float[MaxOrder];
        for (int i = 1; i < order; i++)
        {
            (float alphaSi, float sigmaSi) = VpSolverMath.AlphaSigma(SigmaValues[index - (i + 1)]);
            float lambdaSi = VpSolverMath.Lambda(alphaSi, sigmaSi);
            float rk = (lambdaSi - lambdaS0) / h;
            rks[i - 1] = rk;
            ElementwiseOps.DifferenceQuotient(_history[i], m0, rk, _differences[i - 1]);
        }
        rks[order - 1] = 1f;

        Span<float> b = stackalloc float[MaxOrder];
        Coefficients(h, order, b, out _, out float hPhi1, out float bh);

        Span<float> rhos = stackalloc float[MaxOrder];
        if (order == 1)
        {
            rhos[0] = 0.5f;
        }
        else
        {
            Span<float> r = stackalloc float[order * order];
            for (int row = 0; row < order; row++)
            {
                for (int col = 0; col < order; col++)
                {
                    r[row * order + col] = VpSolverMath.PowInt(rks[col], row);
                }
            }
            b[..order].CopyTo(rhos);
            VpSolverMath.Solve(r, rhos, order);
        }

        float a = PredictX0 ? sigmaT / sigmaS0 : alphaT / alphaS0;
        float scale = PredictX0 ? alphaT : sigmaT;
        // x_t_ = a·x_last − (scale·hφ₁)·m0
        ElementwiseOps.LinearCombination(a, last, -(scale * hPhi1), m0, x);
        // total = corr_res + ρ_last·(model_t − m0)
        float[] term = _termScratch!;
        TensorPrimitives.Subtract(modelT, m0, term);
        TensorPrimitives.Multiply(term, rhos[order - 1], term);
        if (order > 1)
        {
            float[] corr = WeightedSum(rhos[..(order - 1)]);
            TensorPrimitives.Add(corr, term, term);
        }
        ElementwiseOps.AddScaled(x, -(scale * bh), term, x);
    }

    /// <summary>The einsum Σₖ ρₖ·D1ₖ over the difference buffers, into the sum scratch.</summary>
    private float[] WeightedSum(ReadOnlySpan<float> rhos)
    {
        float[] sum = _sumScratch!;
        TensorPrimitives.Multiply(_differences[0], rhos[0], sum);
        for (int i = 1; i < rhos.Length; i++)
        {
            ElementwiseOps.AddScaled(sum, rhos[i], _differences[i], sum);
        }
        return sum;
    }

    /// <inheritdoc />
    public override void AddNoise(ReadOnlySpan<float> originalSamples, ReadOnlySpan<float> noise, float timestep, Span<float> destination)
    {
        CheckAddNoiseArguments(originalSamples, noise, destination);
        VpSolverMath.AddNoiseAtSigma(SigmaValues[AddNoiseIndex(timestep, lastWhenMissing: true)], originalSamples, noise, destination);
    }
}
