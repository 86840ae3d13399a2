namespace Spright.Diffusion.Schedulers;

/// <summary>The options of <see cref="EulerDiscreteScheduler"/> (diffusers' <c>EulerDiscreteScheduler.__init__</c>), with its defaults.</summary>
public sealed class EulerDiscreteSchedulerOptions : SigmaSchedulerOptions
{
    /// <summary><c>interpolation_type</c> (default <see cref="InterpolationType.Linear"/>).</summary>
    public InterpolationType InterpolationType { get; init; } = InterpolationType.Linear;

    /// <summary><c>use_karras_sigmas</c> / <c>use_exponential_sigmas</c> / <c>use_beta_sigmas</c> (default <see cref="SigmaSpacing.None"/>).</summary>
    public SigmaSpacing SigmaSpacing { get; init; }

    /// <summary><c>sigma_min</c>: the smallest σ of a respaced schedule (default: the last interpolated σ).</summary>
    public double? SigmaMin { get; init; }

    /// <summary><c>sigma_max</c>: the largest σ of a respaced schedule (default: the first interpolated σ).</summary>
    public double? SigmaMax { get; init; }

    /// <summary><c>timestep_type</c> (default <see cref="TimestepType.Discrete"/>).</summary>
    public TimestepType TimestepType { get; init; }

    /// <summary><c>rescale_betas_zero_snr</c>: rescale the betas to zero terminal SNR (default false).</summary>
    public bool RescaleBetasZeroSnr { get; init; }

    /// <summary><c>final_sigmas_type</c> (default <see cref="FinalSigmasType.Zero"/>).</summary>
    public FinalSigmasType FinalSigmasType { get; init; }
}
