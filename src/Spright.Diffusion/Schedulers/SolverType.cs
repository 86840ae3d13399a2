namespace Spright.Diffusion.Schedulers;

/// <summary>The higher-order update of the DPM-Solver family (diffusers' <c>solver_type</c>). Each class uses its own
/// and reads the others' names as its default, as diffusers does.</summary>
public enum SolverType
{
    /// <summary>DPM-Solver's midpoint update (<c>"midpoint"</c>).</summary>
    [ConfigName("midpoint")]
    Midpoint,

    /// <summary>DPM-Solver's Heun update (<c>"heun"</c>).</summary>
    [ConfigName("heun")]
    Heun,

    /// <summary>DEIS's log-ρ polynomial (<c>"logrho"</c>).</summary>
    [ConfigName("logrho")]
    LogRho,

    /// <summary>UniPC with B(h) = h (<c>"bh1"</c>).</summary>
    [ConfigName("bh1")]
    Bh1,

    /// <summary>UniPC with B(h) = eʰ − 1 (<c>"bh2"</c>).</summary>
    [ConfigName("bh2")]
    Bh2,
}
