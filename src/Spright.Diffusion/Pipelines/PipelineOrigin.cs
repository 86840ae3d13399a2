using Spright.Diffusion.Components;

namespace Spright.Diffusion.Pipelines;

/// <summary>Where a loaded pipeline came from: its folder, the backend that loaded it and how, so image-to-image built
/// from it (<c>FromPipe</c>) can load the VAE encoder the same way.</summary>
internal sealed record PipelineOrigin(string ModelPath, IComponentLoader Backend, ComponentLoadRequest Request);
