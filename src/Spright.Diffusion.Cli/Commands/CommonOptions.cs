using Microsoft.Extensions.Logging;
using Spright.Diffusion.Cli.Infrastructure;
using Spright.Diffusion.OnnxRuntime;

namespace Spright.Diffusion.Cli.Commands;

/// <summary>Options shared by the commands that load a model.</summary>
internal static class CommonOptions
{
    public static string DefaultModel => Path.Combine(AppContext.BaseDirectory, "models", "tiny-sd2");

    public static string ModelFolder(ArgReader args)
    {
        string model = args.String("--model") ?? DefaultModel;
        if (!Directory.Exists(model))
        {
            throw new UsageException($"--model: folder not found: {model}");
        }
        return model;
    }

    public static ExecutionProvider Provider(ArgReader args) => (args.String("--provider") ?? "cpu").ToLowerInvariant() switch
    {
        "cpu" => ExecutionProvider.Cpu,
        "cuda" => ExecutionProvider.Cuda,
        "directml" or "dml" => ExecutionProvider.DirectML,
        "auto" => ExecutionProvider.Auto,
        string other => throw new UsageException($"--provider must be cpu, cuda, directml or auto; got '{other}'"),
    };

    /// <summary>Warnings are held until the command succeeds (one error line on failure); --verbose shows
    /// information too, as it happens.</summary>
    public static StderrLoggerProvider Logging(ArgReader args, Action? beforeWrite) => args.Flag("--verbose")
        ? new StderrLoggerProvider(LogLevel.Information, beforeWrite)
        : new StderrLoggerProvider(LogLevel.Warning, beforeWrite, deferred: true);
}
