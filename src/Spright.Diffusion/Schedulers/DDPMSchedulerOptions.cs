namespace Spright.Diffusion.Schedulers;

/// <summary>The options of <see cref="DDPMScheduler"/> (diffusers' <c>DDPMScheduler.__init__</c>), with its defaults.</summary>
public sealed class DDPMSchedulerOptions : DenoisingSchedulerOptions
{
    /// <summary><c>variance_type</c> (default <see cref="VarianceType.FixedSmall"/>).</summary>
    public VarianceType VarianceType { get; init; } = VarianceType.FixedSmall;
}
