using Spright.Diffusion.Tests.Infrastructure;

namespace Spright.Diffusion.Tests.Reliability;

/// <summary>One text-to-image and one image-to-image pipeline on the tiny model, shared by a test class.</summary>
public sealed class TinyPipelines : IDisposable
{
    public TinyPipelines()
    {
        Img2Img = StableDiffusionImg2ImgPipeline.FromPretrained(TestPaths.TinyModel);
        Text2Img = StableDiffusionPipeline.FromPipe(Img2Img);
    }

    public StableDiffusionPipeline Text2Img { get; }

    public StableDiffusionImg2ImgPipeline Img2Img { get; }

    public void Dispose()
    {
        Text2Img.Dispose();
        Img2Img.Dispose();
    }
}
