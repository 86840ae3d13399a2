using Spright.Diffusion.OnnxRuntime;
using Spright.Diffusion.OnnxRuntime.Components;
using Spright.Diffusion.OnnxRuntime.Sessions;
using Spright.Diffusion.Schedulers;
using Spright.Diffusion.IO;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Tests.Infrastructure;
using Spright.Diffusion.Tokenization;

namespace Spright.Diffusion.Tests.Pipelines;

/// <summary>Components of different precisions in one pipeline: each reads its own element types from its graph.</summary>
public sealed class MixedPrecisionTests
{
    [Theory]
    [InlineData("fp16 unet, fp32 text encoder and vae", true, false, false)]
    [InlineData("fp16 text encoder and vae, fp32 unet", false, true, true)]
    public void MixedPrecisionPipelineMatchesDiffusersWithinTheFp16Tolerance(string name, bool fp16Unet, bool fp16Text, bool fp16Vae)
    {
        string Folder(bool fp16) => fp16 ? TestPaths.Fp16Model : TestPaths.TinyModel;
        PipelineReferenceCase c = PipelineReferenceCase.Load("01_default_ddim");
        using var textEncoder = new OnnxTextEncoder(Path.Combine(Folder(fp16Text), "text_encoder", "model.onnx"));
        using var unet = new OnnxUNet(Path.Combine(Folder(fp16Unet), "unet", "model.onnx"));
        using var decoder = new OnnxVaeDecoder(Path.Combine(Folder(fp16Vae), "vae_decoder", "model.onnx"));
        using var pipe = new StableDiffusionPipeline(new StableDiffusionComponents
        {
            Tokenizer = ClipTokenizer.FromPretrained(Path.Combine(TestPaths.TinyModel, "tokenizer")),
            TextEncoder = textEncoder,
            Unet = unet,
            VaeDecoder = decoder,
            Scheduler = DDIMScheduler.FromConfig(SchedulerConfig.Load(Path.Combine(TestPaths.TinyModel, "scheduler", "scheduler_config.json"))),
        });
        GenerationOptions options = c.Options() with
        {
            OutputType = OutputType.Array,
        };
        StableDiffusionPipelineOutput output = pipe.Generate(options);
        AssertClose.All(c.Npy("final_latents.npy").AsFloat32(), output.Latents.AsSpan(), 0.1, 0, $"{name}: final latents");
        AssertClose.All(c.Npy("image.npy").AsFloat32(), output.ImageArray!.AsSpan(), 0.05, 0, $"{name}: image");
    }
}
