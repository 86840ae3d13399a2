using System.Text.Json.Nodes;
using SixLabors.ImageSharp;
using Spright.Diffusion.Cli.Infrastructure;
using Spright.Diffusion.Logging;
using Spright.Diffusion.Schedulers;
using Spright.Diffusion.Tensors;

namespace Spright.Diffusion.Cli.Commands;

/// <summary><c>spright generate</c>: text-to-image, or image-to-image with <c>--init-image</c>.</summary>
internal static class GenerateCommand
{
    private static readonly HashSet<string> ValueOptions =
    [
        "--model", "--prompt", "--negative-prompt", "--steps", "--guidance", "--guidance-rescale", "--eta", "--seed",
        "--width", "--height", "--num-images", "--scheduler", "--scheduler-option", "--provider", "--device-id",
        "--output", "--save-npy", "--save-latents", "--init-image", "--strength",
    ];

    private static readonly HashSet<string> Flags = ["--ftfy", "--quiet", "--verbose"];

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
        string? initImage = args.String("--init-image");
        if (initImage is not null && !File.Exists(initImage))
        {
            throw new UsageException($"--init-image: file not found: {initImage}");
        }
        if (initImage is null && args.String("--strength") is not null)
        {
            throw new UsageException("--strength only applies with --init-image");
        }

        var options = new GenerationOptions
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
            Strength = args.Double("--strength", 0, 1) ?? 0.8,
            Image = initImage is null ? null : ImageInput.FromFile(initImage),
        };

        // Every output location is checked before any work starts.
        string output = args.String("--output") ?? "spright.png";
        string? npyPath = args.String("--save-npy");
        string? latentsPath = args.String("--save-latents");
        foreach ((string name, string? path) in new[] { ("--output", (string?)output), ("--save-npy", npyPath), ("--save-latents", latentsPath) })
        {
            if (path is not null)
            {
                string dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
                if (!Directory.Exists(dir))
                {
                    throw new UsageException($"{name}: the folder does not exist: {dir}");
                }
            }
        }
        List<KeyValuePair<string, string>> schedulerOptions = args.All("--scheduler-option").Select(ParseOption).ToList();

        var progress = args.Flag("--quiet") ? null : new ProgressBar();
        using var loggerFactory = CommonOptions.Logging(args, () => progress?.Finish());
        DiffusionLogging.LoggerFactory = loggerFactory;
        var loadOptions = new DiffusionPipelineOptions
        {
            ExecutionProvider = CommonOptions.Provider(args),
            DeviceId = args.Int("--device-id", 0, 64) ?? 0,
            UseFtfy = args.Flag("--ftfy"),
            LoggerFactory = loggerFactory,
        };

        string? schedulerName = args.String("--scheduler");
        if (schedulerName is not null)
        {
            // Fail before the (slow) model load.
            CheckSchedulerOptions(schedulerName, schedulerOptions);
        }
        string model = CommonOptions.ModelFolder(args);
        using StableDiffusionPipelineBase pipe = initImage is null
            ? StableDiffusionPipeline.FromPretrained(model, loadOptions)
            : StableDiffusionImg2ImgPipeline.FromPretrained(model, loadOptions);

        if (schedulerName is not null || schedulerOptions.Count > 0)
        {
            string className = schedulerName ?? pipe.Scheduler.ClassName;
            CheckSchedulerOptions(className, schedulerOptions);
            var overrides = schedulerOptions.Select(kv => new KeyValuePair<string, object?>(kv.Key, SchedulerConfig.Empty.WithText(kv.Key, kv.Value)[kv.Key])).ToList();
            pipe.Scheduler = SchedulerRegistry.Create(className, pipe.Scheduler.Config, overrides, loggerFactory.CreateLogger("Spright.Diffusion.Schedulers"));
        }

        options.Progress = progress;
        StableDiffusionPipelineOutput result;
        try
        {
            result = pipe.Generate(options, cancellationToken);
        }
        finally
        {
            progress?.Finish();
        }

        using (result)
        {
            if (result.Seed is ulong seed)
            {
                Console.Error.WriteLine($"seed: {seed}");
            }
            var written = new List<string>();
            int count = result.Images.Count;
            for (int i = 0; i < count; i++)
            {
                string path = count == 1 ? output : IndexedPath(output, i);
                AtomicFile.Write(path, stream => result.Images[i].SaveAsPng(stream));
                written.Add(path);
            }
            if (npyPath is not null)
            {
                NpyFile.Save(npyPath, result.ImageArray!);
                written.Add(npyPath);
            }
            if (latentsPath is not null)
            {
                NpyFile.Save(latentsPath, result.Latents);
                written.Add(latentsPath);
            }
            foreach (string path in written)
            {
                Console.WriteLine(path);
            }
        }
        return 0;
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
