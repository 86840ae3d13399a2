using System.Numerics.Tensors;
using Spright.Diffusion.Random;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// The contract every scheduler honours, mirroring diffusers' <c>SchedulerMixin</c>: build with
/// <c>XScheduler.FromConfig(config)</c>, call <see cref="SetTimesteps(int)"/>, then for each timestep
/// <see cref="ScaleModelInput(ReadOnlySpan{float}, float, Span{float})"/> → model → <see cref="Step"/>.
/// </summary>
/// <remarks>
/// A scheduler holds per-generation state (step index, multistep history) and is therefore not thread-safe;
/// pipelines run every call on a fresh <see cref="Clone"/>. Timesteps are exposed as <see cref="float"/>:
/// integer schedules (diffusers' int64 timesteps) are exact in float32.
/// </remarks>
public interface IScheduler
{
    /// <summary>The diffusers class name, e.g. <c>DDIMScheduler</c>.</summary>
    string ClassName { get; }

    /// <summary>The resolved configuration (every option with its value, plus keys kept for compatible classes),
    /// like diffusers' <c>scheduler.config</c>; pass it to another scheduler's <c>FromConfig</c> to switch.</summary>
    SchedulerConfig Config { get; }

    /// <summary>How many model evaluations one solver step uses (2 for Heun and KDPM2, else 1).</summary>
    int Order { get; }

    /// <summary>The standard deviation of the initial noise (1 for DDIM; the largest sigma for sigma schedulers).</summary>
    float InitNoiseSigma { get; }

    /// <summary>The number of inference steps given to the last <c>SetTimesteps</c> call (0 before any).</summary>
    int NumInferenceSteps { get; }

    /// <summary>The timesteps to iterate, after <c>SetTimesteps</c> (diffusers' <c>scheduler.timesteps</c>).</summary>
    ReadOnlySpan<float> Timesteps { get; }

    /// <summary>The noise levels (diffusers' <c>scheduler.sigmas</c>) for sigma-based schedulers; empty otherwise.</summary>
    ReadOnlySpan<float> Sigmas { get; }

    /// <summary>The index of the next step, or <see langword="null"/> before the first step.</summary>
    int? StepIndex { get; }

    /// <summary>The first step index, as set by <see cref="SetBeginIndex"/> (image-to-image), or <see langword="null"/>.</summary>
    int? BeginIndex { get; }

    /// <summary>Computes the discrete schedule for <paramref name="numInferenceSteps"/> steps.</summary>
    /// <param name="numInferenceSteps">The number of denoising steps, at least 1 and at most the number of training steps.</param>
    void SetTimesteps(int numInferenceSteps);

    /// <summary>Uses a custom schedule, like <c>set_timesteps(timesteps=[...])</c> or <c>set_timesteps(sigmas=[...])</c>
    /// where diffusers allows it for this scheduler.</summary>
    /// <param name="timesteps">Custom timesteps in decreasing order, or <see langword="null"/>.</param>
    /// <param name="sigmas">Custom sigmas in decreasing order, or <see langword="null"/>.</param>
    /// <exception cref="NotSupportedException">This scheduler does not accept the given kind of custom schedule.</exception>
    void SetTimesteps(IReadOnlyList<float>? timesteps, IReadOnlyList<float>? sigmas);

    /// <summary>Sets the step index to start from (diffusers' <c>set_begin_index</c>, used by image-to-image).</summary>
    /// <param name="beginIndex">The index into <see cref="Timesteps"/> of the first step.</param>
    void SetBeginIndex(int beginIndex);

    /// <summary>Scales the denoising model input for the current timestep (identity for most schedulers, divides
    /// by √(σ²+1) for sigma schedulers). May be called with the same span as source and destination.</summary>
    /// <param name="sample">The current latents.</param>
    /// <param name="timestep">The current timestep (a value of <see cref="Timesteps"/>).</param>
    /// <param name="destination">Where to write the scaled input; the same length as <paramref name="sample"/>.</param>
    void ScaleModelInput(ReadOnlySpan<float> sample, float timestep, Span<float> destination);

    /// <summary>Runs one solver step: predicts the sample at the previous timestep from the model output.</summary>
    /// <param name="modelOutput">The (guided) model output, same shape as <paramref name="sample"/>.</param>
    /// <param name="timestep">The current timestep (a value of <see cref="Timesteps"/>).</param>
    /// <param name="sample">The current latents; updated in place to the previous sample.</param>
    /// <param name="generator">The random generator for stochastic schedulers (ancestral, SDE, DDPM, LCM).</param>
    /// <returns>The previous sample (the updated <paramref name="sample"/>) and the predicted x₀.</returns>
    /// <remarks>Schedulers whose step takes DDIM's η implement <see cref="IEtaScheduler"/> as well.</remarks>
    SchedulerOutput Step(Tensor<float> modelOutput, float timestep, Tensor<float> sample, TorchGenerator? generator = null);

    /// <summary>Forward diffusion to <paramref name="timestep"/>: √ᾱ·x₀ + √(1−ᾱ)·ε (or x₀ + σ·ε for sigma
    /// schedulers), used by image-to-image.</summary>
    /// <param name="originalSamples">The clean latents x₀.</param>
    /// <param name="noise">The noise ε, same length.</param>
    /// <param name="timestep">The timestep to noise to.</param>
    /// <param name="destination">Where to write the noised latents, same length (may alias an input).</param>
    void AddNoise(ReadOnlySpan<float> originalSamples, ReadOnlySpan<float> noise, float timestep, Span<float> destination);

    /// <summary>A new scheduler of the same class and configuration, without any timestep state.</summary>
    /// <returns>A fresh scheduler.</returns>
    IScheduler Clone();
}
