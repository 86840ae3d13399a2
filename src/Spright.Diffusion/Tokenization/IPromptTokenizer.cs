namespace Spright.Diffusion.Tokenization;

/// <summary>The tokenizer contract the pipelines depend on (CLIP's, for SD 2.x / SPRIGHT).</summary>
public interface IPromptTokenizer
{
    /// <summary>The model's maximum sequence length, special tokens included (77 for CLIP).</summary>
    int ModelMaxLength { get; }

    /// <summary>Ids padded and truncated to <see cref="ModelMaxLength"/> exactly as diffusers' <c>encode_prompt</c>
    /// tokenizes (bos, at most max − 2 content ids, eos, then padding).</summary>
    /// <param name="prompt">The prompt text.</param>
    /// <returns>Exactly <see cref="ModelMaxLength"/> ids.</returns>
    int[] EncodePadded(string prompt);

    /// <summary>The full ids (bos + every content id + eos), neither padded nor truncated.</summary>
    /// <param name="prompt">The prompt text.</param>
    /// <returns>The ids.</returns>
    int[] Encode(string prompt);

    /// <summary>Turns ids back into text.</summary>
    /// <param name="ids">The ids.</param>
    /// <param name="skipSpecialTokens">Whether to drop bos/eos/pad.</param>
    /// <returns>The text.</returns>
    string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = true);
}
