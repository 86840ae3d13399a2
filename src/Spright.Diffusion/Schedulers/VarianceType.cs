namespace Spright.Diffusion.Schedulers;

/// <summary>The variance of DDPM's posterior (diffusers' <c>variance_type</c>); the learned ones take a model output
/// with twice the sample's channels.</summary>
public enum VarianceType
{
    /// <summary>The clamped posterior variance (<c>"fixed_small"</c>).</summary>
    [ConfigName("fixed_small")]
    FixedSmall,

    /// <summary>The posterior variance through its logarithm (<c>"fixed_small_log"</c>).</summary>
    [ConfigName("fixed_small_log")]
    FixedSmallLog,

    /// <summary>β_t (<c>"fixed_large"</c>).</summary>
    [ConfigName("fixed_large")]
    FixedLarge,

    /// <summary>β_t through its logarithm (<c>"fixed_large_log"</c>).</summary>
    [ConfigName("fixed_large_log")]
    FixedLargeLog,

    /// <summary>Predicted by the model (<c>"learned"</c>).</summary>
    [ConfigName("learned")]
    Learned,

    /// <summary>Interpolated between the fixed ones by the model (<c>"learned_range"</c>).</summary>
    [ConfigName("learned_range")]
    LearnedRange,
}
