namespace Spright.Diffusion.Schedulers;

/// <summary>The options of <see cref="UniPCMultistepScheduler"/> (diffusers' <c>UniPCMultistepScheduler.__init__</c>), with
/// its defaults. diffusers' <c>solver_p</c> (an external predictor) is not supported: the configuration key must be null.</summary>
public sealed class UniPCMultistepSchedulerOptions : SolverSchedulerOptions
{
    /// <summary>UniPC's defaults: B(h) = eʰ − 1.</summary>
    public UniPCMultistepSchedulerOptions()
    {
        SolverType = SolverType.Bh2;
    }

    /// <summary><c>predict_x0</c>: integrate the data prediction x₀, else the noise ε (default true).</summary>
    public bool PredictX0 { get; init; } = true;

    /// <summary><c>disable_corrector</c>: the step indices whose corrector is skipped (default none).</summary>
    public IReadOnlyList<int> DisableCorrector { get; init; } = [];

    /// <summary><c>final_sigmas_type</c> (default <see cref="FinalSigmasType.Zero"/>).</summary>
    public FinalSigmasType FinalSigmasType { get; init; }

    /// <summary><c>timestep_spacing</c> (default <see cref="TimestepSpacing.Linspace"/>).</summary>
    public TimestepSpacing TimestepSpacing { get; init; } = TimestepSpacing.Linspace;

    /// <summary><c>steps_offset</c>: added to <see cref="TimestepSpacing.Leading"/> timesteps (default 0).</summary>
    public int StepsOffset { get; init; }

    /// <summary><c>rescale_betas_zero_snr</c>: rescale the betas to zero terminal SNR (default false).</summary>
    public bool RescaleBetasZeroSnr { get; init; }
}
