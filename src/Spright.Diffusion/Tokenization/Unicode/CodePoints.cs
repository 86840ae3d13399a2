namespace Spright.Diffusion.Tokenization.Unicode;

/// <summary>
/// Walks a UTF-16 string by code points the way a Python <c>str</c> sees them: a valid surrogate pair is one code
/// point, and a lone surrogate is a code point of its own (category Cs) instead of an error.
/// </summary>
internal static class CodePoints
{
    /// <summary>Reads the code point at <paramref name="index"/> and how many UTF-16 units it takes.</summary>
    public static int At(ReadOnlySpan<char> text, int index, out int length)
    {
        char c = text[index];
        if (char.IsHighSurrogate(c) && index + 1 < text.Length && char.IsLowSurrogate(text[index + 1]))
        {
            length = 2;
            return char.ConvertToUtf32(c, text[index + 1]);
        }
        length = 1;
        return c;
    }

    /// <summary>Appends a code point (lone surrogates included) to a builder.</summary>
    public static void Append(System.Text.StringBuilder builder, int codePoint)
    {
        if (codePoint < 0x10000)
        {
            builder.Append((char)codePoint);
        }
        else
        {
            int v = codePoint - 0x10000;
            builder.Append((char)(0xD800 + (v >> 10)));
            builder.Append((char)(0xDC00 + (v & 0x3FF)));
        }
    }

    /// <summary>The code points of a string.</summary>
    public static List<int> ToList(ReadOnlySpan<char> text)
    {
        var list = new List<int>(text.Length);
        for (int i = 0; i < text.Length;)
        {
            list.Add(At(text, i, out int length));
            i += length;
        }
        return list;
    }

    /// <summary>Builds a string from code points.</summary>
    public static string FromList(IReadOnlyList<int> codePoints)
    {
        var sb = new System.Text.StringBuilder(codePoints.Count);
        foreach (int cp in codePoints)
        {
            Append(sb, cp);
        }
        return sb.ToString();
    }

    /// <summary>The number of code points in a string.</summary>
    public static int Count(ReadOnlySpan<char> text)
    {
        int count = 0;
        for (int i = 0; i < text.Length; count++)
        {
            At(text, i, out int length);
            i += length;
        }
        return count;
    }
}
