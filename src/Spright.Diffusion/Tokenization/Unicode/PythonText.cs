using System.Text;

namespace Spright.Diffusion.Tokenization.Unicode;

/// <summary>CPython 3.11 <c>str</c> methods that .NET does not reproduce exactly (casing, whitespace, categories).</summary>
internal static class PythonText
{
    private const int CapitalSigma = 0x03A3;
    private const int SmallSigma = 0x03C3;
    private const int FinalSigma = 0x03C2;

    private static PythonUnicodeData Data => PythonUnicodeData.Instance;

    /// <summary><c>str.isspace()</c> of one code point.</summary>
    public static bool IsSpace(int codePoint) => Data.IsSpaceSet.Contains(codePoint);

    /// <summary>
    /// <c>str.lower()</c>: full lower-case mappings (U+0130 becomes "i" + U+0307) and the Final_Sigma rule for U+03A3,
    /// with Unicode 14 data.
    /// </summary>
    public static string Lower(string text)
    {
        PythonUnicodeData data = Data;
        StringBuilder? sb = null;
        for (int i = 0; i < text.Length;)
        {
            int cp = CodePoints.At(text, i, out int length);
            string? replacement = null;
            if (cp == CapitalSigma)
            {
                replacement = char.ConvertFromUtf32(IsFinalSigma(text, i, length) ? FinalSigma : SmallSigma);
            }
            else if (cp < 0x80)
            {
                if (cp is >= 'A' and <= 'Z')
                {
                    replacement = ((char)(cp + 32)).ToString();
                }
            }
            else if (data.Lower.TryGetValue(cp, out string? lower))
            {
                replacement = lower;
            }

            if (replacement is not null && sb is null)
            {
                sb = new StringBuilder(text.Length + 8);
                sb.Append(text, 0, i);
            }
            if (sb is not null)
            {
                if (replacement is not null)
                {
                    sb.Append(replacement);
                }
                else
                {
                    sb.Append(text, i, length);
                }
            }
            i += length;
        }
        return sb?.ToString() ?? text;
    }

    // The context rule of Unicode's SpecialCasing as CPython applies it: cased letter, then any case-ignorable
    // characters, then the sigma, and no case-ignorable run followed by a cased letter after it.
    private static bool IsFinalSigma(string text, int index, int length)
    {
        PythonUnicodeData data = Data;
        bool before = false;
        for (int j = index; j > 0;)
        {
            j--;
            if (j > 0 && char.IsLowSurrogate(text[j]) && char.IsHighSurrogate(text[j - 1]))
            {
                j--;
            }
            int cp = CodePoints.At(text, j, out _);
            if (!data.CaseIgnorable.Contains(cp))
            {
                before = data.Cased.Contains(cp);
                break;
            }
        }
        if (!before)
        {
            return false;
        }
        for (int j = index + length; j < text.Length;)
        {
            int cp = CodePoints.At(text, j, out int l);
            if (!data.CaseIgnorable.Contains(cp))
            {
                return !data.Cased.Contains(cp);
            }
            j += l;
        }
        return true;
    }

    /// <summary><c>str.strip()</c> with no argument.</summary>
    public static string Strip(string text)
    {
        int start = 0;
        while (start < text.Length)
        {
            int cp = CodePoints.At(text, start, out int l);
            if (!IsSpace(cp))
            {
                break;
            }
            start += l;
        }
        int end = text.Length;
        while (end > start)
        {
            int j = end - 1;
            if (j > start && char.IsLowSurrogate(text[j]) && char.IsHighSurrogate(text[j - 1]))
            {
                j--;
            }
            int cp = CodePoints.At(text, j, out _);
            if (!IsSpace(cp))
            {
                break;
            }
            end = j;
        }
        return start == 0 && end == text.Length ? text : text.Substring(start, end - start);
    }

    /// <summary><c>str.split()</c> with no argument: runs of whitespace separate, empty pieces are dropped.</summary>
    public static List<string> SplitWhitespace(string text)
    {
        var words = new List<string>();
        int start = -1;
        for (int i = 0; i < text.Length;)
        {
            int cp = CodePoints.At(text, i, out int l);
            if (IsSpace(cp))
            {
                if (start >= 0)
                {
                    words.Add(text.Substring(start, i - start));
                    start = -1;
                }
            }
            else if (start < 0)
            {
                start = i;
            }
            i += l;
        }
        if (start >= 0)
        {
            words.Add(text.Substring(start));
        }
        return words;
    }
}
