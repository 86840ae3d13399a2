namespace Spright.Diffusion.Schedulers;

/// <summary>The noise level the last step goes to (diffusers' <c>final_sigmas_type</c>).</summary>
public enum FinalSigmasType
{
    /// <summary>σ = 0 (<c>"zero"</c>).</summary>
    [ConfigName("zero")]
    Zero,

    /// <summary>The smallest training σ (<c>"sigma_min"</c>).</summary>
    [ConfigName("sigma_min")]
    SigmaMin,
}
