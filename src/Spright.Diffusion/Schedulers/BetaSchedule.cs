namespace Spright.Diffusion.Schedulers;

/// <summary>The noise schedule β_t of training (diffusers' <c>beta_schedule</c>).</summary>
public enum BetaSchedule
{
    /// <summary>β evenly from <c>beta_start</c> to <c>beta_end</c> (<c>"linear"</c>).</summary>
    [ConfigName("linear")]
    Linear,

    /// <summary>√β evenly from √<c>beta_start</c> to √<c>beta_end</c>, Stable Diffusion's schedule (<c>"scaled_linear"</c>).</summary>
    [ConfigName("scaled_linear")]
    ScaledLinear,

    /// <summary>The cosine schedule of Nichol and Dhariwal (2021) (<c>"squaredcos_cap_v2"</c>).</summary>
    [ConfigName("squaredcos_cap_v2")]
    SquaredCosCapV2,

    /// <summary>ᾱ = e^(−12t), Heun only (<c>"exp"</c>).</summary>
    [ConfigName("exp")]
    Exp,

    /// <summary>A sigmoid from <c>beta_start</c> to <c>beta_end</c>, DDPM only (<c>"sigmoid"</c>).</summary>
    [ConfigName("sigmoid")]
    Sigmoid,
}
