using Microsoft.Extensions.Logging;
using Spright.Diffusion.Cli.Infrastructure;
using Spright.Diffusion.Hub;
using Spright.Diffusion.OnnxRuntime;

namespace Spright.Diffusion.Cli.Commands;

/// <summary>Options shared by the commands that load a model.</summary>
internal static class CommonOptions
{
    /// <summary>The value options every model-loading command takes.</summary>
    public static readonly string[] ModelValueOptions = ["--model", "--revision", "--token", "--cache-dir", "--variant", "--dtype"];

    /// <summary>The flags every model-loading command takes.</summary>
    public static readonly string[] ModelFlags = ["--offline"];

    public static string DefaultModel => Path.Combine(AppContext.BaseDirectory, "models", "tiny-sd2");

    /// <summary>The model: a folder, or a Hugging Face Hub repo id (downloaded, or found in the cache, when loaded).</summary>
    public static string Model(ArgReader args)
    {
        string model = args.String("--model") ?? DefaultModel;
        if (Directory.Exists(model))
        {
            return model;
        }
        if (File.Exists(model) || !HubClient.IsRepoId(model))
        {
            throw new UsageException($"--model: folder not found (and not a Hub repo id such as SPRIGHT-T2I/spright-t2i-sd2): {model}");
        }
        return model;
    }

    /// <summary>The load options of the model options: Hub (revision, token, cache, offline, progress), variant and dtype.</summary>
    public static DiffusionPipelineOptions Load(ArgReader args, OnnxRuntimeSettings settings, ILoggerFactory loggerFactory, IProgress<HubDownloadProgress>? progress) => new()
    {
        Backend = new OnnxRuntimeBackend(settings),
        Revision = args.String("--revision"),
        Token = args.String("--token"),
        CacheDir = args.String("--cache-dir"),
        LocalFilesOnly = args.Flag("--offline"),
        DownloadProgress = progress,
        Variant = args.String("--variant"),
        Dtype = Dtype(args),
        UseFtfy = args.Flag("--ftfy"),
        LoggerFactory = loggerFactory,
    };

    public static Dtype? Dtype(ArgReader args) => args.String("--dtype")?.ToLowerInvariant() switch
    {
        null => null,
        "fp32" or "float32" => Diffusion.Dtype.Float32,
        "fp16" or "float16" => Diffusion.Dtype.Float16,
        string other => throw new UsageException($"--dtype must be fp32 or fp16; got '{other}'"),
    };

    /// <summary>The CLI turns <c>OnnxRuntimeSettings.SmallGraphTuning</c> on (the library leaves it off): it changes only
    /// graphs under 64 MiB with their weights, such as the bundled tiny model, which it makes about 3× faster;
    /// <c>--no-small-graph-tuning</c> turns it off (<c>--small-graph-tuning</c>, the former opt-in, is accepted).</summary>
    public static bool SmallGraphTuning(ArgReader args) => !args.Flag("--no-small-graph-tuning");

    /// <summary>--prompt-weighting none | lpw | compel (default none).</summary>
    public static Prompts.PromptWeighting PromptWeighting(ArgReader args) => (args.String("--prompt-weighting") ?? "none").ToLowerInvariant() switch
    {
        "none" => Prompts.PromptWeighting.None,
        "lpw" => Prompts.PromptWeighting.Lpw,
        "compel" => Prompts.PromptWeighting.Compel,
        string other => throw new UsageException($"--prompt-weighting must be none, lpw or compel; got '{other}'"),
    };

    public static ExecutionProvider Provider(ArgReader args) => (args.String("--provider") ?? "cpu").ToLowerInvariant() switch
    {
        "cpu" => ExecutionProvider.Cpu,
        "cuda" => ExecutionProvider.Cuda,
        "directml" or "dml" => ExecutionProvider.DirectML,
        "auto" => ExecutionProvider.Auto,
        string other => throw new UsageException($"--provider must be cpu, cuda, directml or auto; got '{other}'"),
    };

    /// <summary>Warnings are held until the command succeeds (one error line on failure); --verbose shows
    /// information too, as it happens; --quiet shows nothing unless there is an error.</summary>
    public static StderrLoggerProvider Logging(ArgReader args, Action? beforeWrite) => args.Flag("--verbose")
        ? new StderrLoggerProvider(LogLevel.Information, beforeWrite)
        : new StderrLoggerProvider(args.Flag("--quiet") ? LogLevel.Error : LogLevel.Warning, beforeWrite, deferred: true);
}
