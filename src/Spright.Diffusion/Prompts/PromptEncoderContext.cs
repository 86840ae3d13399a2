using Microsoft.Extensions.Logging;
using Spright.Diffusion.Components;
using Spright.Diffusion.Tokenization;

namespace Spright.Diffusion.Prompts;

/// <summary>What a <see cref="IPromptEncoder"/> works with: the pipeline's tokenizer and text encoder.</summary>
public sealed class PromptEncoderContext
{
    /// <summary>Creates a context.</summary>
    /// <param name="tokenizer">The tokenizer.</param>
    /// <param name="textEncoder">The text encoder. Compel's down-weighting (weights below 1) needs one that also
    /// implements <see cref="IAttentionMaskTextEncoder"/>.</param>
    /// <param name="logger">Where warnings (truncated prompts) go; the library's logger when <see langword="null"/>.</param>
    /// <exception cref="ArgumentNullException">The tokenizer or the text encoder is null.</exception>
    public PromptEncoderContext(IPromptTokenizer tokenizer, ITextEncoder textEncoder, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(textEncoder);
        Tokenizer = tokenizer;
        TextEncoder = textEncoder;
        Logger = logger;
    }

    /// <summary>The tokenizer.</summary>
    public IPromptTokenizer Tokenizer { get; }

    /// <summary>The text encoder.</summary>
    public ITextEncoder TextEncoder { get; }

    /// <summary>Where warnings go, or <see langword="null"/> for the library's logger.</summary>
    public ILogger? Logger { get; }
}
