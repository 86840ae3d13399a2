namespace Spright.Diffusion.Tokenization;

/// <summary>
/// GPT-2's reversible map between the 256 byte values and printable characters that byte-level BPE vocabularies are
/// written in (<c>bytes_to_unicode</c>): printable Latin-1 bytes stand for themselves, the others are shifted to
/// U+0100 and up, in byte order.
/// </summary>
internal static class ByteLevelAlphabet
{
    private static readonly char[] s_byteToChar = BuildByteToChar();
    private static readonly Dictionary<char, byte> s_charToByte = BuildCharToByte();

    /// <summary>The character that stands for a byte.</summary>
    public static char ToChar(byte value) => s_byteToChar[value];

    /// <summary>The byte a character stands for, if it is one of the 256.</summary>
    public static bool TryGetByte(char c, out byte value) => s_charToByte.TryGetValue(c, out value);

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        int shifted = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = printable ? (char)b : (char)(256 + shifted++);
        }
        return map;
    }

    private static Dictionary<char, byte> BuildCharToByte()
    {
        var map = new Dictionary<char, byte>(256);
        for (int b = 0; b < 256; b++)
        {
            map[s_byteToChar[b]] = (byte)b;
        }
        return map;
    }
}
