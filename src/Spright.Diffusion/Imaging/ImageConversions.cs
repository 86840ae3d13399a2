using System.Numerics.Tensors;
using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Imaging;

/// <summary>
/// Tensor ↔ image conversions with diffusers' <c>VaeImageProcessor</c> semantics: decoder output [N,3,H,W] in
/// [-1, 1] → <c>clamp(x/2 + 0.5, 0, 1)</c> as NHWC float (<c>output_type="np"</c>) → <c>round(x·255)</c> bytes
/// (<c>"pil"</c>, numpy's round-half-to-even).
/// </summary>
internal static class ImageConversions
{
    /// <summary>Denormalizes decoder output [N, 3, H, W] into a new NHWC float tensor in [0, 1].</summary>
    /// <param name="decoded">The raw VAE decoder output.</param>
    /// <returns>[N, H, W, 3] float32 in [0, 1].</returns>
    public static Tensor<float> ToImageArray(Tensor<float> decoded)
    {
        ArgumentNullException.ThrowIfNull(decoded);
        int[] s = decoded.Shape();
        if (s.Length != 4 || s[1] != 3)
        {
            throw new ArgumentException($"Expected decoder output [N, 3, H, W]; got [{string.Join(", ", s)}].", nameof(decoded));
        }
        int n = s[0], h = s[2], w = s[3];
        int plane = h * w;
        ReadOnlySpan<float> src = decoded.AsSpan();
        var dst = new float[checked(n * plane * 3)];
        for (int b = 0; b < n; b++)
        {
            int srcBase = b * 3 * plane;
            int dstBase = b * plane * 3;
            for (int c = 0; c < 3; c++)
            {
                ReadOnlySpan<float> channel = src.Slice(srcBase + c * plane, plane);
                for (int p = 0; p < plane; p++)
                {
                    float v = channel[p] / 2f + 0.5f;
                    dst[dstBase + p * 3 + c] = Math.Clamp(v, 0f, 1f);
                }
            }
        }
        return TensorShapes.Wrap(dst, n, h, w, 3);
    }

    /// <summary>Converts an NHWC float array in [0, 1] into RGB images (<c>round(x·255)</c>, half to even).</summary>
    /// <param name="imageArray">[N, H, W, 3] float32 in [0, 1].</param>
    /// <returns>One image per batch item.</returns>
    public static IReadOnlyList<RgbImage> ToImages(Tensor<float> imageArray)
    {
        ArgumentNullException.ThrowIfNull(imageArray);
        int[] s = imageArray.Shape();
        if (s.Length != 4 || s[3] != 3)
        {
            throw new ArgumentException($"Expected an image array [N, H, W, 3]; got [{string.Join(", ", s)}].", nameof(imageArray));
        }
        int n = s[0], h = s[1], w = s[2];
        int length = h * w * 3;
        ReadOnlySpan<float> src = imageArray.AsSpan();
        var images = new RgbImage[n];
        for (int b = 0; b < n; b++)
        {
            var bytes = new byte[length];
            ReadOnlySpan<float> item = src.Slice(b * length, length);
            for (int i = 0; i < bytes.Length; i++)
            {
                bytes[i] = ToByte(item[i]);
            }
            images[b] = new RgbImage(w, h, bytes);
        }
        return images;
    }

    /// <summary>numpy's <c>(x * 255).round().astype(uint8)</c> for x in [0, 1].</summary>
    internal static byte ToByte(float x)
    {
        float scaled = x * 255f;
        float rounded = MathF.Round(scaled, MidpointRounding.ToEven);
        return rounded <= 0f ? (byte)0 : rounded >= 255f ? (byte)255 : (byte)rounded;
    }
}
