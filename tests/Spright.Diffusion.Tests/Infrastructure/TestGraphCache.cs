using System.Runtime.CompilerServices;

namespace Spright.Diffusion.Tests.Infrastructure;

/// <summary>
/// Points the graph cache of every pipeline the tests build from a diffusers folder (and of every CLI process they
/// start, which inherits the environment) at one private folder per test run, removed when the run ends, so tests never
/// write into the user's cache and share one build of each tiny graph. The test host is not always given the chance to
/// run exit handlers, so each run also removes the folders of earlier runs whose process is gone.
/// </summary>
internal static class TestGraphCache
{
    private const string Prefix = "spright-test-graphs-";

    public static string Directory { get; } = Path.Combine(Path.GetTempPath(), $"{Prefix}{Environment.ProcessId}");

    [ModuleInitializer]
    internal static void Initialize()
    {
        Environment.SetEnvironmentVariable("SPRIGHT_GRAPH_CACHE", Directory);
        RemoveFoldersOfEndedRuns();
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        };
    }

    private static void RemoveFoldersOfEndedRuns()
    {
        try
        {
            foreach (string folder in System.IO.Directory.EnumerateDirectories(Path.GetTempPath(), Prefix + "*"))
            {
                if (int.TryParse(Path.GetFileName(folder)[Prefix.Length..], out int pid) && pid != Environment.ProcessId && !IsRunning(pid))
                {
                    System.IO.Directory.Delete(folder, recursive: true);
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
