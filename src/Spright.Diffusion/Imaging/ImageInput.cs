using System.Numerics.Tensors;
using SixLabors.ImageSharp;

namespace Spright.Diffusion;

/// <summary>
/// An image given to image-to-image: an ImageSharp image, a file path, or a float array (diffusers accepts PIL
/// images, numpy arrays and tensors). Conversions to the model's input follow diffusers' <c>VaeImageProcessor</c>.
/// </summary>
public sealed class ImageInput
{
    private ImageInput(Image? image, string? path, Tensor<float>? array)
    {
        Image = image;
        FilePath = path;
        Array = array;
    }

    /// <summary>The ImageSharp image, when given as one.</summary>
    public Image? Image { get; }

    /// <summary>The file path, when given as one.</summary>
    public string? FilePath { get; }

    /// <summary>The float array, when given as one: [N, H, W, C] in [0, 1] (numpy layout) or [N, C, H, W]
    /// (torch layout, in [0, 1], or in [-1, 1] when it has negative values).</summary>
    public Tensor<float>? Array { get; }

    /// <summary>Wraps an ImageSharp image (not copied; keep it alive during the call).</summary>
    /// <param name="image">The image.</param>
    /// <returns>The input.</returns>
    public static ImageInput FromImage(Image image) => new(image ?? throw new ArgumentNullException(nameof(image)), null, null);

    /// <summary>An image file to decode (PNG, JPEG, BMP, GIF, TGA, WebP, TIFF…), with pixel-count limits.</summary>
    /// <param name="path">The file path.</param>
    /// <returns>The input.</returns>
    public static ImageInput FromFile(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        return new(null, path, null);
    }

    /// <summary>A float array in numpy (NHWC) or torch (NCHW) layout.</summary>
    /// <param name="array">The array.</param>
    /// <returns>The input.</returns>
    public static ImageInput FromArray(Tensor<float> array) => new(null, null, array ?? throw new ArgumentNullException(nameof(array)));

    /// <summary>Wraps an ImageSharp image.</summary>
    /// <param name="image">The image.</param>
    public static implicit operator ImageInput(Image image) => FromImage(image);
}
