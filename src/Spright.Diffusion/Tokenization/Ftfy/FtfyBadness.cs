using System.Text.RegularExpressions;
using Spright.Diffusion.Tokenization.Unicode;

namespace Spright.Diffusion.Tokenization.Ftfy;

/// <summary>
/// ftfy's mojibake heuristic (<c>badness.py</c>, <c>is_bad</c>): text is "bad" when it contains one of the character
/// sequences that UTF-8 mixed up with a one-byte encoding typically produces. The rules are ftfy's, over its
/// character categories, written as a .NET pattern that matches by code point like Python's <c>re</c>.
/// </summary>
internal static class FtfyBadness
{
    private static readonly Lazy<Regex> s_badness = new(Build, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary><c>ftfy.badness.is_bad</c>.</summary>
    public static bool IsBad(string text) => s_badness.Value.IsMatch(text);

    private static Regex Build()
    {
        FtfyTables tables = FtfyTables.Instance;
        PythonUnicodeData unicode = PythonUnicodeData.Instance;

        // A character class over named categories plus literal characters.
        string C(string names, string literals = "")
        {
            var ranges = new List<(int, int)>();
            foreach (string name in names.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                ranges.AddRange(tables.Set(name).Ranges);
            }
            ranges.AddRange(RegexClasses.Chars(literals));
            return "[" + RegexClasses.ClassBody(ranges) + "]";
        }

        string space = "[" + RegexClasses.ClassBody(unicode.IsSpaceSet.Ranges.Where(r => r.Start < 0x10000)) + "]";
        string word = RegexClasses.Of(unicode.ReWordSet.Ranges);
        const string anyButNewline = "(?:[\\uD800-\\uDBFF][\\uDC00-\\uDFFF]|[^\\n])";
        const string ascii = "a-zA-Z";

        string[] rules =
        [
            C("c1"),
            C("bad lower_accented upper_accented box start_punctuation end_punctuation currency numeric law") + C("bad"),
            "[" + ascii + "]" + C("lower_common upper_common") + C("bad"),
            C("bad") + C("lower_accented upper_accented box start_punctuation end_punctuation currency numeric law"),
            C("lower_accented lower_common box end_punctuation currency numeric") + C("upper_accented"),
            C("box end_punctuation currency numeric") + C("lower_accented"),
            C("lower_accented box end_punctuation") + C("currency"),
            space + C("upper_accented") + C("currency"),
            C("upper_accented box") + C("numeric law"),
            C("lower_accented upper_accented box currency end_punctuation") + C("start_punctuation") + C("numeric"),
            C("lower_accented upper_accented currency numeric box law") + C("end_punctuation") + C("start_punctuation"),
            C("currency numeric box") + C("start_punctuation"),
            "[a-z]" + C("upper_accented") + C("start_punctuation currency"),
            C("box") + C("kaomoji"),
            C("lower_accented upper_accented currency numeric start_punctuation end_punctuation law") + C("box"),
            C("box") + C("end_punctuation"),
            C("lower_accented upper_accented") + C("start_punctuation end_punctuation") + word,
            "[\\u0152\\u0153][^A-Za-z]",
            C("upper_accented") + "\\u00B0",
            "[\\u00C2\\u00C3\\u00CE\\u00D0]" + C("start_punctuation end_punctuation",
                "\u20AC\u0153\u0160\u0161\u00A2\u00A3\u0178\u017E\u00A0\u00AD\u00AE\u00A9\u00B0\u00B7\u00BB\u2013\u2014\u00B4"),
            "\\u00D7[\\u00B2\\u00B3]",
            "[\\u00D8\\u00D9]" + C("common currency bad numeric start_punctuation", "\u0178\u0160\u00AE\u00B0\u00B5\u00BB")
                + "[\\u00D8\\u00D9]" + C("common currency bad numeric start_punctuation", "\u0178\u0160\u00AE\u00B0\u00B5\u00BB"),
            "\\u00E0[\\u00B2\\u00B5\\u00B9\\u00BC\\u00BD\\u00BE]",
            "\\u221A[\\u00B1\\u2202\\u2020\\u2260\\u00AE\\u2122\\u00B4\\u2264\\u2265\\u00A5\\u00B5\\u00F8]",
            "\\u2248[\\u00B0\\u00A2]",
            "\\u201A\\u00C4[\\u00EC\\u00EE\\u00EF\\u00F2\\u00F4\\u00FA\\u00F9\\u00FB\\u2020\\u00B0\\u00A2\\u03C0]",
            "\\u201A[\\u00E2\\u00F3][\\u00E0\\u00E4\\u00B0\\u00EA]",
            "\\u0432\\u0402",
            "[\\u0412\\u0413\\u0420\\u0421]" + C("c1 bad start_punctuation end_punctuation currency", "\u00B0\u00B5") + "[\\u0412\\u0413\\u0420\\u0421]",
            "\\u0413\\u045E\\u0412\\u0402\\u0412" + anyButNewline + "[A-Za-z ]",
            "\\u00C3[\\u00A0\\u00A1]",
            "[a-z]" + space + "?[\\u00C3\\u00C2] ",
            "^[\\u00C3\\u00C2] ",
            C("end_punctuation", "abcdefghijklmnopqrstuvwxyz.,?!") + "\\u00C2" + C("start_punctuation end_punctuation", " "),
            "\\u03B2\\u20AC[\\u2122\\u00A0\\u0386\\u00AD\\u00AE\\u00B0]",
            "[\\u0392\\u0393\\u039E\\u039F]" + C("c1 bad start_punctuation end_punctuation currency", "\u00B0") + "[\\u0392\\u0393\\u039E\\u039F]",
            "\\u0101\\u20AC",
        ];
        return new Regex(string.Join("|", rules), RegexOptions.CultureInvariant);
    }
}
