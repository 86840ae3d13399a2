using System.Numerics.Tensors;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Tiff;
using SixLabors.ImageSharp.Memory;
using SixLabors.ImageSharp.Metadata;
using SixLabors.ImageSharp.PixelFormats;
using Spright.Diffusion.Tensors;

namespace Spright.Diffusion.Imaging;

/// <summary>
/// diffusers' <c>VaeImageProcessor.preprocess</c> for image-to-image: RGB, sides rounded down to a multiple of the
/// VAE scale factor (Pillow Lanczos resize when they change), <c>x/255</c>, then <c>2x − 1</c>. Files are measured
/// from their header before decoding and refused above <see cref="MaxSide"/> or <see cref="MaxPixels"/>; decoding then
/// runs with an allocation cap and only the first frame of multi-frame formats, so a crafted file (a header claiming
/// 100000×100000, thousands of GIF frames) cannot exhaust memory. Unreadable files raise <see cref="ArgumentException"/>.
/// </summary>
public static class ImagePreprocessor
{
    /// <summary>The largest single buffer the decoder may allocate (MB): a 64-megapixel image at 16 bits per channel
    /// with alpha fits; anything larger is refused by the decoder even if its header lied.</summary>
    private const int DecoderAllocationLimitMegabytes = 1024;

    private static readonly Lazy<Configuration> DecodeConfiguration = new(CreateDecodeConfiguration);

    /// <summary>The largest image accepted (pixels), 64 megapixels.</summary>
    public const long MaxPixels = 64L * 1024 * 1024;

    /// <summary>The largest side accepted (pixels).</summary>
    public const int MaxSide = 16384;

    /// <summary>Converts an input into a normalized [N, 3, H, W] tensor in [-1, 1].</summary>
    /// <param name="input">The image.</param>
    /// <param name="vaeScaleFactor">Sides are rounded down to a multiple of this.</param>
    /// <param name="height">Resize to this height instead of the image's (rounded) own.</param>
    /// <param name="width">Resize to this width instead of the image's (rounded) own.</param>
    /// <returns>The model input.</returns>
    public static Tensor<float> Preprocess(ImageInput input, int vaeScaleFactor, int? height = null, int? width = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentOutOfRangeException.ThrowIfLessThan(vaeScaleFactor, 1);
        if (input.Array is { } array)
        {
            return FromArray(array, vaeScaleFactor, height, width);
        }
        if (input.Image is { } image)
        {
            CheckSize(image.Width, image.Height, "image");
            using Image<Rgb24> rgb = image.CloneAs<Rgb24>();
            return FromRgb(rgb, vaeScaleFactor, height, width);
        }
        return FromFile(input.FilePath!, vaeScaleFactor, height, width);
    }

    private static Tensor<float> FromFile(string path, int vaeScaleFactor, int? height, int? width)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Image file not found: {path}", path);
        }
        Configuration configuration = DecodeConfiguration.Value;
        IImageInfo? info;
        try
        {
            info = Image.Identify(configuration, path, out _);
        }
        catch (Exception ex) when (IsDecodeFailure(ex))
        {
            throw new ArgumentException($"{path}: not a readable image ({ex.Message}).", "input", ex);
        }
        if (info is null)
        {
            throw new ArgumentException($"{path}: not a supported image format (PNG, JPEG, BMP, GIF, TGA, WebP, TIFF).", "input");
        }
        CheckSize(info.Width, info.Height, path);
        try
        {
            using Image<Rgb24> rgb = Image.Load<Rgb24>(configuration, path);
            CheckSize(rgb.Width, rgb.Height, path);
            return FromRgb(rgb, vaeScaleFactor, height, width);
        }
        catch (Exception ex) when (IsDecodeFailure(ex))
        {
            throw new ArgumentException($"{path}: the image data is corrupt or too large to decode ({ex.Message}).", "input", ex);
        }
    }

    /// <summary>What a malformed or hostile file makes the decoders throw.</summary>
    private static bool IsDecodeFailure(Exception ex) =>
        ex is ImageFormatException or NotSupportedException or InvalidMemoryOperationException or IOException or InvalidDataException
            or IndexOutOfRangeException or ArgumentOutOfRangeException;

    private static Configuration CreateDecodeConfiguration()
    {
        Configuration configuration = Configuration.Default.Clone();
        configuration.MemoryAllocator = MemoryAllocator.Create(new MemoryAllocatorOptions { AllocationLimitMegabytes = DecoderAllocationLimitMegabytes });
        configuration.ImageFormatsManager.SetDecoder(GifFormat.Instance, new GifDecoder { DecodingMode = FrameDecodingMode.First, MaxFrames = 1 });
        configuration.ImageFormatsManager.SetDecoder(TiffFormat.Instance, new TiffDecoder { DecodingMode = FrameDecodingMode.First });
        return configuration;
    }

    private static void CheckSize(int w, int h, string what)
    {
        if (w <= 0 || h <= 0 || w > MaxSide || h > MaxSide || (long)w * h > MaxPixels)
        {
            throw new ArgumentException($"{what}: {w}×{h} pixels is outside the accepted size (sides up to {MaxSide}, at most {MaxPixels} pixels).", "input");
        }
    }

    private static Tensor<float> FromRgb(Image<Rgb24> image, int factor, int? height, int? width)
    {
        int targetW = width ?? image.Width;
        int targetH = height ?? image.Height;
        targetW -= targetW % factor;
        targetH -= targetH % factor;
        if (targetW <= 0 || targetH <= 0)
        {
            throw new ArgumentException($"The image ({image.Width}×{image.Height}) is smaller than the VAE scale factor {factor}.", "input");
        }
        var pixels = new Rgb24[image.Width * image.Height];
        image.CopyPixelDataTo(pixels);
        if (targetW != image.Width || targetH != image.Height)
        {
            pixels = PillowResampler.ResizeLanczos(pixels, image.Width, image.Height, targetW, targetH);
        }
        int plane = targetW * targetH;
        var data = new float[3 * plane];
        for (int p = 0; p < plane; p++)
        {
            Rgb24 px = pixels[p];
            data[p] = Normalize(px.R);
            data[plane + p] = Normalize(px.G);
            data[(2 * plane) + p] = Normalize(px.B);
        }
        return TensorShapes.Wrap(data, 1, 3, targetH, targetW);
    }

    /// <summary><c>2·(x/255) − 1</c> with float32 roundings, as numpy then torch compute it.</summary>
    private static float Normalize(byte value)
    {
        float unit = value / 255f;
        float doubled = 2f * unit;
        return doubled - 1f;
    }

    private static Tensor<float> FromArray(Tensor<float> array, int factor, int? height, int? width)
    {
        int[] s = array.Shape();
        if (s.Length == 3)
        {
            s = [1, .. s];
        }
        if (s.Length != 4)
        {
            throw new ArgumentException($"An image array must be [N, H, W, C] or [N, C, H, W]; got rank {array.Rank}.", nameof(array));
        }
        bool channelsLast = s[3] is 3 && s[1] is not 3;
        int n = s[0];
        int h = channelsLast ? s[1] : s[2];
        int w = channelsLast ? s[2] : s[3];
        int c = channelsLast ? s[3] : s[1];
        if (c != 3)
        {
            throw new ArgumentException($"An image array needs 3 channels; got {c}.", nameof(array));
        }
        if (h % factor != 0 || w % factor != 0 || (height is int hh && hh != h) || (width is int ww && ww != w))
        {
            throw new ArgumentException($"An image array must already have the target size, with sides multiple of {factor}; got {w}×{h}.", nameof(array));
        }
        ReadOnlySpan<float> src = array.AsSpan();
        var data = new float[n * 3 * h * w];
        int plane = h * w;
        bool normalize;
        if (channelsLast)
        {
            // numpy layout in [0, 1].
            normalize = true;
            for (int b = 0; b < n; b++)
            {
                for (int p = 0; p < plane; p++)
                {
                    for (int ch = 0; ch < 3; ch++)
                    {
                        data[(b * 3 * plane) + (ch * plane) + p] = src[(((b * plane) + p) * 3) + ch];
                    }
                }
            }
        }
        else
        {
            src.CopyTo(data);
            // torch layout: values already in [-1, 1] when any is negative (diffusers warns and skips normalizing).
            normalize = TensorPrimitives.Min(src) >= 0;
        }
        if (normalize)
        {
            for (int i = 0; i < data.Length; i++)
            {
                float doubled = 2f * data[i];
                data[i] = doubled - 1f;
            }
        }
        return TensorShapes.Wrap(data, n, 3, h, w);
    }
}
