namespace Spright.Diffusion.Schedulers;

/// <summary>The options of <see cref="KDPM2DiscreteScheduler"/> (diffusers' <c>KDPM2DiscreteScheduler.__init__</c>), with its defaults.</summary>
public sealed class KDPM2DiscreteSchedulerOptions : KDiffusionSchedulerOptions
{
    /// <summary>KDPM2's defaults: betas 0.00085 to 0.012.</summary>
    public KDPM2DiscreteSchedulerOptions()
    {
        BetaStart = 0.00085;
        BetaEnd = 0.012;
    }
}
