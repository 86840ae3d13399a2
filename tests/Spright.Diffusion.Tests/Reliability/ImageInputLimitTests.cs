using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Spright.Diffusion.Imaging;

namespace Spright.Diffusion.Tests.Reliability;

/// <summary>
/// Image-to-image inputs from hostile files: headers claiming huge sizes are refused before any pixel memory is
/// allocated, and unreadable data is an <see cref="ArgumentException"/> naming the file.
/// </summary>
public sealed class ImageInputLimitTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("spright-images-").FullName;

    public static TheoryData<int, int> Bombs() => new()
    {
        { 100_000, 100_000 }, // 10 gigapixels
        { 20_000, 8 },        // a side over the limit
        { 9_000, 9_000 },     // 81 megapixels: sides fine, area over
        { int.MaxValue, 1 },
    };

    [Theory]
    [MemberData(nameof(Bombs))]
    public void A_header_claiming_a_huge_image_is_refused_without_allocating_it(int width, int height)
    {
        string path = Write("bomb.png", ImageBombs.PngHeader(width, height));
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();

        var ex = Assert.ThrowsAny<ArgumentException>(() => ImagePreprocessor.Preprocess(ImageInput.FromFile(path), 8));

        Assert.Equal("input", ex.ParamName);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - allocatedBefore < (16 << 20), "the decoder allocated pixel memory");
    }

    [Fact]
    public void Accepted_limits_are_the_documented_ones()
    {
        Assert.Equal(16384, ImagePreprocessor.MaxSide);
        Assert.Equal(64L * 1024 * 1024, ImagePreprocessor.MaxPixels);
    }

    public static TheoryData<string> Unreadable() => new() { "empty", "text", "truncated png", "png with garbage data" };

    [Theory]
    [MemberData(nameof(Unreadable))]
    public void Unreadable_files_are_ArgumentExceptions_naming_the_file(string kind)
    {
        byte[] valid = ValidPng(64, 64);
        byte[] bytes = kind switch
        {
            "empty" => [],
            "text" => "definitely not an image"u8.ToArray(),
            "truncated png" => valid[..(valid.Length / 3)],
            _ => [.. valid[..40], .. Enumerable.Repeat((byte)0xAB, 500)],
        };
        string path = Write("broken.png", bytes);
        var ex = Assert.ThrowsAny<ArgumentException>(() => ImagePreprocessor.Preprocess(ImageInput.FromFile(path), 8));
        Assert.Equal("input", ex.ParamName);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_pipeline_reports_a_bad_image_as_its_Image_option()
    {
        string path = Write("bomb.png", ImageBombs.PngHeader(100_000, 100_000));
        using var pipe = StableDiffusionImg2ImgPipeline.FromPretrained(Infrastructure.TestPaths.TinyModel);
        var ex = Assert.ThrowsAny<ArgumentException>(() => pipe.Generate(new GenerationOptions { Prompt = ["a"], Image = ImageInput.FromFile(path), NumInferenceSteps = 2 }));
        Assert.Equal("Image", ex.ParamName);
        Assert.Contains("100000×100000", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_file_is_FileNotFoundException()
    {
        Assert.Throws<FileNotFoundException>(() => ImagePreprocessor.Preprocess(ImageInput.FromFile(Path.Combine(_dir, "none.png")), 8));
    }

    [Fact]
    public void Only_the_first_frame_of_an_animation_is_decoded()
    {
        using var animation = new Image<Rgb24>(16, 16, new Rgb24(255, 0, 0));
        for (int i = 0; i < 5; i++)
        {
            using var frame = new Image<Rgb24>(16, 16, new Rgb24(0, 0, 255));
            animation.Frames.AddFrame(frame.Frames.RootFrame);
        }
        string path = Path.Combine(_dir, "anim.gif");
        animation.SaveAsGif(path);
        var tensor = ImagePreprocessor.Preprocess(ImageInput.FromFile(path), 8);
        Assert.Equal([1, 3, 16, 16], Tensors.TensorShapes.Shape(tensor));
        Assert.True(Tensors.TensorShapes.AsSpan(tensor)[0] > 0.9f); // red channel of the first (red) frame
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static byte[] ValidPng(int width, int height)
    {
        using var image = new Image<Rgb24>(width, height);
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                image[x, y] = new Rgb24((byte)(x * 4), (byte)(y * 4), (byte)(x ^ y));
            }
        }
        using var stream = new MemoryStream();
        image.SaveAsPng(stream);
        return stream.ToArray();
    }
}
