namespace Spright.Diffusion.Schedulers;

/// <summary>The options of <see cref="PNDMScheduler"/> (diffusers' <c>PNDMScheduler.__init__</c>), with its defaults.</summary>
public sealed class PNDMSchedulerOptions : SchedulerOptions
{
    /// <summary><c>skip_prk_steps</c>: PLMS from the first step, without the Runge–Kutta warm-up (default false; SD configs set true).</summary>
    public bool SkipPrkSteps { get; init; }

    /// <summary><c>set_alpha_to_one</c>: whether the last step goes to ᾱ = 1, else to ᾱ₀ (default false).</summary>
    public bool SetAlphaToOne { get; init; }

    /// <summary><c>timestep_spacing</c> (default <see cref="TimestepSpacing.Leading"/>).</summary>
    public TimestepSpacing TimestepSpacing { get; init; } = TimestepSpacing.Leading;

    /// <summary><c>steps_offset</c>: added to <see cref="TimestepSpacing.Leading"/> timesteps (default 0).</summary>
    public int StepsOffset { get; init; }
}
