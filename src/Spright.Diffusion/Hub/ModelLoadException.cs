namespace Spright.Diffusion;

/// <summary>
/// The one exception type for a model folder that cannot be used: a missing file, invalid JSON, a missing or
/// mistyped key, an unknown class name, a graph that fails to load, missing external weights, or inputs and
/// outputs that do not fit the component. The message names the file and what is wrong.
/// </summary>
public sealed class ModelLoadException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="path">The file or folder at fault.</param>
    /// <param name="problem">What is wrong with it.</param>
    /// <param name="innerException">The underlying error, if any.</param>
    public ModelLoadException(string path, string problem, Exception? innerException = null)
        : base($"{path}: {problem}", innerException)
    {
        FilePath = path;
        Problem = problem;
    }

    /// <summary>The file or folder at fault.</summary>
    public string FilePath { get; }

    /// <summary>What is wrong, without the path.</summary>
    public string Problem { get; }
}
