using System.Text;
using Spright.Diffusion.Tokenization.Unicode;

namespace Spright.Diffusion.Tokenization;

/// <summary>
/// The clean-up a default diffusers user gets (ftfy not installed): transformers' <c>BasicTokenizer</c> with
/// <c>do_lower_case=True, strip_accents=False, do_split_on_punc=False, tokenize_chinese_chars=True</c>, joined with
/// single spaces (follows transformers' <c>models/clip/tokenization_clip.py</c>).
/// </summary>
internal sealed class BasicTextCleaner : ITextCleaner
{
    /// <summary>The shared instance (stateless).</summary>
    public static BasicTextCleaner Instance { get; } = new();

    /// <inheritdoc/>
    public string Clean(string text)
    {
        PythonUnicodeData data = PythonUnicodeData.Instance;
        var sb = new StringBuilder(text.Length + 16);
        for (int i = 0; i < text.Length;)
        {
            int cp = CodePoints.At(text, i, out int length);
            i += length;
            if (cp == 0 || cp == 0xFFFD)
            {
                continue;
            }
            string category = data.Category(cp);
            bool isTabOrBreak = cp is '\t' or '\n' or '\r';
            if (category[0] == 'C' && !isTabOrBreak)
            {
                continue; // control, format, surrogate, private use and unassigned (Unicode 14) characters
            }
            if (cp == ' ' || isTabOrBreak || category == "Zs")
            {
                sb.Append(' ');
            }
            else if (IsCjkIdeograph(cp))
            {
                sb.Append(' ');
                CodePoints.Append(sb, cp);
                sb.Append(' ');
            }
            else
            {
                CodePoints.Append(sb, cp);
            }
        }
        string normalized = PythonNormalization.Nfc(sb.ToString());
        List<string> words = PythonText.SplitWhitespace(normalized);
        for (int w = 0; w < words.Count; w++)
        {
            words[w] = PythonText.Lower(words[w]);
        }
        return string.Join(' ', PythonText.SplitWhitespace(string.Join(' ', words)));
    }

    /// <summary>The "Chinese character" blocks of BERT's BasicTokenizer.</summary>
    internal static bool IsCjkIdeograph(int cp) =>
        cp is (>= 0x4E00 and <= 0x9FFF) or (>= 0x3400 and <= 0x4DBF) or (>= 0x20000 and <= 0x2A6DF)
            or (>= 0x2A700 and <= 0x2B73F) or (>= 0x2B740 and <= 0x2B81F) or (>= 0x2B820 and <= 0x2CEAF)
            or (>= 0xF900 and <= 0xFAFF) or (>= 0x2F800 and <= 0x2FA1F);
}
