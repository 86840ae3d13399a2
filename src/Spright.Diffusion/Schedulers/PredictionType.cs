namespace Spright.Diffusion.Schedulers;

/// <summary>What the denoising model predicts (diffusers' <c>prediction_type</c>).</summary>
public enum PredictionType
{
    /// <summary>The noise ε (<c>"epsilon"</c>, Stable Diffusion 1.x and 2.x base).</summary>
    [ConfigName("epsilon")]
    Epsilon,

    /// <summary>The denoised sample x₀ (<c>"sample"</c>).</summary>
    [ConfigName("sample")]
    Sample,

    /// <summary>The velocity v = α·ε − σ·x₀ (<c>"v_prediction"</c>, SPRIGHT-T2I and SD 2.x 768 px).</summary>
    [ConfigName("v_prediction")]
    VPrediction,

    /// <summary><c>"original_sample"</c>, the Euler scheduler's other spelling of <see cref="Sample"/>.</summary>
    [ConfigName("original_sample")]
    OriginalSample,
}
