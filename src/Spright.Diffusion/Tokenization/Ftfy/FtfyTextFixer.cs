using Spright.Diffusion.Tokenization.Unicode;

namespace Spright.Diffusion.Tokenization.Ftfy;

/// <summary>
/// <c>ftfy.fix_text</c> of ftfy 6.3.1 with its default configuration (<c>ftfy/__init__.py</c>): line by line,
/// repeat until nothing changes: unescape HTML (unless the text has a "&lt;"), fix mojibake, C1 controls,
/// Latin ligatures, character width, curly quotes, line breaks, surrogates, terminal escapes, control
/// characters, then NFC.
/// </summary>
internal static class FtfyTextFixer
{
    private const int MaxDecodeLength = 1_000_000;

    /// <summary><c>ftfy.fix_text(text)</c>.</summary>
    public static string FixText(string text)
    {
        var output = new System.Text.StringBuilder(text.Length);
        bool unescapeHtml = true; // "auto": switched off for this and later segments once one has a '<'
        int pos = 0;
        while (pos < text.Length)
        {
            int lineBreak = text.IndexOf('\n', pos);
            int end = lineBreak < 0 ? text.Length : lineBreak + 1;
            end = LimitLength(text, pos, end);
            string segment = text.Substring(pos, end - pos);
            if (unescapeHtml && segment.Contains('<', StringComparison.Ordinal))
            {
                unescapeHtml = false;
            }
            output.Append(FixSegment(segment, unescapeHtml));
            pos = end;
        }
        return output.ToString();
    }

    /// <summary><c>ftfy.fix_encoding(text)</c>: repeats one mojibake-fixing step until the text stops changing.</summary>
    public static string FixEncoding(string text)
    {
        while (true)
        {
            string previous = text;
            text = FixEncodingOneStep(text);
            if (text == previous)
            {
                return text;
            }
        }
    }

    // fix_and_explain without the explanation.
    private static string FixSegment(string text, bool unescapeHtml)
    {
        while (true)
        {
            string original = text;
            if (unescapeHtml)
            {
                text = FtfyFixes.UnescapeHtml(text);
            }
            text = FixEncoding(text);
            text = FtfyFixes.FixC1Controls(text);
            text = FtfyFixes.FixLatinLigatures(text);
            text = FtfyFixes.FixCharacterWidth(text);
            text = FtfyFixes.UncurlQuotes(text);
            text = FtfyFixes.FixLineBreaks(text);
            text = FtfyFixes.FixSurrogates(text);
            text = FtfyFixes.RemoveTerminalEscapes(text);
            text = FtfyFixes.RemoveControlChars(text);
            text = PythonNormalization.Nfc(text);
            if (text == original)
            {
                return text;
            }
        }
    }

    // _fix_encoding_one_step_and_explain.
    private static string FixEncodingOneStep(string text)
    {
        if (text.Length == 0 || IsAscii(text) || !FtfyBadness.IsBad(text))
        {
            return text;
        }
        FtfyTables tables = FtfyTables.Instance;
        var possible = new List<string>();
        foreach (string encoding in FtfyTables.CharmapEncodings)
        {
            SingleByteCodec codec = tables.Codecs[encoding];
            if (!codec.CanRepresent(text))
            {
                continue;
            }
            possible.Add(encoding);
            byte[] bytes = codec.Encode(text);
            if (encoding != "macroman" && FtfyFixes.HasAlteredUtf8(bytes))
            {
                bytes = FtfyFixes.RestoreByteA0(bytes);
            }
            if (encoding.StartsWith("sloppy", StringComparison.Ordinal))
            {
                bytes = FtfyFixes.ReplaceLossySequences(bytes);
            }
            string? decoded = Array.IndexOf(bytes, (byte)0xED) >= 0 || Array.IndexOf(bytes, (byte)0xC0) >= 0
                ? Utf8Variants.DecodeVariants(bytes)
                : Utf8Variants.DecodeStrict(bytes);
            if (decoded is not null)
            {
                return decoded;
            }
        }

        if (FtfyFixes.HasUtf8Clue(text))
        {
            string fixedText = FtfyFixes.DecodeInconsistentUtf8(text);
            if (fixedText != text)
            {
                return fixedText;
            }
        }

        // Latin-1 that was meant as Windows-1252 (C1 controls). ftfy first asks whether plain "windows-1252" was
        // among the possible encodings, which never holds because it only tries the sloppy variant.
        if (possible.Contains("latin-1"))
        {
            string? asWindows = tables.Codecs["windows-1252"].Decode(tables.Codecs["latin-1"].Encode(text));
            if (asWindows is not null && asWindows != text)
            {
                return asWindows;
            }
        }

        if (FtfyFixes.HasC1Control(text))
        {
            return FtfyFixes.FixC1Controls(text);
        }
        return text;
    }

    private static bool IsAscii(string text)
    {
        foreach (char c in text)
        {
            if (c >= 0x80)
            {
                return false;
            }
        }
        return true;
    }

    // Segments are at most max_decode_length code points long.
    private static int LimitLength(string text, int start, int end)
    {
        if (end - start <= MaxDecodeLength)
        {
            return end;
        }
        int pos = start;
        for (int count = 0; count < MaxDecodeLength && pos < end; count++)
        {
            CodePoints.At(text, pos, out int length);
            pos += length;
        }
        return pos;
    }
}
