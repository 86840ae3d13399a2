namespace Spright.Diffusion.Components;

/// <summary>
/// Evaluates the UNet for one fixed shape on preallocated buffers: write <see cref="Sample"/> and
/// <see cref="EncoderHiddenStates"/>, call <see cref="Run"/>, read <see cref="Output"/>. Not thread-safe: one per running
/// call.
/// </summary>
public interface IUNetRunner : IDisposable
{
    /// <summary>The shape this runner serves.</summary>
    UNetShape Shape { get; }

    /// <summary>The latent model input [batch, channels, height, width].</summary>
    Span<float> Sample { get; }

    /// <summary>The text conditioning [batch, sequence, hidden].</summary>
    Span<float> EncoderHiddenStates { get; }

    /// <summary>The model output of the last <see cref="Run"/> [batch, channels, height, width].</summary>
    ReadOnlySpan<float> Output { get; }

    /// <summary>Evaluates the UNet at <paramref name="timestep"/>.</summary>
    /// <param name="timestep">The diffusion timestep.</param>
    /// <param name="hints">What the pipeline knows about this evaluation.</param>
    /// <param name="cancellationToken">Stops the evaluation, also mid-run where the backend can.</param>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    /// <exception cref="InferenceException">The backend failed to evaluate.</exception>
    void Run(float timestep, UNetRunHints hints, CancellationToken cancellationToken);
}
