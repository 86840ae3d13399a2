using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Spright.Diffusion.Imaging;

namespace Spright.Diffusion.ImageSharp;

/// <summary>Conversions between the library's <see cref="RgbImage"/> and ImageSharp's images (one copy of the pixels).</summary>
public static class ImageSharpExtensions
{
    /// <summary>An ImageSharp copy of <paramref name="image"/> (dispose it when done).</summary>
    /// <param name="image">The image.</param>
    /// <returns>A new <c>Image&lt;Rgb24&gt;</c>.</returns>
    public static Image<Rgb24> ToImageSharp(this RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        return Image.LoadPixelData<Rgb24>(image.Pixels.Span, image.Width, image.Height);
    }

    /// <summary>An <see cref="RgbImage"/> copy of an ImageSharp image (converted to 8-bit RGB; alpha is dropped, as
    /// diffusers' <c>image.convert("RGB")</c> does).</summary>
    /// <param name="image">The image.</param>
    /// <returns>The copy.</returns>
    public static RgbImage ToRgbImage(this Image image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var bytes = new byte[checked(image.Width * image.Height * 3)];
        if (image is Image<Rgb24> rgb)
        {
            rgb.CopyPixelDataTo(bytes);
        }
        else
        {
            using Image<Rgb24> converted = image.CloneAs<Rgb24>();
            converted.CopyPixelDataTo(bytes);
        }
        return new RgbImage(image.Width, image.Height, bytes);
    }
}
