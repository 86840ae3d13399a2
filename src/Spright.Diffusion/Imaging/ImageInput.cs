using System.Numerics.Tensors;

namespace Spright.Diffusion.Imaging;

/// <summary>
/// An image given to image-to-image: an <see cref="RgbImage"/> or a float array (diffusers accepts PIL images, numpy
/// arrays and tensors). Conversions to the model's input follow diffusers' <c>VaeImageProcessor</c>. To start from a
/// file, decode it first (the <c>Spright.Diffusion.ImageSharp</c> package's <c>ImageFiles.Load</c> decodes with size
/// caps).
/// </summary>
public sealed class ImageInput
{
    private ImageInput(RgbImage? image, Tensor<float>? array)
    {
        Image = image;
        Array = array;
    }

    /// <summary>The image, when given as one.</summary>
    public RgbImage? Image { get; }

    /// <summary>The float array, when given as one: [N, H, W, C] in [0, 1] (numpy layout) or [N, C, H, W]
    /// (torch layout, in [0, 1], or in [-1, 1] when it has negative values).</summary>
    public Tensor<float>? Array { get; }

    /// <summary>Wraps an image.</summary>
    /// <param name="image">The image.</param>
    /// <returns>The input.</returns>
    public static ImageInput FromImage(RgbImage image) => new(image ?? throw new ArgumentNullException(nameof(image)), null);

    /// <summary>A float array in numpy (NHWC) or torch (NCHW) layout.</summary>
    /// <param name="array">The array.</param>
    /// <returns>The input.</returns>
    public static ImageInput FromArray(Tensor<float> array) => new(null, array ?? throw new ArgumentNullException(nameof(array)));

    /// <summary>Wraps an image.</summary>
    /// <param name="image">The image.</param>
    public static implicit operator ImageInput(RgbImage image) => FromImage(image);
}
