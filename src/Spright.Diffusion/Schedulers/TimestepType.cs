namespace Spright.Diffusion.Schedulers;

/// <summary>The Euler scheduler's timestep values (diffusers' <c>timestep_type</c>).</summary>
public enum TimestepType
{
    /// <summary>Training timesteps (<c>"discrete"</c>).</summary>
    [ConfigName("discrete")]
    Discrete,

    /// <summary>0.25·log σ, with v-prediction only (<c>"continuous"</c>).</summary>
    [ConfigName("continuous")]
    Continuous,
}
