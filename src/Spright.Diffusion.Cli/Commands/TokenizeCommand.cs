using System.Text;
using System.Text.Json;
using Spright.Diffusion.Cli.Infrastructure;
using Spright.Diffusion.Hub;
using Spright.Diffusion.Tokenization;

namespace Spright.Diffusion.Cli.Commands;

/// <summary><c>spright tokenize</c>: CLIP token ids as JSON, for one prompt or one JSON string per stdin line.</summary>
internal static class TokenizeCommand
{
    private static readonly HashSet<string> ValueOptions = ["--model", "--revision", "--token", "--cache-dir"];
    private static readonly HashSet<string> Flags = ["--no-padding", "--ftfy", "--verbose", "--offline"];

    public static int Run(string[] argv, CancellationToken cancellationToken)
    {
        var args = new ArgReader(argv, ValueOptions, Flags);
        if (args.Positionals.Count > 1)
        {
            throw new UsageException("give at most one PROMPT (quote it), or none to read JSON strings from stdin");
        }
        string model = CommonOptions.Model(args);
        if (!Directory.Exists(model))
        {
            // A Hub repo id: only the tokenizer's files are fetched.
            model = HubClient.SnapshotDownload(model, ["tokenizer/*", "model_index.json"], options: new HubDownloadOptions
            {
                Revision = args.String("--revision"),
                Token = args.String("--token"),
                CacheDir = args.String("--cache-dir"),
                LocalFilesOnly = args.Flag("--offline"),
            }, cancellationToken: cancellationToken);
        }
        string folder = Directory.Exists(Path.Combine(model, "tokenizer")) ? Path.Combine(model, "tokenizer") : model;
        ClipTokenizer tokenizer = ClipTokenizer.FromPretrained(folder, new ClipTokenizerOptions { UseFtfy = args.Flag("--ftfy") });
        bool padding = !args.Flag("--no-padding");

        if (args.Positionals.Count == 1)
        {
            Console.WriteLine(Format(Encode(tokenizer, args.Positionals[0], padding)));
            return 0;
        }

        using var stdin = new StreamReader(Console.OpenStandardInput(), new UTF8Encoding(false));
        using var stdout = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false)) { AutoFlush = false, NewLine = "\n" };
        string? line;
        int lineNumber = 0;
        while ((line = stdin.ReadLine()) is not null)
        {
            lineNumber++;
            if (line.Length == 0)
            {
                continue;
            }
            string? prompt;
            try
            {
                prompt = JsonSerializer.Deserialize<string>(line);
            }
            catch (JsonException ex)
            {
                throw new UsageException($"stdin line {lineNumber} is not a JSON string: {ex.Message}");
            }
            if (prompt is null)
            {
                throw new UsageException($"stdin line {lineNumber} is null, not a JSON string");
            }
            stdout.WriteLine(Format(Encode(tokenizer, prompt, padding)));
        }
        stdout.Flush();
        return 0;
    }

    private static int[] Encode(ClipTokenizer tokenizer, string prompt, bool padding) =>
        padding ? tokenizer.EncodePadded(prompt) : tokenizer.Encode(prompt);

    private static string Format(int[] ids) => "[" + string.Join(", ", ids) + "]";
}
