using System.Diagnostics;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Spright.Diffusion.ImageSharp;
using Spright.Diffusion.Imaging;
using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Tests.Reliability;

/// <summary>
/// Image-to-image inputs from hostile files (Spright.Diffusion.ImageSharp's <see cref="ImageFiles"/>): headers claiming
/// huge sizes are refused before any pixel memory is allocated, metadata is never inflated, truncated pixel data is an
/// error rather than zeros, only regular files are opened, and unreadable data is an <see cref="ArgumentException"/>
/// naming the file.
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

        var ex = Assert.ThrowsAny<ArgumentException>(() => ImageFiles.Load(path));

        Assert.Equal("path", ex.ParamName);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - allocatedBefore < (16 << 20), "the decoder allocated pixel memory");
    }

    [Fact]
    public void Accepted_limits_are_the_documented_ones()
    {
        Assert.Equal(16384, ImageFiles.MaxSide);
        Assert.Equal(64L * 1024 * 1024, ImageFiles.MaxPixels);
        Assert.Equal(ImageFiles.MaxSide, ImagePreprocessor.MaxSide);
        Assert.Equal(ImageFiles.MaxPixels, ImagePreprocessor.MaxPixels);
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
        var ex = Assert.ThrowsAny<ArgumentException>(() => ImageFiles.Load(path));
        Assert.Equal("path", ex.ParamName);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_text_chunk_that_inflates_to_256_MB_is_never_inflated()
    {
        string path = Write("ztxt.png", ImageBombs.WithTextBomb(ValidPng(64, 64), 256 << 20));
        Assert.True(new FileInfo(path).Length < (1 << 20), "the crafted file should be small");
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var timer = Stopwatch.StartNew();
        RgbImage image = ImageFiles.Load(path);
        Assert.Equal((64, 64), (image.Width, image.Height));
        Assert.True(timer.Elapsed < TimeSpan.FromSeconds(10), $"decoding took {timer.Elapsed}");
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - allocatedBefore < (32 << 20), "the metadata was inflated");
    }

    [Theory]
    [InlineData(16_000, 4_000)]
    [InlineData(4_000, 4_000)]
    public void A_bmp_without_its_pixel_data_is_refused_rather_than_decoded_to_zeros(int width, int height)
    {
        string path = Write("empty.bmp", ImageBombs.BmpWithoutPixels(width, height));
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var ex = Assert.ThrowsAny<ArgumentException>(() => ImageFiles.Load(path));
        Assert.Equal("path", ex.ParamName);
        Assert.Contains("only 54 bytes", ex.Message, StringComparison.Ordinal);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - allocatedBefore < (16 << 20), "the decoder allocated pixel memory");
    }

    [Fact]
    public async Task A_fifo_device_or_missing_file_is_refused_at_once()
    {
        Assert.Equal("path", Assert.ThrowsAny<ArgumentException>(() => ImageFiles.Load(Path.Combine(_dir, "none.png"))).ParamName);
        Assert.Equal("path", Assert.ThrowsAny<ArgumentException>(() => ImageFiles.Load(_dir)).ParamName);
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        Assert.Contains("not a regular file", Assert.ThrowsAny<ArgumentException>(() => ImageFiles.Load("/dev/zero")).Message, StringComparison.Ordinal);
        string fifo = Path.Combine(_dir, "fifo.png");
        MakeFifo(fifo);
        Task<ArgumentException> load = Task.Run(() => Assert.ThrowsAny<ArgumentException>(() => ImageFiles.Load(fifo)));
        Assert.Same(load, await Task.WhenAny(load, Task.Delay(TimeSpan.FromSeconds(10))));
        Assert.Contains("not a regular file", (await load).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_pipeline_reports_an_oversized_image_as_its_Image_option()
    {
        using var pipe = StableDiffusionImg2ImgPipeline.FromPretrained(Infrastructure.TestPaths.TinyModel);
        var huge = new RgbImage(20_000, 8, new byte[20_000 * 8 * 3]);
        var ex = Assert.ThrowsAny<ArgumentException>(() => pipe.Generate(new ImageToImageOptions { Prompt = ["a"], Image = huge, NumInferenceSteps = 2 }));
        Assert.Equal("Image", ex.ParamName);
        Assert.Contains("20000×8", ex.Message, StringComparison.Ordinal);
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
        RgbImage image = ImageFiles.Load(path);
        var tensor = ImagePreprocessor.Preprocess(image, 8);
        Assert.Equal([1, 3, 16, 16], tensor.Shape());
        Assert.True(tensor.AsSpan()[0] > 0.9f); // red channel of the first (red) frame
    }

    [Fact]
    public void RgbImage_round_trips_through_ImageSharp_and_its_own_PNG_writer()
    {
        using var source = Image.Load<Rgb24>(ValidPng(24, 16));
        RgbImage rgb = source.ToRgbImage();
        using Image<Rgb24> back = rgb.ToImageSharp();
        using Image<Rgb24> decoded = Image.Load<Rgb24>(rgb.ToPng());
        var expected = new byte[24 * 16 * 3];
        var viaImageSharp = new byte[expected.Length];
        var viaPng = new byte[expected.Length];
        source.CopyPixelDataTo(expected);
        back.CopyPixelDataTo(viaImageSharp);
        decoded.CopyPixelDataTo(viaPng);
        Assert.Equal(expected, rgb.Pixels.ToArray());
        Assert.Equal(expected, viaImageSharp);
        Assert.Equal(expected, viaPng);
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

    internal static void MakeFifo(string path)
    {
        using Process process = Process.Start(new ProcessStartInfo("mkfifo", [path]) { UseShellExecute = false })!;
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
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
