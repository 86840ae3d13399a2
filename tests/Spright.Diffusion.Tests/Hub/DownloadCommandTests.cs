using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Spright.Diffusion.Hub;
using Spright.Diffusion.Tests.Reliability;

namespace Spright.Diffusion.Tests.Hub;

/// <summary><c>spright download</c> as a child process against the fake Hub, and two processes filling one cache at
/// the same time (the blob lock, shared/docs/hub-protocol.md §8).</summary>
public sealed class DownloadCommandTests : IDisposable
{
    private const string RepoId = "fake-org/spright-shaped";
    private readonly HubTestEnvironment _env = new();

    public void Dispose() => _env.Dispose();

    /// <summary>Starts <c>spright download</c> with the test's environment (and none of the caller's HF_* variables).</summary>
    private Process Start(params string[] args)
    {
        var info = new ProcessStartInfo(DotnetHost())
        {
            WorkingDirectory = _env.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        info.ArgumentList.Add(CliProcess.SprightDll);
        info.ArgumentList.Add("download");
        foreach (string a in args)
        {
            info.ArgumentList.Add(a);
        }
        foreach (string name in info.Environment.Keys.Where(k => k.StartsWith("HF_", StringComparison.Ordinal) || k.StartsWith("HUGGING", StringComparison.Ordinal)
            || k == "TRANSFORMERS_OFFLINE" || k == "XDG_CACHE_HOME").ToList())
        {
            info.Environment.Remove(name);
        }
        foreach ((string name, string? value) in _env.Variables)
        {
            info.Environment[name] = value;
        }
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        return Process.Start(info) ?? throw new InvalidOperationException("could not start spright");
    }

    private CliResult Run(params string[] args)
    {
        using Process process = Start(args);
        process.StandardInput.Close();
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(120)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("spright download did not finish in 120 s");
        }
        return new CliResult(process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }

    [Fact]
    public void Download_Repo_PrintsSnapshotFolderAndProgress()
    {
        FakeRepo repo = _env.Hub.AddRepo(RepoId);
        string commit = repo.AddCommit(FakeRepos.SprightShaped());

        CliResult result = Run(RepoId);

        Assert.True(result.ExitCode == 0, result.ToString());
        string expected = Path.Combine(_env.RepoFolder(RepoId), "snapshots", commit);
        Assert.Equal(expected, result.Stdout.Trim());
        Assert.True(File.Exists(Path.Combine(expected, "unet", "diffusion_pytorch_model.safetensors")));
        Assert.Contains(result.ErrorLines, l => l.StartsWith("unet/diffusion_pytorch_model.safetensors", StringComparison.Ordinal) && l.EndsWith("done", StringComparison.Ordinal));
        Assert.Equal(FakeRepos.SprightPipelineFiles.Length, result.ErrorLines.Count(l => l.EndsWith("done", StringComparison.Ordinal)));
    }

    [Fact]
    public void Download_QuietWithOptions_PrintsOnlyTheFolder()
    {
        FakeRepo repo = _env.Hub.AddRepo(RepoId);
        repo.AddCommit(FakeRepos.SprightShaped());
        string tag = repo.AddCommit(FakeRepos.SprightShaped(extra: new Dictionary<string, FakeFile> { ["unet/config.json"] = FakeHub.Text("{\"v\": 2}", "unet/config.json") }), "v2");
        repo.Gated = true;
        string cache = Path.Combine(_env.Root, "other-cache");

        CliResult result = Run(RepoId, "--revision", "v2", "--token", FakeHub.ValidToken, "--cache-dir", cache, "--quiet");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(Path.Combine(cache, "models--fake-org--spright-shaped", "snapshots", tag), result.Stdout.Trim());
        Assert.Equal("", result.Stderr);
        Assert.Equal(tag, File.ReadAllText(Path.Combine(cache, "models--fake-org--spright-shaped", "refs", "v2")));
    }

    [Fact]
    public void Download_Offline_MakesNoRequestAndFailsInOneLineWhenNotCached()
    {
        _env.Hub.AddRepo(RepoId).AddCommit(FakeRepos.SprightShaped());

        CliResult result = Run(RepoId, "--offline");

        Assert.Equal(1, result.ExitCode);
        string line = Assert.Single(result.ErrorLines);
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
        Assert.Contains(RepoId, line, StringComparison.Ordinal);
        Assert.Empty(_env.Hub.Requests);
    }

    [Theory]
    [InlineData("fake-org/missing", "not found")]
    [InlineData("not a repo", "not a Hub repository id")]
    public void Download_Errors_AreOneErrorLine(string repoId, string expected)
    {
        CliResult result = Run(repoId, "--quiet");

        Assert.NotEqual(0, result.ExitCode);
        string line = Assert.Single(result.ErrorLines);
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
        Assert.Contains(expected, line, StringComparison.Ordinal);
        Assert.Equal("", result.Stdout);
    }

    [Fact]
    public async Task Download_TwoProcessesAtOnce_FetchEachBlobOnce()
    {
        FakeRepo repo = _env.Hub.AddRepo(RepoId);
        repo.AddCommit(FakeRepos.SprightShaped(weightScale: 4));
        FakeFile unet = repo.MainFiles["unet/diffusion_pytorch_model.safetensors"];
        // ~1.6 MB of UNet at ~1.3 MB/s: the child is still downloading it when this process asks for it.
        _env.Hub.Throttle = (32_768, TimeSpan.FromMilliseconds(25));

        using Process child = Start(RepoId, "--quiet");
        child.StandardInput.Close();
        Task<string> childOut = child.StandardOutput.ReadToEndAsync();
        Task<string> childErr = child.StandardError.ReadToEndAsync();
        var deadline = Stopwatch.StartNew();
        while (!_env.Hub.CdnRequests.Any(r => r.Target.Contains(unet.Sha256, StringComparison.Ordinal)))
        {
            if (child.HasExited || deadline.Elapsed > TimeSpan.FromSeconds(60))
            {
                Assert.Fail($"the child did not start the UNet download (exited: {child.HasExited}): {await childErr} {string.Join(", ", _env.Hub.Requests)}");
            }
            await Task.Delay(20);
        }

        string mine = await HubClient.DownloadPipelineAsync(RepoId, _env.Options()).WaitAsync(TimeSpan.FromSeconds(90));
        Assert.True(child.WaitForExit(TimeSpan.FromSeconds(90)));
        Assert.True(child.ExitCode == 0, await childErr);

        Assert.Equal(mine, (await childOut).Trim());
        foreach (FakeFile lfs in repo.MainFiles.Where(kv => kv.Value.Lfs && FakeRepos.SprightPipelineFiles.Contains(kv.Key)).Select(kv => kv.Value))
        {
            Assert.Equal(1, _env.Hub.CdnRequests.Count(r => r.Target.Contains(lfs.Sha256, StringComparison.Ordinal)));
        }
        byte[] written = await File.ReadAllBytesAsync(Path.Combine(mine, "unet", "diffusion_pytorch_model.safetensors"));
        Assert.Equal(unet.Sha256, Convert.ToHexStringLower(SHA256.HashData(written)));
    }

    private static string DotnetHost()
    {
        string? host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(host) && File.Exists(host))
        {
            return host;
        }
        string? current = Environment.ProcessPath;
        return current is not null && Path.GetFileNameWithoutExtension(current).Equals("dotnet", StringComparison.OrdinalIgnoreCase) ? current : "dotnet";
    }
}
