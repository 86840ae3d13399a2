namespace Spright.Diffusion;

/// <summary>
/// The one exception type for a model folder that cannot be used: a missing file, invalid JSON, a missing or
/// mistyped key, an unknown class name, a graph that fails to load, missing external weights, or inputs and
/// outputs that do not fit the component (or a graph that loads but fails when run, reported by the call that ran
/// it). The message names the file and what is wrong, on one line (<c>path: problem</c>), so that tools can show it as it is.
/// </summary>
public sealed class ModelLoadException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="path">The file or folder at fault.</param>
    /// <param name="problem">What is wrong with it.</param>
    /// <param name="innerException">The underlying error, if any.</param>
    public ModelLoadException(string path, string problem, Exception? innerException = null)
        : base($"{path}: {OneLine(problem)}", innerException)
    {
        FilePath = path;
        Problem = OneLine(problem);
    }

    /// <summary>The file or folder at fault.</summary>
    public string FilePath { get; }

    /// <summary>What is wrong, without the path (one line).</summary>
    public string Problem { get; }

    /// <summary>Native and JSON errors may span lines; the problem is kept to one, without .NET's
    /// <c>(Parameter 'x')</c> suffix.</summary>
    private static string OneLine(string problem)
    {
        ArgumentNullException.ThrowIfNull(problem);
        string[] parts = problem.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string line = string.Join(" ", parts);
        int parameter = line.LastIndexOf(" (Parameter '", StringComparison.Ordinal);
        return parameter > 0 && line.EndsWith("')", StringComparison.Ordinal) ? line[..parameter] : line;
    }
}
