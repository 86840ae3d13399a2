using Spright.Diffusion.Cli.Infrastructure;
using Spright.Diffusion.IO;
using Spright.Diffusion.Logging;
using Spright.Diffusion.OnnxRuntime;
using Spright.Diffusion.Prompts;

namespace Spright.Diffusion.Cli.Commands;

/// <summary><c>spright embed</c>: writes what the UNet receives for a prompt (and a negative prompt) as float32 .npy
/// arrays [1, tokens, hidden], with or without prompt weighting: the prompt_embeds / negative_prompt_embeds of
/// diffusers' <c>encode_prompt</c>, or of its lpw pipeline / compel.</summary>
internal static class EmbedCommand
{
    private static readonly HashSet<string> ValueOptions =
    [
        .. CommonOptions.ModelValueOptions, "--prompt", "--negative-prompt", "--prompt-weighting", "--save-prompt-embeds",
        "--save-negative-embeds", "--provider", "--device-id",
    ];

    private static readonly HashSet<string> Flags = [.. CommonOptions.ModelFlags, "--ftfy", "--quiet", "--verbose"];

    public static int Run(string[] argv, CancellationToken cancellationToken)
    {
        var args = new ArgReader(argv, ValueOptions, Flags);
        if (args.Positionals.Count > 0)
        {
            throw new UsageException($"unexpected argument '{args.Positionals[0]}' (the prompt goes after --prompt)");
        }
        string prompt = args.String("--prompt") ?? throw new UsageException("give --prompt");
        string? negative = args.String("--negative-prompt");
        string promptPath = args.String("--save-prompt-embeds") ?? throw new UsageException("give --save-prompt-embeds PATH.npy");
        string? negativePath = args.String("--save-negative-embeds");
        if (negative is not null && negativePath is null)
        {
            throw new UsageException("--negative-prompt needs --save-negative-embeds PATH.npy");
        }
        PromptWeighting weighting = CommonOptions.PromptWeighting(args);
        GenerateCommand.CheckOutputs([("--save-prompt-embeds", promptPath), ("--save-negative-embeds", negativePath)], 1);

        using var loggerFactory = CommonOptions.Logging(args, null);
        DiffusionLogging.LoggerFactory = loggerFactory;
        DownloadProgressBar? downloads = args.Flag("--quiet") ? null : new DownloadProgressBar();
        // Only the tokenizer and text encoder run: low-memory mode keeps the other graphs unloaded after their check.
        DiffusionPipelineOptions loadOptions = CommonOptions.Load(args, new OnnxRuntimeSettings
        {
            ExecutionProvider = CommonOptions.Provider(args),
            DeviceId = args.Int("--device-id", 0, 64) ?? 0,
        }, loggerFactory, downloads) with { LowMemory = true };
        StableDiffusionPipeline pipe;
        try
        {
            pipe = StableDiffusionPipeline.FromPretrained(CommonOptions.Model(args), loadOptions, cancellationToken);
        }
        finally
        {
            downloads?.Finish();
        }
        using StableDiffusionPipeline owned = pipe;

        IPromptEncoder? encoder = weighting == PromptWeighting.None ? null : PromptEncoders.Create(weighting);
        bool bothSides = negativePath is not null;
        PromptEmbeddings embeds = pipe.EncodePrompt([prompt], 1, bothSides, bothSides ? [negative ?? string.Empty] : null, encoder, cancellationToken);

        var files = new List<(string Path, Action<Stream> Write)> { (promptPath, stream => NpyFile.Write(stream, embeds.PromptEmbeds)) };
        if (negativePath is not null)
        {
            files.Add((negativePath, stream => NpyFile.Write(stream, embeds.NegativePromptEmbeds!)));
        }
        AtomicFile.WriteAll(files, cancellationToken);
        loggerFactory.Flush();
        foreach ((string path, _) in files)
        {
            Console.WriteLine(path);
        }
        return 0;
    }
}
