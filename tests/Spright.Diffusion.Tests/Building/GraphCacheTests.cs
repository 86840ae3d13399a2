using System.Text.Json.Nodes;
using Spright.Diffusion.OnnxRuntime.Building;

namespace Spright.Diffusion.Tests.Building;

/// <summary>
/// The graph cache: reuse of a valid entry, rebuilding of stale (weights changed), corrupt and foreign entries, concurrent
/// builders, interrupted builds (no half-written entry), the cache folder options, and Hugging Face snapshot folders of
/// symlinks (the resolved file is linked, the snapshot is never written).
/// </summary>
public sealed class GraphCacheTests
{
    [Fact]
    public void SecondCall_ReusesTheEntryWithoutRebuilding()
    {
        using var temp = new TempFolder();
        GraphBuildOptions options = BuildingTestData.Options(temp);
        string unet = Path.Combine(BuildingTestData.TinySd2, "unet");
        string first = DiffusersGraphs.GetOrBuild(DiffusersComponentKind.UNet, unet, options);
        DateTime written = File.GetLastWriteTimeUtc(first);
        string second = DiffusersGraphs.GetOrBuild(DiffusersComponentKind.UNet, unet, options);
        Assert.Equal(first, second);
        Assert.Equal(written, File.GetLastWriteTimeUtc(second));
        string entry = Path.GetDirectoryName(first)!;
        Assert.True(File.Exists(Path.Combine(entry, "config.json")), "the components read config.json beside the graph");
        Assert.True(File.Exists(Path.Combine(entry, "diffusion_pytorch_model.safetensors")));
        Assert.Single(Directory.GetDirectories(temp.Combine("cache")));
    }

    [Fact]
    public void ChangedWeights_MakeANewEntryAndRemoveTheStaleOne()
    {
        using var temp = new TempFolder();
        GraphBuildOptions options = BuildingTestData.Options(temp);
        string unet = temp.Copy(Path.Combine(BuildingTestData.TinySd2, "unet"), "unet");
        string first = DiffusersGraphs.GetOrBuild(DiffusersComponentKind.UNet, unet, options);

        // Replace the weights (a new file, as a download or git pull does): other values, same layout.
        string weights = Path.Combine(unet, "diffusion_pytorch_model.safetensors");
        File.Copy(weights, weights + ".new");
        BadModelInputTests.RewriteWeights(weights + ".new", e => e.Name == "conv_out.bias" ? SafetensorsWriter.Floats(e.Name, e.Shape, [9f, 9f, 9f, 9f]) : e);
        File.Move(weights + ".new", weights, overwrite: true);

        string second = DiffusersGraphs.GetOrBuild(DiffusersComponentKind.UNet, unet, options);
        Assert.NotEqual(first, second);
        Assert.False(Directory.Exists(Path.GetDirectoryName(first)), "the stale entry is removed");
        Assert.Single(Directory.GetDirectories(temp.Combine("cache")));
    }

    [Theory]
    [InlineData("model")]
    [InlineData("manifest")]
    [InlineData("weights")]
    [InlineData("config")]
    public void CorruptEntry_IsRebuiltNotTrusted(string part)
    {
        using var temp = new TempFolder();
        GraphBuildOptions options = BuildingTestData.Options(temp);
        string text = Path.Combine(BuildingTestData.TinySd2, "text_encoder");
        string path = DiffusersGraphs.GetOrBuild(DiffusersComponentKind.TextEncoder, text, options);
        string entry = Path.GetDirectoryName(path)!;
        string victim = part switch
        {
            "model" => path,
            "manifest" => Path.Combine(entry, "manifest.json"),
            "weights" => Path.Combine(entry, "model.safetensors"),
            _ => Path.Combine(entry, "config.json"),
        };
        byte[] original = File.ReadAllBytes(victim);
        // Break the entry's own file only (the weights are a hard link: replace the link, never write through it).
        File.Delete(victim);
        byte[] broken = part == "weights" ? original.AsSpan(0, original.Length / 2).ToArray() : original.AsSpan(0, original.Length - 3).ToArray();
        File.WriteAllBytes(victim, broken);

        string again = DiffusersGraphs.GetOrBuild(DiffusersComponentKind.TextEncoder, text, options);
        Assert.Equal(path, again);
        Assert.Equal(new FileInfo(Path.Combine(text, "model.safetensors")).Length, new FileInfo(Path.Combine(entry, "model.safetensors")).Length);
        using var session = BuildingTestData.Session(again);
        Assert.Contains("last_hidden_state", session.OutputMetadata.Keys);
    }

    [Fact]
    public void ForeignEntry_UnderTheExpectedName_IsReplaced()
    {
        using var temp = new TempFolder();
        GraphBuildOptions options = BuildingTestData.Options(temp);
        string text = Path.Combine(BuildingTestData.TinySd2, "text_encoder");
        string path = DiffusersGraphs.GetOrBuild(DiffusersComponentKind.TextEncoder, text, options);
        string entry = Path.GetDirectoryName(path)!;
        // Someone else's folder under our name: a manifest of another builder and a graph that is not ours.
        var manifest = (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(entry, "manifest.json")))!;
        manifest["builder"] = "someone-else/9";
        File.WriteAllText(Path.Combine(entry, "manifest.json"), manifest.ToJsonString());
        File.Delete(path);
        File.WriteAllBytes(path, [1, 2, 3]);

        string again = DiffusersGraphs.GetOrBuild(DiffusersComponentKind.TextEncoder, text, options);
        using var session = BuildingTestData.Session(again);
        Assert.Contains("pooler_output", session.OutputMetadata.Keys);
        Assert.NotEqual("someone-else/9", JsonNode.Parse(File.ReadAllText(Path.Combine(entry, "manifest.json")))!["builder"]!.GetValue<string>());
    }

    [Fact]
    public async Task ConcurrentBuilders_AllGetTheSameValidEntry()
    {
        using var temp = new TempFolder();
        GraphBuildOptions options = BuildingTestData.Options(temp);
        string unet = Path.Combine(BuildingTestData.TinySd2, "unet");
        string[] paths = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Task.Run(() => DiffusersGraphs.GetOrBuild(DiffusersComponentKind.UNet, unet, options))));
        Assert.Single(paths.Distinct());
        Assert.Single(Directory.GetDirectories(temp.Combine("cache")));
        using var session = BuildingTestData.Session(paths[0]);
        Assert.Contains("out_sample", session.OutputMetadata.Keys);
    }

    [Fact]
    public void CancelledBuild_LeavesNoEntryAndNoTemporaryFolder()
    {
        using var temp = new TempFolder();
        GraphBuildOptions options = BuildingTestData.Options(temp);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() =>
            DiffusersGraphs.GetOrBuild(DiffusersComponentKind.UNet, Path.Combine(BuildingTestData.TinySd2, "unet"), options, cts.Token));
        Assert.Empty(Directory.EnumerateFileSystemEntries(temp.Combine("cache")));
    }

    [Fact]
    public void FailedBuild_LeavesNoEntryAndTheNextGoodBuildWorks()
    {
        using var temp = new TempFolder();
        GraphBuildOptions options = BuildingTestData.Options(temp);
        string unet = temp.Copy(Path.Combine(BuildingTestData.TinySd2, "unet"), "unet");
        string weights = Path.Combine(unet, "diffusion_pytorch_model.safetensors");
        File.Copy(weights, weights + ".bak");
        BadModelInputTests.RewriteWeights(weights, e => e.Name == "conv_out.weight" ? null : e);
        Assert.Throws<ModelLoadException>(() => DiffusersGraphs.GetOrBuild(DiffusersComponentKind.UNet, unet, options));
        Assert.Empty(Directory.EnumerateFileSystemEntries(temp.Combine("cache")));

        File.Move(weights + ".bak", weights, overwrite: true);
        string path = DiffusersGraphs.GetOrBuild(DiffusersComponentKind.UNet, unet, options);
        Assert.True(File.Exists(path));
    }

    [Fact]
    public void AbandonedTemporaryFolder_IsNeverMistakenForAnEntry()
    {
        using var temp = new TempFolder();
        GraphBuildOptions options = BuildingTestData.Options(temp);
        string text = Path.Combine(BuildingTestData.TinySd2, "text_encoder");
        string path = DiffusersGraphs.GetOrBuild(DiffusersComponentKind.TextEncoder, text, options);
        string entry = Path.GetDirectoryName(path)!;
        // What a killed process leaves: a half-written temporary sibling; and the entry itself gone.
        string abandoned = Path.Combine(temp.Combine("cache"), ".tmp-" + Path.GetFileName(entry) + "-dead");
        Directory.Move(entry, abandoned);
        File.WriteAllBytes(Path.Combine(abandoned, "model.onnx"), [0]);
        string again = DiffusersGraphs.GetOrBuild(DiffusersComponentKind.TextEncoder, text, options);
        Assert.Equal(path, again);
        using var session = BuildingTestData.Session(again);
        Assert.Contains("pooler_output", session.OutputMetadata.Keys);
    }

    [Fact]
    public void DifferentOptions_GetDifferentEntries()
    {
        using var temp = new TempFolder();
        string unet = Path.Combine(BuildingTestData.TinySd1, "unet");
        string a = DiffusersGraphs.GetOrBuild(DiffusersComponentKind.UNet, unet, BuildingTestData.Options(temp));
        string b = DiffusersGraphs.GetOrBuild(DiffusersComponentKind.UNet, unet, BuildingTestData.Options(temp, GraphDtype.Float16));
        string c = DiffusersGraphs.GetOrBuild(DiffusersComponentKind.UNet, unet, BuildingTestData.Options(temp, variant: "fp16"));
        string d = DiffusersGraphs.GetOrBuild(DiffusersComponentKind.UNet, unet, BuildingTestData.Options(temp, optimizations: GraphOptimizations.None));
        Assert.Equal(4, new[] { a, b, c, d }.Distinct().Count());
        Assert.True(File.Exists(Path.Combine(Path.GetDirectoryName(c)!, "diffusion_pytorch_model.fp16.safetensors")));
    }

    [Fact]
    public void CacheFolder_ComesFromTheOptionThenTheEnvironmentThenTheUsersCacheFolder()
    {
        Assert.Equal(Path.GetFullPath("/tmp/x-graphs"), new GraphBuildOptions { CacheDirectory = "/tmp/x-graphs" }.ResolveCacheDirectory());
        string? saved = Environment.GetEnvironmentVariable(GraphBuildOptions.CacheEnvironmentVariable);
        try
        {
            Environment.SetEnvironmentVariable(GraphBuildOptions.CacheEnvironmentVariable, "/tmp/y-graphs");
            Assert.Equal(Path.GetFullPath("/tmp/y-graphs"), new GraphBuildOptions().ResolveCacheDirectory());
            Assert.Equal(Path.GetFullPath("/tmp/x-graphs"), new GraphBuildOptions { CacheDirectory = "/tmp/x-graphs" }.ResolveCacheDirectory());
            Environment.SetEnvironmentVariable(GraphBuildOptions.CacheEnvironmentVariable, null);
            string fallback = new GraphBuildOptions().ResolveCacheDirectory();
            Assert.EndsWith(Path.Combine("spright", "graphs"), fallback, StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable(GraphBuildOptions.CacheEnvironmentVariable, saved);
        }
    }

    [Fact]
    public void HuggingFaceSnapshot_OfRelativeSymlinks_LinksTheResolvedFileAndNeverWritesTheSnapshot()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // creating symlinks needs developer mode there
        }
        using var temp = new TempFolder();
        // models--org--name/{blobs/<hash>, snapshots/<rev>/unet/{config.json, diffusion_pytorch_model.safetensors}} as relative links.
        string repo = temp.Combine("hub", "models--org--tiny");
        string blobs = Path.Combine(repo, "blobs");
        string unet = Path.Combine(repo, "snapshots", "0123abcd", "unet");
        Directory.CreateDirectory(blobs);
        Directory.CreateDirectory(unet);
        foreach ((string name, string blob) in new[] { ("config.json", "aaaa"), ("diffusion_pytorch_model.safetensors", "bbbb") })
        {
            File.Copy(Path.Combine(BuildingTestData.TinySd2, "unet", name), Path.Combine(blobs, blob));
            File.CreateSymbolicLink(Path.Combine(unet, name), Path.Combine("..", "..", "..", "blobs", blob));
        }
        string[] before = Directory.GetFileSystemEntries(repo, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();

        string path = DiffusersGraphs.GetOrBuild(DiffusersComponentKind.UNet, unet, BuildingTestData.Options(temp));
        string linked = Path.Combine(Path.GetDirectoryName(path)!, "diffusion_pytorch_model.safetensors");
        Assert.Null(new FileInfo(linked).LinkTarget);
        Assert.Equal(new FileInfo(Path.Combine(blobs, "bbbb")).Length, new FileInfo(linked).Length);
        Assert.Equal(before, Directory.GetFileSystemEntries(repo, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray());
        using var session = BuildingTestData.Session(path);
        Assert.Contains("out_sample", session.OutputMetadata.Keys);
    }

    [Fact]
    public void DiffusersLayout_IsDetected()
    {
        Assert.True(DiffusersGraphs.IsDiffusersLayout(Path.Combine(BuildingTestData.TinySd2, "unet")));
        Assert.True(DiffusersGraphs.IsDiffusersLayout(Path.Combine(BuildingTestData.TinySd2, "vae")));
        Assert.True(DiffusersGraphs.IsDiffusersPipeline(BuildingTestData.TinySd1));
        Assert.False(DiffusersGraphs.IsDiffusersLayout(Path.Combine(Infrastructure.TestPaths.TinyModel, "unet")));
        Assert.False(DiffusersGraphs.IsDiffusersPipeline(Infrastructure.TestPaths.TinyModel));
        Assert.False(DiffusersGraphs.IsDiffusersLayout(Path.Combine(BuildingTestData.TinySd2, "tokenizer")));
    }
}
