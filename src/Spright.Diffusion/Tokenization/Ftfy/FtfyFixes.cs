using System.Text;
using System.Text.RegularExpressions;
using Spright.Diffusion.Tokenization.Unicode;

namespace Spright.Diffusion.Tokenization.Ftfy;

/// <summary>The individual fixers of ftfy 6.3.1 (<c>fixes.py</c>, with the tables of <c>chardata.py</c>).</summary>
internal static class FtfyFixes
{
    private static readonly Lazy<Regex> s_ansi = new(() => new Regex(
        "\\u001B\\[(?:" + RegexClasses.Of(PythonUnicodeData.Instance.ReDigitSet.Ranges) + "|;)*[a-zA-Z]",
        RegexOptions.CultureInvariant));

    private static readonly Lazy<Regex> s_utf8Detector = new(BuildUtf8Detector);

    // Byte patterns, matched against bytes mapped one-to-one onto U+0000-U+00FF.
    private static readonly Regex s_alteredUtf8 = new(
        "[\\xC2\\xC3\\xC5\\xCE\\xD0\\xD9] "
        + "|[\\xE2\\xE3] [\\x80-\\x84\\x86-\\x9F\\xA1-\\xBF]"
        + "|[\\xE0-\\xE3][\\x80-\\x84\\x86-\\x9F\\xA1-\\xBF] "
        + "|\\xF0 [\\x80-\\xBF][\\x80-\\xBF]"
        + "|\\xF0[\\x80-\\xBF] [\\x80-\\xBF]"
        + "|\\xF0[\\x80-\\xBF][\\x80-\\xBF] ",
        RegexOptions.CultureInvariant);

    private static readonly Regex s_aGraveWord = new("\\xC3 (?! |quele|quela|quilo|s )", RegexOptions.CultureInvariant);

    private static readonly Regex s_lossyUtf8 = new(
        "[\\xC2-\\xDF]\\x1A"
        + "|[\\xC2-\\xC3]\\?"
        + "|\\xED[\\xA0-\\xAF][\\x1A?]\\xED[\\xB0-\\xBF][\\x1A?\\x80-\\xBF]"
        + "|\\xED[\\xA0-\\xAF][\\x1A?\\x80-\\xBF]\\xED[\\xB0-\\xBF][\\x1A?]"
        + "|[\\xE0-\\xEF][\\x1A?][\\x1A\\x80-\\xBF]"
        + "|[\\xE0-\\xEF][\\x1A\\x80-\\xBF][\\x1A?]"
        + "|[\\xF0-\\xF4][\\x1A?][\\x1A\\x80-\\xBF][\\x1A\\x80-\\xBF]"
        + "|[\\xF0-\\xF4][\\x1A\\x80-\\xBF][\\x1A?][\\x1A\\x80-\\xBF]"
        + "|[\\xF0-\\xF4][\\x1A\\x80-\\xBF][\\x1A\\x80-\\xBF][\\x1A?]"
        + "|\\x1A",
        RegexOptions.CultureInvariant);

    private static readonly Lazy<Dictionary<int, string>> s_widthMap = new(BuildWidthMap);

    private static readonly Dictionary<char, string> s_ligatures = new()
    {
        ['\u0132'] = "IJ",
        ['\u0133'] = "ij",
        ['\u0149'] = "\u02BCn",
        ['\u01F1'] = "DZ",
        ['\u01F2'] = "Dz",
        ['\u01F3'] = "dz",
        ['\u01C4'] = "D\u017D",
        ['\u01C5'] = "D\u017E",
        ['\u01C6'] = "d\u017E",
        ['\u01C7'] = "LJ",
        ['\u01C8'] = "Lj",
        ['\u01C9'] = "lj",
        ['\u01CA'] = "NJ",
        ['\u01CB'] = "Nj",
        ['\u01CC'] = "nj",
        ['\uFB00'] = "ff",
        ['\uFB01'] = "fi",
        ['\uFB02'] = "fl",
        ['\uFB03'] = "ffi",
        ['\uFB04'] = "ffl",
        ['\uFB05'] = "\u017Ft",
        ['\uFB06'] = "st",
    };

    /// <summary><c>unescape_html</c>.</summary>
    public static string UnescapeHtml(string text) => HtmlUnescaper.Unescape(text);

    /// <summary><c>remove_terminal_escapes</c>: ANSI escape sequences such as "\x1b[31m".</summary>
    public static string RemoveTerminalEscapes(string text) =>
        text.Contains('\u001B', StringComparison.Ordinal) ? s_ansi.Value.Replace(text, string.Empty) : text;

    /// <summary><c>uncurl_quotes</c>.</summary>
    public static string UncurlQuotes(string text) =>
        Map(text, c => c is '\u02BC' or (>= '\u2018' and <= '\u201B') ? "'" : c is >= '\u201C' and <= '\u201F' ? "\"" : null);

    /// <summary><c>fix_latin_ligatures</c>.</summary>
    public static string FixLatinLigatures(string text) => Map(text, c => s_ligatures.GetValueOrDefault(c));

    /// <summary><c>fix_character_width</c>: full-width and half-width forms (and U+3000) to their usual forms.</summary>
    public static string FixCharacterWidth(string text)
    {
        Dictionary<int, string> map = s_widthMap.Value;
        return Map(text, c => map.GetValueOrDefault(c));
    }

    /// <summary><c>fix_line_breaks</c>.</summary>
    public static string FixLineBreaks(string text) =>
        text.Replace("\r\n", "\n", StringComparison.Ordinal)
            .Replace('\r', '\n').Replace('\u2028', '\n').Replace('\u2029', '\n').Replace('\u0085', '\n');

    /// <summary><c>fix_surrogates</c>: a lone surrogate becomes U+FFFD (valid pairs are already characters here).</summary>
    public static string FixSurrogates(string text)
    {
        StringBuilder? sb = null;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            bool lone = char.IsSurrogate(c)
                && !(char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]));
            if (char.IsHighSurrogate(c) && !lone)
            {
                sb?.Append(c).Append(text[i + 1]);
                i++;
                continue;
            }
            if (lone && sb is null)
            {
                sb = new StringBuilder(text.Length);
                sb.Append(text, 0, i);
            }
            sb?.Append(lone ? '\uFFFD' : c);
        }
        return sb?.ToString() ?? text;
    }

    /// <summary><c>remove_control_chars</c>: C0 controls but tab/newlines/form feed, DEL, deprecated format characters, BOM, interlinear annotation.</summary>
    public static string RemoveControlChars(string text) =>
        Map(text, c => c is (>= '\u0000' and <= '\u0008') or '\u000B' or (>= '\u000E' and <= '\u001F') or '\u007F'
            or (>= '\u206A' and <= '\u206F') or '\uFEFF' or (>= '\uFFF9' and <= '\uFFFC') ? string.Empty : null);

    /// <summary><c>fix_c1_controls</c>: U+0080-U+009F decoded as (sloppy) Windows-1252.</summary>
    public static string FixC1Controls(string text)
    {
        SingleByteCodec sloppy1252 = FtfyTables.Instance.Codecs["sloppy-windows-1252"];
        return Map(text, c => c is >= '\u0080' and <= '\u009F' ? sloppy1252.Decode([(byte)c]) : null);
    }

    /// <summary>Whether the text has a C1 control character.</summary>
    public static bool HasC1Control(string text)
    {
        foreach (char c in text)
        {
            if (c is >= '\u0080' and <= '\u009F')
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Whether <c>UTF8_DETECTOR_RE</c> finds something.</summary>
    public static bool HasUtf8Clue(string text) => s_utf8Detector.Value.IsMatch(text);

    /// <summary><c>decode_inconsistent_utf8</c>: fixes stretches that look like UTF-8 mojibake inside other text.</summary>
    public static string DecodeInconsistentUtf8(string text) =>
        s_utf8Detector.Value.Replace(text, m =>
            m.Value.Length < text.Length && FtfyBadness.IsBad(m.Value) ? FtfyTextFixer.FixEncoding(m.Value) : m.Value);

    /// <summary>Whether <c>ALTERED_UTF8_RE</c> matches the bytes.</summary>
    public static bool HasAlteredUtf8(byte[] bytes) => s_alteredUtf8.IsMatch(Latin1(bytes));

    /// <summary><c>restore_byte_a0</c>: puts back 0xA0 bytes that became spaces inside UTF-8 sequences.</summary>
    public static byte[] RestoreByteA0(byte[] bytes)
    {
        string text = s_aGraveWord.Replace(Latin1(bytes), "\u00C3\u00A0 ");
        text = s_alteredUtf8.Replace(text, m => m.Value.Replace(' ', '\u00A0'));
        return FromLatin1(text);
    }

    /// <summary><c>replace_lossy_sequences</c>: UTF-8 sequences with lost bytes become U+FFFD's UTF-8.</summary>
    public static byte[] ReplaceLossySequences(byte[] bytes) =>
        FromLatin1(s_lossyUtf8.Replace(Latin1(bytes), "\u00EF\u00BF\u00BD"));

    private static string Latin1(byte[] bytes) => Encoding.Latin1.GetString(bytes);

    private static byte[] FromLatin1(string text) => Encoding.Latin1.GetBytes(text);

    private static string Map(string text, Func<char, string?> map)
    {
        StringBuilder? sb = null;
        for (int i = 0; i < text.Length; i++)
        {
            string? replacement = map(text[i]);
            if (replacement is not null && sb is null)
            {
                sb = new StringBuilder(text.Length);
                sb.Append(text, 0, i);
            }
            if (sb is not null)
            {
                if (replacement is null)
                {
                    sb.Append(text[i]);
                }
                else
                {
                    sb.Append(replacement);
                }
            }
        }
        return sb?.ToString() ?? text;
    }

    private static Dictionary<int, string> BuildWidthMap()
    {
        var map = new Dictionary<int, string> { [0x3000] = " " };
        for (int cp = 0xFF01; cp < 0xFFF0; cp++)
        {
            string c = ((char)cp).ToString();
            string alternate = PythonNormalization.Nfkc(c);
            if (alternate != c)
            {
                map[cp] = alternate;
            }
        }
        return map;
    }

    private static Regex BuildUtf8Detector()
    {
        FtfyTables t = FtfyTables.Instance;
        string C(string name) => "[" + RegexClasses.ClassBody(t.Set(name).Ranges) + "]";
        string cont = C("utf8_continuation");
        string pattern = "(?<!" + C("utf8_continuation_strict") + ")(?:"
            + C("utf8_first_of_2") + cont
            + "|" + C("utf8_first_of_3") + cont + "{2}"
            + "|" + C("utf8_first_of_4") + cont + "{3})+";
        return new Regex(pattern, RegexOptions.CultureInvariant);
    }
}
