namespace Spright.Diffusion.Components;

/// <summary>What a VAE encoder returns.</summary>
public enum VaeEncoderOutputKind
{
    /// <summary>The posterior's parameters, concat(mean, logvar) along channels; the pipeline samples with its generator
    /// (optimum exports and graphs built from safetensors).</summary>
    LatentParameters,

    /// <summary>A sample already drawn inside the graph with its own noise (old exports).</summary>
    LatentSample,
}
