using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Spright.Diffusion.Random;
using Spright.Diffusion.IO;
using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// Ancestral Euler scheduler following <c>diffusers/schedulers/scheduling_euler_ancestral_discrete.py</c> (v0.31): an
/// Euler step down to σ_down followed by fresh noise of scale σ_up drawn from the generator every step.
/// Epsilon and v-prediction (diffusers does not implement <c>sample</c> for this class), leading / trailing /
/// linspace spacing and zero-terminal-SNR rescaling.
/// </summary>
public sealed class EulerAncestralDiscreteScheduler : SigmaSchedulerBase
{
    private float[]? _predOriginal;
    private Tensor<float>? _predOriginalTensor;
    private float[]? _scratch;

    /// <summary>Creates an ancestral Euler scheduler, like <c>EulerAncestralDiscreteScheduler(**options)</c>.</summary>
    /// <param name="options">The options; <see langword="null"/> for diffusers' defaults.</param>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public EulerAncestralDiscreteScheduler(EulerAncestralDiscreteSchedulerOptions? options = null)
        : this(SchedulerSignatures.EulerAncestral.Bind(options ?? new()), null)
    {
    }

    internal EulerAncestralDiscreteScheduler(BoundOptions<EulerAncestralDiscreteSchedulerOptions> bound, ILogger? logger)
        : base(bound.Config, bound.Options, logger)
    {
        Options = bound.Options;
        Tables = new TrainingTables(BetaSchedules.AlphasCumprod(ClassName, Options, Options.RescaleBetasZeroSnr, clampTerminal: true));
        SetTrainingSchedule(continuousTimesteps: false);
    }

    /// <summary>The options this scheduler runs with (<see cref="IScheduler.Config"/> shows them as configuration keys).</summary>
    internal EulerAncestralDiscreteSchedulerOptions Options { get; }

    /// <summary>Builds a scheduler from a configuration (possibly another scheduler's), like
    /// <c>EulerAncestralDiscreteScheduler.from_config(config, **overrides)</c>.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="overrides">Options to set; as in diffusers, names this class does not take are ignored with a warning.</param>
    /// <param name="logger">Where warnings go.</param>
    /// <returns>The scheduler.</returns>
    /// <exception cref="ArgumentException">An option value is invalid.</exception>
    public static EulerAncestralDiscreteScheduler FromConfig(SchedulerConfig config, IEnumerable<KeyValuePair<string, object?>>? overrides = null, ILogger? logger = null) =>
        (EulerAncestralDiscreteScheduler)SchedulerRegistry.Create(nameof(EulerAncestralDiscreteScheduler), config, overrides, logger);

    /// <inheritdoc />
    private protected override void SetTimestepsCore(int numInferenceSteps)
    {
        CheckStepCount(numInferenceSteps, NumTrainTimesteps);
        NumInferenceSteps = numInferenceSteps;
        float[] timesteps = SpacedTimestepsFor(numInferenceSteps);
        double[] interpolated = InterpolateSigmas(timesteps);
        var sigmas = new float[interpolated.Length + 1];
        for (int i = 0; i < interpolated.Length; i++)
        {
            sigmas[i] = (float)interpolated[i];
        }
        InstallSchedule(sigmas, timesteps);
    }

    /// <inheritdoc />
    /// <exception cref="NotSupportedException">The prediction type is <c>sample</c> (not implemented by diffusers either).</exception>
    /// <exception cref="ArgumentNullException"><paramref name="generator"/> is null: every step draws noise.</exception>
    private protected override SchedulerOutput StepCore(Tensor<float> modelOutput, float timestep, Tensor<float> sample, TorchGenerator? generator)
    {
        CheckStepArguments(modelOutput, sample);
        EnsureTimestepsSet();
        RejectSamplePrediction(Options.PredictionType);
        if (generator is null)
        {
            throw new ArgumentNullException(nameof(generator), $"{ClassName} draws noise every step: pass the generator.");
        }
        if (StepIndex is null)
        {
            InitStepIndex(timestep);
        }
        int index = StepIndex!.Value;
        CheckStepInRange(index, 2);

        Span<float> x = sample.AsSpan();
        Tensor<float> predOriginalTensor = RentLike(ref _predOriginal, ref _predOriginalTensor, sample);
        Span<float> x0 = _predOriginal;
        Span<float> scratch = Rent(ref _scratch, x.Length);

        float sigma = SigmaValues[index];
        PredictOriginalSample(Options.PredictionType, modelOutput.AsSpan(), x, sigma, x0);

        float sigmaFrom = sigma;
        float sigmaTo = SigmaValues[index + 1];
        float toSquared = sigmaTo * sigmaTo;
        float fromSquared = sigmaFrom * sigmaFrom;
        float upSquared = toSquared * (fromSquared - toSquared) / fromSquared;
        float sigmaUp = MathF.Sqrt(upSquared);
        float sigmaDown = MathF.Sqrt(toSquared - sigmaUp * sigmaUp);

        ElementwiseOps.DifferenceQuotient(x, x0, sigma, scratch);
        float dt = sigmaDown - sigma;
        ElementwiseOps.AddScaled(x, dt, scratch, x);

        generator.Randn(scratch);
        ElementwiseOps.AddScaled(x, sigmaUp, scratch, x);

        StepIndex = index + 1;
        return new SchedulerOutput(sample, predOriginalTensor);
    }
}
