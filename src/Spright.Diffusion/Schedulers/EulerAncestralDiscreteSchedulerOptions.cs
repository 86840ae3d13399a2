namespace Spright.Diffusion.Schedulers;

/// <summary>The options of <see cref="EulerAncestralDiscreteScheduler"/> (diffusers'
/// <c>EulerAncestralDiscreteScheduler.__init__</c>), with its defaults.</summary>
public sealed class EulerAncestralDiscreteSchedulerOptions : SigmaSchedulerOptions
{
    /// <summary><c>rescale_betas_zero_snr</c>: rescale the betas to zero terminal SNR (default false).</summary>
    public bool RescaleBetasZeroSnr { get; init; }
}
