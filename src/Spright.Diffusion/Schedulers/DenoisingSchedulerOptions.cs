namespace Spright.Diffusion.Schedulers;

/// <summary>The options DDIM, DDPM and LCM share: the timestep spacing, x₀ clipping, dynamic thresholding and
/// zero-terminal-SNR rescaling.</summary>
public abstract class DenoisingSchedulerOptions : SchedulerOptions
{
    /// <summary><c>timestep_spacing</c> (default <see cref="TimestepSpacing.Leading"/>; LCM keeps it but does not use it).</summary>
    public TimestepSpacing TimestepSpacing { get; init; } = TimestepSpacing.Leading;

    /// <summary><c>steps_offset</c>: added to <see cref="TimestepSpacing.Leading"/> timesteps (default 0; 1 in SD 2.x and SPRIGHT configs).</summary>
    public int StepsOffset { get; init; }

    /// <summary><c>clip_sample</c>: whether x₀ is clipped to ±<see cref="ClipSampleRange"/> (default true; false for LCM).</summary>
    public bool ClipSample { get; init; } = true;

    /// <summary><c>clip_sample_range</c> (default 1).</summary>
    public double ClipSampleRange { get; init; } = 1.0;

    /// <summary><c>thresholding</c>: Imagen's dynamic thresholding of x₀, instead of clipping (default false).</summary>
    public bool Thresholding { get; init; }

    /// <summary><c>dynamic_thresholding_ratio</c>: the quantile of |x₀| thresholding scales by (default 0.995).</summary>
    public double DynamicThresholdingRatio { get; init; } = 0.995;

    /// <summary><c>sample_max_value</c>: the largest dynamic threshold (default 1).</summary>
    public double SampleMaxValue { get; init; } = 1.0;

    /// <summary><c>rescale_betas_zero_snr</c>: rescale the betas to zero terminal SNR, arXiv:2305.08891 (default false).</summary>
    public bool RescaleBetasZeroSnr { get; init; }
}
