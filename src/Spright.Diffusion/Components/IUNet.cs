namespace Spright.Diffusion.Components;

/// <summary>
/// The denoising UNet (<c>UNet2DConditionModel</c>). It rents out <see cref="IUNetRunner"/>s that own preallocated
/// buffers for one shape, so the denoising loop runs without allocating; disposing a runner gives it back (a backend
/// may keep it for the next call of the same shape).
/// </summary>
public interface IUNet : IPipelineComponent
{
    /// <summary>Configuration facts.</summary>
    UNetInfo Info { get; }

    /// <summary>Rents a runner with buffers for <paramref name="shape"/>. The runner gets ready to evaluate soon (it may
    /// start its worker threads), so rent it just before the loop.</summary>
    /// <param name="shape">The evaluation shape.</param>
    /// <returns>A runner; dispose it when the loop ends.</returns>
    /// <exception cref="ArgumentException">The UNet cannot take <paramref name="shape"/>.</exception>
    IUNetRunner RentRunner(UNetShape shape);
}
