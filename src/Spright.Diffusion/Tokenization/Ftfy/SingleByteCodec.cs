namespace Spright.Diffusion.Tokenization.Ftfy;

/// <summary>A one-byte character map as Python's charmap codecs use it (ftfy's "sloppy" variants included).</summary>
internal sealed class SingleByteCodec
{
    private readonly int[] _decode;
    private readonly Dictionary<int, byte> _encode;
    private readonly HashSet<int> _highChars;

    public SingleByteCodec(string name, int[] decode)
    {
        Name = name;
        _decode = decode;
        _encode = new Dictionary<int, byte>();
        for (int b = 0; b < 256; b++)
        {
            if (decode[b] >= 0)
            {
                _encode[decode[b]] = (byte)b;
            }
        }
        // ftfy's possible_encoding: ASCII except byte 0x1A as itself, plus what bytes 0x80-0xFF and 0x1A decode to.
        _highChars = new HashSet<int>();
        for (int b = 0x80; b < 256; b++)
        {
            if (decode[b] >= 0)
            {
                _highChars.Add(decode[b]);
            }
        }
        if (decode[0x1A] >= 0)
        {
            _highChars.Add(decode[0x1A]);
        }
    }

    public string Name { get; }

    /// <summary>Whether every character of <paramref name="text"/> could have come from this encoding.</summary>
    public bool CanRepresent(string text)
    {
        foreach (char c in text)
        {
            bool ascii = c < 0x80 && c != 0x1A;
            if (!ascii && !_highChars.Contains(c))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary><c>text.encode(codec)</c>; the caller checked <see cref="CanRepresent"/>.</summary>
    public byte[] Encode(string text)
    {
        var bytes = new byte[text.Length];
        for (int i = 0; i < text.Length; i++)
        {
            bytes[i] = _encode.TryGetValue(text[i], out byte b)
                ? b
                : throw new InvalidOperationException($"U+{(int)text[i]:X4} is not in {Name}.");
        }
        return bytes;
    }

    /// <summary><c>bytes.decode(codec)</c> (strict): null when a byte has no character.</summary>
    public string? Decode(ReadOnlySpan<byte> bytes)
    {
        var chars = new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++)
        {
            int c = _decode[bytes[i]];
            if (c < 0)
            {
                return null;
            }
            chars[i] = (char)c;
        }
        return new string(chars);
    }
}
