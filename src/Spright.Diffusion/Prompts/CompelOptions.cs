namespace Spright.Diffusion.Prompts;

/// <summary>Options of <see cref="CompelPromptEncoder"/> (compel 2.2.1's <c>Compel</c> with the defaults otherwise).</summary>
public sealed record CompelOptions
{
    /// <summary>Whether prompts are cut at the tokenizer's length (compel's <c>truncate_long_prompts</c>). Default
    /// <see langword="false"/>: long prompts are encoded in 77-token chunks, split at sentence, phrase or word ends,
    /// and the prompt and the negative prompt are padded to the same length with empty-prompt chunks.</summary>
    public bool TruncateLongPrompts { get; init; }

    /// <summary>The most 77-token chunks one side may need (1 to 64, default 16): a bound on the text-encoder work a
    /// very long prompt can cause. A prompt needing more is rejected with an <see cref="ArgumentException"/>.</summary>
    public int MaxChunks { get; init; } = 16;

    internal void Validate()
    {
        if (MaxChunks is < 1 or > 64)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxChunks), MaxChunks, "MaxChunks must be between 1 and 64.");
        }
    }
}
