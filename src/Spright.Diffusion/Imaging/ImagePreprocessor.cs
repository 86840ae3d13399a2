using System.Numerics.Tensors;
using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Imaging;

/// <summary>
/// diffusers' <c>VaeImageProcessor.preprocess</c> for image-to-image: sides rounded down to a multiple of the VAE scale
/// factor (Pillow Lanczos resize when they change), <c>x/255</c>, then <c>2x − 1</c>; or a float array in numpy (NHWC,
/// [0, 1]) or torch (NCHW) layout.
/// </summary>
internal static class ImagePreprocessor
{
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
    /// <exception cref="ArgumentException">The image is too large, too small or not of a usable shape (parameter
    /// <c>input</c> or <c>array</c>).</exception>
    public static Tensor<float> Preprocess(ImageInput input, int vaeScaleFactor, int? height = null, int? width = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentOutOfRangeException.ThrowIfLessThan(vaeScaleFactor, 1);
        if (input.Array is { } array)
        {
            return FromArray(array, vaeScaleFactor, height, width);
        }
        RgbImage image = input.Image!;
        CheckSize(image.Width, image.Height, "image");
        return FromRgb(image, vaeScaleFactor, height, width);
    }

    /// <summary>Refuses sizes outside <see cref="MaxSide"/> / <see cref="MaxPixels"/>.</summary>
    public static void CheckSize(int w, int h, string what)
    {
        if (w <= 0 || h <= 0 || w > MaxSide || h > MaxSide || (long)w * h > MaxPixels)
        {
            throw new ArgumentException($"{what}: {w}×{h} pixels is outside the accepted size (sides up to {MaxSide}, at most {MaxPixels} pixels).", "input");
        }
    }

    private static Tensor<float> FromRgb(RgbImage image, int factor, int? height, int? width)
    {
        int targetW = width ?? image.Width;
        int targetH = height ?? image.Height;
        targetW -= targetW % factor;
        targetH -= targetH % factor;
        if (targetW <= 0 || targetH <= 0)
        {
            throw new ArgumentException($"The image ({image.Width}×{image.Height}) is smaller than the VAE scale factor {factor}.", "input");
        }
        ReadOnlySpan<RgbPixel> pixels = image.PixelSpan;
        if (targetW != image.Width || targetH != image.Height)
        {
            pixels = PillowResampler.ResizeLanczos(pixels, image.Width, image.Height, targetW, targetH);
        }
        int plane = targetW * targetH;
        var data = new float[3 * plane];
        for (int p = 0; p < plane; p++)
        {
            RgbPixel px = pixels[p];
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
