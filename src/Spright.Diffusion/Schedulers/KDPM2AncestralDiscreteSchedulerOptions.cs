namespace Spright.Diffusion.Schedulers;

/// <summary>The options of <see cref="KDPM2AncestralDiscreteScheduler"/> (diffusers'
/// <c>KDPM2AncestralDiscreteScheduler.__init__</c>), with its defaults.</summary>
public sealed class KDPM2AncestralDiscreteSchedulerOptions : KDiffusionSchedulerOptions
{
    /// <summary>Ancestral KDPM2's defaults: betas 0.00085 to 0.012.</summary>
    public KDPM2AncestralDiscreteSchedulerOptions()
    {
        BetaStart = 0.00085;
        BetaEnd = 0.012;
    }
}
