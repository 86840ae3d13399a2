namespace Spright.Diffusion;

/// <summary>A model component failed while running for a reason that is neither a bad argument nor a broken model
/// file (for example a backend that ran out of device memory). The message says which component and why, on one line.</summary>
public sealed class InferenceException : DiffusionException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="component">The component that failed (<c>unet</c>, <c>vae_decoder</c>…).</param>
    /// <param name="problem">What went wrong.</param>
    /// <param name="innerException">The backend's error.</param>
    public InferenceException(string component, string problem, Exception? innerException = null)
        : base($"{component}: {OneLine(problem)}", innerException)
    {
        Component = component;
    }

    /// <summary>The component that failed.</summary>
    public string Component { get; }
}
