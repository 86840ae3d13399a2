using System.Numerics.Tensors;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// What <see cref="IScheduler.Step"/> returns, like diffusers' <c>SchedulerOutput</c> /
/// <c>DDIMSchedulerOutput</c>.
/// </summary>
/// <param name="PrevSample">The sample for the previous timestep. This is the <c>sample</c> tensor passed to
/// <see cref="IScheduler.Step"/>, updated in place (no allocation per step).</param>
/// <param name="PredOriginalSample">The predicted denoised sample x₀ when the scheduler computes one; a buffer
/// owned by the scheduler, valid until its next step. <see langword="null"/> when the scheduler has none for this step.</param>
public readonly record struct SchedulerOutput(Tensor<float> PrevSample, Tensor<float>? PredOriginalSample);
