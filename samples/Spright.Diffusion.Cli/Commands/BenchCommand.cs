using Spright.Diffusion.Cli.Infrastructure;

namespace Spright.Diffusion.Cli.Commands;

/// <summary><c>spright bench</c>: placeholder until the benchmark command lands.</summary>
internal static class BenchCommand
{
    public static int Run(string[] argv, CancellationToken cancellationToken)
    {
        _ = argv;
        _ = cancellationToken;
        throw new UsageException("bench is not available yet");
    }
}
