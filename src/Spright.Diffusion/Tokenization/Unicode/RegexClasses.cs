using System.Globalization;
using System.Text;

namespace Spright.Diffusion.Tokenization.Unicode;

/// <summary>
/// Writes .NET regular-expression fragments for sets of code points, so that patterns ported from Python match by
/// code point: BMP characters as a character class, astral ones as surrogate-pair alternatives.
/// </summary>
internal static class RegexClasses
{
    /// <summary>A fragment matching exactly one code point of the given ranges.</summary>
    public static string Of(IEnumerable<(int Start, int End)> ranges)
    {
        var merged = Merge(ranges);
        var bmp = new StringBuilder();
        var astral = new List<string>();
        foreach ((int start, int end) in merged)
        {
            if (start < 0x10000)
            {
                int bmpEnd = Math.Min(end, 0xFFFF);
                bmp.Append(Escape(start));
                if (bmpEnd > start)
                {
                    bmp.Append('-').Append(Escape(bmpEnd));
                }
            }
            if (end >= 0x10000)
            {
                AddAstral(Math.Max(start, 0x10000), end, astral);
            }
        }
        string bmpClass = bmp.Length > 0 ? "[" + bmp + "]" : string.Empty;
        if (astral.Count == 0)
        {
            return bmpClass.Length > 0 ? bmpClass : "(?!)";
        }
        return "(?:" + string.Join("|", (bmpClass.Length > 0 ? new[] { bmpClass } : []).Concat(astral)) + ")";
    }

    /// <summary>The contents (no brackets) of a BMP-only character class for the given characters and ranges.</summary>
    public static string ClassBody(IEnumerable<(int Start, int End)> ranges)
    {
        var sb = new StringBuilder();
        foreach ((int start, int end) in Merge(ranges))
        {
            if (end >= 0x10000)
            {
                throw new ArgumentException("Only BMP characters fit a character class.", nameof(ranges));
            }
            sb.Append(Escape(start));
            if (end > start)
            {
                sb.Append('-').Append(Escape(end));
            }
        }
        return sb.ToString();
    }

    /// <summary>Ranges of single characters.</summary>
    public static IEnumerable<(int Start, int End)> Chars(string chars) => chars.Select(c => ((int)c, (int)c));

    private static List<(int Start, int End)> Merge(IEnumerable<(int Start, int End)> ranges)
    {
        var list = new List<(int Start, int End)>();
        foreach (var r in ranges.OrderBy(r => r.Start))
        {
            if (list.Count > 0 && r.Start <= list[^1].End + 1)
            {
                list[^1] = (list[^1].Start, Math.Max(list[^1].End, r.End));
            }
            else
            {
                list.Add(r);
            }
        }
        return list;
    }

    private static void AddAstral(int start, int end, List<string> output)
    {
        while (start <= end)
        {
            int high = 0xD800 + ((start - 0x10000) >> 10);
            int blockEnd = Math.Min(end, 0x10000 + ((high - 0xD800 + 1) << 10) - 1);
            int lowStart = 0xDC00 + ((start - 0x10000) & 0x3FF);
            int lowEnd = 0xDC00 + ((blockEnd - 0x10000) & 0x3FF);
            output.Add(Escape(high) + "[" + Escape(lowStart) + "-" + Escape(lowEnd) + "]");
            start = blockEnd + 1;
        }
    }

    private static string Escape(int c) => "\\u" + c.ToString("X4", CultureInfo.InvariantCulture);
}
