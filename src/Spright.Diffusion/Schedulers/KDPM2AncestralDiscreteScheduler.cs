using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Spright.Diffusion.Random;
using Spright.Diffusion.IO;
using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// Ancestral KDPM2 following <c>diffusers/schedulers/scheduling_k_dpm_2_ancestral_discrete.py</c> (v0.31): the
/// first-order half-step goes to the log-midpoint of σᵢ and σ_down, the second-order step to σ_down, then noise of
/// scale σ_up is drawn from the generator (once per solver step, on the second-order step).
/// </summary>
public sealed class KDPM2AncestralDiscreteScheduler : KDiffusionSchedulerBase
{
    private readonly MidpointSteps _steps = new();
    private float[] _sigmasInterpol = [];
    private float[] _sigmasUp = [];
    private float[] _sigmasDown = [];

    /// <summary>Creates an ancestral KDPM2 scheduler, like <c>KDPM2AncestralDiscreteScheduler(**options)</c>.</summary>
    /// <param name="options">The options; <see langword="null"/> for diffusers' defaults.</param>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public KDPM2AncestralDiscreteScheduler(KDPM2AncestralDiscreteSchedulerOptions? options = null)
        : this(SchedulerSignatures.KDPM2Ancestral.Bind(options ?? new()), null)
    {
    }

    internal KDPM2AncestralDiscreteScheduler(BoundOptions<KDPM2AncestralDiscreteSchedulerOptions> bound, ILogger? logger)
        : base(bound.Config, bound.Options, logger)
    {
        Options = bound.Options;
        Order = 2;
        SetTimesteps(Options.NumTrainTimesteps);
    }

    /// <summary>The options this scheduler runs with (<see cref="IScheduler.Config"/> shows them as configuration keys).</summary>
    internal KDPM2AncestralDiscreteSchedulerOptions Options { get; }

    /// <summary>Whether the next step is a first-order step.</summary>
    internal bool StateInFirstOrder => _steps.InFirstOrder;

    /// <summary>The interleaved midpoint sigmas (diffusers' <c>sigmas_interpol</c>).</summary>
    internal ReadOnlySpan<float> SigmasInterpol => _sigmasInterpol;

    /// <summary>The interleaved noise scales σ_up (diffusers' <c>sigmas_up</c>).</summary>
    internal ReadOnlySpan<float> SigmasUp => _sigmasUp;

    /// <summary>The interleaved deterministic targets σ_down (diffusers' <c>sigmas_down</c>).</summary>
    internal ReadOnlySpan<float> SigmasDown => _sigmasDown;

    /// <summary>Builds a scheduler from a configuration (possibly another scheduler's), like
    /// <c>KDPM2AncestralDiscreteScheduler.from_config(config, **overrides)</c>.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="overrides">Options to set; as in diffusers, names this class does not take are ignored with a warning.</param>
    /// <param name="logger">Where warnings go.</param>
    /// <returns>The scheduler.</returns>
    /// <exception cref="ArgumentException">An option value is invalid.</exception>
    public static KDPM2AncestralDiscreteScheduler FromConfig(SchedulerConfig config, IEnumerable<KeyValuePair<string, object?>>? overrides = null, ILogger? logger = null) =>
        (KDPM2AncestralDiscreteScheduler)SchedulerRegistry.Create(nameof(KDPM2AncestralDiscreteScheduler), config, overrides, logger);

    private protected override bool ReadsConfigSigmaRange(SigmaSpacing spacing) => true;

    private protected override bool RoundsKarrasTimesteps => true;

    private protected override void Install(float[] sigmas, double[] timesteps)
    {
        int count = sigmas.Length;
        var up = new float[count];
        var down = new float[count];
        var interpol = new float[count];
        for (int i = 0; i < count; i++)
        {
            float s = sigmas[i];
            float next = i + 1 < count ? sigmas[i + 1] : 0f;
            float nextSquared = next * next;
            float squared = s * s;
            float upSquared = nextSquared * (squared - nextSquared) / squared;
            up[i] = MathF.Sqrt(upSquared);
            down[i] = MathF.Sqrt(nextSquared - up[i] * up[i]);
        }
        down[count - 1] = 0f;
        for (int i = 0; i < count; i++)
        {
            interpol[i] = SigmaScheduleMath.LogMidpoint(sigmas[i], down[i]);
        }
        interpol[count - 1] = 0f;
        if (count >= 2)
        {
            interpol[count - 2] = 0f;
        }

        _sigmasInterpol = SigmaScheduleMath.RepeatInterleaveTail(interpol, appendLast: true);
        _sigmasUp = SigmaScheduleMath.RepeatInterleaveTail(up, appendLast: true);
        _sigmasDown = SigmaScheduleMath.RepeatInterleaveTail(down, appendLast: true);
        _steps.Reset();
        InstallSchedule(SigmaScheduleMath.RepeatInterleaveTail(sigmas, appendLast: true), InterleavedTimesteps(ToFloat(timesteps), interpol, 1));
    }

    /// <inheritdoc />
    private protected override float InputSigma(int stepIndex) => StateInFirstOrder ? SigmaValues[stepIndex] : _sigmasInterpol[stepIndex - 1];

    /// <inheritdoc />
    /// <exception cref="NotSupportedException">The prediction type is <c>sample</c> (not implemented by diffusers either).</exception>
    /// <exception cref="ArgumentNullException"><paramref name="generator"/> is null on a second-order step, which draws noise.</exception>
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
        if (!firstOrder && generator is null)
        {
            throw new ArgumentNullException(nameof(generator), $"{ClassName} draws noise on its second-order steps: pass the generator.");
        }
        CheckStepInRange(firstOrder ? index : index - 1, 1);

        Span<float> x = sample.AsSpan();
        Tensor<float> predOriginalTensor = _steps.PredictedOriginal(sample, out Span<float> x0);
        int k = firstOrder ? index : index - 1;
        float sigma = SigmaValues[k]; // σ̂ = σ (γ = 0)
        float sigmaInterpol = _sigmasInterpol[k];
        PredictOriginalSample(Options.PredictionType, modelOutput.AsSpan(), x, firstOrder ? sigma : sigmaInterpol, x0);
        if (firstOrder)
        {
            _steps.First(x, x0, sigma, sigmaInterpol);
        }
        else
        {
            _steps.Second(x, x0, sigma, sigmaInterpol, _sigmasDown[k], ClassName);
            float[] noise = _steps.Derivative;
            generator!.Randn(noise);
            ElementwiseOps.AddScaled(x, _sigmasUp[k], noise, x);
        }

        StepIndex = index + 1;
        return new SchedulerOutput(sample, predOriginalTensor);
    }
}
