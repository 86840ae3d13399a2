using Microsoft.ML.Tokenizers;

namespace Spright.Diffusion.Tokenization;

/// <summary>Plugs one of CLIPTokenizer's clean-up variants into Microsoft.ML.Tokenizers as its normalizer.</summary>
internal sealed class ClipTextNormalizer : Normalizer
{
    private readonly ITextCleaner _cleaner;

    public ClipTextNormalizer(ITextCleaner cleaner) => _cleaner = cleaner;

    /// <inheritdoc/>
    public override string Normalize(string original) => _cleaner.Clean(original ?? string.Empty);

    /// <inheritdoc/>
    public override string Normalize(ReadOnlySpan<char> original) => _cleaner.Clean(original.ToString());
}
