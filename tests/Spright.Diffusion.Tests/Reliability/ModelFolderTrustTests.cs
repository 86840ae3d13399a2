using Spright.Diffusion.Tests.Infrastructure;

namespace Spright.Diffusion.Tests.Reliability;

/// <summary>
/// The trust rule for symbolic links: every component folder and file must resolve inside the model folder (or, for a
/// Hugging Face cache snapshot, inside that repository's cache folder); links leading elsewhere are refused unless the
/// caller opts out with <see cref="DiffusionPipelineOptions.FollowExternalLinks"/>.
/// </summary>
public sealed class ModelFolderTrustTests
{
    [Fact]
    public void A_component_linked_from_outside_loads_only_with_the_opt_out()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // links need rights there
        }
        using var model = new TempModelFolder(TestPaths.TinyModel);
        string outside = Path.Combine(model.Outside, "elsewhere-text_encoder");
        Directory.Move(model.File("text_encoder"), outside);
        Directory.CreateSymbolicLink(model.File("text_encoder"), outside);

        var refused = Assert.Throws<ModelLoadException>(() => DiffusionPipeline.FromPretrained(model.Path));
        Assert.Equal(model.File("text_encoder"), refused.FilePath);
        Assert.Contains("FollowExternalLinks", refused.Problem, StringComparison.Ordinal);

        using var pipe = DiffusionPipeline.FromPretrained(model.Path, new DiffusionPipelineOptions { FollowExternalLinks = true });
        Assert.Single(pipe.Generate(new TextToImageOptions { Prompt = ["a"], Width = 32, Height = 32, NumInferenceSteps = 1 }).Images);
    }

    [Fact]
    public void Links_that_stay_inside_the_model_folder_are_followed()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        using var model = new TempModelFolder(TestPaths.TinyModel);
        string moved = model.File("shared-tokenizer");
        Directory.Move(model.File("tokenizer"), moved);
        Directory.CreateSymbolicLink(model.File("tokenizer"), "shared-tokenizer");
        File.Move(model.File("unet/config.json"), model.File("unet/config.real.json"));
        File.CreateSymbolicLink(model.File("unet/config.json"), "config.real.json");
        using var pipe = DiffusionPipeline.FromPretrained(model.Path);
        Assert.False(pipe.IsDisposed);
    }

    [Fact]
    public void A_hub_snapshot_may_link_into_its_own_blobs_but_not_into_another_repo()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        string cache = Directory.CreateTempSubdirectory("spright-trust-cache-").FullName;
        try
        {
            string repo = Path.Combine(cache, "models--org--tiny");
            string snapshot = Path.Combine(repo, "snapshots", new string('a', 40));
            string blobs = Directory.CreateDirectory(Path.Combine(repo, "blobs")).FullName;
            foreach (string file in Directory.EnumerateFiles(TestPaths.TinyModel, "*", SearchOption.AllDirectories))
            {
                string relative = Path.GetRelativePath(TestPaths.TinyModel, file);
                string blob = Path.Combine(blobs, Guid.NewGuid().ToString("N"));
                File.Copy(file, blob);
                string link = Path.Combine(snapshot, relative);
                Directory.CreateDirectory(Path.GetDirectoryName(link)!);
                File.CreateSymbolicLink(link, Path.GetRelativePath(Path.GetDirectoryName(link)!, blob));
            }
            using (var pipe = DiffusionPipeline.FromPretrained(snapshot))
            {
                Assert.False(pipe.IsDisposed);
            }

            string other = Directory.CreateDirectory(Path.Combine(cache, "models--org--other", "blobs")).FullName;
            string config = Path.Combine(snapshot, "unet", "config.json");
            string foreign = Path.Combine(other, "config");
            File.Copy(config, foreign);
            File.Delete(config);
            File.CreateSymbolicLink(config, foreign);
            Assert.Equal(config, Assert.Throws<ModelLoadException>(() => DiffusionPipeline.FromPretrained(snapshot)).FilePath);
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }
    }
}
