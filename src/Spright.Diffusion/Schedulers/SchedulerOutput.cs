using System.Numerics.Tensors;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// What <see cref="IScheduler.Step"/> returns, like diffusers' <c>SchedulerOutput</c> / <c>DDIMSchedulerOutput</c>.
/// </summary>
/// <param name="prevSample">The sample for the previous timestep.</param>
/// <param name="predOriginalSample">The predicted denoised sample x₀, or <see langword="null"/>.</param>
public readonly struct SchedulerOutput(Tensor<float> prevSample, Tensor<float>? predOriginalSample)
{
    /// <summary>The sample for the previous timestep. This is the <c>sample</c> tensor passed to
    /// <see cref="IScheduler.Step"/>, updated in place (no allocation per step).</summary>
    public Tensor<float> PrevSample { get; } = prevSample;

    /// <summary>The predicted denoised sample x₀ when the scheduler computes one; a buffer owned by the scheduler,
    /// valid until its next step. <see langword="null"/> when the scheduler has none for this step.</summary>
    public Tensor<float>? PredOriginalSample { get; } = predOriginalSample;
}
