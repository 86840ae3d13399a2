namespace Spright.Diffusion.Components;

/// <summary>
/// The backend seam: loads a model folder's neural components (text encoder, UNet, VAE) for
/// <see cref="DiffusionPipeline.FromPretrained"/>. The core reads everything else itself (model_index.json, the scheduler,
/// the tokenizer, and the configs it cross-checks). The ONNX Runtime backend (<c>Spright.Diffusion.OnnxRuntime</c>)
/// implements it for ONNX exports and diffusers safetensors folders.
/// </summary>
public interface IComponentLoader
{
    /// <summary>Loads the components <paramref name="request"/> asks for.</summary>
    /// <param name="request">The folder and how to load it.</param>
    /// <param name="cancellationToken">Stops the load (graph builds and session creation check it between steps).</param>
    /// <returns>The loaded components.</returns>
    /// <exception cref="ModelLoadException">A file is missing or cannot be used; the message names it.</exception>
    LoadedComponents Load(ComponentLoadRequest request, CancellationToken cancellationToken);
}
