using System.Numerics.Tensors;
using Spright.Diffusion.Random;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// A scheduler whose step takes DDIM's η (<see cref="DDIMScheduler"/>). Pipelines pass η only to these, as diffusers'
/// <c>prepare_extra_step_kwargs</c> passes <c>eta</c> only to a scheduler whose <c>step</c> accepts it.
/// </summary>
public interface IEtaScheduler : IScheduler
{
    /// <summary>Runs one solver step with η-scaled variance noise (η = 0 is <see cref="IScheduler.Step"/>).</summary>
    /// <param name="modelOutput">The (guided) model output, same shape as <paramref name="sample"/>.</param>
    /// <param name="timestep">The current timestep (a value of <see cref="IScheduler.Timesteps"/>).</param>
    /// <param name="sample">The current latents; updated in place to the previous sample.</param>
    /// <param name="eta">The weight of the noise, in [0, ∞): 0 is deterministic DDIM, 1 is DDPM-like.</param>
    /// <param name="generator">The random generator; required when <paramref name="eta"/> &gt; 0.</param>
    /// <returns>The previous sample (the updated <paramref name="sample"/>) and the predicted x₀.</returns>
    SchedulerOutput Step(Tensor<float> modelOutput, float timestep, Tensor<float> sample, float eta, TorchGenerator? generator = null);
}
