using System.Globalization;
using Spright.Diffusion.Cli.Infrastructure;
using Spright.Diffusion.Hub;
using Spright.Diffusion.OnnxRuntime.Building;

namespace Spright.Diffusion.Cli.Commands;

/// <summary>
/// <c>spright convert --model DIR_OR_REPO --output DIR</c>: writes a diffusers pipeline folder (config.json +
/// safetensors per component; a Hub repo id is downloaded first, as <c>generate</c> does) as the optimum ONNX layout,
/// with standard ONNX operators so that any ONNX Runtime build loads it. The folder is staged beside the output and moved
/// into place at the end: a failure or Ctrl+C leaves the output as it was.
/// </summary>
internal static class ConvertCommand
{
    private static readonly string[] Components = ["text_encoder", "unet", "vae_encoder", "vae_decoder"];

    private static readonly HashSet<string> ValueOptions = [.. CommonOptions.ModelValueOptions, "--output"];

    private static readonly HashSet<string> Flags = [.. CommonOptions.ModelFlags, "--force", "--quiet", "--verbose"];

    public static int Run(string[] argv, CancellationToken cancellationToken)
    {
        var args = new ArgReader(argv, ValueOptions, Flags);
        if (args.Positionals.Count > 0)
        {
            throw new UsageException($"unexpected argument '{args.Positionals[0]}' (give --model and --output)");
        }
        if (args.String("--model") is null)
        {
            throw new UsageException("give --model (a diffusers folder or a Hub repo id)");
        }
        string outputArg = args.String("--output") ?? throw new UsageException("give --output DIR (the ONNX folder to write)");
        if (string.IsNullOrWhiteSpace(outputArg))
        {
            throw new UsageException("--output: the path is empty");
        }
        GraphDtype dtype = CommonOptions.Dtype(args) == Dtype.Float16 ? GraphDtype.Float16 : GraphDtype.Float32;
        string? variant = args.String("--variant");
        if (variant is not null && (variant.Length is 0 or > 64 || !variant.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-')))
        {
            throw new UsageException($"--variant must be 1 to 64 letters, digits, '_' or '-' (e.g. fp16); got '{variant}'");
        }
        bool force = args.Flag("--force");
        string output = Path.GetFullPath(outputArg).TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar);
        CheckOutput(output, force);

        string model = CommonOptions.Model(args);
        string source = Directory.Exists(model) ? model : Download(model, args, variant, cancellationToken);
        source = Path.GetFullPath(source).TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar);
        CheckSource(source);
        if (IsInside(output, source) || IsInside(source, output))
        {
            throw new UsageException($"--output: {output} and the model folder {source} overlap; write the ONNX folder elsewhere");
        }

        string parent = Path.GetDirectoryName(output)!;
        string staging = Path.Combine(parent, $".{Path.GetFileName(output)}.convert-{Guid.NewGuid():N}");
        try
        {
            OptimumExport.Write(source, staging, dtype, variant, GraphOptimizations.None, OptimumExport.DefaultExternalDataThreshold, cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();
            Replace(staging, output);
        }
        finally
        {
            DeleteQuietly(staging);
        }

        long bytes = new DirectoryInfo(output).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);
        string precision = dtype == GraphDtype.Float16 ? "float16" : "float32";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"converted {Components.Length} components ({string.Join(", ", Components)}; {precision}) to {output} ({bytes / 1e6:0.0} MB)"));
        return 0;
    }

    /// <summary>Refuses an output that is a file, a non-empty folder without <c>--force</c>, or has no parent folder.</summary>
    private static void CheckOutput(string output, bool force)
    {
        if (File.Exists(output))
        {
            throw new UsageException($"--output: {output} is a file; give a folder");
        }
        if (Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any() && !force)
        {
            throw new UsageException($"--output: {output} exists and is not empty (add --force to replace it)");
        }
        string? parent = Path.GetDirectoryName(output);
        if (parent is null || !Directory.Exists(parent))
        {
            throw new UsageException($"--output: the parent folder does not exist: {parent ?? output}");
        }
    }

    /// <summary>The source must be a diffusers pipeline folder, not an ONNX export.</summary>
    private static void CheckSource(string source)
    {
        if (!File.Exists(Path.Combine(source, "model_index.json")))
        {
            throw new ModelLoadException(source, "not a diffusers pipeline folder: model_index.json is missing");
        }
        foreach (string component in Components)
        {
            string graph = Path.Combine(source, component, "model.onnx");
            if (File.Exists(graph))
            {
                throw new ModelLoadException(graph, "the model is already an ONNX export; convert takes a diffusers folder (config.json and *.safetensors per component)");
            }
        }
        if (!DiffusersGraphs.IsDiffusersPipeline(source))
        {
            throw new ModelLoadException(Path.Combine(source, "unet"), "not a diffusers component folder (config.json with *.safetensors weights)");
        }
    }

    /// <summary>A Hub repo id: its torch weights (not its ONNX graphs) fetched into the Hub cache, as <c>generate</c> resolves it.</summary>
    private static string Download(string repoId, ArgReader args, string? variant, CancellationToken cancellationToken)
    {
        DownloadProgressBar? bar = args.Flag("--quiet") ? null : new DownloadProgressBar();
        try
        {
            return HubClient.DownloadPipeline(repoId, new HubDownloadOptions
            {
                Revision = args.String("--revision"),
                Token = args.String("--token"),
                CacheDir = args.String("--cache-dir"),
                LocalFilesOnly = args.Flag("--offline"),
                Variant = variant,
                UseOnnx = false,
                Progress = bar,
            }, cancellationToken);
        }
        finally
        {
            bar?.Finish();
        }
    }

    /// <summary>Moves <paramref name="staging"/> to <paramref name="output"/>; an existing output is moved aside first and
    /// deleted only once the new folder is in place (restored if the move fails).</summary>
    private static void Replace(string staging, string output)
    {
        if (!Directory.Exists(output))
        {
            Directory.Move(staging, output);
            return;
        }
        if (!Directory.EnumerateFileSystemEntries(output).Any())
        {
            Directory.Delete(output);
            Directory.Move(staging, output);
            return;
        }
        string aside = Path.Combine(Path.GetDirectoryName(output)!, $".{Path.GetFileName(output)}.old-{Guid.NewGuid():N}");
        Directory.Move(output, aside);
        try
        {
            Directory.Move(staging, output);
        }
        catch
        {
            Directory.Move(aside, output);
            throw;
        }
        DeleteQuietly(aside);
    }

    private static bool IsInside(string path, string folder) =>
        path == folder || path.StartsWith(folder + Path.DirectorySeparatorChar, OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal);

    private static void DeleteQuietly(string folder)
    {
        try
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Best effort: a hidden staging folder is left beside the output.
        }
    }
}
