using System.Globalization;
using System.Text;

namespace Spright.Diffusion.Hub;

/// <summary>
/// <see cref="HubDownloadOptions"/> resolved against the environment as huggingface_hub 0.36 reads it
/// (<c>constants.py</c>, <c>utils/_auth.py</c>, <c>utils/_headers.py</c>): explicit options first, then the variables.
/// </summary>
internal sealed class HubSettings
{
    /// <summary>
    /// The Hub's address when neither <see cref="HubDownloadOptions.Endpoint"/> nor <c>HF_ENDPOINT</c> is set:
    /// huggingface_hub's <c>_HF_DEFAULT_ENDPOINT</c> (constants.py). The only place this address is written.
    /// </summary>
    internal const string DefaultEndpoint = "https://huggingface.co";

    internal const string DefaultRevision = "main";

    private static readonly TimeSpan s_defaultTimeout = TimeSpan.FromSeconds(10);

    private HubSettings()
    {
    }

    public required Uri Endpoint { get; init; }

    /// <summary>The endpoint without a trailing slash, for building URLs.</summary>
    public required string EndpointText { get; init; }

    public required string CacheDir { get; init; }

    public string? Token { get; init; }

    /// <summary>No request at all: local files only, or <c>HF_HUB_OFFLINE</c>.</summary>
    public bool LocalFilesOnly { get; init; }

    /// <summary>Offline because of the environment (for the message).</summary>
    public bool OfflineByEnvironment { get; init; }

    public string? Revision { get; init; }

    public string? Variant { get; init; }

    public bool? UseSafetensors { get; init; }

    public bool? UseOnnx { get; init; }

    public TimeSpan EtagTimeout { get; init; }

    public TimeSpan DownloadTimeout { get; init; }

    /// <summary>Timeout of a repository-info request (huggingface_hub's <c>DEFAULT_REQUEST_TIMEOUT</c>).</summary>
    public TimeSpan RequestTimeout { get; init; } = s_defaultTimeout;

    public int MaxConcurrentDownloads { get; init; }

    public IProgress<HubDownloadProgress>? Progress { get; init; }

    public TimeSpan RetryBaseDelay { get; init; }

    /// <summary>Retries after the first attempt (huggingface_hub's <c>http_backoff</c>: 5, sleeping 1, 2, 4, 8, 8 s).</summary>
    public int MaxRetries { get; init; } = 5;

    public bool DisableSymlinks { get; init; }

    /// <summary>Resolves the options and validates them (<see cref="ArgumentException"/> naming the option or variable).</summary>
    public static HubSettings Resolve(HubDownloadOptions? options)
    {
        options ??= new HubDownloadOptions();
        Func<string, string?> env = options.EnvironmentVariables ?? Environment.GetEnvironmentVariable;

        if (options.Revision is { } revision)
        {
            ValidateRevision(revision, nameof(HubDownloadOptions.Revision));
        }
        if (options.Variant is { } variant && (variant.Length == 0 || variant.AsSpan().ContainsAny("/\\") || variant.Any(char.IsWhiteSpace)))
        {
            throw new ArgumentException($"Variant must be a non-empty name such as 'fp16' with no slash or space; got '{variant}'.", nameof(HubDownloadOptions.Variant));
        }
        if (options.MaxConcurrentDownloads is < 1 or > 64)
        {
            throw new ArgumentOutOfRangeException(nameof(HubDownloadOptions.MaxConcurrentDownloads), options.MaxConcurrentDownloads,
                "MaxConcurrentDownloads must be in [1, 64].");
        }
        CheckTimeout(options.EtagTimeout, nameof(HubDownloadOptions.EtagTimeout));
        CheckTimeout(options.DownloadTimeout, nameof(HubDownloadOptions.DownloadTimeout));

        string home = HfHome(env);
        (Uri endpoint, string endpointText) = ResolveEndpoint(options.Endpoint, env);
        bool offlineByEnv = IsTrue(NonEmpty(env("HF_HUB_OFFLINE")) ?? env("TRANSFORMERS_OFFLINE"));
        return new HubSettings
        {
            Endpoint = endpoint,
            EndpointText = endpointText,
            CacheDir = Path.GetFullPath(options.CacheDir is { Length: > 0 } dir ? dir : HubCache(env, home)),
            Token = options.Token is { } explicitToken ? CleanToken(explicitToken) : ImplicitToken(env, home),
            LocalFilesOnly = options.LocalFilesOnly || offlineByEnv,
            OfflineByEnvironment = offlineByEnv,
            Revision = options.Revision,
            Variant = options.Variant,
            UseSafetensors = options.UseSafetensors,
            UseOnnx = options.UseOnnx,
            EtagTimeout = options.EtagTimeout ?? SecondsVariable(env, "HF_HUB_ETAG_TIMEOUT") ?? s_defaultTimeout,
            DownloadTimeout = options.DownloadTimeout ?? SecondsVariable(env, "HF_HUB_DOWNLOAD_TIMEOUT") ?? s_defaultTimeout,
            MaxConcurrentDownloads = options.MaxConcurrentDownloads,
            Progress = options.Progress,
            RetryBaseDelay = options.RetryBaseDelay,
            DisableSymlinks = options.DisableSymlinks,
        };
    }

    /// <summary>A revision is used as a folder name under <c>refs/</c> and in URLs: no empty, <c>.</c> or <c>..</c>
    /// segment, no backslash, no control character.</summary>
    public static void ValidateRevision(string revision, string paramName)
    {
        if (string.IsNullOrWhiteSpace(revision))
        {
            throw new ArgumentException("Revision must be a branch, tag or commit; got an empty string.", paramName);
        }
        if (revision.Contains('\\', StringComparison.Ordinal) || revision.Any(char.IsControl)
            || revision.Split('/').Any(s => s.Length == 0 || s == "." || s == ".."))
        {
            throw new ArgumentException($"Revision must be a branch, tag or commit (segments separated by '/', none empty, '.' or '..', no backslash); got '{revision}'.", paramName);
        }
    }

    /// <summary>huggingface_hub's <c>_is_true</c>: 1, ON, YES, TRUE in any case.</summary>
    internal static bool IsTrue(string? value) =>
        value is not null && (value.Equals("1", StringComparison.Ordinal) || value.Equals("ON", StringComparison.OrdinalIgnoreCase)
            || value.Equals("YES", StringComparison.OrdinalIgnoreCase) || value.Equals("TRUE", StringComparison.OrdinalIgnoreCase));

    /// <summary><c>HF_HOME</c>, else <c>$XDG_CACHE_HOME/huggingface</c>, else <c>~/.cache/huggingface</c>; with
    /// <c>~</c> and <c>$VARS</c> expanded.</summary>
    internal static string HfHome(Func<string, string?> env)
    {
        string raw = env("HF_HOME") ?? Path.Combine(env("XDG_CACHE_HOME") ?? Path.Combine(UserHome(env), ".cache"), "huggingface");
        return ExpandVariables(ExpandUser(raw, env), env);
    }

    /// <summary><c>HF_HUB_CACHE</c>, else the legacy <c>HUGGINGFACE_HUB_CACHE</c>, else <c>$HF_HOME/hub</c>.</summary>
    internal static string HubCache(Func<string, string?> env, string home)
    {
        string raw = env("HF_HUB_CACHE") ?? env("HUGGINGFACE_HUB_CACHE") ?? Path.Combine(home, "hub");
        return ExpandVariables(ExpandUser(raw, env), env);
    }

    /// <summary>The token huggingface_hub sends when none is given: none if <c>HF_HUB_DISABLE_IMPLICIT_TOKEN</c>; else
    /// <c>HF_TOKEN</c> (or, if that is unset or empty, <c>HUGGING_FACE_HUB_TOKEN</c>), else the token file.</summary>
    internal static string? ImplicitToken(Func<string, string?> env, string home)
    {
        if (IsTrue(env("HF_HUB_DISABLE_IMPLICIT_TOKEN")))
        {
            return null;
        }
        string? fromEnvironment = CleanToken(NonEmpty(env("HF_TOKEN")) ?? env("HUGGING_FACE_HUB_TOKEN"));
        if (fromEnvironment is not null)
        {
            return fromEnvironment;
        }
        string tokenPath = ExpandVariables(ExpandUser(env("HF_TOKEN_PATH") ?? Path.Combine(home, "token"), env), env);
        try
        {
            return File.Exists(tokenPath) ? CleanToken(File.ReadAllText(tokenPath)) : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>huggingface_hub's <c>_clean_token</c>: without CR, LF and surrounding spaces; empty means none.</summary>
    internal static string? CleanToken(string? token)
    {
        if (token is null)
        {
            return null;
        }
        string cleaned = token.Replace("\r", string.Empty, StringComparison.Ordinal).Replace("\n", string.Empty, StringComparison.Ordinal).Trim();
        return cleaned.Length == 0 ? null : cleaned;
    }

    private static (Uri Endpoint, string Text) ResolveEndpoint(Uri? explicitEndpoint, Func<string, string?> env)
    {
        string name = explicitEndpoint is null ? "HF_ENDPOINT" : nameof(HubDownloadOptions.Endpoint);
        string text = explicitEndpoint is not null
            ? (explicitEndpoint.IsAbsoluteUri ? explicitEndpoint.AbsoluteUri : explicitEndpoint.OriginalString)
            : env("HF_ENDPOINT") ?? DefaultEndpoint;
        text = text.TrimEnd('/');
        if (!Uri.TryCreate(text, UriKind.Absolute, out Uri? uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
            || !string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment))
        {
            throw new ArgumentException($"{name} must be an absolute http or https address with no query; got '{text}'.", name);
        }
        return (uri, text);
    }

    private static void CheckTimeout(TimeSpan? value, string name)
    {
        if (value is { } t && (t <= TimeSpan.Zero || t > TimeSpan.FromHours(24)))
        {
            throw new ArgumentOutOfRangeException(name, t, $"{name} must be in (0, 24 h].");
        }
    }

    /// <summary>An integer number of seconds, as huggingface_hub's <c>_as_int(...) or default</c> (so 0 means the default).</summary>
    private static TimeSpan? SecondsVariable(Func<string, string?> env, string name)
    {
        string? value = env(name);
        if (value is null)
        {
            return null;
        }
        if (!int.TryParse(value.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int seconds) || seconds < 0)
        {
            throw new ArgumentException($"{name} must be a whole number of seconds; got '{value}'.", name);
        }
        return seconds == 0 ? null : TimeSpan.FromSeconds(seconds);
    }

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private static string UserHome(Func<string, string?> env) =>
        NonEmpty(env(OperatingSystem.IsWindows() ? "USERPROFILE" : "HOME")) ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);

    /// <summary>Python's <c>os.path.expanduser</c> for <c>~</c> and <c>~/...</c>.</summary>
    private static string ExpandUser(string path, Func<string, string?> env)
    {
        if (path == "~")
        {
            return UserHome(env);
        }
        if (path.StartsWith("~/", StringComparison.Ordinal) || (OperatingSystem.IsWindows() && path.StartsWith("~\\", StringComparison.Ordinal)))
        {
            return Path.Combine(UserHome(env), path[2..]);
        }
        return path;
    }

    /// <summary>Python's <c>os.path.expandvars</c> (POSIX form): <c>$NAME</c> and <c>${NAME}</c> are replaced when the
    /// variable is set and left as they are otherwise.</summary>
    internal static string ExpandVariables(string path, Func<string, string?> env)
    {
        if (!path.Contains('$', StringComparison.Ordinal))
        {
            return path;
        }
        var sb = new StringBuilder(path.Length);
        int i = 0;
        while (i < path.Length)
        {
            char c = path[i];
            if (c != '$' || i + 1 >= path.Length)
            {
                sb.Append(c);
                i++;
                continue;
            }
            int start;
            int end;
            int resume;
            if (path[i + 1] == '{')
            {
                int close = path.IndexOf('}', i + 2);
                if (close < 0)
                {
                    sb.Append(c);
                    i++;
                    continue;
                }
                start = i + 2;
                end = close;
                resume = close + 1;
            }
            else
            {
                start = i + 1;
                end = start;
                while (end < path.Length && (char.IsAsciiLetterOrDigit(path[end]) || path[end] == '_'))
                {
                    end++;
                }
                resume = end;
            }
            string name = path[start..end];
            string? value = name.Length > 0 ? env(name) : null;
            if (value is null)
            {
                sb.Append(path, i, resume - i);
            }
            else
            {
                sb.Append(value);
            }
            i = resume;
        }
        return sb.ToString();
    }
}
