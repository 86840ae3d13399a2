using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Spright.Diffusion.Random;
using Spright.Diffusion.IO;
using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// KDPM2 (DPM-Solver-2, Karras et al. 2022 Algorithm 2 variant) following
/// <c>diffusers/schedulers/scheduling_k_dpm_2_discrete.py</c> (v0.31). Every solver step evaluates the model at σᵢ and
/// at the geometric midpoint √(σᵢσᵢ₊₁), so the timesteps interleave the schedule with interpolated timesteps; the
/// first/second order state machine matches diffusers' <c>state_in_first_order</c>.
/// </summary>
public sealed class KDPM2DiscreteScheduler : KDiffusionSchedulerBase
{
    private readonly MidpointSteps _steps = new();
    private float[] _sigmasInterpol = [];

    /// <summary>Creates a KDPM2 scheduler, like <c>KDPM2DiscreteScheduler(**options)</c>.</summary>
    /// <param name="options">The options; <see langword="null"/> for diffusers' defaults.</param>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public KDPM2DiscreteScheduler(KDPM2DiscreteSchedulerOptions? options = null)
        : this(SchedulerSignatures.KDPM2.Bind(options ?? new()), null)
    {
    }

    internal KDPM2DiscreteScheduler(BoundOptions<KDPM2DiscreteSchedulerOptions> bound, ILogger? logger)
        : base(bound.Config, bound.Options, logger)
    {
        Options = bound.Options;
        Order = 2;
        SetTimesteps(Options.NumTrainTimesteps);
    }

    /// <summary>The options this scheduler runs with (<see cref="IScheduler.Config"/> shows them as configuration keys).</summary>
    internal KDPM2DiscreteSchedulerOptions Options { get; }

    /// <summary>Whether the next step is a first-order step.</summary>
    internal bool StateInFirstOrder => _steps.InFirstOrder;

    /// <summary>The interleaved midpoint sigmas (diffusers' <c>sigmas_interpol</c>; the first entry is NaN as in torch).</summary>
    internal ReadOnlySpan<float> SigmasInterpol => _sigmasInterpol;

    /// <summary>Builds a scheduler from a configuration (possibly another scheduler's), like
    /// <c>KDPM2DiscreteScheduler.from_config(config, **overrides)</c>.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="overrides">Options to set; as in diffusers, names this class does not take are ignored with a warning.</param>
    /// <param name="logger">Where warnings go.</param>
    /// <returns>The scheduler.</returns>
    /// <exception cref="ArgumentException">An option value is invalid.</exception>
    public static KDPM2DiscreteScheduler FromConfig(SchedulerConfig config, IEnumerable<KeyValuePair<string, object?>>? overrides = null, ILogger? logger = null) =>
        (KDPM2DiscreteScheduler)SchedulerRegistry.Create(nameof(KDPM2DiscreteScheduler), config, overrides, logger);

    private protected override bool ReadsConfigSigmaRange(SigmaSpacing spacing) => true;

    private protected override bool RoundsKarrasTimesteps => true;

    private protected override void Install(float[] sigmas, double[] timesteps)
    {
        // σ_interpol = exp(lerp(log σ, log σ.roll(1), 0.5)); the first one mixes with the final 0 (→ NaN).
        int count = sigmas.Length;
        var interpol = new float[count];
        for (int i = 0; i < count; i++)
        {
            interpol[i] = SigmaScheduleMath.LogMidpoint(sigmas[i], sigmas[(i - 1 + count) % count]);
        }
        _sigmasInterpol = SigmaScheduleMath.RepeatInterleaveTail(interpol, appendLast: true);
        _steps.Reset();
        InstallSchedule(SigmaScheduleMath.RepeatInterleaveTail(sigmas, appendLast: true), InterleavedTimesteps(ToFloat(timesteps), interpol, 0));
    }

    /// <inheritdoc />
    private protected override float InputSigma(int stepIndex) => StateInFirstOrder ? SigmaValues[stepIndex] : _sigmasInterpol[stepIndex];

    /// <inheritdoc />
    /// <exception cref="NotSupportedException">The prediction type is <c>sample</c> (not implemented by diffusers either).</exception>
    private protected override SchedulerOutput StepCore(Tensor<float> modelOutput, float timestep, Tensor<float> sample, TorchGenerator? generator)
    {
        CheckStepArguments(modelOutput, sample);
        EnsureTimestepsSet();
        RejectSamplePrediction(Options.PredictionType);
        if (StepIndex is null)
        {
            InitStepIndex(timestep);
        }
        int index = StepIndex!.Value;
        bool firstOrder = StateInFirstOrder;
        CheckStepInRange(firstOrder ? index : index - 1, 2);

        Span<float> x = sample.AsSpan();
        Tensor<float> predOriginalTensor = _steps.PredictedOriginal(sample, out Span<float> x0);
        float sigma = firstOrder ? SigmaValues[index] : SigmaValues[index - 1]; // σ̂ = σ (γ = 0)
        float sigmaInterpol = firstOrder ? _sigmasInterpol[index + 1] : _sigmasInterpol[index];
        PredictOriginalSample(Options.PredictionType, modelOutput.AsSpan(), x, firstOrder ? sigma : sigmaInterpol, x0);
        if (firstOrder)
        {
            _steps.First(x, x0, sigma, sigmaInterpol);
        }
        else
        {
            _steps.Second(x, x0, sigma, sigmaInterpol, SigmaValues[index], ClassName);
        }

        StepIndex = index + 1;
        return new SchedulerOutput(sample, predOriginalTensor);
    }
}
