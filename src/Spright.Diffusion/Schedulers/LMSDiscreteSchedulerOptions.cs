namespace Spright.Diffusion.Schedulers;

/// <summary>The options of <see cref="LMSDiscreteScheduler"/> (diffusers' <c>LMSDiscreteScheduler.__init__</c>), with its defaults.</summary>
public sealed class LMSDiscreteSchedulerOptions : KDiffusionSchedulerOptions
{
}
