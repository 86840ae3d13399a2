using System.Numerics.Tensors;

namespace Spright.Diffusion;

/// <summary>What <see cref="StableDiffusionPipelineBase.EncodePrompt"/> returns, as diffusers' <c>encode_prompt</c>: the
/// prompt embeddings and, with guidance, the negative ones, each [batch·images, sequence, hidden] with every prompt's
/// rows repeated per image. Pass them back as <see cref="GenerationOptions.PromptEmbeds"/> /
/// <see cref="GenerationOptions.NegativePromptEmbeds"/>.</summary>
public sealed class PromptEmbeddings
{
    /// <summary>Pairs the embeddings.</summary>
    /// <param name="promptEmbeds">The prompt embeddings.</param>
    /// <param name="negativePromptEmbeds">The negative prompt embeddings (null without guidance).</param>
    public PromptEmbeddings(Tensor<float> promptEmbeds, Tensor<float>? negativePromptEmbeds)
    {
        ArgumentNullException.ThrowIfNull(promptEmbeds);
        PromptEmbeds = promptEmbeds;
        NegativePromptEmbeds = negativePromptEmbeds;
    }

    /// <summary>The prompt embeddings.</summary>
    public Tensor<float> PromptEmbeds { get; }

    /// <summary>The negative prompt embeddings (null without guidance).</summary>
    public Tensor<float>? NegativePromptEmbeds { get; }
}
