namespace Spright.Diffusion.Prompts;

/// <summary>
/// Turns a prompt and a negative prompt into the text-encoder states the UNet receives for each side (before the
/// classifier-free-guidance concatenation). Implement it to plug in a prompt syntax of your own; the library's are
/// <see cref="TruncatingPromptEncoder"/>, <see cref="LpwPromptEncoder"/> and <see cref="CompelPromptEncoder"/>.
/// Implementations must be safe to call from several threads at once.
/// </summary>
public interface IPromptEncoder
{
    /// <summary>Encodes one prompt and, when given, its negative prompt.</summary>
    /// <param name="prompt">The prompt.</param>
    /// <param name="negativePrompt">The negative prompt (<c>""</c> for the unconditional side of guidance), or
    /// <see langword="null"/> when no guidance is done: then only the prompt is encoded.</param>
    /// <param name="context">The tokenizer and the text encoder to use.</param>
    /// <param name="cancellationToken">Stops the work.</param>
    /// <returns>Float32 tensors [1, tokens, hidden]; the negative one (when asked for) has the same token count.</returns>
    PromptEmbeddingPair Encode(string prompt, string? negativePrompt, PromptEncoderContext context, CancellationToken cancellationToken = default);
}
