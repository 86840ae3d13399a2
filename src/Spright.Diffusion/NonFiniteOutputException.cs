namespace Spright.Diffusion;

/// <summary>
/// The latents or the decoded image contain NaN or infinite values, which would otherwise be written as a black image.
/// Every call checks its inputs (latents, embeddings) and its final latents and decoded images, and throws this instead
/// of returning them; <see cref="Exception.Message"/> names the cause: typically float16 overflow in an SD 2.x UNet or
/// VAE, fixed by running that component in float32.
/// </summary>
public sealed class NonFiniteOutputException : DiffusionException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What happened and what to do.</param>
    /// <param name="stage">Which tensor had them (<c>latents</c> or <c>decoded image</c>).</param>
    /// <param name="count">How many values were not finite.</param>
    public NonFiniteOutputException(string message, string stage, int count)
        : base(message)
    {
        Stage = stage;
        Count = count;
    }

    /// <summary>Which tensor had the values.</summary>
    public string Stage { get; }

    /// <summary>How many values were not finite.</summary>
    public int Count { get; }
}
