using Spright.Diffusion.Cli.Infrastructure;
using Spright.Diffusion.ImageSharp;
using Spright.Diffusion.Imaging;
using Spright.Diffusion.IO;
using Spright.Diffusion.Logging;
using Spright.Diffusion.OnnxRuntime;
using Spright.Diffusion.Schedulers;

namespace Spright.Diffusion.Cli.Commands;

/// <summary><c>spright generate</c>: text-to-image, or image-to-image with <c>--init-image</c>.</summary>
internal static class GenerateCommand
{
    private static readonly HashSet<string> ValueOptions =
    [
        .. CommonOptions.ModelValueOptions, "--prompt", "--negative-prompt", "--steps", "--guidance", "--guidance-rescale", "--eta", "--seed",
        "--width", "--height", "--num-images", "--scheduler", "--scheduler-option", "--provider", "--device-id",
        "--output", "--save-npy", "--save-latents", "--init-image", "--strength", "--prompt-weighting",
    ];

    private static readonly HashSet<string> Flags = [.. CommonOptions.ModelFlags, "--ftfy", "--quiet", "--verbose", "--vae-tiling", "--vae-slicing", "--no-small-graph-tuning"];

    public static int Run(string[] argv, CancellationToken cancellationToken)
    {
        var args = new ArgReader(argv, ValueOptions, Flags);
        if (args.Positionals.Count > 0)
        {
            throw new UsageException($"unexpected argument '{args.Positionals[0]}' (prompts go after --prompt)");
        }
        IReadOnlyList<string> prompts = args.All("--prompt");
        if (prompts.Count == 0)
        {
            throw new UsageException("give at least one --prompt");
        }
        IReadOnlyList<string> negatives = args.All("--negative-prompt");
        if (negatives.Count > 0 && negatives.Count != prompts.Count)
        {
            throw new UsageException($"--negative-prompt: give one per --prompt ({prompts.Count}), or none; got {negatives.Count}");
        }
        string? initImage = args.String("--init-image");
        if (initImage is null && args.String("--strength") is not null)
        {
            throw new UsageException("--strength only applies with --init-image");
        }
        RgbImage? image = null;
        if (initImage is not null)
        {
            try
            {
                image = ImageFiles.Load(initImage);
            }
            catch (ArgumentException ex)
            {
                throw new UsageException($"--init-image: {OneLine(ex)}");
            }
        }

        GenerationOptions options = new TextToImageOptions
        {
            Prompt = prompts,
            NegativePrompt = negatives.Count > 0 ? negatives : null,
            NumInferenceSteps = args.Int("--steps", 1, 1000) ?? 50,
            GuidanceScale = args.Double("--guidance", -1000, 1000) ?? 7.5,
            GuidanceRescale = args.Double("--guidance-rescale", 0, 1) ?? 0,
            Eta = args.Double("--eta", 0, 1) ?? 0,
            Seed = args.Seed("--seed"),
            Width = args.Int("--width", 8, 8192),
            Height = args.Int("--height", 8, 8192),
            NumImagesPerPrompt = args.Int("--num-images", 1, 64) ?? 1,
            VaeTiling = args.Flag("--vae-tiling") ? true : null,
            VaeSlicing = args.Flag("--vae-slicing") ? true : null,
            PromptWeighting = CommonOptions.PromptWeighting(args),
        };
        if (image is not null)
        {
            options = new ImageToImageOptions(options) { Strength = args.Double("--strength", 0, 1) ?? 0.8, Image = image };
        }

        foreach ((string name, int? side) in new[] { ("--width", options.Width), ("--height", options.Height) })
        {
            if (side is int pixels && pixels % 8 != 0)
            {
                throw new UsageException($"{name} must be a multiple of 8 (the VAE scale factor); got {pixels}");
            }
        }

        // Every output location is checked before any work starts.
        string output = args.String("--output") ?? "spright.png";
        string? npyPath = args.String("--save-npy");
        string? latentsPath = args.String("--save-latents");
        CheckOutputs([("--output", output), ("--save-npy", npyPath), ("--save-latents", latentsPath)], options.NumImagesPerPrompt * prompts.Count);
        List<KeyValuePair<string, string>> schedulerOptions = args.All("--scheduler-option").Select(ParseOption).ToList();

        var progress = args.Flag("--quiet") ? null : new ProgressBar();
        using var loggerFactory = CommonOptions.Logging(args, () => progress?.Finish());
        DiffusionLogging.LoggerFactory = loggerFactory;
        DownloadProgressBar? downloads = args.Flag("--quiet") ? null : new DownloadProgressBar();
        DiffusionPipelineOptions loadOptions = CommonOptions.Load(args, new OnnxRuntimeSettings
        {
            ExecutionProvider = CommonOptions.Provider(args),
            DeviceId = args.Int("--device-id", 0, 64) ?? 0,
            SmallGraphTuning = CommonOptions.SmallGraphTuning(args),
        }, loggerFactory, downloads);

        string? schedulerName = args.String("--scheduler");
        if (schedulerName is not null)
        {
            // Fail before the (slow) model load.
            CheckSchedulerOptions(schedulerName, schedulerOptions);
        }
        string model = CommonOptions.Model(args);
        StableDiffusionPipelineBase pipe;
        try
        {
            pipe = initImage is null
                ? StableDiffusionPipeline.FromPretrained(model, loadOptions, cancellationToken)
                : StableDiffusionImg2ImgPipeline.FromPretrained(model, loadOptions, cancellationToken);
        }
        finally
        {
            downloads?.Finish();
        }
        using StableDiffusionPipelineBase owned = pipe;

        if (schedulerName is not null || schedulerOptions.Count > 0)
        {
            string className = schedulerName ?? pipe.Scheduler.ClassName;
            CheckSchedulerOptions(className, schedulerOptions);
            try
            {
                pipe.Scheduler = SchedulerRegistry.Create(className, pipe.Scheduler.Config, Overrides(schedulerOptions), loggerFactory.CreateLogger("Spright.Diffusion.Schedulers"));
            }
            catch (ArgumentException ex)
            {
                throw new UsageException($"--scheduler-option: {OneLine(ex)}");
            }
        }

        options = options with { Progress = progress };
        StableDiffusionPipelineOutput result;
        try
        {
            result = pipe.Generate(options, cancellationToken);
        }
        finally
        {
            progress?.Finish();
        }

        {
            cancellationToken.ThrowIfCancellationRequested();
            // All files are staged as temporaries and moved into place together: a failure or a Ctrl+C before the
            // moves leaves no output file at all, not some of them.
            var files = new List<(string Path, Action<Stream> Write)>();
            int count = result.Images.Count;
            for (int i = 0; i < count; i++)
            {
                byte[] png = result.Images[i].ToPng();
                files.Add((count == 1 ? output : IndexedPath(output, i), stream => stream.Write(png)));
            }
            if (npyPath is not null)
            {
                files.Add((npyPath, stream => NpyFile.Write(stream, result.ImageArray!)));
            }
            if (latentsPath is not null)
            {
                files.Add((latentsPath, stream => NpyFile.Write(stream, result.Latents)));
            }
            AtomicFile.WriteAll(files, cancellationToken);
            loggerFactory.Flush();
            if (result.Seed is ulong seed && !args.Flag("--quiet"))
            {
                Console.Error.WriteLine($"seed: {seed}");
            }
            foreach ((string path, _) in files)
            {
                Console.WriteLine(path);
            }
        }
        return 0;
    }

    /// <summary>Refuses output paths that cannot be written before any work starts: a missing or read-only folder,
    /// a path that is a folder, or two outputs naming the same file.</summary>
    internal static void CheckOutputs((string Option, string? Path)[] outputs, int images)
    {
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        var checkedFolders = new HashSet<string>(StringComparer.Ordinal);
        foreach ((string option, string? path) in outputs)
        {
            if (path is null)
            {
                continue;
            }
            if (string.IsNullOrWhiteSpace(path))
            {
                throw new UsageException($"{option}: the path is empty");
            }
            string full;
            try
            {
                full = Path.GetFullPath(path);
                AtomicFile.CheckDestination(full);
            }
            catch (Exception ex) when (ex is ArgumentException or IOException or NotSupportedException or System.Security.SecurityException)
            {
                throw new UsageException($"{option}: {OneLine(ex)}");
            }
            IEnumerable<string> names = option == "--output" && images > 1
                ? Enumerable.Range(0, images).Select(i => Path.GetFullPath(IndexedPath(full, i)))
                : [full];
            foreach (string name in names)
            {
                if (!seen.TryAdd(name, option))
                {
                    throw new UsageException($"{option}: {name} is also written by {seen[name]}");
                }
            }
            string folder = Path.GetDirectoryName(full)!;
            if (checkedFolders.Add(folder))
            {
                try
                {
                    using var probe = new FileStream(Path.Combine(folder, $".spright-{Guid.NewGuid():N}.tmp"), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    throw new UsageException($"{option}: cannot write to {folder}: {ex.Message}");
                }
            }
        }
    }

    private static List<KeyValuePair<string, object?>> Overrides(List<KeyValuePair<string, string>> options) =>
        options.Select(kv => new KeyValuePair<string, object?>(kv.Key, SchedulerConfig.Empty.WithText(kv.Key, kv.Value)[kv.Key])).ToList();

    internal static string OneLine(Exception ex)
    {
        string message = ex.Message;
        if (ex is ArgumentException { ParamName: { } name })
        {
            message = message.Replace($" (Parameter '{name}')", string.Empty, StringComparison.Ordinal);
        }
        int newline = message.IndexOfAny(['\r', '\n']);
        return newline >= 0 ? message[..newline] : message;
    }

    private static void CheckSchedulerOptions(string className, List<KeyValuePair<string, string>> options)
    {
        if (!SchedulerRegistry.IsKnown(className))
        {
            throw new UsageException($"--scheduler: unknown scheduler '{className}'; supported: {string.Join(", ", SchedulerRegistry.Names)}");
        }
        IReadOnlyCollection<string> known = SchedulerRegistry.OptionNames(className);
        foreach (KeyValuePair<string, string> option in options)
        {
            if (!known.Contains(option.Key))
            {
                throw new UsageException($"--scheduler-option: {className} has no option '{option.Key}'; options: {string.Join(", ", known.Order(StringComparer.Ordinal))}");
            }
        }
        if (options.Count > 0)
        {
            // Values too (e.g. beta_schedule=cosine, steps_offset=-1), on the default configuration: before the slow load.
            try
            {
                SchedulerRegistry.Create(className, SchedulerConfig.Empty, Overrides(options), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
            }
            catch (ArgumentException ex)
            {
                throw new UsageException($"--scheduler-option: {OneLine(ex)}");
            }
        }
    }

    private static string IndexedPath(string path, int index)
    {
        string dir = Path.GetDirectoryName(path) ?? string.Empty;
        string name = Path.GetFileNameWithoutExtension(path);
        string ext = Path.GetExtension(path);
        return Path.Combine(dir, $"{name}_{index}{(ext.Length > 0 ? ext : ".png")}");
    }

    private static KeyValuePair<string, string> ParseOption(string text)
    {
        int eq = text.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0)
        {
            throw new UsageException($"--scheduler-option must be key=value; got '{text}'");
        }
        return new(text[..eq].Trim(), text[(eq + 1)..]);
    }
}
