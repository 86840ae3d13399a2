using Microsoft.ML.Tokenizers;
using Spright.Diffusion.Tokenization.Unicode;

namespace Spright.Diffusion.Tokenization;

/// <summary>
/// CLIP's word pattern for Microsoft.ML.Tokenizers, as the Python <c>regex</c> module applies it with IGNORECASE:
/// <c>&lt;\|startoftext\|&gt;|&lt;\|endoftext\|&gt;|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+</c>.
/// Alternatives are tried in that order at each position (so <c>[\p{N}]</c> takes one digit at a time), and
/// characters no alternative matches (whitespace) are skipped. Implemented as a scanner over code points with the
/// character classes of the regex module version transformers ran with, rather than .NET's Regex, whose Unicode
/// data and UTF-16 matching differ.
/// </summary>
internal sealed class ClipPreTokenizer : PreTokenizer
{
    /// <summary>The literal start token of CLIP's pattern.</summary>
    public const string StartOfText = "<|startoftext|>";

    /// <summary>The literal end token of CLIP's pattern.</summary>
    public const string EndOfText = "<|endoftext|>";

    private static readonly string[] s_literals = [StartOfText, EndOfText];
    private static readonly string[] s_contractions = ["s", "t", "re", "ve", "m", "ll", "d"];

    /// <summary>The shared instance (stateless).</summary>
    public static ClipPreTokenizer Instance { get; } = new();

    /// <inheritdoc/>
    public override IEnumerable<(int Offset, int Length)> PreTokenize(string text) =>
        text is null ? [] : Split(text.AsSpan());

    /// <inheritdoc/>
    public override IEnumerable<(int Offset, int Length)> PreTokenize(ReadOnlySpan<char> text) => Split(text);

    /// <summary>The (offset, length) of every match, in UTF-16 units.</summary>
    public static List<(int Offset, int Length)> Split(ReadOnlySpan<char> text)
    {
        PythonUnicodeData data = PythonUnicodeData.Instance;
        var matches = new List<(int, int)>();
        int i = 0;
        while (i < text.Length)
        {
            int length = MatchLiteral(text, i, data);
            if (length == 0 && text[i] == '\'')
            {
                length = MatchContraction(text, i, data);
            }
            if (length == 0)
            {
                int cp = CodePoints.At(text, i, out int first);
                ClipCharClass cls = data.ClipClass(cp);
                switch (cls)
                {
                    case ClipCharClass.Letter:
                    case ClipCharClass.Other:
                        length = first;
                        while (i + length < text.Length)
                        {
                            int next = CodePoints.At(text, i + length, out int l);
                            if (data.ClipClass(next) != cls)
                            {
                                break;
                            }
                            length += l;
                        }
                        break;
                    case ClipCharClass.Number:
                        length = first;
                        break;
                    default:
                        i += first;
                        continue;
                }
            }
            matches.Add((i, length));
            i += length;
        }
        return matches;
    }

    private static int MatchLiteral(ReadOnlySpan<char> text, int start, PythonUnicodeData data)
    {
        if (text[start] != '<')
        {
            return 0;
        }
        foreach (string literal in s_literals)
        {
            int length = MatchIgnoreCase(text, start, literal, data);
            if (length > 0)
            {
                return length;
            }
        }
        return 0;
    }

    private static int MatchContraction(ReadOnlySpan<char> text, int start, PythonUnicodeData data)
    {
        foreach (string suffix in s_contractions)
        {
            int length = MatchIgnoreCase(text, start + 1, suffix, data);
            if (length > 0)
            {
                return length + 1;
            }
        }
        return 0;
    }

    // Matches an ASCII literal the way IGNORECASE does: each letter also matches its case variants (such as U+017F
    // LONG S for "s"); returns the UTF-16 length matched, or 0.
    private static int MatchIgnoreCase(ReadOnlySpan<char> text, int start, string literal, PythonUnicodeData data)
    {
        int pos = start;
        foreach (char expected in literal)
        {
            if (pos >= text.Length)
            {
                return 0;
            }
            int cp = CodePoints.At(text, pos, out int l);
            bool ok = data.IgnoreCaseEquivalents.TryGetValue(expected, out int[]? variants)
                ? Array.IndexOf(variants, cp) >= 0
                : cp == expected;
            if (!ok)
            {
                return 0;
            }
            pos += l;
        }
        return pos - start;
    }
}
