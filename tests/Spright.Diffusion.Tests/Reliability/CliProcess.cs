using System.Diagnostics;
using System.Text;

namespace Spright.Diffusion.Tests.Reliability;

/// <summary>The outcome of one <c>spright</c> run.</summary>
internal sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    /// <summary>Non-empty stderr lines (progress-bar redraws split on '\r' too).</summary>
    public string[] ErrorLines => Stderr.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Where(l => l.Length > 0).ToArray();

    public override string ToString() => $"exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";
}

/// <summary>Runs the CLI (<c>spright.dll</c>, copied into the test output by the project reference) as a child process.</summary>
internal static class CliProcess
{
    private static readonly Lazy<string> GraphCache = new(CreateGraphCache);

    public static string SprightDll => Path.Combine(AppContext.BaseDirectory, "spright.dll");

    /// <summary>The graph cache of every child process of this test run (SPRIGHT_GRAPH_CACHE): graphs built from diffusers
    /// folders go to a private temporary folder, deleted when the test run ends, never to the user's cache.</summary>
    public static string GraphCacheDirectory => GraphCache.Value;

    /// <summary>Starts spright; <paramref name="environment"/> overrides the test defaults (a null value removes the variable).</summary>
    public static Process Start(string workingDirectory, IEnumerable<string> args, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var info = new ProcessStartInfo(DotnetHost())
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        info.ArgumentList.Add(SprightDll);
        foreach (string a in args)
        {
            info.ArgumentList.Add(a);
        }
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        // No test reaches the network: a repo id the tests pass resolves offline, against an empty cache of their own.
        info.Environment["HF_HUB_OFFLINE"] = "1";
        info.Environment["HF_HUB_CACHE"] = Path.Combine(Path.GetTempPath(), "spright-tests-empty-hub-cache");
        info.Environment["SPRIGHT_GRAPH_CACHE"] = GraphCacheDirectory;
        foreach ((string name, string? value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                info.Environment.Remove(name);
            }
            else
            {
                info.Environment[name] = value;
            }
        }
        return Process.Start(info) ?? throw new InvalidOperationException("could not start spright");
    }

    public static CliResult Run(string workingDirectory, params string[] args) => RunWith(null, workingDirectory, args);

    /// <summary>Runs spright to its end with environment overrides (see <see cref="Start"/>).</summary>
    public static CliResult RunWith(IReadOnlyDictionary<string, string?>? environment, string workingDirectory, params string[] args)
    {
        using Process process = Start(workingDirectory, args, environment);
        process.StandardInput.Close();
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(120)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"spright {string.Join(' ', args)} did not finish in 120 s");
        }
        return new CliResult(process.ExitCode, stdout.Result, stderr.Result);
    }

    private static string CreateGraphCache()
    {
        string folder = Directory.CreateTempSubdirectory("spright-tests-graph-cache-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // A child still holding a file: the temporary folder stays.
            }
        };
        return folder;
    }

    private static string DotnetHost()
    {
        string? host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(host) && File.Exists(host))
        {
            return host;
        }
        string? current = Environment.ProcessPath;
        if (current is not null && Path.GetFileNameWithoutExtension(current).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            return current;
        }
        return "dotnet";
    }
}
