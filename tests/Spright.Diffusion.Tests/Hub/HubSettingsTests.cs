using Spright.Diffusion.Hub;

namespace Spright.Diffusion.Tests.Hub;

/// <summary>The environment as huggingface_hub 0.36 reads it (constants.py, utils/_auth.py), injected, never set on the process.</summary>
public sealed class HubSettingsTests
{
    private static HubSettings Resolve(Dictionary<string, string?> variables, HubDownloadOptions? options = null)
    {
        Func<string, string?> env = name => variables.TryGetValue(name, out string? v) ? v : null;
        options ??= new HubDownloadOptions();
        return HubSettings.Resolve(new HubDownloadOptions
        {
            Revision = options.Revision,
            Token = options.Token,
            CacheDir = options.CacheDir,
            Endpoint = options.Endpoint,
            LocalFilesOnly = options.LocalFilesOnly,
            EtagTimeout = options.EtagTimeout,
            EnvironmentVariables = env,
        });
    }

    private static readonly string s_root = Path.Combine(Path.GetTempPath(), "spright-hub-settings");

    [Fact]
    public void Resolve_NothingSet_UsesXdgThenHomeCache()
    {
        string home = Path.Combine(s_root, "home");
        Assert.Equal(Path.Combine(home, ".cache", "huggingface", "hub"), Resolve(new() { ["HOME"] = home }).CacheDir);
        Assert.Equal(Path.Combine(s_root, "xdg", "huggingface", "hub"), Resolve(new() { ["HOME"] = home, ["XDG_CACHE_HOME"] = Path.Combine(s_root, "xdg") }).CacheDir);
    }

    [Fact]
    public void Resolve_CacheVariables_FollowHuggingfaceHubPrecedence()
    {
        var env = new Dictionary<string, string?> { ["HF_HOME"] = Path.Combine(s_root, "hf") };
        Assert.Equal(Path.Combine(s_root, "hf", "hub"), Resolve(env).CacheDir);
        env["HUGGINGFACE_HUB_CACHE"] = Path.Combine(s_root, "legacy");
        Assert.Equal(Path.Combine(s_root, "legacy"), Resolve(env).CacheDir);
        env["HF_HUB_CACHE"] = Path.Combine(s_root, "new");
        Assert.Equal(Path.Combine(s_root, "new"), Resolve(env).CacheDir);
        Assert.Equal(Path.Combine(s_root, "explicit"), Resolve(env, new HubDownloadOptions { CacheDir = Path.Combine(s_root, "explicit") }).CacheDir);
    }

    [Fact]
    public void Resolve_TildeAndVariables_AreExpandedAsPythonDoes()
    {
        var env = new Dictionary<string, string?> { ["HOME"] = Path.Combine(s_root, "u"), ["MY_ROOT"] = s_root, ["HF_HUB_CACHE"] = "${MY_ROOT}/x/$UNSET_VAR" };
        Assert.Equal(Path.Combine(s_root, "x", "$UNSET_VAR"), Resolve(env).CacheDir);
        Assert.Equal(Path.Combine(s_root, "u", "hf", "hub"), Resolve(new() { ["HOME"] = Path.Combine(s_root, "u"), ["HF_HOME"] = "~/hf" }).CacheDir);
        Assert.Equal("/a/b/${NOPE}", HubSettings.ExpandVariables("$X/${Y}/${NOPE}", n => n switch { "X" => "/a", "Y" => "b", _ => null }));
    }

    [Theory]
    [InlineData("1", true)]
    [InlineData("ON", true)]
    [InlineData("yes", true)]
    [InlineData("True", true)]
    [InlineData("0", false)]
    [InlineData("false", false)]
    [InlineData("", false)]
    public void Resolve_HfHubOffline_AcceptsHuggingfaceHubBooleans(string value, bool offline)
    {
        HubSettings settings = Resolve(new() { ["HOME"] = s_root, ["HF_HUB_OFFLINE"] = value });
        Assert.Equal(offline, settings.LocalFilesOnly);
        Assert.Equal(offline, settings.OfflineByEnvironment);
    }

    [Fact]
    public void Resolve_TransformersOffline_CountsOnlyWhenHfHubOfflineIsUnset()
    {
        Assert.True(Resolve(new() { ["HOME"] = s_root, ["TRANSFORMERS_OFFLINE"] = "1" }).LocalFilesOnly);
        Assert.False(Resolve(new() { ["HOME"] = s_root, ["HF_HUB_OFFLINE"] = "0", ["TRANSFORMERS_OFFLINE"] = "1" }).LocalFilesOnly);
    }

    [Fact]
    public void Resolve_Token_FollowsHuggingfaceHubOrder()
    {
        string home = Path.Combine(Path.GetTempPath(), "spright-hub-token-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(home);
        try
        {
            File.WriteAllText(Path.Combine(home, "token"), "hf_file\n");
            var env = new Dictionary<string, string?> { ["HF_HOME"] = home };
            Assert.Equal("hf_file", Resolve(env).Token);
            env["HUGGING_FACE_HUB_TOKEN"] = "hf_legacy";
            Assert.Equal("hf_legacy", Resolve(env).Token);
            env["HF_TOKEN"] = "";
            Assert.Equal("hf_legacy", Resolve(env).Token);
            env["HF_TOKEN"] = " hf_env\r\n";
            Assert.Equal("hf_env", Resolve(env).Token);
            Assert.Equal("hf_explicit", Resolve(env, new HubDownloadOptions { Token = "hf_explicit" }).Token);
            env["HF_HUB_DISABLE_IMPLICIT_TOKEN"] = "1";
            Assert.Null(Resolve(env).Token);
            Assert.Equal("hf_explicit", Resolve(env, new HubDownloadOptions { Token = "hf_explicit" }).Token);

            File.WriteAllText(Path.Combine(home, "other-token"), "hf_other");
            Assert.Equal("hf_other", Resolve(new() { ["HF_HOME"] = home, ["HF_TOKEN_PATH"] = Path.Combine(home, "other-token") }).Token);
            // A blank HF_TOKEN hides HUGGING_FACE_HUB_TOKEN but not the token file (Python: `HF_TOKEN or ...`, then cleaned).
            Assert.Equal("hf_file", Resolve(new() { ["HF_HOME"] = home, ["HF_TOKEN"] = "  ", ["HUGGING_FACE_HUB_TOKEN"] = "hf_legacy" }).Token);
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }

    [Fact]
    public void Resolve_Endpoint_StripsTrailingSlashAndRejectsNonHttp()
    {
        Assert.Equal("http://127.0.0.1:8080/mirror", Resolve(new() { ["HOME"] = s_root, ["HF_ENDPOINT"] = "http://127.0.0.1:8080/mirror/" }).EndpointText);
        ArgumentException ex = Assert.Throws<ArgumentException>(() => Resolve(new() { ["HOME"] = s_root, ["HF_ENDPOINT"] = "ftp://127.0.0.1" }));
        Assert.Equal("HF_ENDPOINT", ex.ParamName);
        ex = Assert.Throws<ArgumentException>(() => Resolve(new() { ["HOME"] = s_root }, new HubDownloadOptions { Endpoint = new Uri("/relative", UriKind.Relative) }));
        Assert.Equal(nameof(HubDownloadOptions.Endpoint), ex.ParamName);
    }

    [Fact]
    public void Resolve_Timeouts_ComeFromTheEnvironmentUnlessGiven()
    {
        var env = new Dictionary<string, string?> { ["HOME"] = s_root };
        Assert.Equal(TimeSpan.FromSeconds(10), Resolve(env).EtagTimeout);
        Assert.Equal(TimeSpan.FromSeconds(10), Resolve(env).DownloadTimeout);
        env["HF_HUB_ETAG_TIMEOUT"] = "3";
        env["HF_HUB_DOWNLOAD_TIMEOUT"] = "42";
        Assert.Equal(TimeSpan.FromSeconds(3), Resolve(env).EtagTimeout);
        Assert.Equal(TimeSpan.FromSeconds(42), Resolve(env).DownloadTimeout);
        Assert.Equal(TimeSpan.FromSeconds(1), Resolve(env, new HubDownloadOptions { EtagTimeout = TimeSpan.FromSeconds(1) }).EtagTimeout);
        env["HF_HUB_ETAG_TIMEOUT"] = "ten";
        Assert.Equal("HF_HUB_ETAG_TIMEOUT", Assert.Throws<ArgumentException>(() => Resolve(env)).ParamName);
    }

    [Fact]
    public void Resolve_BadOptions_ThrowArgumentExceptionsNamingThem()
    {
        Func<string, string?> env = _ => null;
        Assert.Equal(nameof(HubDownloadOptions.MaxConcurrentDownloads), Assert.Throws<ArgumentOutOfRangeException>(() =>
            HubSettings.Resolve(new HubDownloadOptions { MaxConcurrentDownloads = 0, EnvironmentVariables = env })).ParamName);
        Assert.Equal(nameof(HubDownloadOptions.EtagTimeout), Assert.Throws<ArgumentOutOfRangeException>(() =>
            HubSettings.Resolve(new HubDownloadOptions { EtagTimeout = TimeSpan.Zero, EnvironmentVariables = env })).ParamName);
        Assert.Equal(nameof(HubDownloadOptions.Variant), Assert.Throws<ArgumentException>(() =>
            HubSettings.Resolve(new HubDownloadOptions { Variant = "a/b", EnvironmentVariables = env })).ParamName);
    }
}
