using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Tga;
using SixLabors.ImageSharp.Formats.Tiff;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.Memory;
using SixLabors.ImageSharp.Metadata;
using SixLabors.ImageSharp.PixelFormats;
using Spright.Diffusion.Imaging;
using Spright.Diffusion.IO;
using ImageSharpConfiguration = SixLabors.ImageSharp.Configuration;

namespace Spright.Diffusion.ImageSharp;

/// <summary>
/// Decodes image files (PNG, JPEG, BMP, GIF, TGA, WebP, TIFF) into <see cref="RgbImage"/>s for image-to-image, safely
/// for files a service did not make itself: only regular files are opened (a FIFO or device is refused at once), the size
/// is read from the header and refused above <see cref="MaxSide"/> a side or <see cref="MaxPixels"/> before decoding,
/// decoding then runs with an allocation cap, reads only the first frame of animations and ignores metadata (text
/// chunks, ICC profiles, EXIF, none of which the pipeline needs), and pixel data shorter than the header promises is an
/// error, not zeros.
/// </summary>
public static class ImageFiles
{
    /// <summary>The largest image accepted (pixels), 64 megapixels.</summary>
    public const long MaxPixels = 64L * 1024 * 1024;

    /// <summary>The largest side accepted (pixels).</summary>
    public const int MaxSide = 16384;

    /// <summary>The largest single buffer the decoder may allocate (MB): a 64-megapixel image at 16 bits per channel with
    /// alpha fits; anything larger is refused even if the header lied.</summary>
    private const int DecoderAllocationLimitMegabytes = 1024;

    /// <summary>deflate's largest expansion: a PNG cannot hold more raw bytes than this many times its own size.</summary>
    private const long DeflateMaxRatio = 1032;

    private static readonly Lazy<ImageSharpConfiguration> DecodeConfiguration = new(CreateDecodeConfiguration);

    /// <summary>Decodes an image file into 8-bit RGB (alpha dropped, as diffusers' <c>convert("RGB")</c>).</summary>
    /// <param name="path">The file.</param>
    /// <returns>The image.</returns>
    /// <exception cref="ArgumentException">The file is missing, not a regular file, not a supported image, too large, or
    /// corrupt (parameter <paramref name="path"/>).</exception>
    public static RgbImage Load(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        SafeFiles.RequireRegularFile(path, nameof(path));
        ImageSharpConfiguration configuration = DecodeConfiguration.Value;
        long fileLength = new FileInfo(path).Length;
        IImageInfo? info;
        IImageFormat? format;
        try
        {
            info = Image.Identify(configuration, path, out format);
        }
        catch (Exception ex) when (IsDecodeFailure(ex))
        {
            throw new ArgumentException($"{path}: not a readable image ({ex.Message}).", nameof(path), ex);
        }
        if (info is null)
        {
            throw new ArgumentException($"{path}: not a supported image format (PNG, JPEG, BMP, GIF, TGA, WebP, TIFF).", nameof(path));
        }
        CheckSize(info.Width, info.Height, path);
        CheckEnoughData(info, format, fileLength, path);
        try
        {
            using Image<Rgb24> rgb = Image.Load<Rgb24>(configuration, path);
            CheckSize(rgb.Width, rgb.Height, path);
            return rgb.ToRgbImage();
        }
        catch (Exception ex) when (IsDecodeFailure(ex))
        {
            throw new ArgumentException($"{path}: the image data is corrupt or too large to decode ({ex.Message}).", nameof(path), ex);
        }
    }

    /// <summary>Refuses files whose pixel data cannot be as large as the header says (a decoder would fill zeros).</summary>
    private static void CheckEnoughData(IImageInfo info, IImageFormat? format, long fileLength, string path)
    {
        long pixels = (long)info.Width * info.Height;
        if (format is BmpFormat)
        {
            long minimum = BmpMinimumBytes(path, info);
            if (fileLength < minimum)
            {
                throw new ArgumentException($"{path}: the BMP header declares {info.Width}×{info.Height} pixels but the file holds only {fileLength} bytes.", nameof(path));
            }
        }
        else if (format is PngFormat && pixels > fileLength * DeflateMaxRatio)
        {
            throw new ArgumentException($"{path}: the PNG header declares {info.Width}×{info.Height} pixels, more than {fileLength} bytes of compressed data can hold.", nameof(path));
        }
    }

    /// <summary>The fewest bytes a BMP of this size can have: its pixel-data offset plus every padded row when uncompressed
    /// (BI_RGB, BI_BITFIELDS), or two bytes per run of at most 255 pixels plus an end-of-line per row with RLE.</summary>
    private static long BmpMinimumBytes(string path, IImageInfo info)
    {
        Span<byte> header = stackalloc byte[34];
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            if (stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) < header.Length)
            {
                return long.MaxValue;
            }
        }
        long dataOffset = BitConverter.ToUInt32(header[10..]);
        int bits = BitConverter.ToUInt16(header[28..]);
        uint compression = BitConverter.ToUInt32(header[30..]);
        long width = info.Width, height = info.Height;
        return compression switch
        {
            0 or 3 => dataOffset + (((width * Math.Max(bits, 1)) + 31) / 32 * 4 * height),
            1 or 2 => dataOffset + (((width + 254) / 255 * 2) + 2) * height,
            _ => 0,
        };
    }

    private static void CheckSize(int w, int h, string what)
    {
        if (w <= 0 || h <= 0 || w > MaxSide || h > MaxSide || (long)w * h > MaxPixels)
        {
            throw new ArgumentException($"{what}: {w}×{h} pixels is outside the accepted size (sides up to {MaxSide}, at most {MaxPixels} pixels).", "path");
        }
    }

    /// <summary>What a malformed or hostile file makes the decoders throw.</summary>
    private static bool IsDecodeFailure(Exception ex) =>
        ex is ImageFormatException or NotSupportedException or InvalidMemoryOperationException or IOException or InvalidDataException
            or IndexOutOfRangeException or ArgumentOutOfRangeException or UnknownImageFormatException;

    private static ImageSharpConfiguration CreateDecodeConfiguration()
    {
        ImageSharpConfiguration configuration = ImageSharpConfiguration.Default.Clone();
        configuration.MemoryAllocator = MemoryAllocator.Create(new MemoryAllocatorOptions { AllocationLimitMegabytes = DecoderAllocationLimitMegabytes });
        ImageFormatManager formats = configuration.ImageFormatsManager;
        formats.SetDecoder(PngFormat.Instance, new PngDecoder { IgnoreMetadata = true });
        formats.SetDecoder(JpegFormat.Instance, new JpegDecoder { IgnoreMetadata = true });
        formats.SetDecoder(GifFormat.Instance, new GifDecoder { DecodingMode = FrameDecodingMode.First, MaxFrames = 1, IgnoreMetadata = true });
        formats.SetDecoder(TiffFormat.Instance, new TiffDecoder { DecodingMode = FrameDecodingMode.First, IgnoreMetadata = true });
        formats.SetDecoder(WebpFormat.Instance, new WebpDecoder { IgnoreMetadata = true });
        formats.SetDecoder(BmpFormat.Instance, new BmpDecoder());
        formats.SetDecoder(TgaFormat.Instance, new TgaDecoder());
        return configuration;
    }
}
