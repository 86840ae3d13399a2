namespace Spright.Diffusion.Schedulers;

/// <summary>The options of <see cref="DEISMultistepScheduler"/> (diffusers' <c>DEISMultistepScheduler.__init__</c>), with its defaults.</summary>
public sealed class DEISMultistepSchedulerOptions : SolverSchedulerOptions
{
    /// <summary>DEIS's defaults: the log-ρ solver.</summary>
    public DEISMultistepSchedulerOptions()
    {
        SolverType = SolverType.LogRho;
    }

    /// <summary><c>algorithm_type</c> (default <see cref="AlgorithmType.Deis"/>; the DPM-Solver names are read as it).</summary>
    public AlgorithmType AlgorithmType { get; init; } = AlgorithmType.Deis;

    /// <summary><c>timestep_spacing</c> (default <see cref="TimestepSpacing.Linspace"/>).</summary>
    public TimestepSpacing TimestepSpacing { get; init; } = TimestepSpacing.Linspace;

    /// <summary><c>steps_offset</c>: added to <see cref="TimestepSpacing.Leading"/> timesteps (default 0).</summary>
    public int StepsOffset { get; init; }
}
