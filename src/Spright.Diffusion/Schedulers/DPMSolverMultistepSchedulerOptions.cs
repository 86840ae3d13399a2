namespace Spright.Diffusion.Schedulers;

/// <summary>The options of <see cref="DPMSolverMultistepScheduler"/> (diffusers' <c>DPMSolverMultistepScheduler.__init__</c>),
/// with its defaults.</summary>
public sealed class DPMSolverMultistepSchedulerOptions : SolverSchedulerOptions
{
    /// <summary><c>algorithm_type</c> (default <see cref="AlgorithmType.DpmSolverPlusPlus"/>).</summary>
    public AlgorithmType AlgorithmType { get; init; } = AlgorithmType.DpmSolverPlusPlus;

    /// <summary><c>euler_at_final</c>: whether the last step is always first order (default false).</summary>
    public bool EulerAtFinal { get; init; }

    /// <summary><c>use_lu_lambdas</c>: steps uniform in log-SNR, Lu et al. (default false).</summary>
    public bool UseLuLambdas { get; init; }

    /// <summary><c>final_sigmas_type</c> (default <see cref="FinalSigmasType.Zero"/>, which needs a DPM-Solver++ algorithm).</summary>
    public FinalSigmasType FinalSigmasType { get; init; }

    /// <summary><c>lambda_min_clipped</c>: training timesteps with a smaller λ(t) are left out (default −∞).</summary>
    public double LambdaMinClipped { get; init; } = double.NegativeInfinity;

    /// <summary><c>variance_type</c>: <see cref="VarianceType.Learned"/> or <see cref="VarianceType.LearnedRange"/> when the
    /// model also predicts its variance (default none).</summary>
    public VarianceType? VarianceType { get; init; }

    /// <summary><c>timestep_spacing</c> (default <see cref="TimestepSpacing.Linspace"/>).</summary>
    public TimestepSpacing TimestepSpacing { get; init; } = TimestepSpacing.Linspace;

    /// <summary><c>steps_offset</c>: added to <see cref="TimestepSpacing.Leading"/> timesteps (default 0).</summary>
    public int StepsOffset { get; init; }

    /// <summary><c>rescale_betas_zero_snr</c>: rescale the betas to zero terminal SNR (default false).</summary>
    public bool RescaleBetasZeroSnr { get; init; }
}
