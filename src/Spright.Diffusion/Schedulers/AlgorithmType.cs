namespace Spright.Diffusion.Schedulers;

/// <summary>The DPM-Solver family's algorithm (diffusers' <c>algorithm_type</c>).</summary>
public enum AlgorithmType
{
    /// <summary>DPM-Solver, integrating the noise prediction (<c>"dpmsolver"</c>).</summary>
    [ConfigName("dpmsolver")]
    DpmSolver,

    /// <summary>DPM-Solver++, integrating the data prediction (<c>"dpmsolver++"</c>, "DPM++").</summary>
    [ConfigName("dpmsolver++")]
    DpmSolverPlusPlus,

    /// <summary>The SDE variant of DPM-Solver (<c>"sde-dpmsolver"</c>).</summary>
    [ConfigName("sde-dpmsolver")]
    SdeDpmSolver,

    /// <summary>The SDE variant of DPM-Solver++ (<c>"sde-dpmsolver++"</c>, "DPM++ SDE").</summary>
    [ConfigName("sde-dpmsolver++")]
    SdeDpmSolverPlusPlus,

    /// <summary>DEIS (<c>"deis"</c>; the DPM-Solver classes read it as <see cref="DpmSolverPlusPlus"/>, as diffusers does).</summary>
    [ConfigName("deis")]
    Deis,
}
