using System.Runtime.CompilerServices;

namespace Spright.Diffusion.Tests.Infrastructure;

/// <summary>
/// Points the graph cache of every pipeline the tests build from a diffusers folder (and of every CLI process they
/// start, which inherits the environment) at one private folder per test run, removed when the run ends, so tests never
/// write into the user's cache and share one build of each tiny graph.
/// </summary>
internal static class TestGraphCache
{
    public static string Directory { get; } = Path.Combine(Path.GetTempPath(), $"spright-test-graphs-{Environment.ProcessId}");

    [ModuleInitializer]
    internal static void Initialize()
    {
        Environment.SetEnvironmentVariable("SPRIGHT_GRAPH_CACHE", Directory);
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
}
