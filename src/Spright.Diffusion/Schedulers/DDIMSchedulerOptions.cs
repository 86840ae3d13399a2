namespace Spright.Diffusion.Schedulers;

/// <summary>The options of <see cref="DDIMScheduler"/> (diffusers' <c>DDIMScheduler.__init__</c>), with its defaults.</summary>
public sealed class DDIMSchedulerOptions : DenoisingSchedulerOptions
{
    /// <summary><c>set_alpha_to_one</c>: whether the last step goes to ᾱ = 1, else to ᾱ₀ (default true).</summary>
    public bool SetAlphaToOne { get; init; } = true;
}
