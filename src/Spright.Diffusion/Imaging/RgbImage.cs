using System.Runtime.InteropServices;
using Spright.Diffusion.IO;

namespace Spright.Diffusion.Imaging;

/// <summary>
/// An 8-bit RGB image: the library's own pixel type, so the core depends on no imaging library. Pixels are interleaved
/// R, G, B bytes, row by row from the top. Convert to other libraries' types without copying rules of thumb:
/// <c>Spright.Diffusion.ImageSharp</c> offers <c>ToImageSharp()</c> / <c>ToRgbImage()</c>; any library that loads
/// raw RGB24 data can wrap <see cref="Pixels"/>.
/// </summary>
public sealed class RgbImage
{
    private readonly byte[] _pixels;

    /// <summary>Wraps interleaved RGB bytes (not copied).</summary>
    /// <param name="width">Width in pixels, at least 1.</param>
    /// <param name="height">Height in pixels, at least 1.</param>
    /// <param name="pixels"><c>width × height × 3</c> bytes: R, G, B per pixel, rows from the top.</param>
    /// <exception cref="ArgumentException">The sizes are not positive or the byte count does not match them.</exception>
    public RgbImage(int width, int height, byte[] pixels)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentNullException.ThrowIfNull(pixels);
        if (pixels.LongLength != (long)width * height * 3)
        {
            throw new ArgumentException($"{width}×{height} RGB pixels need {(long)width * height * 3} bytes; got {pixels.LongLength}.", nameof(pixels));
        }
        Width = width;
        Height = height;
        _pixels = pixels;
    }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>The pixels: interleaved R, G, B bytes, rows from the top.</summary>
    public ReadOnlyMemory<byte> Pixels => _pixels;

    /// <summary>The pixels as structs, for the library's own loops.</summary>
    internal ReadOnlySpan<RgbPixel> PixelSpan => MemoryMarshal.Cast<byte, RgbPixel>(_pixels);

    /// <summary>Encodes the image as a PNG file (8-bit RGB, no metadata).</summary>
    /// <returns>The PNG bytes.</returns>
    public byte[] ToPng()
    {
        using var stream = new MemoryStream();
        PngEncoder.Write(stream, Width, Height, _pixels);
        return stream.ToArray();
    }

    /// <summary>Saves the image as a PNG file. The file is written to a temporary file beside it and moved into place,
    /// so a failure leaves nothing half-written; an existing target that is not a regular file (a device, FIFO, socket
    /// or folder) is refused, and a symbolic link is written through to the file it points to.</summary>
    /// <param name="path">The destination.</param>
    /// <exception cref="ArgumentException">The destination exists and is not a regular file.</exception>
    /// <exception cref="DirectoryNotFoundException">The destination folder does not exist.</exception>
    public void SaveAsPng(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        AtomicFile.Write(path, stream => PngEncoder.Write(stream, Width, Height, _pixels));
    }
}
