using System.Reflection;
using Spright.Diffusion;
using Spright.Diffusion.Cli.Commands;
using Spright.Diffusion.Cli.Infrastructure;

// spright: the Spright.Diffusion command line. One short error line and a non-zero exit on failure
// (stack traces only with --verbose); Ctrl+C stops cleanly and writes nothing.
bool verbose = args.Contains("--verbose");
using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    // The first Ctrl+C stops the run cleanly (within one UNet evaluation, nothing written); a second one, e.g.
    // during a long model load, ends the process at once.
    e.Cancel = !cancellation.IsCancellationRequested;
    cancellation.Cancel();
};

try
{
    if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
    {
        Console.WriteLine(Help.Text);
        return 0;
    }
    string command = args[0];
    string[] rest = args[1..];
    return command switch
    {
        "generate" => GenerateCommand.Run(rest, cancellation.Token),
        "tokenize" => TokenizeCommand.Run(rest, cancellation.Token),
        "bench" => BenchCommand.Run(rest, cancellation.Token),
        "download" => DownloadCommand.Run(rest, cancellation.Token),
        "embed" => EmbedCommand.Run(rest, cancellation.Token),
        "convert" => ConvertCommand.Run(rest, cancellation.Token),
        "--version" or "version" => Version(),
        _ => throw new UsageException($"unknown command '{command}'; commands: generate, embed, tokenize, bench, download, convert"),
    };
}
catch (UsageException ex)
{
    Console.Error.WriteLine($"error: {ex.Message}");
    return 2;
}
catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
{
    Console.Error.WriteLine("cancelled: nothing was written");
    return 130;
}
catch (Exception ex)
{
    Console.Error.WriteLine($"error: {Describe(ex)}");
    if (verbose)
    {
        Console.Error.WriteLine(ex);
    }
    return 1;
}

static int Version()
{
    // The package version (Directory.Build.props), with the commit SourceLink stamped after '+'.
    var assembly = typeof(DiffusionPipeline).Assembly;
    Console.WriteLine(assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? assembly.GetName().Version?.ToString());
    return 0;
}

static string Describe(Exception ex)
{
    // One line: the first line of the message, without the "(Parameter 'x')" suffix .NET appends, prefixed with
    // the parameter (the option) when the message does not name it.
    string message = ex.Message;
    if (ex is ArgumentException { ParamName: { } name })
    {
        message = message.Replace($" (Parameter '{name}')", string.Empty, StringComparison.Ordinal);
        if (!message.Contains(name, StringComparison.Ordinal))
        {
            message = $"{name}: {message}";
        }
    }
    int newline = message.IndexOfAny(['\r', '\n']);
    if (newline >= 0)
    {
        message = message[..newline];
    }
    if (ex is ArgumentOutOfRangeException { ActualValue: { } actual })
    {
        message += $" (got {Convert.ToString(actual, System.Globalization.CultureInfo.InvariantCulture)})";
    }
    return message;
}
