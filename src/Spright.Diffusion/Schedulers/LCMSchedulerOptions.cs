namespace Spright.Diffusion.Schedulers;

/// <summary>The options of <see cref="LCMScheduler"/> (diffusers' <c>LCMScheduler.__init__</c>), with its defaults.</summary>
public sealed class LCMSchedulerOptions : DenoisingSchedulerOptions
{
    /// <summary>LCM's defaults: betas 0.00085 to 0.012, scaled-linear, no clipping.</summary>
    public LCMSchedulerOptions()
    {
        BetaStart = 0.00085;
        BetaEnd = 0.012;
        BetaSchedule = BetaSchedule.ScaledLinear;
        ClipSample = false;
    }

    /// <summary><c>set_alpha_to_one</c>: whether ᾱ beyond the schedule is 1, else ᾱ₀ (default true).</summary>
    public bool SetAlphaToOne { get; init; } = true;

    /// <summary><c>original_inference_steps</c>: the steps of the distillation schedule the timesteps come from (default 50).</summary>
    public int OriginalInferenceSteps { get; init; } = 50;

    /// <summary><c>timestep_scaling</c>: the factor on the timestep in the boundary conditions c_skip, c_out (default 10).</summary>
    public double TimestepScaling { get; init; } = 10.0;
}
