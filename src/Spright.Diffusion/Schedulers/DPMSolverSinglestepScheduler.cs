using System.Numerics.Tensors;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Spright.Diffusion.Random;
using Spright.Diffusion.IO;
using Spright.Diffusion.Numerics;

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
/// <see cref="IScheduler.SetTimesteps(int)"/> when the step count is not a multiple of the order. Not usable in diffusers 0.31
/// and therefore rejected: <c>use_exponential_sigmas</c> / <c>use_beta_sigmas</c> (their schedule raises),
/// thresholding with <c>dpmsolver</c>, and third-order <c>sde-dpmsolver++</c> steps.
/// </remarks>
public sealed class DPMSolverSinglestepScheduler : SolverSchedulerBase
{
    private int[] _orderList = [];
    private float[]? _segmentStart;
    private bool _hasSegmentStart;
    private float[]? _scratchA;
    private float[]? _scratchB;
    private float[]? _scratchC;
    private float[]? _noise;
    private float[]? _meanScratch;

    /// <summary>Creates a DPM-Solver singlestep scheduler, like <c>DPMSolverSinglestepScheduler(**options)</c>.</summary>
    /// <param name="options">The options; <see langword="null"/> for diffusers' defaults.</param>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public DPMSolverSinglestepScheduler(DPMSolverSinglestepSchedulerOptions? options = null)
        : this(SchedulerSignatures.DPMSolverSinglestep.Bind(options ?? new()), null)
    {
    }

    internal DPMSolverSinglestepScheduler(BoundOptions<DPMSolverSinglestepSchedulerOptions> bound, ILogger? logger)
        : base(bound.Config, bound.Options, rescaleBetasZeroSnr: false, logger)
    {
        Options = bound.Options;
        if (!DpmSolverUpdates.IsDataPrediction(Options.AlgorithmType) && Options.FinalSigmasType == FinalSigmasType.Zero)
        {
            throw VpSolverMath.FinalSigmaZeroUnsupported(ClassName, Options.AlgorithmType);
        }
        AlgorithmType = Options.AlgorithmType == AlgorithmType.Deis ? MapOption("algorithm_type", AlgorithmType.DpmSolverPlusPlus) : Options.AlgorithmType;
        SolverType = Options.SolverType is SolverType.LogRho or SolverType.Bh1 or SolverType.Bh2 ? MapOption("solver_type", SolverType.Midpoint) : Options.SolverType;
        LowerOrderFinal = Options.LowerOrderFinal;
        if (!LowerOrderFinal && Options.FinalSigmasType == FinalSigmasType.Zero)
        {
            Logger.LogWarning("{ClassName}: final_sigmas_type \"zero\" is not supported with lower_order_final=false; setting lower_order_final to true.", ClassName);
            SetLowerOrderFinal();
        }
    }

    /// <summary>The options this scheduler runs with (<see cref="IScheduler.Config"/> shows them as configuration keys).</summary>
    internal DPMSolverSinglestepSchedulerOptions Options { get; }

    /// <summary>The algorithm (<c>deis</c> is read as <c>dpmsolver++</c>, as diffusers does).</summary>
    internal AlgorithmType AlgorithmType { get; }

    /// <summary><c>midpoint</c> or <c>heun</c> (<c>logrho</c>, <c>bh1</c>, <c>bh2</c> are read as <c>midpoint</c>).</summary>
    internal SolverType SolverType { get; }

    /// <summary>Whether the order list ends with lower orders (see the class remarks for when it is forced on).</summary>
    internal bool LowerOrderFinal { get; private set; }

    /// <summary>The solver order of every step of the current schedule (diffusers' <c>order_list</c>).</summary>
    internal IReadOnlyList<int> OrderList => _orderList;

    /// <summary>Builds a scheduler from a configuration (possibly another scheduler's), like
    /// <c>DPMSolverSinglestepScheduler.from_config(config, **overrides)</c>.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="overrides">Options to set; as in diffusers, names this class does not take are ignored with a warning.</param>
    /// <param name="logger">Where warnings go.</param>
    /// <returns>The scheduler.</returns>
    /// <exception cref="ArgumentException">An option value is invalid.</exception>
    public static DPMSolverSinglestepScheduler FromConfig(SchedulerConfig config, IEnumerable<KeyValuePair<string, object?>>? overrides = null, ILogger? logger = null) =>
        (DPMSolverSinglestepScheduler)SchedulerRegistry.Create(nameof(DPMSolverSinglestepScheduler), config, overrides, logger);

    /// <summary>diffusers' <c>get_order_list</c>: the solver order of each of <paramref name="steps"/> steps.</summary>
    /// <param name="steps">The number of steps.</param>
    /// <returns>The orders.</returns>
    internal int[] GetOrderList(int steps)
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
    private protected override void SetTimestepsCore(int numInferenceSteps)
    {
        CheckStepCount(numInferenceSteps, NumTrainTimesteps);
        RejectUnbuildableSigmas("use_karras_sigmas");
        int clipped = VpSolverMath.ClippedCount(Tables.Lambdas, Options.LambdaMinClipped);
        // Always evenly spaced (this class has no timestep_spacing option).
        long[] timesteps = SpacedTimesteps.Solver(TimestepSpacing.Linspace, NumTrainTimesteps, NumTrainTimesteps - clipped, numInferenceSteps, 0);
        double[] sigmas = SpacedOrKarrasSigmas(ref timesteps, numInferenceSteps);
        Apply(timesteps, sigmas);
    }

    // Custom integer timesteps (set_timesteps(timesteps=[...]), fractions truncated like numpy's int64 cast), not with
    // Karras, exponential or beta sigmas; diffusers 0.31 takes no custom sigmas for this class.
    private protected override void SetCustomScheduleCore(IReadOnlyList<float>? timesteps, IReadOnlyList<float>? sigmas)
    {
        if (sigmas is not null || timesteps is null)
        {
            base.SetCustomScheduleCore(timesteps, sigmas);
            return;
        }
        RejectCustomTimestepsWith(Options.SigmaSpacing != SigmaSpacing.None ? ConfigNames.Of(Options.SigmaSpacing) : null);
        long[] ts = VpSolverMath.CustomTimesteps(timesteps);
        Apply(ts, Tables.SigmasAt(ts));
    }

    private void Apply(long[] timesteps, double[] sigmas)
    {
        InstallSchedule(timesteps, sigmas, Options.FinalSigmasType == FinalSigmasType.SigmaMin ? Tables.Sigmas[0] : 0f);
        _hasSegmentStart = false;
        int steps = timesteps.Length;

        if (!LowerOrderFinal && steps % SolverOrder != 0)
        {
            Logger.LogWarning("{ClassName}: {Steps} steps are not a multiple of solver_order {Order}; setting lower_order_final to true.", ClassName, steps, SolverOrder);
            SetLowerOrderFinal();
        }
        if (!LowerOrderFinal && Options.FinalSigmasType == FinalSigmasType.Zero)
        {
            SetLowerOrderFinal();
        }
        _orderList = GetOrderList(steps);
    }

    private void SetLowerOrderFinal()
    {
        LowerOrderFinal = true;
        UpdateConfig("lower_order_final", JsonValue.Create(true));
    }

    /// <inheritdoc />
    private protected override SchedulerOutput StepCore(Tensor<float> modelOutput, float timestep, Tensor<float> sample, TorchGenerator? generator)
    {
        bool sliceMean = Options.PredictionType == PredictionType.Epsilon && DpmSolverUpdates.HasLearnedVariance(Options.VarianceType);
        ReadOnlySpan<float> mo = DpmSolverUpdates.EffectiveModelOutput(modelOutput, sample, sliceMean, ref _meanScratch, ClassName);
        EnsureStepsSet();
        if (Options.Thresholding && AlgorithmType == AlgorithmType.DpmSolver)
        {
            throw new NotSupportedException($"{ClassName}: diffusers 0.31 fails on thresholding with algorithm_type \"dpmsolver\"; use \"dpmsolver++\".");
        }
        int index = SolverStepIndex(timestep, _orderList.Length);
        bool sde = AlgorithmType == AlgorithmType.SdeDpmSolverPlusPlus;
        if (sde && generator is null)
        {
            throw new ArgumentNullException(nameof(generator), $"{ClassName} with {ConfigNames.Of(AlgorithmType)} draws noise every step: pass the generator.");
        }

        Span<float> x = sample.AsSpan();
        int n = x.Length;
        // The order of this step, lowered while the history (including this step's output) is too short, as for
        // image-to-image starting mid-segment.
        int order = _orderList[index];
        int available = Math.Min(History.Count + 1, SolverOrder);
        while (order > available)
        {
            order--;
        }
        if (order == 3 && sde)
        {
            throw new NotSupportedException($"{ClassName}: diffusers 0.31 has no third-order update for sde-dpmsolver++; use solver_order 2.");
        }

        History.EnsureLength(n);
        float[] converted = History.Pending;
        DpmSolverUpdates.ConvertModelOutput(AlgorithmType, Options.PredictionType, SigmaValues[index], mo, x, converted, Threshold(sample, Options.Thresholding, withWorkspace: true));
        History.Push();

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
            throw new InvalidOperationException($"{ClassName}: no segment start sample; the schedule must begin with a first-order step.");
        }

        switch (order)
        {
            case 1:
                DpmSolverUpdates.FirstOrder(AlgorithmType, SigmaValues[index + 1], SigmaValues[index], History[0], start, noise, x);
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

    // singlestep_dpm_solver_second_order_update: from the segment start at s1 through s0 to t.
    private void SecondOrder(int index, ReadOnlySpan<float> start, ReadOnlySpan<float> noise, Span<float> x)
    {
        (float alphaT, float sigmaT, float lambdaT) = VpSolverMath.AlphaSigmaLambda(SigmaValues[index + 1]);
        (float alphaS0, float sigmaS0, float lambdaS0) = VpSolverMath.AlphaSigmaLambda(SigmaValues[index]);
        (float alphaS1, float sigmaS1, float lambdaS1) = VpSolverMath.AlphaSigmaLambda(SigmaValues[index - 1]);
        float[] m0 = History[0];
        float[] m1 = History[1];
        float h = lambdaT - lambdaS1;
        float h0 = lambdaS0 - lambdaS1;
        float r0 = h0 / h;
        float[] d1 = Rent(ref _scratchA, x.Length);
        ElementwiseOps.ScaledDifference(1f / r0, m0, m1, d1);
        DpmSolverUpdates.SecondOrder(AlgorithmType, SolverType == SolverType.Midpoint, alphaT, sigmaT, alphaS1, sigmaS1, h, start, m1, d1, noise, x);
    }

    // singlestep_dpm_solver_third_order_update: from the segment start at s2 through s1, s0 to t.
    private void ThirdOrder(int index, ReadOnlySpan<float> start, Span<float> x)
    {
        (float alphaT, float sigmaT, float lambdaT) = VpSolverMath.AlphaSigmaLambda(SigmaValues[index + 1]);
        (float alphaS0, float sigmaS0, float lambdaS0) = VpSolverMath.AlphaSigmaLambda(SigmaValues[index]);
        (float alphaS1, float sigmaS1, float lambdaS1) = VpSolverMath.AlphaSigmaLambda(SigmaValues[index - 1]);
        (float alphaS2, float sigmaS2, float lambdaS2) = VpSolverMath.AlphaSigmaLambda(SigmaValues[index - 2]);
        float[] m0 = History[0];
        float[] m1 = History[1];
        float[] m2 = History[2];
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
        bool midpoint = SolverType == SolverType.Midpoint;
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
        DpmSolverUpdates.ThirdOrder(AlgorithmType, alphaT, sigmaT, alphaS2, sigmaS2, h, start, m2, midpoint ? d11 : d1!, midpoint ? default : d2!, x);
    }
}
