using Spright.Diffusion.Tokenization.Ftfy;

namespace Spright.Diffusion.Tests.Tokenization;

/// <summary>The ftfy port on its own: outputs recorded from ftfy 6.3.1's <c>fix_text</c> (CPython 3.11).</summary>
public sealed class FtfyTextFixerTests
{
    [Theory]
    [InlineData("\u00E2\u0153\u201D No problems", "\u2714 No problems")]
    [InlineData("&macr;\u005C_(\u00E3\u0083\u0084)_/&macr;", "\u00AF\u005C_(\u30C4)_/\u00AF")]
    [InlineData("Broken text&hellip; it&#x2019;s \uFB02ubberi\uFB01c!", "Broken text\u2026 it's flubberific!")]
    [InlineData("\uFF2C\uFF2F\uFF35\uFF24\u3000\uFF2E\uFF2F\uFF29\uFF33\uFF25\uFF33", "LOUD NOISES")]
    [InlineData("voil\u00C3 le travail", "voil\u00E0 le travail")]
    [InlineData("\u00C3 la mode", "\u00E0 la mode")]
    [InlineData("\u00D0\u00BF\u00D1\u20AC\u00D0\u00B8\u00D0\u00B2\u00D0\u00B5\u00D1\u201A", "\u043F\u0440\u0438\u0432\u0435\u0442")]
    [InlineData("\u00C3\u00A2\u00E2\u201A\u00AC\u00E2\u201E\u00A2", "'")]
    [InlineData("\u00F0\u0178\u02DC\u20AC smile", "\uD83D\uDE00 smile")]
    [InlineData("\u00E2\u20AC\u0153quoted\u00E2\u20AC\u009D", "\u0022quoted\u0022")]
    [InlineData("&#59; &#128; &NTILDE; &amp;amp;", "&#59; \u20AC \u00D1 &")]
    [InlineData("<b>&amp;</b>", "<b>&amp;</b>")]
    [InlineData("a &amp; b\u000A<i> &amp;", "a & b\u000A<i> &amp;")]
    [InlineData("\u001B[31mred\u001B[0m", "red")]
    [InlineData("\uFB01 \uFB02 \u01C4 \u0133", "fi fl D\u017D ij")]
    [InlineData("zero\u200Bwidth \uFEFFbom \u0007bell", "zero\u200Bwidth bom bell")]
    [InlineData("line\u000D\u000Abreak\u2028sep", "line\u000Abreak\u000Asep")]
    [InlineData("\u0080\u0093 c1", "\u20AC\u0022 c1")]
    [InlineData("\u00C3\u00A8 \u00C3  \u00C3\u00B9", "\u00E8 \u00E0 \u00F9")]
    [InlineData("\u00E3\u201A\u00A2\u00E3\u0192\u2039\u00E3\u0192\u00A1", "\u30A2\u30CB\u30E1")]
    [InlineData("\u00D8\u00B3\u00D9\u201E\u00D8\u00A7\u00D9\u2026", "\u0633\u0644\u0627\u0645")]
    [InlineData("\u221A\u00A9l\u221A\u00AEve", "\u00E9l\u00E8ve")]
    [InlineData("\u201A\u00C4\u00FAmac\u201A\u00C4\u00F9", "\u0022mac\u0022")]
    [InlineData("&EACUTE;cole", "\u00C9cole")]
    [InlineData("&#x1F600;&#0;&#xD800;", "\uD83D\uDE00\uFFFD\uFFFD")]
    [InlineData("\u00C2\u0141100", "\u00C2\u0141100")]
    public void Fix_text_matches_ftfy_6_3_1_on_mojibake_entities_ligatures_width_quotes_and_controls(string input, string expected)
    {
        Assert.Equal(expected, FtfyTextFixer.FixText(input));
    }

    [Fact]
    public void Html_entities_are_left_alone_in_a_line_with_a_tag_and_every_line_after_it()
    {
        Assert.Equal("x & y\n<p> &amp;\n&amp;", FtfyTextFixer.FixText("x &amp; y\n<p> &amp;\n&amp;"));
    }
}
