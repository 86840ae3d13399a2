namespace Spright.Diffusion.Schedulers;

/// <summary>The options the k-diffusion style schedulers share (Euler, Euler ancestral, Heun, LMS, KDPM2, KDPM2
/// ancestral), which work on noise levels σ.</summary>
public abstract class SigmaSchedulerOptions : SchedulerOptions
{
    /// <summary><c>timestep_spacing</c> (default <see cref="TimestepSpacing.Linspace"/>).</summary>
    public TimestepSpacing TimestepSpacing { get; init; } = TimestepSpacing.Linspace;

    /// <summary><c>steps_offset</c>: added to <see cref="TimestepSpacing.Leading"/> timesteps (default 0).</summary>
    public int StepsOffset { get; init; }
}
