namespace Spright.Diffusion.OnnxRuntime;

/// <summary>
/// The requested execution provider is not in the ONNX Runtime native library the app loaded. The message says
/// which NuGet package provides it.
/// </summary>
public sealed class ExecutionProviderUnavailableException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="provider">The provider requested.</param>
    /// <param name="message">What is wrong and how to fix it.</param>
    /// <param name="innerException">The native error, if any.</param>
    public ExecutionProviderUnavailableException(ExecutionProvider provider, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Provider = provider;
    }

    /// <summary>The provider requested.</summary>
    public ExecutionProvider Provider { get; }
}
