namespace Spright.Diffusion.Schedulers;

/// <summary>The options of <see cref="DPMSolverSinglestepScheduler"/> (diffusers'
/// <c>DPMSolverSinglestepScheduler.__init__</c>), with its defaults. Its timesteps are always evenly spaced.</summary>
public sealed class DPMSolverSinglestepSchedulerOptions : SolverSchedulerOptions
{
    /// <summary>The singlestep solver's defaults: <see cref="SolverSchedulerOptions.LowerOrderFinal"/> off.</summary>
    public DPMSolverSinglestepSchedulerOptions()
    {
        LowerOrderFinal = false;
    }

    /// <summary><c>algorithm_type</c> (default <see cref="AlgorithmType.DpmSolverPlusPlus"/>).</summary>
    public AlgorithmType AlgorithmType { get; init; } = AlgorithmType.DpmSolverPlusPlus;

    /// <summary><c>final_sigmas_type</c> (default <see cref="FinalSigmasType.Zero"/>, which needs a DPM-Solver++ algorithm).</summary>
    public FinalSigmasType FinalSigmasType { get; init; }

    /// <summary><c>lambda_min_clipped</c>: training timesteps with a smaller λ(t) are left out (default −∞).</summary>
    public double LambdaMinClipped { get; init; } = double.NegativeInfinity;

    /// <summary><c>variance_type</c>: <see cref="VarianceType.Learned"/> or <see cref="VarianceType.LearnedRange"/> when the
    /// model also predicts its variance (default none).</summary>
    public VarianceType? VarianceType { get; init; }
}
