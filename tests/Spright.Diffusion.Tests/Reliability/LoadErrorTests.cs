using Spright.Diffusion.OnnxRuntime;
using Spright.Diffusion.OnnxRuntime.Components;
using Spright.Diffusion.OnnxRuntime.Sessions;
using Spright.Diffusion.Tests.Infrastructure;

namespace Spright.Diffusion.Tests.Reliability;

/// <summary>Load errors beyond the optimum-layout battery: providers, the legacy layout, image-to-image, messages.</summary>
public sealed class LoadErrorTests
{
    [Theory]
    [InlineData(ExecutionProvider.Cuda, "Microsoft.ML.OnnxRuntime.Gpu")]
    [InlineData(ExecutionProvider.DirectML, "Microsoft.ML.OnnxRuntime.DirectML")]
    public void A_provider_missing_from_the_native_package_names_the_package_to_add(ExecutionProvider provider, string package)
    {
        // The test project references the CPU-only native package (Microsoft.ML.OnnxRuntime), so neither GPU provider exists.
        Assert.DoesNotContain(provider == ExecutionProvider.Cuda ? "CUDAExecutionProvider" : "DmlExecutionProvider", ProviderResolver.AvailableProviders());
        var ex = Assert.Throws<ExecutionProviderUnavailableException>(() =>
            DiffusionPipeline.FromPretrained(TestPaths.TinyModel, TestModels.Options(new OnnxRuntimeSettings { ExecutionProvider = provider })));
        Assert.Equal(provider, ex.Provider);
        Assert.Contains(package, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void Invalid_load_options_are_argument_errors_naming_the_option()
    {
        Assert.Equal("Scheduler", Assert.ThrowsAny<ArgumentException>(() =>
            DiffusionPipeline.FromPretrained(TestPaths.TinyModel, new DiffusionPipelineOptions { Scheduler = "FastScheduler" })).ParamName);
        Assert.Equal("Dtype", Assert.Throws<ArgumentOutOfRangeException>(() =>
            DiffusionPipeline.FromPretrained(TestPaths.TinyModel, new DiffusionPipelineOptions { Dtype = (Dtype)3 })).ParamName);
        Assert.Equal("Variant", Assert.ThrowsAny<ArgumentException>(() =>
            DiffusionPipeline.FromPretrained(TestPaths.TinyModel, new DiffusionPipelineOptions { Variant = "../fp16" })).ParamName);
        var threads = Assert.Throws<ArgumentOutOfRangeException>(() => new OnnxRuntimeBackend(new OnnxRuntimeSettings { IntraOpNumThreads = -2 }));
        Assert.Equal(("IntraOpNumThreads", (object)(-2)), (threads.ParamName, threads.ActualValue));
        Assert.Equal("DeviceId", Assert.Throws<ArgumentOutOfRangeException>(() => new OnnxRuntimeBackend(new OnnxRuntimeSettings { DeviceId = -1 })).ParamName);
        Assert.Equal("ExecutionProvider", Assert.Throws<ArgumentOutOfRangeException>(() =>
            new OnnxRuntimeBackend(new OnnxRuntimeSettings { ExecutionProvider = (ExecutionProvider)42 })).ParamName);
        Assert.Equal("SplitUNetBatchFromLatentPixels", Assert.Throws<ArgumentOutOfRangeException>(() =>
            new OnnxRuntimeBackend(new OnnxRuntimeSettings { SplitUNetBatchFromLatentPixels = -1 })).ParamName);
    }

    [Theory]
    [InlineData("unet/weights.pb", "unet/model.onnx", "external")]
    [InlineData("text_encoder/model.onnx", "text_encoder/model.onnx", "missing")]
    [InlineData("model_index.json", "model_index.json", "not found")]
    public void Legacy_layout_with_a_missing_file_names_it(string deleted, string culprit, string word)
    {
        using var model = new TempModelFolder(TestPaths.LegacyModel);
        model.Delete(deleted);
        var ex = Assert.Throws<ModelLoadException>(() => DiffusionPipeline.FromPretrained(model.Path));
        Assert.Equal(Path.GetFullPath(model.File(culprit)), Path.GetFullPath(ex.FilePath));
        Assert.Contains(word, ex.Problem, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Image_to_image_needs_the_vae_encoder_folder()
    {
        using var model = new TempModelFolder(TestPaths.TinyModel);
        model.Delete("vae_encoder");
        using (DiffusionPipeline text2img = DiffusionPipeline.FromPretrained(model.Path))
        {
            // Text-to-image does not need it…
            Assert.IsType<StableDiffusionPipeline>(text2img);
        }
        // …image-to-image does, whether loaded directly or from a text-to-image pipeline.
        var direct = Assert.Throws<ModelLoadException>(() => StableDiffusionImg2ImgPipeline.FromPretrained(model.Path));
        Assert.Equal(Path.GetFullPath(model.File("vae_encoder")), Path.GetFullPath(direct.FilePath));
        using var source = StableDiffusionPipeline.FromPretrained(model.Path);
        Assert.Throws<ModelLoadException>(() => StableDiffusionImg2ImgPipeline.FromPipe(source));
    }

    [Fact]
    public void A_graph_that_loads_but_cannot_run_is_reported_as_that_graph_when_used()
    {
        using var model = new TempModelFolder(TestPaths.TinyModel);
        model.WriteBytes("text_encoder/model.onnx", OnnxTestGraphs.TextEncoder(32, expandSequence: 5));
        using var pipe = StableDiffusionPipeline.FromPretrained(model.Path);
        var ex = Assert.Throws<ModelLoadException>(() => pipe.Generate(new TextToImageOptions { Prompt = ["a"], Width = 32, Height = 32, NumInferenceSteps = 1 }));
        Assert.Equal(Path.GetFullPath(model.File("text_encoder/model.onnx")), ex.FilePath);
        Assert.Contains("failed running the text_encoder graph", ex.Problem, StringComparison.Ordinal);
        Assert.DoesNotContain("onnxruntime::", ex.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void The_model_folder_itself_missing_or_a_file_is_a_ModelLoadException()
    {
        string missing = Path.Combine(Path.GetTempPath(), "spright-no-model-" + Guid.NewGuid().ToString("N"));
        Assert.Equal(missing, Assert.Throws<ModelLoadException>(() => DiffusionPipeline.FromPretrained(missing)).FilePath);
        string file = Path.Combine(TestPaths.TinyModel, "model_index.json");
        Assert.Equal(file, Assert.Throws<ModelLoadException>(() => DiffusionPipeline.FromPretrained(file)).FilePath);
    }

    [Fact]
    public void Native_messages_lose_error_codes_paths_and_cpp_locations_but_keep_the_reason()
    {
        const string path = "/models/x/unet/model.onnx";
        string native = "[ErrorCode:Fail] Exception during initialization: /onnxruntime_src/onnxruntime/core/optimizer/initializer.cc:79 " +
            "onnxruntime::Initializer::Initializer(const onnxruntime::Graph&, const onnx::TensorProto&, const std::filesystem::__cxx11::path&, bool) " +
            "[ONNXRuntimeError] : 1 : FAIL : tensorprotoutils.cc:1876 GetExtDataFromTensorProto External initializer: conv.weight offset: 1873408 " +
            "size to read: 147456 given file_length: 1573888 are out of bounds or can not be read in full.\n";
        Assert.Equal("External initializer: conv.weight offset: 1873408 size to read: 147456 given file_length: 1573888 are out of bounds or can not be read in full.",
            NativeMessages.Shorten(native, path));
        Assert.Equal("Protobuf parsing failed.",
            NativeMessages.Shorten($"[ErrorCode:InvalidProtobuf] Load model from {path} failed:Protobuf parsing failed.", path));
        Assert.Equal("odd", NativeMessages.Shorten("odd", path));
    }

    [Fact]
    public void ModelLoadException_keeps_its_message_on_one_line_without_parameter_suffixes()
    {
        var ex = new ModelLoadException("/m/unet/config.json", "key 'x' is bad\r\n  second line (Parameter 'x')");
        Assert.Equal("key 'x' is bad second line", ex.Problem);
        Assert.Equal("/m/unet/config.json: key 'x' is bad second line", ex.Message);
    }
}
