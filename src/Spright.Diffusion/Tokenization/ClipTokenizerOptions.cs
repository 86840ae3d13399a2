using Microsoft.Extensions.Logging;

namespace Spright.Diffusion.Tokenization;

/// <summary>Options of <see cref="ClipTokenizer.FromPretrained"/>.</summary>
public sealed class ClipTokenizerOptions
{
    /// <summary>
    /// Clean prompts the way transformers does when the <c>ftfy</c> package is installed (ftfy 6.3.1
    /// <c>fix_text</c>: HTML entities, mojibake, ligatures, full-width forms, curly quotes, control characters...).
    /// The default, <see langword="false"/>, is what a plain <c>pip install diffusers transformers</c> user gets:
    /// transformers' BasicTokenizer clean-up. The two give different ids for some prompts.
    /// </summary>
    public bool UseFtfy { get; init; }

    /// <summary>
    /// Where warnings (such as a truncated prompt) go. When <see langword="null"/>, a logger from
    /// <see cref="Logging.DiffusionLogging.LoggerFactory"/> is used at the time of the warning.
    /// </summary>
    public ILogger? Logger { get; init; }
}
