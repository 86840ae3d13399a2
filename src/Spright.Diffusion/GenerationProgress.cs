namespace Spright.Diffusion;

/// <summary>Progress of a running generation.</summary>
/// <param name="Step">Steps completed (1-based).</param>
/// <param name="TotalSteps">Steps in this generation.</param>
/// <param name="Timestep">The timestep just completed.</param>
/// <param name="Elapsed">Time since the denoising loop started.</param>
public readonly record struct GenerationProgress(int Step, int TotalSteps, float Timestep, TimeSpan Elapsed);
