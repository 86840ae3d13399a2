using System.Text.Json.Nodes;
using Spright.Diffusion.Hub;

namespace Spright.Diffusion.Tests.Hub;

/// <summary>
/// File selection on a diffusers-layout repository that also carries an <c>onnx/</c> export folder, pickled and fp16
/// weights (the shape of stable-diffusion-2-1-like repos), by diffusers 0.31's rules (<c>DiffusionPipeline.download</c>):
/// the onnx/ noise never changes the choice nor makes the repository ONNX; the safetensors fallback to <c>.bin</c> is
/// all-or-nothing for the pipeline; a variant a component lacks takes that component's plain weights (diffusers warns of
/// "a mixture", it does not fail), and only a variant no component has is an error.
/// </summary>
public sealed class DiffusersLayoutSelectionTests
{
    private static readonly string[] Shared =
    [
        "feature_extractor/preprocessor_config.json", "model_index.json", "scheduler/scheduler_config.json", "text_encoder/config.json",
        "tokenizer/merges.txt", "tokenizer/vocab.json", "unet/config.json", "vae/config.json",
    ];

    [Theory]
    [InlineData(null, null, "model.safetensors", "diffusion_pytorch_model.safetensors")]
    [InlineData("fp16", null, "model.fp16.safetensors", "diffusion_pytorch_model.fp16.safetensors")]
    [InlineData(null, false, "pytorch_model.bin", "diffusion_pytorch_model.bin")]
    [InlineData("fp16", false, "pytorch_model.fp16.bin", "diffusion_pytorch_model.fp16.bin")]
    [InlineData(null, true, "model.safetensors", "diffusion_pytorch_model.safetensors")]
    public void Select_DiffusersLayoutWithOnnxFolderNoise_TakesTheAskedWeightsOnly(string? variant, bool? useSafetensors, string textEncoderFile, string modelFile)
    {
        PipelineFileSelection selection = PipelineFileSelection.Select("org/repo", "main", Listing(), Index(), variant, useSafetensors, null);

        Assert.False(selection.IsOnnx);
        string[] expected = [.. Shared, "text_encoder/" + textEncoderFile, "unet/" + modelFile, "vae/" + modelFile];
        AssertSelected(expected, selection);
    }

    [Fact]
    public void Select_ComponentWithoutSafetensors_FallsBackToBinForTheWholePipeline()
    {
        string[] files = [.. Listing().Where(f => f != "unet/diffusion_pytorch_model.safetensors")];

        PipelineFileSelection selection = PipelineFileSelection.Select("org/repo", "main", files, Index(), null, null, null);

        AssertSelected([.. Shared, "text_encoder/pytorch_model.bin", "unet/diffusion_pytorch_model.bin", "vae/diffusion_pytorch_model.bin"], selection, files);
    }

    [Fact]
    public void Select_ComponentWithoutSafetensorsWhenRequired_ThrowsEntryNotFound()
    {
        string[] files = [.. Listing().Where(f => f != "unet/diffusion_pytorch_model.safetensors")];

        HubException ex = Assert.Throws<HubException>(() => PipelineFileSelection.Select("org/repo", "main", files, Index(), null, true, null));

        Assert.Equal(HubErrorKind.EntryNotFound, ex.Kind);
        Assert.Contains("safetensors", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Select_VariantOneComponentLacks_TakesThatComponentsPlainWeights()
    {
        string[] files = [.. Listing().Where(f => !f.StartsWith("text_encoder/", StringComparison.Ordinal) || !f.Contains(".fp16.", StringComparison.Ordinal))];

        PipelineFileSelection selection = PipelineFileSelection.Select("org/repo", "main", files, Index(), "fp16", null, null);

        AssertSelected([.. Shared, "text_encoder/model.safetensors", "unet/diffusion_pytorch_model.fp16.safetensors", "vae/diffusion_pytorch_model.fp16.safetensors"], selection, files);
    }

    [Fact]
    public void Select_VariantNoComponentHas_ThrowsEntryNotFoundNamingTheVariant()
    {
        HubException ex = Assert.Throws<HubException>(() => PipelineFileSelection.Select("org/repo", "main", Listing(), Index(), "bf16", null, null));

        Assert.Equal(HubErrorKind.EntryNotFound, ex.Kind);
        Assert.Contains("'bf16'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("org/repo", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>The expected files, and the snapshot filter taking exactly those from the listing.</summary>
    private static void AssertSelected(string[] expected, PipelineFileSelection selection, string[]? files = null)
    {
        string[] sorted = [.. expected.Order(StringComparer.Ordinal)];
        Assert.Equal(sorted, selection.ExpectedFiles.Order(StringComparer.Ordinal));
        Assert.Equal(sorted, (files ?? Listing()).Where(selection.Includes).Order(StringComparer.Ordinal));
    }

    /// <summary>model_index.json, per-component config.json, safetensors, .bin, fp16 variants of both, flax weights, root
    /// checkpoints, README, and an onnx/ folder holding a full optimum export.</summary>
    private static string[] Listing() =>
    [
        "model_index.json", "README.md", ".gitattributes", "v2-1_768-ema-pruned.safetensors", "v2-1_768-ema-pruned.ckpt",
        "feature_extractor/preprocessor_config.json", "scheduler/scheduler_config.json",
        "text_encoder/config.json", "text_encoder/model.safetensors", "text_encoder/pytorch_model.bin",
        "text_encoder/model.fp16.safetensors", "text_encoder/pytorch_model.fp16.bin", "text_encoder/flax_model.msgpack",
        "tokenizer/merges.txt", "tokenizer/vocab.json",
        "unet/config.json", "unet/diffusion_pytorch_model.safetensors", "unet/diffusion_pytorch_model.bin",
        "unet/diffusion_pytorch_model.fp16.safetensors", "unet/diffusion_pytorch_model.fp16.bin", "unet/diffusion_flax_model.msgpack",
        "vae/config.json", "vae/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.bin",
        "vae/diffusion_pytorch_model.fp16.safetensors", "vae/diffusion_pytorch_model.fp16.bin",
        "onnx/model_index.json", "onnx/text_encoder/model.onnx", "onnx/text_encoder/config.json",
        "onnx/unet/model.onnx", "onnx/unet/model.onnx_data", "onnx/unet/weights.pb", "onnx/unet/config.json",
        "onnx/vae_decoder/model.onnx", "onnx/vae_encoder/model.onnx", "onnx/unet/model.fp16.onnx",
    ];

    private static JsonObject Index() => new()
    {
        ["_class_name"] = "StableDiffusionPipeline",
        ["_diffusers_version"] = "0.31.0",
        ["feature_extractor"] = new JsonArray("transformers", "CLIPImageProcessor"),
        ["requires_safety_checker"] = false,
        ["safety_checker"] = new JsonArray(null, null),
        ["scheduler"] = new JsonArray("diffusers", "DDIMScheduler"),
        ["text_encoder"] = new JsonArray("transformers", "CLIPTextModel"),
        ["tokenizer"] = new JsonArray("transformers", "CLIPTokenizer"),
        ["unet"] = new JsonArray("diffusers", "UNet2DConditionModel"),
        ["vae"] = new JsonArray("diffusers", "AutoencoderKL"),
    };
}
