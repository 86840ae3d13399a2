namespace Spright.Diffusion;

/// <summary>
/// The latents or the decoded image contain NaN or infinite values (typically float16 overflow in an SD 2.x UNet or
/// VAE), which would otherwise be written as a black image. Every generate call checks the final latents and the
/// decoded images and throws this instead of returning them, so no caller can save a black image by accident; the
/// fix is a float32 export (at least of the VAE) of the model.
/// </summary>
public sealed class NonFiniteOutputException : InvalidOperationException
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
