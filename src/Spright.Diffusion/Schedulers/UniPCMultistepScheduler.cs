using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Random;
using Spright.Diffusion.IO;

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
/// <see cref="IScheduler.SetTimesteps(int)"/> throws <see cref="NotSupportedException"/> for them; it takes no custom timesteps.
/// </remarks>
public sealed class UniPCMultistepScheduler : SolverSchedulerBase
{
    /// <summary>The largest <c>solver_order</c>.</summary>
    internal const int MaxOrder = 8;

    private readonly int[] _disableCorrector;
    private int _thisOrder;
    private bool _hasLastSample;
    private float[]? _lastSample;
    private float[][] _differences = [];
    private float[]? _sumScratch;
    private float[]? _termScratch;

    /// <summary>Creates a UniPC scheduler, like <c>UniPCMultistepScheduler(**options)</c>.</summary>
    /// <param name="options">The options; <see langword="null"/> for diffusers' defaults.</param>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public UniPCMultistepScheduler(UniPCMultistepSchedulerOptions? options = null)
        : this(SchedulerSignatures.UniPC.Bind(options ?? new()), null)
    {
    }

    internal UniPCMultistepScheduler(BoundOptions<UniPCMultistepSchedulerOptions> bound, ILogger? logger)
        : base(bound.Config, bound.Options, bound.Options.RescaleBetasZeroSnr, logger)
    {
        Options = bound.Options;
        _disableCorrector = [.. Options.DisableCorrector];
        SolverType = Options.SolverType is SolverType.Midpoint or SolverType.Heun or SolverType.LogRho ? MapOption("solver_type", SolverType.Bh2) : Options.SolverType;
    }

    /// <summary>The options this scheduler runs with (<see cref="IScheduler.Config"/> shows them as configuration keys).</summary>
    internal UniPCMultistepSchedulerOptions Options { get; }

    /// <summary><c>bh1</c> or <c>bh2</c> (the other solvers' names are read as <c>bh2</c>).</summary>
    internal SolverType SolverType { get; }

    /// <summary>The step indices whose corrector is skipped (diffusers' <c>disable_corrector</c>).</summary>
    internal IReadOnlyList<int> DisableCorrector => _disableCorrector;

    /// <summary>Builds a scheduler from a configuration (possibly another scheduler's), like
    /// <c>UniPCMultistepScheduler.from_config(config, **overrides)</c>.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="overrides">Options to set; as in diffusers, names this class does not take are ignored with a warning.</param>
    /// <param name="logger">Where warnings go.</param>
    /// <returns>The scheduler.</returns>
    /// <exception cref="ArgumentException">An option value is invalid.</exception>
    public static UniPCMultistepScheduler FromConfig(SchedulerConfig config, IEnumerable<KeyValuePair<string, object?>>? overrides = null, ILogger? logger = null) =>
        (UniPCMultistepScheduler)SchedulerRegistry.Create(nameof(UniPCMultistepScheduler), config, overrides, logger);

    private bool PredictX0 => Options.PredictX0;

    /// <inheritdoc />
    private protected override void SetTimestepsCore(int numInferenceSteps)
    {
        CheckStepCount(numInferenceSteps, NumTrainTimesteps);
        RejectUnbuildableSigmas("use_karras_sigmas");
        long[] timesteps = SpacedTimesteps.Solver(Options.TimestepSpacing, NumTrainTimesteps, NumTrainTimesteps, numInferenceSteps, Options.StepsOffset);
        double[] sigmas = SpacedOrKarrasSigmas(ref timesteps, numInferenceSteps);
        // sigma_min: the last Karras σ, or the smallest training σ.
        float last = Options.FinalSigmasType != FinalSigmasType.SigmaMin ? 0f
            : Options.SigmaSpacing == SigmaSpacing.Karras ? (float)sigmas[^1]
            : Tables.Sigmas[0];
        InstallSchedule(timesteps, sigmas, last);
        _hasLastSample = false;
    }

    /// <inheritdoc />
    private protected override SchedulerOutput StepCore(Tensor<float> modelOutput, float timestep, Tensor<float> sample, TorchGenerator? generator)
    {
        CheckStepArguments(modelOutput, sample);
        EnsureStepsSet();
        int count = TimestepValues.Length;
        int index = SolverStepIndex(timestep, count);
        bool useCorrector = index > 0 && Array.IndexOf(_disableCorrector, index - 1) < 0 && _hasLastSample;

        Span<float> x = sample.AsSpan();
        int n = x.Length;
        History.EnsureLength(n);
        EnsureScratch(n);
        float[] converted = History.Pending;
        DpmSolverUpdates.ConvertModelOutput(PredictX0 ? AlgorithmType.DpmSolverPlusPlus : AlgorithmType.DpmSolver, Options.PredictionType, SigmaValues[index],
            modelOutput.AsSpan(), x, converted, Threshold(sample, PredictX0 && Options.Thresholding, withWorkspace: false));
        if (useCorrector)
        {
            Corrector(index, converted, x);
        }
        History.Push();

        int thisOrder = Options.LowerOrderFinal ? Math.Min(SolverOrder, count - index) : SolverOrder;
        _thisOrder = Math.Min(thisOrder, LowerOrderNums + 1);
        x.CopyTo(_lastSample);
        _hasLastSample = true;
        Predictor(index, x, _thisOrder);

        CountLowerOrderStep();
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

    /// <summary>The B(h)-dependent right-hand side b and the φ terms shared by UniP and UniC.</summary>
    private void Coefficients(float h, int order, Span<float> b, out float hh, out float hPhi1, out float bh)
    {
        hh = PredictX0 ? -h : h;
        hPhi1 = SleefFloat.Expm1(hh);
        float hPhiK = hPhi1 / hh - 1f;
        long factorial = 1;
        bh = SolverType == SolverType.Bh1 ? hh : SleefFloat.Expm1(hh);
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
        float[] m0 = History[0];

        Span<float> rks = stackalloc float[MaxOrder];
        Differences(index, lambdaS0, h, order, rks);

        Span<float> b = stackalloc float[MaxOrder];
        Coefficients(h, order, b, out _, out float hPhi1, out float bh);

        Span<float> rhos = stackalloc float[MaxOrder];
        int k = order - 1;
        SolveRhos(rks, b, k, rhos);

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
        float[] m0 = History[0];

        Span<float> rks = stackalloc float[MaxOrder];
        Differences(index - 1, lambdaS0, h, order, rks);

        Span<float> b = stackalloc float[MaxOrder];
        Coefficients(h, order, b, out _, out float hPhi1, out float bh);

        Span<float> rhos = stackalloc float[MaxOrder];
        SolveRhos(rks, b, order, rhos);

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

    /// <summary>rₖ = (λ(s0 − k) − λ(s0))/h for the k = 1 … order − 1 outputs before the newest, with the last rₖ = 1, and
    /// the differences D1ₖ = (mₖ − m₀)/rₖ, into the difference buffers.</summary>
    private void Differences(int s0, float lambdaS0, float h, int order, Span<float> rks)
    {
        float[] m0 = History[0];
        for (int i = 1; i < order; i++)
        {
            (float alphaSi, float sigmaSi) = VpSolverMath.AlphaSigma(SigmaValues[s0 - i]);
            float lambdaSi = VpSolverMath.Lambda(alphaSi, sigmaSi);
            float rk = (lambdaSi - lambdaS0) / h;
            rks[i - 1] = rk;
            ElementwiseOps.DifferenceQuotient(History[i], m0, rk, _differences[i - 1]);
        }
        rks[order - 1] = 1f;
    }

    /// <summary>ρ of the k × k system Σⱼ rⱼ^row·ρⱼ = b_row (ρ = ½ for k = 1, nothing for k = 0), solved like torch.linalg.solve.</summary>
    private static void SolveRhos(ReadOnlySpan<float> rks, ReadOnlySpan<float> b, int k, Span<float> rhos)
    {
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
}
