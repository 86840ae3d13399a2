using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Spright.Diffusion.Random;
using Spright.Diffusion.IO;
using Spright.Diffusion.Numerics;

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
/// configuration but <see cref="IScheduler.SetTimesteps(int)"/> throws <see cref="NotSupportedException"/>; likewise diffusers
/// has no third-order SDE update, so a step that would need one throws.
/// </remarks>
public sealed class DPMSolverMultistepScheduler : SolverSchedulerBase
{
    private float[]? _scratchA;
    private float[]? _scratchB;
    private float[]? _scratchC;
    private float[]? _noise;
    private float[]? _meanScratch;

    /// <summary>Creates a DPM-Solver multistep scheduler, like <c>DPMSolverMultistepScheduler(**options)</c>.</summary>
    /// <param name="options">The options; <see langword="null"/> for diffusers' defaults.</param>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public DPMSolverMultistepScheduler(DPMSolverMultistepSchedulerOptions? options = null)
        : this(SchedulerSignatures.DPMSolverMultistep.Bind(options ?? new()), null)
    {
    }

    internal DPMSolverMultistepScheduler(BoundOptions<DPMSolverMultistepSchedulerOptions> bound, ILogger? logger)
        : base(bound.Config, bound.Options, bound.Options.RescaleBetasZeroSnr, logger)
    {
        Options = bound.Options;
        // diffusers checks final_sigmas_type against the algorithm as given, before mapping "deis" to "dpmsolver++".
        if (!DpmSolverUpdates.IsDataPrediction(Options.AlgorithmType) && Options.FinalSigmasType == FinalSigmasType.Zero)
        {
            throw VpSolverMath.FinalSigmaZeroUnsupported(ClassName, Options.AlgorithmType);
        }
        AlgorithmType = Options.AlgorithmType == AlgorithmType.Deis ? MapOption("algorithm_type", AlgorithmType.DpmSolverPlusPlus) : Options.AlgorithmType;
        SolverType = Options.SolverType is SolverType.LogRho or SolverType.Bh1 or SolverType.Bh2 ? MapOption("solver_type", SolverType.Midpoint) : Options.SolverType;
    }

    /// <summary>The options this scheduler runs with (<see cref="IScheduler.Config"/> shows them as configuration keys).</summary>
    internal DPMSolverMultistepSchedulerOptions Options { get; }

    /// <summary>The algorithm (<c>deis</c> is read as <c>dpmsolver++</c>, as diffusers does).</summary>
    internal AlgorithmType AlgorithmType { get; }

    /// <summary><c>midpoint</c> or <c>heun</c> (<c>logrho</c>, <c>bh1</c>, <c>bh2</c> are read as <c>midpoint</c>).</summary>
    internal SolverType SolverType { get; }

    /// <summary>Builds a scheduler from a configuration (possibly another scheduler's), like
    /// <c>DPMSolverMultistepScheduler.from_config(config, **overrides)</c>.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="overrides">Options to set; as in diffusers, names this class does not take are ignored with a warning.</param>
    /// <param name="logger">Where warnings go.</param>
    /// <returns>The scheduler.</returns>
    /// <exception cref="ArgumentException">An option value is invalid.</exception>
    public static DPMSolverMultistepScheduler FromConfig(SchedulerConfig config, IEnumerable<KeyValuePair<string, object?>>? overrides = null, ILogger? logger = null) =>
        (DPMSolverMultistepScheduler)SchedulerRegistry.Create(nameof(DPMSolverMultistepScheduler), config, overrides, logger);

    /// <inheritdoc />
    private protected override void SetTimestepsCore(int numInferenceSteps)
    {
        CheckStepCount(numInferenceSteps, NumTrainTimesteps);
        if (!Options.UseLuLambdas)
        {
            RejectUnbuildableSigmas("use_karras_sigmas or use_lu_lambdas");
        }
        int clipped = VpSolverMath.ClippedCount(Tables.Lambdas, Options.LambdaMinClipped);
        int lastTimestep = NumTrainTimesteps - clipped;
        long[] timesteps = SpacedTimesteps.Solver(Options.TimestepSpacing, NumTrainTimesteps, lastTimestep, numInferenceSteps, Options.StepsOffset);

        double[] sigmas;
        if (Options.UseLuLambdas && Options.SigmaSpacing != SigmaSpacing.Karras)
        {
            double[] lambdas = SigmaScheduleMath.Lu(Tables.LogSigmas[0], Tables.LogSigmas[^1], numInferenceSteps);
            sigmas = new double[lambdas.Length];
            for (int i = 0; i < sigmas.Length; i++)
            {
                sigmas[i] = Math.Exp(lambdas[i]);
            }
            timesteps = Tables.RoundedTimestepsOf(sigmas);
        }
        else
        {
            sigmas = SpacedOrKarrasSigmas(ref timesteps, numInferenceSteps);
        }
        Apply(timesteps, sigmas);
    }

    // Custom integer timesteps (set_timesteps(timesteps=[...]), fractions truncated like numpy's int64 cast), not with
    // Karras, Lu, exponential or beta sigmas; diffusers 0.31 takes no custom sigmas for this class.
    private protected override void SetCustomScheduleCore(IReadOnlyList<float>? timesteps, IReadOnlyList<float>? sigmas)
    {
        if (sigmas is not null || timesteps is null)
        {
            base.SetCustomScheduleCore(timesteps, sigmas);
            return;
        }
        RejectCustomTimestepsWith(Options.SigmaSpacing == SigmaSpacing.Karras ? "use_karras_sigmas"
            : Options.UseLuLambdas ? "use_lu_lambdas"
            : Options.SigmaSpacing != SigmaSpacing.None ? ConfigNames.Of(Options.SigmaSpacing)
            : null);
        long[] ts = VpSolverMath.CustomTimesteps(timesteps);
        Apply(ts, Tables.SigmasAt(ts));
    }

    private void Apply(long[] timesteps, double[] sigmas) =>
        InstallSchedule(timesteps, sigmas, Options.FinalSigmasType == FinalSigmasType.SigmaMin ? Tables.Sigmas[0] : 0f);

    /// <inheritdoc />
    private protected override SchedulerOutput StepCore(Tensor<float> modelOutput, float timestep, Tensor<float> sample, TorchGenerator? generator)
    {
        bool sliceMean = Options.PredictionType == PredictionType.Epsilon && DpmSolverUpdates.HasLearnedVariance(Options.VarianceType);
        ReadOnlySpan<float> mo = DpmSolverUpdates.EffectiveModelOutput(modelOutput, sample, sliceMean, ref _meanScratch, ClassName);
        EnsureStepsSet();
        int count = TimestepValues.Length;
        int index = SolverStepIndex(timestep, count);

        bool lowerOrderFinal = index == count - 1 && (Options.EulerAtFinal || (Options.LowerOrderFinal && count < 15) || Options.FinalSigmasType == FinalSigmasType.Zero);
        bool lowerOrderSecond = index == count - 2 && Options.LowerOrderFinal && count < 15;
        int order = SolverOrder == 1 || LowerOrderNums < 1 || lowerOrderFinal ? 1
            : SolverOrder == 2 || LowerOrderNums < 2 || lowerOrderSecond ? 2
            : 3;
        bool sde = AlgorithmType is AlgorithmType.SdeDpmSolverPlusPlus or AlgorithmType.SdeDpmSolver;
        if (order == 3 && sde)
        {
            throw new NotSupportedException($"{ClassName}: diffusers 0.31 has no third-order update for {ConfigNames.Of(AlgorithmType)}; use solver_order 2.");
        }
        if (sde && generator is null)
        {
            throw new ArgumentNullException(nameof(generator), $"{ClassName} with {ConfigNames.Of(AlgorithmType)} draws noise every step: pass the generator.");
        }

        Span<float> x = sample.AsSpan();
        int n = x.Length;
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

        switch (order)
        {
            case 1:
                DpmSolverUpdates.FirstOrder(AlgorithmType, SigmaValues[index + 1], SigmaValues[index], History[0], x, noise, x);
                break;
            case 2:
                SecondOrder(index, x, noise);
                break;
            default:
                ThirdOrder(index, x);
                break;
        }

        CountLowerOrderStep();
        StepIndex = index + 1;
        return new SchedulerOutput(sample, null);
    }

    // multistep_dpm_solver_second_order_update
    private void SecondOrder(int index, Span<float> x, ReadOnlySpan<float> noise)
    {
        (float alphaT, float sigmaT, float lambdaT) = VpSolverMath.AlphaSigmaLambda(SigmaValues[index + 1]);
        (float alphaS0, float sigmaS0, float lambdaS0) = VpSolverMath.AlphaSigmaLambda(SigmaValues[index]);
        (float alphaS1, float sigmaS1, float lambdaS1) = VpSolverMath.AlphaSigmaLambda(SigmaValues[index - 1]);
        float[] m0 = History[0];
        float[] m1 = History[1];
        float h = lambdaT - lambdaS0;
        float h0 = lambdaS0 - lambdaS1;
        float r0 = h0 / h;
        float[] d1 = Rent(ref _scratchA, x.Length);
        ElementwiseOps.ScaledDifference(1f / r0, m0, m1, d1);
        DpmSolverUpdates.SecondOrder(AlgorithmType, SolverType == SolverType.Midpoint, alphaT, sigmaT, alphaS0, sigmaS0, h, x, m0, d1, noise, x);
    }

    // multistep_dpm_solver_third_order_update (ODE variants only, as in diffusers)
    private void ThirdOrder(int index, Span<float> x)
    {
        (float alphaT, float sigmaT, float lambdaT) = VpSolverMath.AlphaSigmaLambda(SigmaValues[index + 1]);
        (float alphaS0, float sigmaS0, float lambdaS0) = VpSolverMath.AlphaSigmaLambda(SigmaValues[index]);
        (float alphaS1, float sigmaS1, float lambdaS1) = VpSolverMath.AlphaSigmaLambda(SigmaValues[index - 1]);
        (float alphaS2, float sigmaS2, float lambdaS2) = VpSolverMath.AlphaSigmaLambda(SigmaValues[index - 2]);
        float[] m0 = History[0];
        float[] m1 = History[1];
        float[] m2 = History[2];
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
        DpmSolverUpdates.ThirdOrder(AlgorithmType, alphaT, sigmaT, alphaS0, sigmaS0, h, x, m0, d1, d2, x);
    }
}
