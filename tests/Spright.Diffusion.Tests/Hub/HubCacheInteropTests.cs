using System.Diagnostics;
using Spright.Diffusion.Hub;

namespace Spright.Diffusion.Tests.Hub;

/// <summary>
/// Sharing the cache with Python: a tree laid out as huggingface_hub writes it (shared/docs/hub-protocol.md §6, with
/// relative symlinks, refs without a newline and a newer client's extra entries, §11) is used with no download and left
/// as it is; the blob lock excludes other downloads (§8).
/// </summary>
public sealed class HubCacheInteropTests : IDisposable
{
    private const string RepoId = "fake-org/written-by-python";
    private readonly HubTestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    /// <summary>Writes the repository's pipeline files the way huggingface_hub 0.36 does, plus entries newer clients add.</summary>
    private (FakeRepo Repo, string Snapshot, Dictionary<string, (DateTime, long)> Untouchable) WritePythonCache()
    {
        FakeRepo repo = _env.Hub.AddRepo(RepoId);
        string commit = repo.AddCommit(FakeRepos.SprightShaped());
        string storage = _env.RepoFolder(RepoId);
        string snapshot = Path.Combine(storage, "snapshots", commit);
        foreach (string file in FakeRepos.SprightPipelineFiles)
        {
            FakeFile f = repo.MainFiles[file];
            string blob = Path.Combine(storage, "blobs", f.Etag);
            Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
            File.WriteAllBytes(blob, f.Content);
            string pointer = Path.Combine([snapshot, .. file.Split('/')]);
            Directory.CreateDirectory(Path.GetDirectoryName(pointer)!);
            File.CreateSymbolicLink(pointer, Path.GetRelativePath(Path.GetDirectoryName(pointer)!, blob));
            string lockFile = Path.Combine(_env.Cache, ".locks", "models--fake-org--written-by-python", f.Etag + ".lock");
            Directory.CreateDirectory(Path.GetDirectoryName(lockFile)!);
            File.WriteAllBytes(lockFile, []);
        }
        Directory.CreateDirectory(Path.Combine(storage, "refs"));
        File.WriteAllText(Path.Combine(storage, "refs", "main"), commit);
        // Newer clients: CACHEDIR.TAG, trees/{commit}.json, a run-specific partial download; transformers' version file.
        string[] extras =
        [
            Path.Combine(_env.Cache, "CACHEDIR.TAG"),
            Path.Combine(_env.Cache, "version.txt"),
            Path.Combine(storage, "trees", commit + ".json"),
            Path.Combine(storage, "blobs", repo.MainFiles["unet/diffusion_pytorch_model.safetensors"].Sha256 + ".0a1b2c3d.incomplete"),
            Path.Combine(storage, ".no_exist", commit, "unet", "diffusion_pytorch_model.fp16.safetensors"),
        ];
        var untouchable = new Dictionary<string, (DateTime, long)>(StringComparer.Ordinal);
        foreach (string extra in extras)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(extra)!);
            File.WriteAllText(extra, extra.EndsWith(".json", StringComparison.Ordinal) ? "{\"format_version\":1,\"files\":{}}" : "x");
            File.SetLastWriteTimeUtc(extra, new DateTime(2024, 1, 2, 3, 4, 5, DateTimeKind.Utc));
        }
        foreach (string path in Directory.EnumerateFileSystemEntries(_env.Cache, "*", SearchOption.AllDirectories))
        {
            var info = new FileInfo(path);
            if (!Directory.Exists(path))
            {
                untouchable[path] = (info.LastWriteTimeUtc, info.Length);
            }
        }
        return (repo, snapshot, untouchable);
    }

    private void AssertUntouched(Dictionary<string, (DateTime, long)> before)
    {
        foreach ((string path, (DateTime time, long length)) in before)
        {
            var info = new FileInfo(path);
            Assert.True(info.Exists || info.LinkTarget is not null, $"{path} was removed");
            Assert.Equal((time, length), (info.LastWriteTimeUtc, info.Length));
        }
    }

    [Fact]
    public void DownloadPipeline_PythonCacheOffline_LoadsWithNoRequest()
    {
        (_, string snapshot, Dictionary<string, (DateTime, long)> before) = WritePythonCache();
        _env.Variables["HF_HUB_OFFLINE"] = "1";

        Assert.Equal(snapshot, HubClient.DownloadPipeline(RepoId, _env.Options()));

        Assert.Empty(_env.Hub.Requests);
        AssertUntouched(before);
    }

    [Fact]
    public void DownloadPipeline_PythonCacheOnline_DownloadsNothingAndTouchesNothing()
    {
        (_, string snapshot, Dictionary<string, (DateTime, long)> before) = WritePythonCache();

        Assert.Equal(snapshot, HubClient.DownloadPipeline(RepoId, _env.Options()));

        Assert.Equal(["GET /api/models/fake-org/written-by-python", "HEAD /fake-org/written-by-python/resolve/main/model_index.json"],
            _env.Hub.Requests.Select(r => $"{r.Method} {r.Target}"));
        AssertUntouched(before);
    }

    [Fact]
    public void DownloadFile_PythonCachePinnedCommit_MakesNoRequest()
    {
        (FakeRepo repo, string snapshot, _) = WritePythonCache();

        string path = HubClient.DownloadFile(RepoId, "unet/diffusion_pytorch_model.safetensors", _env.Options(revision: repo.MainCommit));

        Assert.Equal(Path.Combine(snapshot, "unet", "diffusion_pytorch_model.safetensors"), path);
        Assert.Empty(_env.Hub.Requests);
    }

    [Fact]
    public void DownloadFile_PythonCacheWithoutSymlinks_AcceptsRegularFiles()
    {
        FakeRepo repo = _env.Hub.AddRepo(RepoId);
        string commit = repo.AddCommit(FakeRepos.SprightShaped());
        string pointer = Path.Combine(_env.RepoFolder(RepoId), "snapshots", commit, "unet", "config.json");
        Directory.CreateDirectory(Path.GetDirectoryName(pointer)!);
        File.WriteAllBytes(pointer, repo.MainFiles["unet/config.json"].Content);

        Assert.Equal(pointer, HubClient.DownloadFile(RepoId, "unet/config.json", _env.Options()));
        Assert.DoesNotContain(_env.Hub.Requests, r => r.Method == "GET");
    }

    [Fact]
    public async Task DownloadFile_BlobLockHeld_WaitsUntilReleased()
    {
        FakeRepo repo = _env.Hub.AddRepo(RepoId);
        repo.AddCommit(FakeRepos.SprightShaped());
        FakeFile unet = repo.MainFiles["unet/diffusion_pytorch_model.safetensors"];
        string lockPath = Path.Combine(_env.Cache, ".locks", "models--fake-org--written-by-python", unet.Sha256 + ".lock");

        Task<string> download;
        using (HubFileLock held = await HubFileLock.AcquireAsync(lockPath, CancellationToken.None))
        {
            download = Task.Run(() => HubClient.DownloadFileAsync(RepoId, "unet/diffusion_pytorch_model.safetensors", _env.Options()));
            // The HEAD has been answered: the download is at the lock. It must not go further while the lock is held.
            var deadline = Stopwatch.StartNew();
            while (!_env.Hub.HubRequests.Any(r => r.Method == "HEAD") && deadline.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(10);
            }
            await Task.Delay(500);
            Assert.Empty(_env.Hub.CdnRequests);
            Assert.False(download.IsCompleted);
        }
        string path = await download.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(unet.Content, await File.ReadAllBytesAsync(path));
    }

    [Fact]
    public async Task HubFileLock_SecondOpenWhileHeld_IsRefusedAsAnotherFlockHolderWouldBe()
    {
        string lockPath = Path.Combine(_env.Root, "x.lock");
        using (await HubFileLock.AcquireAsync(lockPath, CancellationToken.None))
        {
            IOException ex = Assert.ThrowsAny<IOException>(() => new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
            Assert.True(HubFileLock.IsLockedByOther(ex), $"HResult {ex.HResult}: {ex.Message}");
            using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
            var watch = Stopwatch.StartNew();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => HubFileLock.AcquireAsync(lockPath, cts.Token));
            Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(150));
        }
        using (await HubFileLock.AcquireAsync(lockPath, CancellationToken.None))
        {
        }
        Assert.True(File.Exists(lockPath)); // left behind, as filelock leaves it
    }
}
