using Spright.Diffusion.Hub;

namespace Spright.Diffusion.Tests.Hub;

/// <summary>
/// A temporary HF_HOME (cache under <c>hub/</c>) and a fake Hub for one test; the environment is injected into the
/// options, never set on the process. Everything is removed on dispose.
/// </summary>
internal sealed class HubTestEnvironment : IDisposable
{
    public HubTestEnvironment()
    {
        Root = Path.Combine(Path.GetTempPath(), "spright-hub-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Root);
        Home = Path.Combine(Root, "hf-home");
        Hub = new FakeHub();
        Variables = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["HF_HOME"] = Home,
            ["HF_ENDPOINT"] = Hub.Endpoint.ToString(),
            ["HOME"] = Path.Combine(Root, "user"),
        };
    }

    public string Root { get; }

    public string Home { get; }

    /// <summary>$HF_HOME/hub.</summary>
    public string Cache => Path.Combine(Home, "hub");

    public FakeHub Hub { get; }

    public Dictionary<string, string?> Variables { get; }

    public HubDownloadOptions Options(string? revision = null, string? token = null, bool localFilesOnly = false, string? variant = null,
        IProgress<HubDownloadProgress>? progress = null, bool? useSafetensors = null, bool? useOnnx = null, bool disableSymlinks = false) => new()
    {
        Revision = revision,
        Token = token,
        LocalFilesOnly = localFilesOnly,
        Variant = variant,
        Progress = progress,
        UseSafetensors = useSafetensors,
        UseOnnx = useOnnx,
        EtagTimeout = TimeSpan.FromSeconds(10),
        DownloadTimeout = TimeSpan.FromSeconds(10),
        EnvironmentVariables = name => Variables.TryGetValue(name, out string? value) ? value : null,
        RetryBaseDelay = TimeSpan.FromMilliseconds(5),
        DisableSymlinks = disableSymlinks,
    };

    public string RepoFolder(string repoId) => Path.Combine(Cache, "models--" + repoId.Replace("/", "--", StringComparison.Ordinal));

    public void Dispose()
    {
        Hub.Dispose();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
