using System.Text;

namespace Spright.Diffusion.Tokenization.Ftfy;

/// <summary>
/// Strict UTF-8 decoding, and ftfy's "utf-8-variants" decoding (<c>bad_codecs/utf8_variants.py</c>), which also
/// accepts Java's two-byte null (C0 80) and CESU-8 surrogate pairs (ED A0-AF xx ED B0-BF xx).
/// </summary>
internal static class Utf8Variants
{
    private static readonly UTF8Encoding s_strict = new(false, throwOnInvalidBytes: true);

    /// <summary>Python's <c>bytes.decode("utf-8")</c>; null where Python raises UnicodeDecodeError.</summary>
    public static string? DecodeStrict(ReadOnlySpan<byte> bytes)
    {
        try
        {
            return s_strict.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    /// <summary><c>bytes.decode("utf-8-variants")</c>; null where it raises.</summary>
    public static string? DecodeVariants(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder(bytes.Length);
        int segmentStart = 0;
        int i = 0;
        while (i < bytes.Length)
        {
            int special = 0;
            int codePoint = 0;
            if (bytes[i] == 0xC0 && i + 1 < bytes.Length && bytes[i + 1] == 0x80)
            {
                special = 2;
            }
            else if (bytes[i] == 0xED && i + 5 < bytes.Length
                && bytes[i + 1] is >= 0xA0 and <= 0xAF && bytes[i + 2] is >= 0x80 and <= 0xBF
                && bytes[i + 3] == 0xED && bytes[i + 4] is >= 0xB0 and <= 0xBF && bytes[i + 5] is >= 0x80 and <= 0xBF)
            {
                special = 6;
                codePoint = ((bytes[i + 1] & 0x0F) << 16) + ((bytes[i + 2] & 0x3F) << 10)
                    + ((bytes[i + 4] & 0x0F) << 6) + (bytes[i + 5] & 0x3F) + 0x10000;
            }
            if (special == 0)
            {
                i++;
                continue;
            }
            string? segment = DecodeStrict(bytes.Slice(segmentStart, i - segmentStart));
            if (segment is null)
            {
                return null;
            }
            sb.Append(segment);
            if (special == 2)
            {
                sb.Append('\0');
            }
            else
            {
                sb.Append(char.ConvertFromUtf32(codePoint));
            }
            i += special;
            segmentStart = i;
        }
        string? rest = DecodeStrict(bytes.Slice(segmentStart));
        return rest is null ? null : sb.Append(rest).ToString();
    }
}
