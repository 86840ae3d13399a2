using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.OnnxRuntime;
using Spright.Diffusion.Tests.Building;
using Spright.Diffusion.Tests.Hub;
using Spright.Diffusion.Tests.Infrastructure;
using Spright.Diffusion.Tests.Reliability;

namespace Spright.Diffusion.Tests.Cli;

/// <summary>
/// <c>spright convert</c>: a diffusers folder (or Hub repo) written as an optimum ONNX folder that generates what the
/// diffusers folder generates; float16 graphs with <c>--dtype fp16</c>; an existing output kept unless <c>--force</c>
/// (and kept when a forced conversion fails); sources that are not diffusers folders refused.
/// </summary>
public sealed class ConvertCommandTests : IDisposable
{
    private static readonly string[] OptimumFiles =
    [
        "model_index.json", "scheduler/scheduler_config.json",
        "text_encoder/config.json", "text_encoder/model.onnx",
        "tokenizer/merges.txt", "tokenizer/special_tokens_map.json", "tokenizer/tokenizer_config.json", "tokenizer/vocab.json",
        "unet/config.json", "unet/model.onnx",
        "vae_decoder/config.json", "vae_decoder/model.onnx",
        "vae_encoder/config.json", "vae_encoder/model.onnx",
    ];

    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Convert_DiffusersFolder_WritesAnOnnxFolderThatGeneratesTheSameImage()
    {
        string output = _temp.Combine("onnx");

        CliResult result = CliProcess.Run(_temp.Path, "convert", "--model", BuildingTestData.TinySd2, "--output", output);

        Assert.True(result.ExitCode == 0, result.ToString());
        string summary = Assert.Single(result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.StartsWith("converted 4 components (text_encoder, unet, vae_encoder, vae_decoder; float32) to " + output, summary, StringComparison.Ordinal);
        Assert.EndsWith(" MB)", summary, StringComparison.Ordinal);
        Assert.Equal(OptimumFiles, RelativeFiles(output));
        Assert.Equal(["onnx"], Directory.EnumerateFileSystemEntries(_temp.Path).Select(Path.GetFileName));

        var options = new TextToImageOptions { Prompt = ["a red cube"], NumInferenceSteps = 2, Width = 64, Height = 64, Seed = 7 };
        StableDiffusionPipelineOutput fromOnnx;
        using (StableDiffusionPipeline pipe = StableDiffusionPipeline.FromPretrained(output))
        {
            fromOnnx = pipe.Generate(options);
        }
        StableDiffusionPipelineOutput fromDiffusers;
        using (StableDiffusionPipeline pipe = StableDiffusionPipeline.FromPretrained(BuildingTestData.TinySd2, PrivateCache()))
        {
            fromDiffusers = pipe.Generate(options);
        }
        AssertClose.All(fromDiffusers.Latents.AsSpan(), fromOnnx.Latents.AsSpan(), 1e-4, 0, "final latents");
        AssertClose.All(fromDiffusers.ImageArray!.AsSpan(), fromOnnx.ImageArray!.AsSpan(), 1e-4, 0, "image");
    }

    [Theory]
    [InlineData("sd2", null)]
    [InlineData("sd1", "fp16")]
    public void Convert_Fp16_WritesFloat16GraphsThatLoad(string model, string? variant)
    {
        string output = _temp.Combine("onnx16");
        List<string> args = ["convert", "--model", model == "sd2" ? TestPaths.TinySd2Diffusers : TestPaths.TinySd1Diffusers, "--output", output, "--dtype", "fp16"];
        if (variant is not null)
        {
            args.AddRange(["--variant", variant]);
        }

        CliResult result = CliProcess.Run(_temp.Path, [.. args]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("float16) to " + output, result.Stdout, StringComparison.Ordinal);
        using (InferenceSession unet = BuildingTestData.Session(Path.Combine(output, "unet", "model.onnx")))
        {
            Assert.Equal(TensorElementType.Float16, unet.InputMetadata["sample"].ElementDataType);
            Assert.Equal(TensorElementType.Float16, unet.InputMetadata["encoder_hidden_states"].ElementDataType);
        }
        using (InferenceSession text = BuildingTestData.Session(Path.Combine(output, "text_encoder", "model.onnx")))
        {
            Assert.Equal(TensorElementType.Float16, text.OutputMetadata["last_hidden_state"].ElementDataType);
        }
        using StableDiffusionPipeline pipe = StableDiffusionPipeline.FromPretrained(output);
        StableDiffusionPipelineOutput image = pipe.Generate(new TextToImageOptions { Prompt = ["a red cube"], NumInferenceSteps = 1, Width = 64, Height = 64, Seed = 1 });
        float[] pixels = image.ImageArray!.AsSpan().ToArray();
        Assert.Equal(64 * 64 * 3, pixels.Length);
        Assert.All(pixels, p => Assert.InRange(p, 0f, 1f));
    }

    [Fact]
    public void Convert_IntoANonEmptyFolderWithoutForce_IsAUsageErrorThatKeepsTheFolder()
    {
        string output = _temp.Combine("onnx");
        Directory.CreateDirectory(output);
        File.WriteAllText(Path.Combine(output, "keep.txt"), "mine");

        CliResult result = CliProcess.Run(_temp.Path, "convert", "--model", BuildingTestData.TinySd2, "--output", output);

        Assert.Equal(2, result.ExitCode);
        string error = Assert.Single(result.ErrorLines);
        Assert.Contains("--output", error, StringComparison.Ordinal);
        Assert.Contains("--force", error, StringComparison.Ordinal);
        Assert.Equal(["keep.txt"], RelativeFiles(output));
        Assert.Equal("mine", File.ReadAllText(Path.Combine(output, "keep.txt")));
        Assert.Empty(result.Stdout);
    }

    [Fact]
    public void Convert_WithForce_ReplacesTheExistingFolder()
    {
        string output = _temp.Combine("onnx");
        Directory.CreateDirectory(Path.Combine(output, "old"));
        File.WriteAllText(Path.Combine(output, "old", "keep.txt"), "mine");

        CliResult result = CliProcess.Run(_temp.Path, "convert", "--model", BuildingTestData.TinySd2, "--output", output, "--force");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(OptimumFiles, RelativeFiles(output));
        Assert.Equal(["onnx"], Directory.EnumerateFileSystemEntries(_temp.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void Convert_FailingWithForce_LeavesTheExistingFolderAsItWas()
    {
        string broken = _temp.Copy(BuildingTestData.TinySd2, "broken");
        File.Delete(Path.Combine(broken, "vae", "diffusion_pytorch_model.safetensors"));
        string output = _temp.Combine("onnx");
        Directory.CreateDirectory(output);
        File.WriteAllText(Path.Combine(output, "keep.txt"), "mine");

        CliResult result = CliProcess.Run(_temp.Path, "convert", "--model", broken, "--output", output, "--force");

        Assert.Equal(1, result.ExitCode);
        string error = Assert.Single(result.ErrorLines);
        Assert.Contains(Path.Combine(broken, "vae"), error, StringComparison.Ordinal);
        Assert.Equal(["keep.txt"], RelativeFiles(output));
        Assert.Equal(["broken", "onnx"], Directory.EnumerateFileSystemEntries(_temp.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Convert_AnOnnxFolder_IsRefusedAsAlreadyConverted()
    {
        string output = _temp.Combine("onnx");

        CliResult result = CliProcess.Run(_temp.Path, "convert", "--model", TestPaths.TinyModel, "--output", output);

        Assert.Equal(1, result.ExitCode);
        string error = Assert.Single(result.ErrorLines);
        Assert.Contains("model.onnx", error, StringComparison.Ordinal);
        Assert.Contains("already an ONNX export", error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(output));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_temp.Path));
    }

    [Fact]
    public void Convert_AFolderWithoutModelIndex_IsRefused()
    {
        string output = _temp.Combine("onnx");

        CliResult result = CliProcess.Run(_temp.Path, "convert", "--model", TestPaths.ClipTokenizerSd2, "--output", output);

        Assert.Equal(1, result.ExitCode);
        string error = Assert.Single(result.ErrorLines);
        Assert.Contains("model_index.json is missing", error, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_temp.Path));
    }

    [Fact]
    public void Convert_VariantTheFolderLacks_FailsNamingTheMissingFile()
    {
        string output = _temp.Combine("onnx");

        CliResult result = CliProcess.Run(_temp.Path, "convert", "--model", BuildingTestData.TinySd2, "--output", output, "--variant", "fp16");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("model.fp16.safetensors", Assert.Single(result.ErrorLines), StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_temp.Path));
    }

    [Fact]
    public void Convert_IntoTheModelFolder_IsAUsageError()
    {
        string model = _temp.Copy(BuildingTestData.TinySd2, "model");

        CliResult result = CliProcess.Run(_temp.Path, "convert", "--model", model, "--output", Path.Combine(model, "onnx"));

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("overlap", Assert.Single(result.ErrorLines), StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(model, "onnx")));
    }

    [Theory]
    [InlineData("--dtype", "bf16")]
    [InlineData("--variant", "fp16/../x")]
    public void Convert_BadOption_IsAUsageError(string option, string value)
    {
        CliResult result = CliProcess.Run(_temp.Path, "convert", "--model", BuildingTestData.TinySd2, "--output", _temp.Combine("onnx"), option, value);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(option, Assert.Single(result.ErrorLines), StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_temp.Path));
    }

    [Fact]
    public void Convert_RepoId_DownloadsTheTorchWeightsThenConvertsAlsoOffline()
    {
        using var env = new HubTestEnvironment();
        const string repoId = "fake-org/tiny-sd2";
        env.Hub.AddRepo(repoId).AddCommit(RepoFiles(BuildingTestData.TinySd2));
        Dictionary<string, string?> environment = HubEnvironment(env);

        string online = Path.Combine(env.Root, "online");
        CliResult first = CliProcess.RunWith(environment, env.Root, "convert", "--model", repoId, "--output", online, "--quiet");
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Equal(OptimumFiles, RelativeFiles(online));
        Assert.DoesNotContain(Directory.EnumerateFiles(env.Cache, "*", SearchOption.AllDirectories), f => f.EndsWith(".bin", StringComparison.Ordinal));

        string offline = Path.Combine(env.Root, "offline");
        CliResult second = CliProcess.RunWith(environment, env.Root, "convert", "--model", repoId, "--output", offline, "--offline", "--quiet");
        Assert.True(second.ExitCode == 0, second.ToString());
        foreach (string file in OptimumFiles)
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(online, file)), File.ReadAllBytes(Path.Combine(offline, file)));
        }
    }

    [Fact]
    public void Convert_RepoIdWithAVariantOneComponentLacks_FailsNamingThatComponentsFile()
    {
        using var env = new HubTestEnvironment();
        const string repoId = "fake-org/tiny-sd1";
        Dictionary<string, FakeFile> files = RepoFiles(BuildingTestData.TinySd1);
        Assert.True(files.Remove("text_encoder/model.fp16.safetensors"));
        env.Hub.AddRepo(repoId).AddCommit(files);
        string output = Path.Combine(env.Root, "onnx");

        // diffusers 0.31 downloads the mixture (text_encoder's plain weights); loading the variant then fails on that component.
        CliResult result = CliProcess.RunWith(HubEnvironment(env), env.Root, "convert", "--model", repoId, "--variant", "fp16", "--output", output, "--quiet");

        Assert.Equal(1, result.ExitCode);
        string error = Assert.Single(result.ErrorLines);
        Assert.Contains("text_encoder", error, StringComparison.Ordinal);
        Assert.Contains("model.fp16.safetensors", error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(output));
        string snapshot = Assert.Single(Directory.GetDirectories(Path.Combine(env.RepoFolder(repoId), "snapshots")));
        Assert.True(File.Exists(Path.Combine(snapshot, "unet", "diffusion_pytorch_model.fp16.safetensors")));
        Assert.False(File.Exists(Path.Combine(snapshot, "unet", "diffusion_pytorch_model.safetensors")));
        Assert.True(File.Exists(Path.Combine(snapshot, "text_encoder", "model.safetensors")));
    }

    /// <summary>A model folder's files as a Hub repository, plus noise diffusers' rules skip: pickled weights and an ONNX
    /// graph outside the component folders.</summary>
    private static Dictionary<string, FakeFile> RepoFiles(string folder)
    {
        var files = new Dictionary<string, FakeFile>(StringComparer.Ordinal);
        foreach (string file in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(folder, file).Replace('\\', '/');
            files[relative] = FakeHub.File(File.ReadAllBytes(file), relative);
        }
        files["unet/diffusion_pytorch_model.bin"] = FakeHub.File(FakeRepos.Bytes(1000, 5), "unet/diffusion_pytorch_model.bin");
        files["onnx/unet/model.onnx"] = FakeHub.File(FakeRepos.Bytes(1000, 6), "onnx/unet/model.onnx");
        return files;
    }

    /// <summary>The fake Hub's environment for a child process, online (the CLI tests' default is offline).</summary>
    private static Dictionary<string, string?> HubEnvironment(HubTestEnvironment env) =>
        new(env.Variables) { ["HF_HUB_OFFLINE"] = null, ["HF_HUB_CACHE"] = null };

    private static string[] RelativeFiles(string folder) =>
        [.. Directory.GetFiles(folder, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(folder, f).Replace('\\', '/')).Order(StringComparer.Ordinal)];

    private DiffusionPipelineOptions PrivateCache() =>
        new() { Backend = new OnnxRuntimeBackend(new OnnxRuntimeSettings { GraphCacheDirectory = _temp.Combine("graph-cache") }) };
}
