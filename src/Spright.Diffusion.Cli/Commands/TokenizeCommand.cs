using System.Text;
using System.Text.Json;
using Spright.Diffusion.Cli.Infrastructure;
using Spright.Diffusion.Tokenization;

namespace Spright.Diffusion.Cli.Commands;

/// <summary><c>spright tokenize</c>: CLIP token ids as JSON, for one prompt or one JSON string per stdin line.</summary>
internal static class TokenizeCommand
{
    private static readonly HashSet<string> ValueOptions = ["--model"];
    private static readonly HashSet<string> Flags = ["--no-padding", "--ftfy", "--verbose"];

    public static int Run(string[] argv)
    {
        var args = new ArgReader(argv, ValueOptions, Flags);
        if (args.Positionals.Count > 1)
        {
            throw new UsageException("give at most one PROMPT (quote it), or none to read JSON strings from stdin");
        }
        string model = CommonOptions.ModelFolder(args);
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
