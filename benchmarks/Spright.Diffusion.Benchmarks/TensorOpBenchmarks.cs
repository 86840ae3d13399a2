using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;
using Spright.Diffusion.Imaging;
using Spright.Diffusion.Pipelines;
using Spright.Diffusion.Random;
using Spright.Diffusion.IO;
using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Benchmarks;

/// <summary>Classifier-free guidance on one image's 1×4×S×S noise predictions: the combination and diffusers'
/// guidance_rescale (both in place on preallocated buffers).</summary>
[MemoryDiagnoser]
[BenchmarkCategory("Guidance")]
public class GuidanceBenchmarks
{
    private float[] _uncond = null!;
    private float[] _text = null!;
    private float[] _guided = null!;

    [Params(64, 96)]
    public int LatentSide { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        int n = 4 * LatentSide * LatentSide;
        var g = new TorchGenerator(1);
        _uncond = new float[n];
        _text = new float[n];
        _guided = new float[n];
        g.Randn(_uncond);
        g.Randn(_text);
    }

    [Benchmark]
    public void Combine() => Guidance.Combine(_uncond, _text, 7.5f, _guided);

    [Benchmark]
    public void CombineAndRescale()
    {
        Guidance.Combine(_uncond, _text, 7.5f, _guided);
        Guidance.Rescale(_guided, _text, 1, 0.7);
    }
}

/// <summary>The torch-compatible generator: <c>torch.randn</c> for SPRIGHT's 1×4×96×96 initial latent.</summary>
[MemoryDiagnoser]
[BenchmarkCategory("Random")]
public class RandomBenchmarks
{
    private readonly float[] _latent = new float[4 * 96 * 96];
    private readonly TorchGenerator _generator = new(42);

    [Benchmark]
    public void Randn_1x4x96x96() => _generator.Randn(_latent);
}

/// <summary>Tensor ↔ image conversions at 768²: decoder output to diffusers' "np" array and to RGB images, and an
/// input image to the VAE encoder's tensor (image-to-image preprocessing).</summary>
[MemoryDiagnoser]
[BenchmarkCategory("Imaging")]
public class ImageConversionBenchmarks
{
    private Tensor<float> _decoded = null!;
    private Tensor<float> _array = null!;
    private RgbImage _image = null!;

    [GlobalSetup]
    public void Setup()
    {
        var data = new float[3 * 768 * 768];
        new TorchGenerator(3).Randn(data);
        _decoded = TensorShapes.Wrap(data, 1, 3, 768, 768);
        _array = ImageConversions.ToImageArray(_decoded);
        _image = ImageConversions.ToImages(_array)[0];
    }

    [Benchmark]
    public Tensor<float> DecodedToArray_768() => ImageConversions.ToImageArray(_decoded);

    [Benchmark]
    public int ArrayToImage_768()
    {
        IReadOnlyList<RgbImage> images = ImageConversions.ToImages(_array);
        return images[0].Width;
    }

    [Benchmark]
    public Tensor<float> ImageToTensor_768() => ImagePreprocessor.Preprocess(ImageInput.FromImage(_image), 8);
}
