namespace Spright.Diffusion.Schedulers;

/// <summary>How the noise levels σ of the schedule are respaced: the <c>use_karras_sigmas</c>,
/// <c>use_exponential_sigmas</c> and <c>use_beta_sigmas</c> flags of diffusers, of which at most one is on.</summary>
public enum SigmaSpacing
{
    /// <summary>The σ of the spaced timesteps as they are (every flag off).</summary>
    [ConfigName("none")]
    None,

    /// <summary>Karras et al. (2022), ρ = 7 (<c>use_karras_sigmas</c>).</summary>
    [ConfigName("use_karras_sigmas")]
    Karras,

    /// <summary>Log-uniform (<c>use_exponential_sigmas</c>).</summary>
    [ConfigName("use_exponential_sigmas")]
    Exponential,

    /// <summary>Beta(0.6, 0.6) quantiles, arXiv:2407.12173 (<c>use_beta_sigmas</c>).</summary>
    [ConfigName("use_beta_sigmas")]
    Beta,
}
