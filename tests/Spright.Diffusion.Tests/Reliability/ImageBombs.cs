using System.Buffers.Binary;

namespace Spright.Diffusion.Tests.Reliability;

/// <summary>Crafted image files whose headers lie about their size.</summary>
internal static class ImageBombs
{
    /// <summary>A PNG signature and an IHDR chunk claiming <paramref name="width"/>×<paramref name="height"/> RGB
    /// pixels, followed by one tiny IDAT and IEND: a few dozen bytes that would decode to gigabytes.</summary>
    public static byte[] PngHeader(int width, int height)
    {
        var stream = new MemoryStream();
        stream.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(0), width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8;  // bit depth
        ihdr[9] = 2;  // colour type: RGB
        Chunk(stream, "IHDR", ihdr);
        Chunk(stream, "IDAT", [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
        Chunk(stream, "IEND", []);
        return stream.ToArray();
    }

    /// <summary>A valid PNG (as <paramref name="png"/>) with a zTXt text chunk inserted after IHDR whose text inflates to
    /// <paramref name="inflatedBytes"/> bytes: a metadata decompression bomb.</summary>
    public static byte[] WithTextBomb(byte[] png, int inflatedBytes)
    {
        using var compressed = new MemoryStream();
        using (var zlib = new System.IO.Compression.ZLibStream(compressed, System.IO.Compression.CompressionLevel.SmallestSize, leaveOpen: true))
        {
            var zeros = new byte[1 << 20];
            for (int written = 0; written < inflatedBytes; written += zeros.Length)
            {
                zlib.Write(zeros, 0, Math.Min(zeros.Length, inflatedBytes - written));
            }
        }
        byte[] text = [.. "Comment"u8, 0, 0, .. compressed.ToArray()]; // keyword, separator, compression method 0, data
        int afterIhdr = 8 + 4 + 4 + 13 + 4;
        var stream = new MemoryStream();
        stream.Write(png, 0, afterIhdr);
        Chunk(stream, "zTXt", text);
        stream.Write(png, afterIhdr, png.Length - afterIhdr);
        return stream.ToArray();
    }

    /// <summary>A 54-byte BMP header declaring <paramref name="width"/>×<paramref name="height"/> 24-bit pixels and no
    /// pixel data at all.</summary>
    public static byte[] BmpWithoutPixels(int width, int height)
    {
        var bytes = new byte[54];
        bytes[0] = (byte)'B';
        bytes[1] = (byte)'M';
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(2), 54);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(10), 54);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(14), 40);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(18), width);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(22), height);
        BinaryPrimitives.WriteInt16LittleEndian(bytes.AsSpan(26), 1);
        BinaryPrimitives.WriteInt16LittleEndian(bytes.AsSpan(28), 24);
        return bytes;
    }

    /// <summary>PNG's CRC-32 (ISO 3309, reflected polynomial 0xEDB88320).</summary>
    private static uint Crc32(byte[] bytes)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in bytes)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
            }
        }
        return ~crc;
    }

    private static void Chunk(Stream stream, string type, byte[] data)
    {
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        stream.Write(length);
        byte[] typeBytes = System.Text.Encoding.ASCII.GetBytes(type);
        stream.Write(typeBytes);
        stream.Write(data);
        Span<byte> crc = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32([.. typeBytes, .. data]));
        stream.Write(crc);
    }
}
