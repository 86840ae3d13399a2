using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// What the DPM-Solver family shares (DPM-Solver multistep and singlestep, DEIS, UniPC; diffusers v0.31): the model-output
/// history, σ schedules from the spaced training timesteps or Karras sigmas, image-to-image noising α·x₀ + σ_t·ε at the
/// step's σ, and the step index of the multistep solvers' <c>index_for_timestep</c>.
/// </summary>
public abstract class SolverSchedulerBase : SchedulerBase
{
    private readonly SolverSchedulerOptions _options;
    private float[]? _thresholdSort;
    private float[]? _thresholdWork;

    private protected SolverSchedulerBase(SchedulerConfig config, SolverSchedulerOptions options, bool rescaleBetasZeroSnr, ILogger? logger)
        : base(config, logger)
    {
        _options = options;
        // Schedulers that rescale to zero terminal SNR set the last ᾱ to 2⁻²⁴, as they divide by it.
        Tables = new TrainingTables(BetaSchedules.AlphasCumprod(ClassName, options, rescaleBetasZeroSnr, clampTerminal: true));
        TimestepValues = SpacedTimesteps.AllTraining(options.NumTrainTimesteps);
        SigmaValues = (float[])Tables.Sigmas.Clone();
        History.Reset(options.SolverOrder);
    }

    /// <summary>How many lower-order warm-up steps have run (diffusers' <c>lower_order_nums</c>).</summary>
    internal int LowerOrderNums { get; private protected set; }

    /// <summary>The converted model outputs of the last steps (diffusers' <c>model_outputs</c>).</summary>
    private protected SolverHistory History { get; } = new();

    /// <summary>The configured <c>num_train_timesteps</c>.</summary>
    private protected int NumTrainTimesteps => _options.NumTrainTimesteps;

    /// <summary>The configured <c>solver_order</c>.</summary>
    private protected int SolverOrder => _options.SolverOrder;

    /// <summary>Throws for the sigma spacings diffusers 0.31 cannot build a schedule with for these classes.</summary>
    /// <param name="alternatives">What to use instead, for the message.</param>
    private protected void RejectUnbuildableSigmas(string alternatives)
    {
        if (_options.SigmaSpacing is SigmaSpacing.Exponential or SigmaSpacing.Beta)
        {
            throw VpSolverMath.UnbuildableSigmas(ClassName, _options.SigmaSpacing, alternatives);
        }
    }

    /// <summary>σ of <paramref name="timesteps"/> (float64), or with Karras sigmas the Karras schedule from the largest to
    /// the smallest training σ and, in <paramref name="timesteps"/>, its rounded timesteps.</summary>
    private protected double[] SpacedOrKarrasSigmas(ref long[] timesteps, int numInferenceSteps)
    {
        if (_options.SigmaSpacing == SigmaSpacing.Karras)
        {
            double[] sigmas = SigmaScheduleMath.Karras(Tables.Sigmas[0], Tables.Sigmas[^1], numInferenceSteps);
            timesteps = Tables.RoundedTimestepsOf(sigmas);
            return sigmas;
        }
        return Tables.SigmasAt(timesteps);
    }

    /// <summary>Throws when custom timesteps meet an option that makes its own schedule.</summary>
    /// <param name="conflicting">The option's configuration key, or <see langword="null"/> when none is on.</param>
    private protected void RejectCustomTimestepsWith(string? conflicting)
    {
        if (conflicting is not null)
        {
            throw new ArgumentException($"{ClassName}: custom timesteps cannot be used with {conflicting} = true.", "timesteps");
        }
    }

    /// <summary>Installs a schedule: float32 σ of the steps followed by <paramref name="finalSigma"/>, the timesteps, and an
    /// empty history.</summary>
    private protected void InstallSchedule(long[] timesteps, ReadOnlySpan<double> sigmas, float finalSigma)
    {
        var sigmaValues = new float[sigmas.Length + 1];
        for (int i = 0; i < sigmas.Length; i++)
        {
            sigmaValues[i] = (float)sigmas[i];
        }
        sigmaValues[^1] = finalSigma;
        SigmaValues = sigmaValues;
        TimestepValues = VpSolverMath.TimestepsToFloat(timesteps);
        NumInferenceSteps = timesteps.Length;
        History.Reset(SolverOrder);
        LowerOrderNums = 0;
        StepIndex = null;
        BeginIndex = null;
    }

    /// <summary>The step index of a step at <paramref name="timestep"/>, checked against <paramref name="steps"/>.</summary>
    private protected int SolverStepIndex(float timestep, int steps)
    {
        int index = EnsureSolverStepIndex(timestep);
        if (index >= steps)
        {
            throw new InvalidOperationException($"{ClassName}: all {steps} steps have run; call SetTimesteps again.");
        }
        return index;
    }

    /// <summary>Counts a warm-up step while the history is shorter than the order.</summary>
    private protected void CountLowerOrderStep()
    {
        if (LowerOrderNums < SolverOrder)
        {
            LowerOrderNums++;
        }
    }

    /// <summary>Dynamic thresholding as configured (off when <paramref name="enabled"/> is false), with a workspace for
    /// conversions that threshold an intermediate x₀ when <paramref name="withWorkspace"/>.</summary>
    private protected ThresholdSettings Threshold(Tensor<float> sample, bool enabled, bool withWorkspace)
    {
        if (!enabled)
        {
            return default;
        }
        int n = checked((int)sample.FlattenedLength);
        int batch = (int)sample.Lengths[0];
        return new ThresholdSettings(true, batch, (float)_options.DynamicThresholdingRatio, (float)_options.SampleMaxValue,
            Rent(ref _thresholdSort, n / Math.Max(batch, 1)), withWorkspace ? Rent(ref _thresholdWork, n) : default);
    }

    /// <inheritdoc />
    private protected override void AddNoiseCore(ReadOnlySpan<float> originalSamples, ReadOnlySpan<float> noise, float timestep, Span<float> destination) =>
        VpSolverMath.AddNoiseAtSigma(SigmaValues[AddNoiseIndex(timestep, lastWhenMissing: true)], originalSamples, noise, destination);
}
