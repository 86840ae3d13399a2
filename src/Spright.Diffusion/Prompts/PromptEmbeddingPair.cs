using System.Numerics.Tensors;

namespace Spright.Diffusion.Prompts;

/// <summary>The text-encoder states of a prompt and of its negative prompt, as the UNet receives them.</summary>
public sealed class PromptEmbeddingPair
{
    /// <summary>Creates the pair.</summary>
    /// <param name="promptEmbeds">The prompt's states, [1, tokens, hidden].</param>
    /// <param name="negativePromptEmbeds">The negative prompt's states of the same shape, or <see langword="null"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="promptEmbeds"/> is null.</exception>
    /// <exception cref="ArgumentException">A tensor is not [1, tokens, hidden] or the two shapes differ.</exception>
    public PromptEmbeddingPair(Tensor<float> promptEmbeds, Tensor<float>? negativePromptEmbeds)
    {
        ArgumentNullException.ThrowIfNull(promptEmbeds);
        if (promptEmbeds.Rank != 3 || promptEmbeds.Lengths[0] != 1)
        {
            throw new ArgumentException($"Prompt embeddings must be [1, tokens, hidden], got [{string.Join(", ", promptEmbeds.Lengths.ToArray())}].", nameof(promptEmbeds));
        }
        if (negativePromptEmbeds is not null && !negativePromptEmbeds.Lengths.SequenceEqual(promptEmbeds.Lengths))
        {
            throw new ArgumentException(
                $"Negative prompt embeddings [{string.Join(", ", negativePromptEmbeds.Lengths.ToArray())}] must have the shape of the prompt embeddings [{string.Join(", ", promptEmbeds.Lengths.ToArray())}].",
                nameof(negativePromptEmbeds));
        }
        PromptEmbeds = promptEmbeds;
        NegativePromptEmbeds = negativePromptEmbeds;
    }

    /// <summary>The prompt's states, float32 [1, tokens, hidden].</summary>
    public Tensor<float> PromptEmbeds { get; }

    /// <summary>The negative prompt's states (same shape), or <see langword="null"/> when none was asked for.</summary>
    public Tensor<float>? NegativePromptEmbeds { get; }

    /// <summary>The number of token positions (the second dimension).</summary>
    public int TokenCount => (int)PromptEmbeds.Lengths[1];
}
