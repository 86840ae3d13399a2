namespace Spright.Diffusion.Schedulers;

/// <summary>The options of <see cref="HeunDiscreteScheduler"/> (diffusers' <c>HeunDiscreteScheduler.__init__</c>), with its defaults.</summary>
public sealed class HeunDiscreteSchedulerOptions : SigmaSchedulerOptions
{
    /// <summary>Heun's defaults: betas 0.00085 to 0.012.</summary>
    public HeunDiscreteSchedulerOptions()
    {
        BetaStart = 0.00085;
        BetaEnd = 0.012;
    }

    /// <summary><c>use_karras_sigmas</c> / <c>use_exponential_sigmas</c> / <c>use_beta_sigmas</c> (default <see cref="SigmaSpacing.None"/>).</summary>
    public SigmaSpacing SigmaSpacing { get; init; }

    /// <summary><c>clip_sample</c>: whether x₀ is clipped to ±<see cref="ClipSampleRange"/> (default false).</summary>
    public bool ClipSample { get; init; }

    /// <summary><c>clip_sample_range</c> (default 1).</summary>
    public double ClipSampleRange { get; init; } = 1.0;
}
