namespace Spright.Diffusion.Schedulers;

/// <summary>The options the DPM-Solver family shares (DPM-Solver multistep and singlestep, DEIS, UniPC).</summary>
public abstract class SolverSchedulerOptions : SchedulerOptions
{
    /// <summary><c>solver_order</c>: 1 to 3 (UniPC: up to 8); default 2, recommended for guided sampling.</summary>
    public int SolverOrder { get; init; } = 2;

    /// <summary><c>solver_type</c> (default <see cref="SolverType.Midpoint"/>; <see cref="SolverType.LogRho"/> for DEIS,
    /// <see cref="SolverType.Bh2"/> for UniPC). Each class reads the others' names as its default.</summary>
    public SolverType SolverType { get; init; } = SolverType.Midpoint;

    /// <summary><c>lower_order_final</c>: lower orders for the last steps of short schedules (default true; false for singlestep).</summary>
    public bool LowerOrderFinal { get; init; } = true;

    /// <summary><c>use_karras_sigmas</c> / <c>use_exponential_sigmas</c> / <c>use_beta_sigmas</c> (default
    /// <see cref="SigmaSpacing.None"/>; diffusers 0.31 builds no schedule with the last two for these classes).</summary>
    public SigmaSpacing SigmaSpacing { get; init; }

    /// <summary><c>thresholding</c>: Imagen's dynamic thresholding of the predicted x₀ (default false).</summary>
    public bool Thresholding { get; init; }

    /// <summary><c>dynamic_thresholding_ratio</c>: the quantile of |x₀| thresholding scales by (default 0.995).</summary>
    public double DynamicThresholdingRatio { get; init; } = 0.995;

    /// <summary><c>sample_max_value</c>: the largest dynamic threshold (default 1).</summary>
    public double SampleMaxValue { get; init; } = 1.0;
}
