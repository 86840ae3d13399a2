namespace Spright.Diffusion.Pipelines;

/// <summary>The NaN guard: a call's final latents and decoded images are checked, so nobody saves a black image by accident.</summary>
internal static class NonFinite
{
    /// <summary>Throws <see cref="NonFiniteOutputException"/> when <paramref name="values"/> has NaN or infinite values.
    /// The call's own inputs were checked to be finite before it ran, so the cause is the model's arithmetic.</summary>
    public static void Check(ReadOnlySpan<float> values, string what)
    {
        int bad = 0;
        foreach (float v in values)
        {
            if (!float.IsFinite(v))
            {
                bad++;
            }
        }
        if (bad > 0)
        {
            throw new NonFiniteOutputException(
                $"The {what} contain {bad} NaN/infinite values although the call's inputs were finite, so the image would be black. This is the " +
                "known float16 overflow of SD 2.x VAEs/UNets: run this model (at least its VAE) in float32.", what, bad);
        }
    }
}
