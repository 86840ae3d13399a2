using System.Numerics.Tensors;

namespace Spright.Diffusion;

/// <summary>The state handed to <see cref="GenerationOptions.CallbackOnStepEnd"/> after each step (one instance per call,
/// reused across steps).</summary>
public sealed class StepEndContext
{
    internal StepEndContext(Tensor<float> latents, int totalSteps)
    {
        Latents = latents;
        TotalSteps = totalSteps;
    }

    /// <summary>The index of the step just completed (0-based, as diffusers' <c>i</c>).</summary>
    public int Step { get; internal set; }

    /// <summary>Steps in this generation.</summary>
    public int TotalSteps { get; }

    /// <summary>The timestep just completed.</summary>
    public float Timestep { get; internal set; }

    /// <summary>The live latents; changes made in place are used by the next step.</summary>
    public Tensor<float> Latents { get; }

    /// <summary>Whether <see cref="Stop"/> was called.</summary>
    public bool StopRequested { get; private set; }

    /// <summary>Ends the denoising loop after this step (diffusers' <c>pipe._interrupt = True</c>); the current latents are decoded.</summary>
    public void Stop() => StopRequested = true;
}
