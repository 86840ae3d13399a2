namespace Spright.Diffusion.Pipelines;

/// <summary>The validated shape of a call.</summary>
/// <param name="Batch">Prompts (or rows of prompt embeddings).</param>
/// <param name="ImagesPerPrompt">Images per prompt.</param>
/// <param name="Height">Image height in pixels.</param>
/// <param name="Width">Image width in pixels.</param>
/// <param name="Guided">Whether classifier-free guidance runs (guidance scale &gt; 1).</param>
/// <param name="Vae">The call's VAE tiling and slicing.</param>
internal readonly record struct CallPlan(int Batch, int ImagesPerPrompt, int Height, int Width, bool Guided, VaeSettings Vae)
{
    /// <summary>Images the call makes.</summary>
    public int Images => Batch * ImagesPerPrompt;
}
