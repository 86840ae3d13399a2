namespace Spright.Diffusion.Components;

/// <summary>
/// What every model component of a pipeline offers: it can be held ready for a stage of a call. A backend that loads
/// components on demand (low-memory mode) loads the component on the first <see cref="Acquire"/> and releases it when
/// the last lease is disposed; a component that is always loaded returns <see langword="null"/> (nothing to release).
/// </summary>
public interface IPipelineComponent : IDisposable
{
    /// <summary>Keeps the component ready until the returned lease is disposed.</summary>
    /// <returns>The lease (dispose it when the stage ends), or <see langword="null"/> when the component is always ready.</returns>
    IDisposable? Acquire();
}
