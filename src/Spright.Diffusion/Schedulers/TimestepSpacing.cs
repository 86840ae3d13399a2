namespace Spright.Diffusion.Schedulers;

/// <summary>How the inference timesteps are spread over the training timesteps (diffusers' <c>timestep_spacing</c>,
/// table 2 of arXiv:2305.08891).</summary>
public enum TimestepSpacing
{
    /// <summary>Evenly from the last training timestep down to 0 (<c>"linspace"</c>).</summary>
    [ConfigName("linspace")]
    Linspace,

    /// <summary>Multiples of num_train_timesteps // steps, plus <c>steps_offset</c> (<c>"leading"</c>).</summary>
    [ConfigName("leading")]
    Leading,

    /// <summary>Down from the last training timestep in steps of num_train_timesteps / steps (<c>"trailing"</c>).</summary>
    [ConfigName("trailing")]
    Trailing,
}
