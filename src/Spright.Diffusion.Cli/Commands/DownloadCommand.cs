using Spright.Diffusion.Cli.Infrastructure;
using Spright.Diffusion.Hub;

namespace Spright.Diffusion.Cli.Commands;

/// <summary>
/// <c>spright download REPO</c>: fetches what the pipeline needs from the Hugging Face Hub into the cache Python's
/// huggingface_hub uses and prints the snapshot folder on stdout; per-file progress on stderr unless <c>--quiet</c>.
/// The environment is read as huggingface_hub reads it (HF_ENDPOINT, HF_HOME, HF_HUB_CACHE, HF_TOKEN, HF_HUB_OFFLINE...).
/// </summary>
internal static class DownloadCommand
{
    private static readonly HashSet<string> ValueOptions = ["--revision", "--token", "--cache-dir", "--variant"];
    private static readonly HashSet<string> Flags = ["--offline", "--quiet", "--verbose"];

    public static int Run(string[] argv, CancellationToken cancellationToken)
    {
        var args = new ArgReader(argv, ValueOptions, Flags);
        if (args.Positionals.Count != 1)
        {
            throw new UsageException("give one repository id, e.g. spright download SPRIGHT-T2I/spright-t2i-sd2");
        }
        string repoId = args.Positionals[0];
        if (!HubClient.IsRepoId(repoId))
        {
            throw new UsageException($"'{repoId}' is not a Hub repository id (namespace/name of letters, digits, '-', '_', '.')");
        }
        DownloadProgressBar? bar = args.Flag("--quiet") ? null : new DownloadProgressBar();
        var options = new HubDownloadOptions
        {
            Revision = args.String("--revision"),
            Token = args.String("--token"),
            CacheDir = args.String("--cache-dir"),
            Variant = args.String("--variant"),
            LocalFilesOnly = args.Flag("--offline"),
            Progress = bar,
        };
        try
        {
            string folder = HubClient.DownloadPipeline(repoId, options, cancellationToken);
            bar?.Finish();
            Console.WriteLine(folder);
            return 0;
        }
        catch
        {
            bar?.Finish();
            throw;
        }
    }
}
