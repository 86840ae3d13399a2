using System.Text;
using Spright.Diffusion.Tokenization.Ftfy;
using Spright.Diffusion.Tokenization.Unicode;

namespace Spright.Diffusion.Tokenization;

/// <summary>
/// The clean-up CLIPTokenizer uses when ftfy is importable:
/// <c>re.sub(r"\s+", " ", ftfy.fix_text(text)).strip().lower()</c> (whitespace as the <c>regex</c> module sees it,
/// then Python's <c>str.strip</c> and <c>str.lower</c>).
/// </summary>
internal sealed class FtfyTextCleaner : ITextCleaner
{
    /// <summary>The shared instance (stateless).</summary>
    public static FtfyTextCleaner Instance { get; } = new();

    /// <inheritdoc/>
    public string Clean(string text)
    {
        string fixedText = FtfyTextFixer.FixText(text);
        PythonUnicodeData data = PythonUnicodeData.Instance;
        var sb = new StringBuilder(fixedText.Length);
        bool inSpace = false;
        for (int i = 0; i < fixedText.Length;)
        {
            int cp = CodePoints.At(fixedText, i, out int length);
            if (data.RegexSpace.Contains(cp))
            {
                if (!inSpace)
                {
                    sb.Append(' ');
                    inSpace = true;
                }
            }
            else
            {
                sb.Append(fixedText, i, length);
                inSpace = false;
            }
            i += length;
        }
        return PythonText.Lower(PythonText.Strip(sb.ToString()));
    }
}
