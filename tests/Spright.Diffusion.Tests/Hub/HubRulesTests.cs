using System.Text.Json.Nodes;
using Spright.Diffusion.Hub;
using Spright.Diffusion.Tests.Infrastructure;

namespace Spright.Diffusion.Tests.Hub;

/// <summary>The rules the Hub client copies from Python: repo ids, fnmatch, diffusers' file selection.</summary>
public sealed class HubRulesTests
{
    // Expected values from huggingface_hub's validate_repo_id (run in Python).
    [Theory]
    [InlineData("SPRIGHT-T2I/spright-t2i-sd2", true)]
    [InlineData("gpt2", true)]
    [InlineData("foo/bar", true)]
    [InlineData("123", true)]
    [InlineData("Foo-BAR_foo.bar123", true)]
    [InlineData("datasets/foo/bar", false)]
    [InlineData(".repo_id", false)]
    [InlineData("foo--bar", false)]
    [InlineData("foo.git", false)]
    [InlineData("other..repo..id", false)]
    [InlineData("-abc/def", false)]
    [InlineData("abc-/def", false)]
    [InlineData("org/name-", false)]
    [InlineData("", false)]
    [InlineData("/name", false)]
    [InlineData("org/", false)]
    [InlineData("a b/c", false)]
    [InlineData("org/na me", false)]
    [InlineData("./models/x", false)]
    public void IsRepoId_MatchesHuggingfaceHubValidator(string value, bool expected) => Assert.Equal(expected, HubClient.IsRepoId(value));

    [Fact]
    public void IsRepoId_NameLength_IsAtMost96()
    {
        Assert.True(HubClient.IsRepoId("a/" + new string('x', 96)));
        Assert.False(HubClient.IsRepoId("a/" + new string('x', 97)));
        Assert.False(HubClient.IsRepoId(null));
    }

    // Expected values from Python's fnmatch.fnmatchcase.
    [Theory]
    [InlineData("*.bin", "unet/diffusion_pytorch_model.bin", true)]
    [InlineData("*.bin", "x.bin.json", false)]
    [InlineData("unet/*", "unet/a/b.json", true)]
    [InlineData("unet/*", "unet", false)]
    [InlineData("*.index.*json", "model.safetensors.index.fp16.json", true)]
    [InlineData("*.safetensors.index.*json", "text_encoder/model.safetensors.index.json", true)]
    [InlineData("[!a]*", "abc", false)]
    [InlineData("[!a]*", "bcd", true)]
    [InlineData("[]]x", "]x", true)]
    [InlineData("[a-c]?", "b/", true)]
    [InlineData("[z-a]", "z", false)]
    [InlineData("[", "[", true)]
    [InlineData("a[", "a[", true)]
    [InlineData("model_index.json", "model_index.json", true)]
    [InlineData("model_index.json", "unet/model_index.json", false)]
    [InlineData("?", "/", true)]
    [InlineData("*", "a/b", true)]
    [InlineData("[!]", "!", false)]
    [InlineData("[!]]", "a", true)]
    [InlineData("[!]]", "]", false)]
    [InlineData("a*b*c", "aXXbYYc", true)]
    [InlineData("a*b*c", "aXXbYY", false)]
    [InlineData("*.JSON", "a.json", false)]
    [InlineData("[\\]", "\\", true)]
    [InlineData("[-a]", "-", true)]
    [InlineData("[a-]", "-", true)]
    public void GlobPattern_MatchesLikePythonFnmatch(string pattern, string path, bool expected) =>
        Assert.Equal(expected, GlobPattern.Parse(pattern, ignoreCase: false).IsMatch(path));

    public static TheoryData<string> SelectionCases()
    {
        var data = new TheoryData<string>();
        foreach (JsonNode? c in ReferenceSelection()["cases"]!.AsArray())
        {
            data.Add(c!["name"]!.GetValue<string>());
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(SelectionCases))]
    public void Select_TorchRepository_MatchesDiffusers031Download(string name)
    {
        JsonObject reference = ReferenceSelection();
        JsonNode c = reference["cases"]!.AsArray().Single(n => n!["name"]!.GetValue<string>() == name)!;
        var index = (JsonObject)reference["model_index"]!.DeepClone();
        if (c["ignore_files"] is JsonArray ignoreFiles)
        {
            index["_ignore_files"] = ignoreFiles.DeepClone();
        }
        string[] files = [.. c["files"]!.AsArray().Select(f => f!.GetValue<string>())];
        string? variant = c["variant"]?.GetValue<string>();
        bool? useSafetensors = c["use_safetensors"]?.GetValue<bool>();

        if (c["error"] is not null)
        {
            HubException ex = Assert.Throws<HubException>(() => PipelineFileSelection.Select("org/repo", "main", files, index, variant, useSafetensors, null));
            Assert.Equal(HubErrorKind.EntryNotFound, ex.Kind);
            Assert.Contains("org/repo", ex.Message, StringComparison.Ordinal);
            return;
        }
        PipelineFileSelection selection = PipelineFileSelection.Select("org/repo", "main", files, index, variant, useSafetensors, null);
        string[] expected = [.. c["expected"]!.AsArray().Select(f => f!.GetValue<string>())];
        Assert.False(selection.IsOnnx);
        Assert.Equal(expected, selection.ExpectedFiles.Order(StringComparer.Ordinal));
        Assert.Equal(expected, files.Where(selection.Includes).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Select_OptimumOnnxExport_TakesExternalDataAndSkipsTorchWeights()
    {
        string[] files =
        [
            "model_index.json", "README.md", ".gitattributes", "scheduler/scheduler_config.json",
            "text_encoder/config.json", "text_encoder/model.onnx", "tokenizer/vocab.json", "tokenizer/merges.txt",
            "unet/config.json", "unet/model.onnx", "unet/model.onnx_data", "unet/diffusion_pytorch_model.safetensors",
            "vae_decoder/config.json", "vae_decoder/model.onnx", "vae_encoder/config.json", "vae_encoder/model.onnx",
            "vae_encoder/openvino_model.xml", "sample.png",
        ];
        JsonObject index = TorchIndex();

        PipelineFileSelection selection = PipelineFileSelection.Select("org/repo", "main", files, index, null, null, null);

        Assert.True(selection.IsOnnx);
        Assert.Equal(
            [
                "model_index.json", "scheduler/scheduler_config.json", "text_encoder/config.json", "text_encoder/model.onnx",
                "tokenizer/merges.txt", "tokenizer/vocab.json", "unet/config.json", "unet/model.onnx", "unet/model.onnx_data",
                "vae_decoder/config.json", "vae_decoder/model.onnx", "vae_encoder/config.json", "vae_encoder/model.onnx",
            ],
            selection.ExpectedFiles.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Select_LegacyOnnxPipelineClass_TakesWeightsPb()
    {
        string[] files =
        [
            "model_index.json", "scheduler/scheduler_config.json", "text_encoder/model.onnx", "tokenizer/vocab.json",
            "unet/model.onnx", "unet/weights.pb", "vae_decoder/model.onnx", "vae_encoder/model.onnx", "safety_checker/model.onnx",
        ];
        var index = new JsonObject
        {
            ["_class_name"] = "OnnxStableDiffusionPipeline",
            ["scheduler"] = new JsonArray("diffusers", "PNDMScheduler"),
            ["text_encoder"] = new JsonArray("diffusers", "OnnxRuntimeModel"),
            ["tokenizer"] = new JsonArray("transformers", "CLIPTokenizer"),
            ["unet"] = new JsonArray("diffusers", "OnnxRuntimeModel"),
            ["vae_decoder"] = new JsonArray("diffusers", "OnnxRuntimeModel"),
            ["vae_encoder"] = new JsonArray("diffusers", "OnnxRuntimeModel"),
            ["safety_checker"] = new JsonArray("diffusers", "OnnxRuntimeModel"),
        };

        PipelineFileSelection selection = PipelineFileSelection.Select("org/repo", "onnx", files, index, null, null, null);

        Assert.True(selection.IsOnnx);
        Assert.Equal(files.Order(StringComparer.Ordinal), selection.ExpectedFiles.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Select_UseOnnxFalse_TakesTorchWeightsOfAMixedRepository()
    {
        string[] files = ["model_index.json", "unet/config.json", "unet/model.onnx", "unet/diffusion_pytorch_model.safetensors"];

        PipelineFileSelection selection = PipelineFileSelection.Select("org/repo", "main", files, TorchIndex(), null, null, useOnnx: false);

        Assert.False(selection.IsOnnx);
        Assert.Equal(["model_index.json", "unet/config.json", "unet/diffusion_pytorch_model.safetensors"], selection.ExpectedFiles.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Select_UseOnnxTrueWithoutGraphs_ThrowsEntryNotFound()
    {
        string[] files = ["model_index.json", "unet/config.json", "unet/diffusion_pytorch_model.safetensors"];

        HubException ex = Assert.Throws<HubException>(() => PipelineFileSelection.Select("org/repo", "main", files, TorchIndex(), null, null, useOnnx: true));

        Assert.Equal(HubErrorKind.EntryNotFound, ex.Kind);
        Assert.Contains("ONNX", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Select_OnnxVariant_ReplacesThePlainGraph()
    {
        string[] files = ["model_index.json", "unet/config.json", "unet/model.onnx", "unet/model.fp16.onnx", "text_encoder/model.onnx"];

        PipelineFileSelection selection = PipelineFileSelection.Select("org/repo", "main", files, TorchIndex(), "fp16", null, null);

        Assert.Equal(["model_index.json", "text_encoder/model.onnx", "unet/config.json", "unet/model.fp16.onnx"], selection.ExpectedFiles.Order(StringComparer.Ordinal));
    }

    private static JsonObject TorchIndex() => new()
    {
        ["_class_name"] = "StableDiffusionPipeline",
        ["scheduler"] = new JsonArray("diffusers", "DDIMScheduler"),
        ["text_encoder"] = new JsonArray("transformers", "CLIPTextModel"),
        ["tokenizer"] = new JsonArray("transformers", "CLIPTokenizer"),
        ["unet"] = new JsonArray("diffusers", "UNet2DConditionModel"),
        ["vae"] = new JsonArray("diffusers", "AutoencoderKL"),
        ["safety_checker"] = new JsonArray(null, null),
    };

    private static JsonObject ReferenceSelection() =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(TestPaths.TestData, "hub", "diffusers031-file-selection.json")))!.AsObject();
}
