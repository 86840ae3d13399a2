namespace Spright.Diffusion.Tokenization;

/// <summary>What a text-to-image pipeline needs from its tokenizer: prompts to fixed-length id rows and back.</summary>
public interface IPromptTokenizer
{
    /// <summary>The sequence length the text encoder takes (<c>model_max_length</c>, 77 for CLIP).</summary>
    int ModelMaxLength { get; }

    /// <summary>The id of the start token (transformers' <c>bos_token_id</c>).</summary>
    int BosTokenId { get; }

    /// <summary>The id of the end token (transformers' <c>eos_token_id</c>).</summary>
    int EosTokenId { get; }

    /// <summary>The id rows are padded with (transformers' <c>pad_token_id</c>).</summary>
    int PadTokenId { get; }

    /// <summary>
    /// The ids the text encoder gets for one prompt: start token, content, end token, truncated to
    /// <see cref="ModelMaxLength"/> (the end token stays last) and right-padded with the pad id.
    /// </summary>
    /// <param name="prompt">The prompt (an empty string gives the unconditional row).</param>
    /// <returns>Exactly <see cref="ModelMaxLength"/> ids.</returns>
    int[] EncodePadded(string prompt);

    /// <summary>All ids of a prompt with the start and end tokens, neither truncated nor padded.</summary>
    /// <param name="prompt">The prompt.</param>
    /// <returns>The ids.</returns>
    int[] Encode(string prompt);

    /// <summary>
    /// Encodes several prompts with <see cref="EncodePadded"/> and reports (as a logged warning) the text that
    /// truncation removed, like diffusers' <c>encode_prompt</c>.
    /// </summary>
    /// <param name="prompts">The prompts.</param>
    /// <returns>One row of <see cref="ModelMaxLength"/> ids per prompt.</returns>
    int[][] EncodeBatchPadded(IReadOnlyList<string> prompts);

    /// <summary>Turns ids back into text.</summary>
    /// <param name="ids">The ids.</param>
    /// <param name="skipSpecialTokens">Whether start, end, pad and other special tokens are left out.</param>
    /// <returns>The text.</returns>
    string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = true);

    /// <summary>The token string of one id, like transformers' <c>convert_ids_to_tokens</c> (byte-level BPE
    /// strings such as <c>"cat&lt;/w&gt;"</c>; added tokens as their text).</summary>
    /// <param name="id">The id.</param>
    /// <returns>The token, or <see langword="null"/> when the id is unknown.</returns>
    string? IdToToken(int id);
}
