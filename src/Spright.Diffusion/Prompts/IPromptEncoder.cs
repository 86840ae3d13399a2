namespace Spright.Diffusion.Prompts;

/// <summary>
/// Turns a batch of prompts and their negative prompts (diffusers' <c>prompt=[…]</c>, <c>negative_prompt=[…]</c>) into
/// the text-encoder states the UNet receives for each side, before the classifier-free-guidance concatenation and the
/// repetition per image. Every row of both sides has the same token count. Implement it to plug in a prompt syntax of
/// your own; the library's are <see cref="TruncatingPromptEncoder"/>, <see cref="LpwPromptEncoder"/> and
/// <see cref="CompelPromptEncoder"/>. Implementations must be safe to call from several threads at once.
/// </summary>
public interface IPromptEncoder
{
    /// <summary>Encodes a batch of prompts and, when given, their negative prompts.</summary>
    /// <param name="prompts">The batch (at least one prompt).</param>
    /// <param name="negativePrompts">One negative prompt per prompt (<c>""</c> for the unconditional side of
    /// guidance), or <see langword="null"/> when no guidance is done: then only the prompts are encoded.</param>
    /// <param name="context">The tokenizer and the text encoder to use.</param>
    /// <param name="cancellationToken">Stops the work.</param>
    /// <returns>Float32 tensors [batch, tokens, hidden], row b for prompt b: <see cref="PromptEmbeddings.PromptEmbeds"/>
    /// and, when negative prompts were given, <see cref="PromptEmbeddings.NegativePromptEmbeds"/> of the same shape
    /// (<see langword="null"/> otherwise).</returns>
    /// <exception cref="ArgumentNullException">The prompts or the context is null.</exception>
    /// <exception cref="ArgumentException">The batch is empty, a prompt is null, or the negative prompts are not one
    /// per prompt.</exception>
    PromptEmbeddings Encode(IReadOnlyList<string> prompts, IReadOnlyList<string>? negativePrompts, PromptEncoderContext context,
        CancellationToken cancellationToken = default);
}
