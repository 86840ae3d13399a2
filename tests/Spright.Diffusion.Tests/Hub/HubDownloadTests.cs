using System.Collections.Concurrent;
using Spright.Diffusion.Hub;

namespace Spright.Diffusion.Tests.Hub;

/// <summary>End to end against the loopback fake Hub: the exchange of shared/docs/hub-protocol.md §9 and the cache
/// layout of §6.</summary>
public sealed class HubDownloadTests : IDisposable
{
    private const string RepoId = "fake-org/spright-shaped";
    private readonly HubTestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    private FakeRepo AddSpright(int weightScale = 1)
    {
        FakeRepo repo = _env.Hub.AddRepo(RepoId);
        repo.AddCommit(FakeRepos.SprightShaped(weightScale));
        return repo;
    }

    private static string[] SnapshotFiles(string snapshot) =>
        [.. Directory.EnumerateFiles(snapshot, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(snapshot, f).Replace('\\', '/')).Order(StringComparer.Ordinal)];

    [Fact]
    public void DownloadPipeline_FirstRun_FetchesDiffusersFilesIntoPythonLayout()
    {
        FakeRepo repo = AddSpright();
        string commit = repo.MainCommit;

        string snapshot = HubClient.DownloadPipeline(RepoId, _env.Options());

        string storage = _env.RepoFolder(RepoId);
        Assert.Equal(Path.Combine(storage, "snapshots", commit), snapshot);
        Assert.Equal(FakeRepos.SprightPipelineFiles, SnapshotFiles(snapshot));
        // refs/main: the commit, no newline.
        Assert.Equal(commit, File.ReadAllText(Path.Combine(storage, "refs", "main")));
        foreach (string file in FakeRepos.SprightPipelineFiles)
        {
            FakeFile expected = repo.MainFiles[file];
            string pointer = Path.Combine([snapshot, .. file.Split('/')]);
            var info = new FileInfo(pointer);
            // A relative symlink into blobs/{etag} (git sha1 for regular files, sha256 for LFS files).
            string depth = string.Concat(Enumerable.Repeat("../", file.Count(c => c == '/') + 2));
            Assert.Equal($"{depth}blobs/{expected.Etag}", info.LinkTarget);
            Assert.Equal(expected.Content, File.ReadAllBytes(pointer));
            Assert.True(File.Exists(Path.Combine(storage, "blobs", expected.Etag)));
            Assert.True(File.Exists(Path.Combine(_env.Cache, ".locks", "models--fake-org--spright-shaped", expected.Etag + ".lock")));
        }
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(storage, "blobs"), "*.incomplete"));
    }

    [Fact]
    public void DownloadPipeline_FirstRun_RequestsFollowTheHubExchange()
    {
        FakeRepo repo = AddSpright();
        string c = repo.MainCommit;

        HubClient.DownloadPipeline(RepoId, _env.Options());

        FakeRequest[] hub = [.. _env.Hub.HubRequests];
        Assert.Equal(["GET /api/models/fake-org/spright-shaped", "HEAD /fake-org/spright-shaped/resolve/main/model_index.json",
            "GET /fake-org/spright-shaped/resolve/main/model_index.json", "GET /api/models/fake-org/spright-shaped/revision/main"],
            hub.Take(4).Select(r => $"{r.Method} {r.Target}"));
        // Then one HEAD per remaining file at the commit; GET on the Hub only for regular files, LFS bodies from the download host.
        string[] others = [.. FakeRepos.SprightPipelineFiles.Where(f => f != "model_index.json")];
        Assert.Equal(others.Select(f => $"HEAD /fake-org/spright-shaped/resolve/{c}/{f}").Order(StringComparer.Ordinal),
            hub.Skip(4).Where(r => r.Method == "HEAD").Select(r => $"{r.Method} {r.Target}").Order(StringComparer.Ordinal));
        Assert.Equal(others.Where(f => !FakeHub.IsLfsPath(f)).Select(f => $"GET /fake-org/spright-shaped/resolve/{c}/{f}").Order(StringComparer.Ordinal),
            hub.Skip(4).Where(r => r.Method == "GET").Select(r => $"{r.Method} {r.Target}").Order(StringComparer.Ordinal));
        Assert.Equal(3, _env.Hub.CdnRequests.Count());
        Assert.All(hub.Where(r => r.Method == "HEAD"), r => Assert.Equal("identity", r.Header("Accept-Encoding")));
        Assert.DoesNotContain(_env.Hub.Requests, r => r.Target.Contains("README", StringComparison.Ordinal) || r.Target.Contains(".png", StringComparison.Ordinal)
            || r.Target.Contains(".gitattributes", StringComparison.Ordinal));
    }

    [Fact]
    public void DownloadPipeline_SecondRun_DownloadsNoBlob()
    {
        AddSpright();
        string first = HubClient.DownloadPipeline(RepoId, _env.Options());
        _env.Hub.ClearRequests();

        string second = HubClient.DownloadPipeline(RepoId, _env.Options());

        Assert.Equal(first, second);
        Assert.Equal(["GET /api/models/fake-org/spright-shaped", "HEAD /fake-org/spright-shaped/resolve/main/model_index.json"],
            _env.Hub.Requests.Select(r => $"{r.Method} {r.Target}"));
    }

    [Fact]
    public void DownloadFile_PartialBlob_ResumesWithRange()
    {
        FakeRepo repo = AddSpright();
        FakeFile unet = repo.MainFiles["unet/diffusion_pytorch_model.safetensors"];
        string blobs = Path.Combine(_env.RepoFolder(RepoId), "blobs");
        Directory.CreateDirectory(blobs);
        File.WriteAllBytes(Path.Combine(blobs, unet.Sha256 + ".incomplete"), unet.Content[..100_000]);

        string path = HubClient.DownloadFile(RepoId, "unet/diffusion_pytorch_model.safetensors", _env.Options());

        Assert.Equal(unet.Content, File.ReadAllBytes(path));
        FakeRequest get = Assert.Single(_env.Hub.CdnRequests);
        Assert.Equal("bytes=100000-", get.Header("Range"));
        Assert.False(File.Exists(Path.Combine(blobs, unet.Sha256 + ".incomplete")));
    }

    [Fact]
    public void DownloadFile_ServerIgnoresRange_RestartsFromTheFirstByte()
    {
        FakeRepo repo = AddSpright();
        FakeFile unet = repo.MainFiles["unet/diffusion_pytorch_model.safetensors"];
        string blobs = Path.Combine(_env.RepoFolder(RepoId), "blobs");
        Directory.CreateDirectory(blobs);
        File.WriteAllBytes(Path.Combine(blobs, unet.Sha256 + ".incomplete"), unet.Content[..100_000]);
        _env.Hub.IgnoreRange = true;

        string path = HubClient.DownloadFile(RepoId, "unet/diffusion_pytorch_model.safetensors", _env.Options());

        Assert.Equal(unet.Content, File.ReadAllBytes(path));
        Assert.Equal("bytes=100000-", Assert.Single(_env.Hub.CdnRequests).Header("Range"));
    }

    [Fact]
    public void DownloadFile_ConnectionDropsMidStream_ResumesInTheSameCall()
    {
        FakeRepo repo = AddSpright();
        FakeFile unet = repo.MainFiles["unet/diffusion_pytorch_model.safetensors"];
        _env.Hub.DropConnection(unet.Sha256, afterBytes: 131_072, times: 2);

        string path = HubClient.DownloadFile(RepoId, "unet/diffusion_pytorch_model.safetensors", _env.Options());

        Assert.Equal(unet.Content, File.ReadAllBytes(path));
        FakeRequest[] gets = [.. _env.Hub.CdnRequests];
        Assert.Equal(3, gets.Length);
        Assert.Null(gets[0].Header("Range"));
        Assert.All(gets.Skip(1), g => Assert.StartsWith("bytes=", g.Header("Range")));
    }

    [Fact]
    public void DownloadFile_CommitRevisionCached_MakesNoRequest()
    {
        FakeRepo repo = AddSpright();
        HubClient.DownloadFile(RepoId, "unet/config.json", _env.Options());
        _env.Hub.ClearRequests();

        string path = HubClient.DownloadFile(RepoId, "unet/config.json", _env.Options(revision: repo.MainCommit));

        Assert.Equal(repo.MainFiles["unet/config.json"].Content, File.ReadAllBytes(path));
        Assert.Empty(_env.Hub.Requests);
    }

    [Fact]
    public void DownloadPipeline_OfflineEnvironment_UsesCacheWithNoRequest()
    {
        AddSpright();
        string online = HubClient.DownloadPipeline(RepoId, _env.Options());
        _env.Hub.ClearRequests();
        _env.Variables["HF_HUB_OFFLINE"] = "1";

        string offline = HubClient.DownloadPipeline(RepoId, _env.Options());

        Assert.Equal(online, offline);
        Assert.Empty(_env.Hub.Requests);
    }

    [Fact]
    public void DownloadPipeline_OfflineAndNotCached_ThrowsLocalEntryNotFound()
    {
        AddSpright();
        _env.Variables["HF_HUB_OFFLINE"] = "yes";

        HubException ex = Assert.Throws<HubException>(() => HubClient.DownloadPipeline(RepoId, _env.Options()));

        Assert.Equal(HubErrorKind.LocalEntryNotFound, ex.Kind);
        Assert.Contains(RepoId, ex.Message, StringComparison.Ordinal);
        Assert.Contains("HF_HUB_OFFLINE", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
        Assert.Empty(_env.Hub.Requests);
    }

    [Fact]
    public void DownloadPipeline_HubUnreachable_FallsBackToCachedRevision()
    {
        AddSpright();
        string online = HubClient.DownloadPipeline(RepoId, _env.Options());
        _env.Variables["HF_ENDPOINT"] = ClosedPortEndpoint();

        Assert.Equal(online, HubClient.DownloadPipeline(RepoId, _env.Options()));
        HubException ex = Assert.Throws<HubException>(() => HubClient.DownloadPipeline("fake-org/never-cached", _env.Options()));
        Assert.Equal(HubErrorKind.LocalEntryNotFound, ex.Kind);
        Assert.Contains("fake-org/never-cached", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DownloadPipeline_GatedWithoutToken_SaysToSetHfToken()
    {
        AddSpright().Gated = true;

        HubException ex = Assert.Throws<HubException>(() => HubClient.DownloadPipeline(RepoId, _env.Options()));

        Assert.Equal(HubErrorKind.GatedRepo, ex.Kind);
        Assert.Equal(401, ex.StatusCode);
        Assert.Contains(RepoId, ex.Message, StringComparison.Ordinal);
        Assert.Contains("HF_TOKEN", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void DownloadPipeline_GatedWithWrongToken_ThrowsGatedRepo()
    {
        AddSpright().Gated = true;

        HubException ex = Assert.Throws<HubException>(() => HubClient.DownloadPipeline(RepoId, _env.Options(token: "hf_wrong")));

        Assert.Equal(HubErrorKind.GatedRepo, ex.Kind);
        Assert.Equal(403, ex.StatusCode);
    }

    [Fact]
    public void DownloadPipeline_GatedWithTokenFromEnvironment_SendsItToTheHubButNeverToTheDownloadHost()
    {
        AddSpright().Gated = true;
        _env.Variables["HF_TOKEN"] = FakeHub.ValidToken + "\n";

        string snapshot = HubClient.DownloadPipeline(RepoId, _env.Options());

        Assert.Equal(FakeRepos.SprightPipelineFiles, SnapshotFiles(snapshot));
        Assert.All(_env.Hub.HubRequests, r => Assert.Equal("Bearer " + FakeHub.ValidToken, r.Header("Authorization")));
        Assert.Equal(3, _env.Hub.CdnRequests.Count());
        Assert.All(_env.Hub.CdnRequests, r => Assert.Null(r.Header("Authorization")));
    }

    [Fact]
    public void DownloadFile_TokenFile_IsUsedWhenNoVariableIsSet()
    {
        AddSpright().Gated = true;
        Directory.CreateDirectory(_env.Home);
        File.WriteAllText(Path.Combine(_env.Home, "token"), " " + FakeHub.ValidToken + "\r\n");

        HubClient.DownloadFile(RepoId, "unet/config.json", _env.Options());

        Assert.All(_env.Hub.HubRequests, r => Assert.Equal("Bearer " + FakeHub.ValidToken, r.Header("Authorization")));
    }

    [Fact]
    public void DownloadPipeline_UnknownRepo_ThrowsRepositoryNotFound()
    {
        HubException ex = Assert.Throws<HubException>(() => HubClient.DownloadPipeline("fake-org/missing", _env.Options()));

        Assert.Equal(HubErrorKind.RepositoryNotFound, ex.Kind);
        Assert.Contains("fake-org/missing", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DownloadPipeline_UnknownRevision_ThrowsRevisionNotFound()
    {
        AddSpright();

        HubException ex = Assert.Throws<HubException>(() => HubClient.DownloadPipeline(RepoId, _env.Options(revision: "v9")));

        Assert.Equal(HubErrorKind.RevisionNotFound, ex.Kind);
        Assert.Contains("'v9'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DownloadFile_MissingFile_ThrowsEntryNotFoundAndMarksNoExist()
    {
        FakeRepo repo = AddSpright();

        HubException ex = Assert.Throws<HubException>(() => HubClient.DownloadFile(RepoId, "unet/missing.json", _env.Options()));

        Assert.Equal(HubErrorKind.EntryNotFound, ex.Kind);
        Assert.Equal("unet/missing.json", ex.FileName);
        Assert.Contains("unet/missing.json", ex.Message, StringComparison.Ordinal);
        string marker = Path.Combine(_env.RepoFolder(RepoId), ".no_exist", repo.MainCommit, "unet", "missing.json");
        Assert.True(File.Exists(marker));
        Assert.Equal(0, new FileInfo(marker).Length);
    }

    [Fact]
    public void DownloadFile_ServerErrorsThenSuccess_Retries()
    {
        FakeRepo repo = AddSpright();
        _env.Hub.FailNext(2);

        string path = HubClient.DownloadFile(RepoId, "unet/config.json", _env.Options());

        Assert.Equal(repo.MainFiles["unet/config.json"].Content, File.ReadAllBytes(path));
        Assert.Equal(4, _env.Hub.HubRequests.Count()); // 503, 503, HEAD, GET
    }

    [Fact]
    public void DownloadFile_XetFile_GetsTheResolveUrlAndDropsTheTokenOnTheRedirect()
    {
        FakeRepo repo = AddSpright();
        repo.Gated = true;
        _env.Hub.Xet = true;
        FakeFile unet = repo.MainFiles["unet/diffusion_pytorch_model.safetensors"];

        string path = HubClient.DownloadFile(RepoId, "unet/diffusion_pytorch_model.safetensors", _env.Options(token: FakeHub.ValidToken));

        Assert.Equal(unet.Content, File.ReadAllBytes(path));
        Assert.Equal(["HEAD", "GET"], _env.Hub.HubRequests.Select(r => r.Method));
        Assert.All(_env.Hub.HubRequests, r => Assert.Equal("Bearer " + FakeHub.ValidToken, r.Header("Authorization")));
        Assert.Null(Assert.Single(_env.Hub.CdnRequests).Header("Authorization"));
    }

    [Fact]
    public void DownloadFile_PullRequestRevision_IsQuotedInUrlsAndNestedInRefs()
    {
        FakeRepo repo = AddSpright();
        string pr = repo.AddCommit(FakeRepos.SprightShaped(extra: new Dictionary<string, FakeFile> { ["unet/config.json"] = FakeHub.Text("{\"pr\": 1}", "unet/config.json") }), "refs/pr/1");

        string path = HubClient.DownloadFile(RepoId, "unet/config.json", _env.Options(revision: "refs/pr/1"));

        Assert.Equal("{\"pr\": 1}", File.ReadAllText(path));
        Assert.Equal("HEAD /fake-org/spright-shaped/resolve/refs%2Fpr%2F1/unet/config.json", $"{_env.Hub.Requests[0].Method} {_env.Hub.Requests[0].Target}");
        Assert.Equal(pr, File.ReadAllText(Path.Combine(_env.RepoFolder(RepoId), "refs", "refs", "pr", "1")));
    }

    [Fact]
    public void DownloadFile_WeakEtags_AreNormalised()
    {
        FakeRepo repo = AddSpright();
        _env.Hub.WeakEtags = true;

        string config = HubClient.DownloadFile(RepoId, "unet/config.json", _env.Options());
        string weights = HubClient.DownloadFile(RepoId, "vae/diffusion_pytorch_model.safetensors", _env.Options());

        Assert.EndsWith("blobs/" + repo.MainFiles["unet/config.json"].GitSha1, new FileInfo(config).LinkTarget, StringComparison.Ordinal);
        Assert.EndsWith("blobs/" + repo.MainFiles["vae/diffusion_pytorch_model.safetensors"].Sha256, new FileInfo(weights).LinkTarget, StringComparison.Ordinal);
    }

    [Fact]
    public void DownloadFile_RenamedRepo_FollowsRelativeRedirect()
    {
        FakeRepo repo = AddSpright();
        _env.Hub.Rename("fake-org/old-name", RepoId);

        string path = HubClient.DownloadFile("fake-org/old-name", "unet/diffusion_pytorch_model.safetensors", _env.Options());

        Assert.Equal(repo.MainFiles["unet/diffusion_pytorch_model.safetensors"].Content, File.ReadAllBytes(path));
        Assert.Contains("models--fake-org--old-name", path, StringComparison.Ordinal);
    }

    [Fact]
    public void DownloadFile_NoCommitHeaderAndNotCached_ThrowsLocalEntryNotFoundNamingTheProblem()
    {
        AddSpright();
        _env.Hub.OmitCommitHeader = true;

        HubException ex = Assert.Throws<HubException>(() => HubClient.DownloadFile(RepoId, "unet/config.json", _env.Options()));

        Assert.Equal(HubErrorKind.LocalEntryNotFound, ex.Kind);
        Assert.Contains("X-Repo-Commit", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DownloadPipeline_MalformedInfoReply_ThrowsInvalidResponse()
    {
        AddSpright();
        _env.Hub.InfoBodyOverride = "{\"sha\": 12, \"siblings\": []}";

        HubException ex = Assert.Throws<HubException>(() => HubClient.DownloadPipeline(RepoId, _env.Options()));

        Assert.Equal(HubErrorKind.InvalidResponse, ex.Kind);
        Assert.Contains(RepoId, ex.Message, StringComparison.Ordinal);
        Assert.Contains("sha", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DownloadPipeline_UnsafeFileNameInListing_ThrowsInvalidResponse()
    {
        FakeRepo repo = _env.Hub.AddRepo(RepoId);
        repo.AddCommit(FakeRepos.SprightShaped(extra: new Dictionary<string, FakeFile>
        {
            ["tokenizer/../../escape.json"] = FakeHub.Text("{}", "x.json"),
        }));

        HubException ex = Assert.Throws<HubException>(() => HubClient.DownloadPipeline(RepoId, _env.Options()));

        Assert.Equal(HubErrorKind.InvalidResponse, ex.Kind);
        Assert.False(File.Exists(Path.Combine(_env.Cache, "models--fake-org--spright-shaped", "escape.json")));
    }

    [Fact]
    public void DownloadFile_CorruptedTransfer_FailsTheSha256CheckAndKeepsNoBlob()
    {
        FakeRepo repo = AddSpright();
        _env.Hub.CorruptCdn = f => [.. f.Content.Select((b, i) => i == 5 ? (byte)(b ^ 1) : b)];
        FakeFile vae = repo.MainFiles["vae/diffusion_pytorch_model.safetensors"];

        HubException ex = Assert.Throws<HubException>(() => HubClient.DownloadFile(RepoId, "vae/diffusion_pytorch_model.safetensors", _env.Options()));

        Assert.Equal(HubErrorKind.IntegrityCheckFailed, ex.Kind);
        Assert.Contains("SHA-256", ex.Message, StringComparison.Ordinal);
        string blobs = Path.Combine(_env.RepoFolder(RepoId), "blobs");
        Assert.False(File.Exists(Path.Combine(blobs, vae.Sha256)));
        Assert.False(File.Exists(Path.Combine(blobs, vae.Sha256 + ".incomplete")));
    }

    [Fact]
    public void DownloadPipeline_EmptySiblings_ListsTheTreePageByPage()
    {
        AddSpright();
        _env.Hub.TreePageSize = 5;

        string snapshot = HubClient.DownloadPipeline(RepoId, _env.Options());

        Assert.Equal(FakeRepos.SprightPipelineFiles, SnapshotFiles(snapshot));
        Assert.True(_env.Hub.HubRequests.Count(r => r.Target.Contains("/tree/", StringComparison.Ordinal)) >= 4);
    }

    [Fact]
    public void DownloadPipeline_Progress_ReportsEveryDownloadedFileOneAtATime()
    {
        FakeRepo repo = AddSpright(weightScale: 4);
        var progress = new SerialProgress();

        HubClient.DownloadPipeline(RepoId, _env.Options(progress: progress));

        Assert.False(progress.Overlapped);
        HubDownloadProgress[] done = [.. progress.Reports.Where(r => r.IsCompleted)];
        Assert.Equal(FakeRepos.SprightPipelineFiles.Order(StringComparer.Ordinal), done.Select(r => r.FileName).Order(StringComparer.Ordinal));
        Assert.All(done, r => Assert.Equal(repo.MainFiles[r.FileName].Content.Length, r.BytesDownloaded));
        Assert.All(done, r => Assert.Equal(r.TotalBytes, r.BytesDownloaded));
        Assert.All(progress.Reports, r => Assert.InRange(r.BytesDownloaded, 0, r.TotalBytes));
    }

    [Fact]
    public void DownloadPipeline_NoSymlinks_PutsFilesInTheSnapshotAsPythonDoesOnWindows()
    {
        FakeRepo repo = AddSpright();

        string snapshot = HubClient.DownloadPipeline(RepoId, _env.Options(disableSymlinks: true));

        foreach (string file in FakeRepos.SprightPipelineFiles)
        {
            var info = new FileInfo(Path.Combine([snapshot, .. file.Split('/')]));
            Assert.Null(info.LinkTarget);
            Assert.Equal(repo.MainFiles[file].Content, File.ReadAllBytes(info.FullName));
        }
        // New blobs were moved into the snapshot: blobs/ keeps nothing.
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_env.RepoFolder(RepoId), "blobs")));
    }

    [Fact]
    public void DownloadPipeline_Cancelled_ThrowsOperationCanceled()
    {
        AddSpright(weightScale: 8);
        _env.Hub.Throttle = (16_384, TimeSpan.FromMilliseconds(20));
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(400));

        Assert.ThrowsAny<OperationCanceledException>(() => HubClient.DownloadPipeline(RepoId, _env.Options(), cts.Token));
    }

    [Theory]
    [InlineData("")]
    [InlineData("a/b/c")]
    [InlineData("org--x/name")]
    public void DownloadPipeline_InvalidRepoId_ThrowsArgumentExceptionNamingIt(string repoId)
    {
        ArgumentException ex = Assert.Throws<ArgumentException>(() => HubClient.DownloadPipeline(repoId, _env.Options()));
        Assert.Equal("repoId", ex.ParamName);
        Assert.Empty(_env.Hub.Requests);
    }

    [Theory]
    [InlineData("../main")]
    [InlineData("a//b")]
    [InlineData(" ")]
    public void DownloadPipeline_UnsafeRevision_ThrowsArgumentExceptionNamingIt(string revision)
    {
        ArgumentException ex = Assert.Throws<ArgumentException>(() => HubClient.DownloadPipeline(RepoId, _env.Options(revision: revision)));
        Assert.Equal(nameof(HubDownloadOptions.Revision), ex.ParamName);
    }

    private static string ClosedPortEndpoint()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return $"http://127.0.0.1:{port}";
    }

    /// <summary>Records reports and whether two ever overlapped.</summary>
    private sealed class SerialProgress : IProgress<HubDownloadProgress>
    {
        private int _inside;

        public ConcurrentQueue<HubDownloadProgress> Reports { get; } = new();

        public bool Overlapped { get; private set; }

        public void Report(HubDownloadProgress value)
        {
            if (Interlocked.Increment(ref _inside) > 1)
            {
                Overlapped = true;
            }
            Reports.Enqueue(value);
            Thread.Sleep(1);
            Interlocked.Decrement(ref _inside);
        }
    }
}
