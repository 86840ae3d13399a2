namespace Spright.Diffusion;

/// <summary>
/// The base of every error the library raises for something other than a bad argument: a model folder that cannot be
/// used (<see cref="ModelLoadException"/>), a backend that failed while running (<see cref="InferenceException"/>),
/// non-finite outputs (<see cref="NonFiniteOutputException"/>) and Hub errors (<see cref="Hub.HubException"/>). Bad
/// arguments raise the <see cref="ArgumentException"/> family instead, before any work starts. Messages are one line.
/// </summary>
public abstract class DiffusionException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong, on one line.</param>
    /// <param name="innerException">The underlying error, if any.</param>
    protected DiffusionException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }

    /// <summary>Keeps a message to one line, without .NET's <c>(Parameter 'x')</c> suffix.</summary>
    /// <param name="message">The text.</param>
    /// <returns>The text on one line.</returns>
    protected static string OneLine(string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        string[] parts = message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string line = string.Join(" ", parts);
        int parameter = line.LastIndexOf(" (Parameter '", StringComparison.Ordinal);
        return parameter > 0 && line.EndsWith("')", StringComparison.Ordinal) ? line[..parameter] : line;
    }
}
