using System.Text.RegularExpressions;

namespace Spright.Diffusion.Tokenization.Ftfy;

/// <summary>
/// ftfy's <c>unescape_html</c> (<c>fixes.py</c>): each <c>&amp;name;</c> or <c>&amp;#number;</c> of at most 24
/// letters/digits is replaced when it is one of ftfy's entities (HTML5 names, plus upper-cased forms of some) or a
/// complete numeric reference, decoded as CPython's <c>html.unescape</c> decodes it.
/// </summary>
internal static partial class HtmlUnescaper
{
    [GeneratedRegex("&#?[0-9A-Za-z]{1,24};", RegexOptions.CultureInvariant)]
    private static partial Regex EntityPattern();

    /// <summary>Unescapes the entities of <paramref name="text"/>.</summary>
    public static string Unescape(string text) =>
        text.Contains('&', StringComparison.Ordinal) ? EntityPattern().Replace(text, m => Fixup(m.Value)) : text;

    private static string Fixup(string entity)
    {
        FtfyTables tables = FtfyTables.Instance;
        if (tables.Entities.TryGetValue(entity, out string? value))
        {
            return value;
        }
        if (!entity.StartsWith("&#", StringComparison.Ordinal))
        {
            return entity;
        }
        // html.unescape must consume the whole reference (its result may not keep the semicolon).
        string body = entity.Substring(2, entity.Length - 3);
        bool hex = body.Length > 1 && body[0] is 'x' or 'X';
        string digits = hex ? body.Substring(1) : body;
        if (digits.Length == 0 || !digits.All(c => hex ? char.IsAsciiHexDigit(c) : char.IsAsciiDigit(c)))
        {
            return entity;
        }
        string replacement = Charref(digits, hex, tables);
        return replacement.Contains(';', StringComparison.Ordinal) ? entity : replacement;
    }

    // html._replace_charref for a numeric reference.
    private static string Charref(string digits, bool hex, FtfyTables tables)
    {
        long value = 0;
        bool huge = false;
        foreach (char c in digits)
        {
            value = value * (hex ? 16 : 10) + (hex ? Convert.ToInt32(c.ToString(), 16) : c - '0');
            if (value > 0x10FFFF)
            {
                huge = true;
                break;
            }
        }
        if (!huge && tables.CharrefReplacements.TryGetValue((int)value, out string? fixedText))
        {
            return fixedText;
        }
        if (huge || value is >= 0xD800 and <= 0xDFFF)
        {
            return "\uFFFD";
        }
        if (tables.CharrefRemoved.Contains((int)value))
        {
            return string.Empty;
        }
        return char.ConvertFromUtf32((int)value);
    }
}
