namespace Spright.Diffusion;

/// <summary>
/// A model folder that cannot be used: a missing file, invalid JSON, a missing or mistyped key, an unsupported config
/// value, an unknown class name, a lying safetensors header, a graph that fails to load or to run, missing external
/// weights, or inputs and outputs that do not fit the component. The message names the file and what is wrong, on one
/// line (<c>path: problem</c>), so that tools can show it as it is.
/// </summary>
public class ModelLoadException : DiffusionException
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
}
