namespace Spright.Diffusion.Schedulers;

/// <summary>The options of LMS, KDPM2 and KDPM2 ancestral, which are the same.</summary>
public abstract class KDiffusionSchedulerOptions : SigmaSchedulerOptions
{
    /// <summary><c>use_karras_sigmas</c> / <c>use_exponential_sigmas</c> / <c>use_beta_sigmas</c> (default <see cref="SigmaSpacing.None"/>).</summary>
    public SigmaSpacing SigmaSpacing { get; init; }
}
