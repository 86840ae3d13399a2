using System.Globalization;
using System.Text;

namespace Spright.Diffusion.Prompts;

/// <summary>Python's <c>float(str)</c> for the number forms the prompt syntaxes accept, and the Python string
/// predicates they rely on (<c>str.isspace</c>, <c>\d</c>).</summary>
internal static class PythonFloat
{
    /// <summary>The UTF-16 length of the Unicode decimal digit (category Nd, what Python's <c>\d</c> matches) at
    /// <paramref name="index"/>, or 0.</summary>
    public static int DigitLength(string text, int index)
    {
        char c = text[index];
        if (char.IsHighSurrogate(c) && index + 1 < text.Length && char.IsLowSurrogate(text[index + 1]))
        {
            return Rune.GetUnicodeCategory(new Rune(c, text[index + 1])) == UnicodeCategory.DecimalDigitNumber ? 2 : 0;
        }
        return char.GetUnicodeCategory(c) == UnicodeCategory.DecimalDigitNumber ? 1 : 0;
    }

    /// <summary>Python's <c>str.isspace()</c> for one UTF-16 unit (the characters Python's <c>\s</c> and
    /// <c>str.strip()</c> use: .NET's white space plus the separators U+001C to U+001F).</summary>
    public static bool IsSpace(char c) => char.IsWhiteSpace(c) || c is >= '\u001c' and <= '\u001f';

    /// <summary>
    /// <c>float(s)</c> for <c>[+-]?</c> followed by digits and at most one point (any Unicode decimal digits, as
    /// Python accepts), or (case-insensitively) <c>inf</c>, <c>infinity</c>, <c>nan</c>. Returns false where Python
    /// raises <c>ValueError</c>. Overflow gives an infinity, as in Python.
    /// </summary>
    public static bool TryParse(string s, out double value)
    {
        value = 0;
        string t = s.Trim();
        if (t.Length == 0)
        {
            return false;
        }
        int i = 0;
        bool negative = false;
        if (t[0] is '+' or '-')
        {
            negative = t[0] == '-';
            i = 1;
        }
        string rest = t[i..];
        if (rest.Equals("inf", StringComparison.OrdinalIgnoreCase) || rest.Equals("infinity", StringComparison.OrdinalIgnoreCase))
        {
            value = negative ? double.NegativeInfinity : double.PositiveInfinity;
            return true;
        }
        if (rest.Equals("nan", StringComparison.OrdinalIgnoreCase))
        {
            value = double.NaN;
            return true;
        }
        var ascii = new StringBuilder(t.Length);
        ascii.Append(negative ? '-' : '+');
        int digits = 0;
        bool point = false;
        while (i < t.Length)
        {
            if (t[i] == '.')
            {
                if (point)
                {
                    return false;
                }
                point = true;
                ascii.Append('.');
                i++;
                continue;
            }
            int length = DigitLength(t, i);
            if (length == 0)
            {
                return false;
            }
            int digit = length == 2 ? (int)CharUnicodeInfo.GetNumericValue(t, i) : CharUnicodeInfo.GetDecimalDigitValue(t[i]);
            ascii.Append((char)('0' + digit));
            digits++;
            i += length;
        }
        if (digits == 0)
        {
            return false;
        }
        value = double.Parse(ascii.ToString(), NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture);
        return true;
    }

    /// <summary>Python's <c>repr(float)</c>-like text for messages.</summary>
    public static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
