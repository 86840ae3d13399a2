using System.Globalization;
using System.Text;
using Spright.Diffusion.Tokenization.Unicode;

namespace Spright.Diffusion.Tokenization;

/// <summary>Python's <c>repr</c> of strings and lists of strings, for messages that match diffusers' logs.</summary>
internal static class PythonRepr
{
    /// <summary><c>repr(list_of_str)</c>.</summary>
    public static string List(IEnumerable<string> items) => "[" + string.Join(", ", items.Select(String)) + "]";

    /// <summary><c>repr(str)</c>: single quotes unless the text has a single quote and no double quote.</summary>
    public static string String(string text)
    {
        char quote = text.Contains('\'', StringComparison.Ordinal) && !text.Contains('"', StringComparison.Ordinal) ? '"' : '\'';
        var sb = new StringBuilder(text.Length + 2);
        sb.Append(quote);
        for (int i = 0; i < text.Length;)
        {
            int cp = CodePoints.At(text, i, out int length);
            switch (cp)
            {
                case '\\':
                    sb.Append("\\\\");
                    break;
                case '\t':
                    sb.Append("\\t");
                    break;
                case '\n':
                    sb.Append("\\n");
                    break;
                case '\r':
                    sb.Append("\\r");
                    break;
                default:
                    if (cp == quote)
                    {
                        sb.Append('\\').Append(quote);
                    }
                    else if (IsPrintable(cp))
                    {
                        sb.Append(text, i, length);
                    }
                    else if (cp < 0x100)
                    {
                        sb.Append("\\x").Append(cp.ToString("x2", CultureInfo.InvariantCulture));
                    }
                    else if (cp < 0x10000)
                    {
                        sb.Append("\\u").Append(cp.ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        sb.Append("\\U").Append(cp.ToString("x8", CultureInfo.InvariantCulture));
                    }
                    break;
            }
            i += length;
        }
        return sb.Append(quote).ToString();
    }

    // str.isprintable(): not Cc, Cf, Cs, Co, Cn, Zl, Zp, or Zs other than the ASCII space.
    private static bool IsPrintable(int cp)
    {
        if (cp == ' ')
        {
            return true;
        }
        string category = PythonUnicodeData.Instance.Category(cp);
        return category[0] != 'C' && category[0] != 'Z';
    }
}
