using Spright.Diffusion.Hub;
using Spright.Diffusion.Tests.Infrastructure;

namespace Spright.Diffusion.Tests.Hub;

/// <summary>
/// An optimum-exported ONNX repository (the bundled tiny model, with its UNet weights in <c>model.onnx_data</c>) through
/// the fake Hub: the ONNX rule fetches the graphs and their external data, and ONNX Runtime loads the snapshot whose
/// <c>model.onnx</c> and <c>model.onnx_data</c> are both symlinks into <c>blobs/</c> (shared/docs/hub-protocol.md §12).
/// </summary>
public sealed class HubOnnxSnapshotTests : IDisposable
{
    private const string RepoId = "fake-org/tiny-sd2-onnx";
    private readonly HubTestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    [Fact]
    public void DownloadPipeline_OnnxRepo_LoadsFromSymlinkedSnapshotWithTheSameImage()
    {
        Dictionary<string, FakeFile> files = FakeHub.FilesOf(TestPaths.TinyModel);
        files["README.md"] = FakeHub.Text("# tiny", "README.md");
        files[".gitattributes"] = FakeHub.Text("*.onnx filter=lfs\n", ".gitattributes");
        files["unet/diffusion_pytorch_model.safetensors"] = FakeHub.File(FakeRepos.Bytes(1000, 9), "unet/diffusion_pytorch_model.safetensors");
        _env.Hub.AddRepo(RepoId).AddCommit(files);

        string snapshot = HubClient.DownloadPipeline(RepoId, _env.Options());

        string[] expected = [.. FakeHub.FilesOf(TestPaths.TinyModel).Keys.Order(StringComparer.Ordinal)];
        string[] got = [.. Directory.EnumerateFiles(snapshot, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(snapshot, f).Replace('\\', '/')).Order(StringComparer.Ordinal)];
        Assert.Equal(expected, got);
        Assert.Contains("unet/model.onnx_data", got);
        Assert.NotNull(new FileInfo(Path.Combine(snapshot, "unet", "model.onnx")).LinkTarget);
        Assert.NotNull(new FileInfo(Path.Combine(snapshot, "unet", "model.onnx_data")).LinkTarget);

        var generation = new TextToImageOptions { Prompt = ["a red cube"], Width = 32, Height = 32, NumInferenceSteps = 2, Seed = 7 };
        using var fromHub = StableDiffusionPipeline.FromPretrained(snapshot);
        using var fromFolder = StableDiffusionPipeline.FromPretrained(TestPaths.TinyModel);
        StableDiffusionPipelineOutput a = fromHub.Generate(generation);
        StableDiffusionPipelineOutput b = fromFolder.Generate(generation);
        Assert.Equal(b.Latents.ToArray(), a.Latents.ToArray());
    }

    [Fact]
    public void FromPretrained_RepoId_DownloadsTheRepoAndLoadsItLikeTheFolder()
    {
        _env.Hub.AddRepo(RepoId).AddCommit(FakeHub.FilesOf(TestPaths.TinyModel));
        var generation = new TextToImageOptions { Prompt = ["a red cube"], Width = 32, Height = 32, NumInferenceSteps = 2, Seed = 7 };
        using var fromHub = StableDiffusionPipeline.FromPretrained(RepoId, new DiffusionPipelineOptions { HubOverrides = _env.Options() });
        using var fromFolder = StableDiffusionPipeline.FromPretrained(TestPaths.TinyModel);
        Assert.Contains("models--fake-org--tiny-sd2-onnx", fromHub.ModelPath, StringComparison.Ordinal);
        Assert.Equal(fromFolder.Generate(generation).Latents.ToArray(), fromHub.Generate(generation).Latents.ToArray());
    }

    [Fact]
    public void FromPretrained_RepoIdNotCachedWhileOffline_IsAHubExceptionNamingTheRepo()
    {
        string cache = Path.Combine(Path.GetTempPath(), "spright-empty-cache-" + Guid.NewGuid().ToString("N"));
        var ex = Assert.Throws<HubException>(() => DiffusionPipeline.FromPretrained("fake-org/not-cached",
            new DiffusionPipelineOptions { LocalFilesOnly = true, CacheDir = cache }));
        Assert.Equal(HubErrorKind.LocalEntryNotFound, ex.Kind);
        Assert.Contains("fake-org/not-cached", ex.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<DiffusionException>(ex);
        Assert.False(Directory.Exists(Path.Combine(cache, "models--fake-org--not-cached", "blobs")));
    }
}
