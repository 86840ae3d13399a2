using System.Diagnostics;
using System.Numerics.Tensors;
using Spright.Diffusion.Components;
using Spright.Diffusion.Diagnostics;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Random;
using Spright.Diffusion.Schedulers;

namespace Spright.Diffusion.Pipelines;

/// <summary>
/// The denoising loop both pipelines share (diffusers' <c>__call__</c> loop): scale the input, evaluate the UNet on the
/// guided batch, combine with classifier-free guidance (and its rescale), step the scheduler; report progress, run the
/// step-end callback. The UNet runner's buffers are bound once and the guided batch is built in place, so a step
/// allocates nothing.
/// </summary>
internal static class DenoisingLoop
{
    /// <summary>Runs the loop over <paramref name="timesteps"/> on <paramref name="latents"/> (updated in place).</summary>
    /// <returns>The latents tensor and the timesteps the UNet was evaluated at.</returns>
    public static (Tensor<float> Latents, float[] Timesteps) Run(PipelineSnapshot model, GenerationOptions options, CallPlan plan,
        IScheduler scheduler, float[] timesteps, float[] latents, PromptEmbeddings embeds, TorchGenerator generator, CancellationToken cancellationToken)
    {
        int images = plan.Images;
        int channels = model.Unet.Info.InChannels;
        int h = plan.Height / model.VaeScaleFactor, w = plan.Width / model.VaeScaleFactor;
        int[] embedShape = embeds.PromptEmbeds.Shape();
        var shape = new UNetShape(plan.Guided ? 2 * images : images, channels, h, w, embedShape[1], embedShape[2]);
        if (model.Unet.Info.CrossAttentionDim is int crossDim && crossDim != shape.HiddenSize)
        {
            throw new ArgumentException($"The text embeddings are {shape.HiddenSize} wide but the UNet expects {crossDim}.", nameof(options.PromptEmbeds));
        }

        int latentLength = images * channels * h * w;
        Tensor<float> latentTensor = TensorShapes.Wrap(latents, images, channels, h, w);
        var noisePred = new float[latentLength];
        Tensor<float> noiseTensor = TensorShapes.Wrap(noisePred, images, channels, h, w);
        float guidance = (float)options.GuidanceScale;
        float eta = (float)options.Eta;
        IEtaScheduler? etaScheduler = scheduler as IEtaScheduler;
        StepEndContext? stepEnd = options.CallbackOnStepEnd is null ? null : new StepEndContext(latentTensor, timesteps.Length);
        int evaluated = 0;

        using IDisposable? hold = model.Unet.Acquire();
        using IUNetRunner runner = model.Unet.RentRunner(shape);
        // diffusers' torch.cat([negative_prompt_embeds, prompt_embeds]), written straight into the UNet's input.
        Span<float> hidden = runner.EncoderHiddenStates;
        if (plan.Guided)
        {
            ReadOnlySpan<float> negative = embeds.NegativePromptEmbeds!.AsSpan();
            negative.CopyTo(hidden);
            hidden = hidden[negative.Length..];
        }
        embeds.PromptEmbeds.AsSpan().CopyTo(hidden);
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < timesteps.Length; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            float t = timesteps[i];
            Span<float> sample = runner.Sample;
            using (Telemetry.Start(DiffusionDiagnostics.Activities.Scheduler, i))
            {
                scheduler.ScaleModelInput(latents, t, sample[..latentLength]);
                if (plan.Guided)
                {
                    // diffusers' torch.cat([latents] * 2): both halves of the UNet batch are the same scaled latents.
                    sample[..latentLength].CopyTo(sample[latentLength..]);
                }
            }

            using (Telemetry.Start(DiffusionDiagnostics.Activities.UNet, i))
            {
                // The last step lets the UNet hand its scratch memory back, so the VAE decoder does not run on top of it.
                runner.Run(t, i == timesteps.Length - 1 ? UNetRunHints.LastOfLoop : UNetRunHints.None, cancellationToken);
            }
            evaluated++;

            using (Telemetry.Start(DiffusionDiagnostics.Activities.Guidance, i))
            {
                ReadOnlySpan<float> output = runner.Output;
                if (plan.Guided)
                {
                    ReadOnlySpan<float> uncond = output[..latentLength];
                    ReadOnlySpan<float> text = output[latentLength..];
                    Guidance.Combine(uncond, text, guidance, noisePred);
                    if (options.GuidanceRescale > 0)
                    {
                        Guidance.Rescale(noisePred, text, images, options.GuidanceRescale);
                    }
                }
                else
                {
                    output.CopyTo(noisePred);
                }
            }

            using (Telemetry.Start(DiffusionDiagnostics.Activities.Scheduler, i))
            {
                // diffusers' prepare_extra_step_kwargs: eta goes only to a scheduler whose step takes it (DDIM).
                _ = etaScheduler is not null
                    ? etaScheduler.Step(noiseTensor, t, latentTensor, eta, generator)
                    : scheduler.Step(noiseTensor, t, latentTensor, generator);
            }

            if (stepEnd is not null)
            {
                stepEnd.Step = i;
                stepEnd.Timestep = t;
                options.CallbackOnStepEnd!(stepEnd);
            }
            options.Progress?.Report(new GenerationProgress(i + 1, timesteps.Length, t, Stopwatch.GetElapsedTime(start)));
            if (stepEnd is { StopRequested: true })
            {
                break;
            }
        }
        return (latentTensor, evaluated == timesteps.Length ? timesteps : timesteps[..evaluated]);
    }
}
