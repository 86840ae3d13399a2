namespace Spright.Diffusion.Schedulers;

/// <summary>How the Euler scheduler derives σ of its timesteps (diffusers' <c>interpolation_type</c>).</summary>
public enum InterpolationType
{
    /// <summary>Linear interpolation of the training σ (<c>"linear"</c>).</summary>
    [ConfigName("linear")]
    Linear,

    /// <summary>Log-uniform from the largest to the smallest training σ (<c>"log_linear"</c>).</summary>
    [ConfigName("log_linear")]
    LogLinear,
}
