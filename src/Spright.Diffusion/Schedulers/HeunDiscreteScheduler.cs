using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Spright.Diffusion.Random;
using Spright.Diffusion.IO;
using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// Heun's second-order scheduler (Karras et al. 2022, Algorithm 1) following
/// <c>diffusers/schedulers/scheduling_heun_discrete.py</c> (v0.31). Each solver step takes two model evaluations:
/// the timesteps are interleaved (t₀, t₁, t₁, t₂, t₂, …) and <see cref="IScheduler.Step"/> alternates between the Euler predictor
/// (first order) and the trapezoidal corrector (second order), exactly like diffusers' <c>state_in_first_order</c>.
/// </summary>
public sealed class HeunDiscreteScheduler : SigmaSchedulerBase
{
    private float[]? _predOriginal;
    private Tensor<float>? _predOriginalTensor;
    private float[]? _derivative;
    private float[]? _prevDerivative;
    private float[]? _storedSample;
    private float? _dt;

    /// <summary>Creates a Heun scheduler, like <c>HeunDiscreteScheduler(**options)</c>.</summary>
    /// <param name="options">The options; <see langword="null"/> for diffusers' defaults.</param>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public HeunDiscreteScheduler(HeunDiscreteSchedulerOptions? options = null)
        : this(SchedulerSignatures.Heun.Bind(options ?? new()), null)
    {
    }

    internal HeunDiscreteScheduler(BoundOptions<HeunDiscreteSchedulerOptions> bound, ILogger? logger)
        : base(bound.Config, bound.Options, logger)
    {
        Options = bound.Options;
        Order = 2;
        Tables = new TrainingTables(BetaSchedules.AlphasCumprod(ClassName, Options));

        // diffusers calls set_timesteps(num_train_timesteps) in the constructor.
        SetTimesteps(Options.NumTrainTimesteps);
    }

    /// <summary>The options this scheduler runs with (<see cref="IScheduler.Config"/> shows them as configuration keys).</summary>
    internal HeunDiscreteSchedulerOptions Options { get; }

    /// <summary>Whether the next step is a first-order (predictor) step.</summary>
    internal bool StateInFirstOrder => _dt is null;

    /// <summary>Builds a scheduler from a configuration (possibly another scheduler's), like
    /// <c>HeunDiscreteScheduler.from_config(config, **overrides)</c>.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="overrides">Options to set; as in diffusers, names this class does not take are ignored with a warning.</param>
    /// <param name="logger">Where warnings go.</param>
    /// <returns>The scheduler.</returns>
    /// <exception cref="ArgumentException">An option value is invalid.</exception>
    public static HeunDiscreteScheduler FromConfig(SchedulerConfig config, IEnumerable<KeyValuePair<string, object?>>? overrides = null, ILogger? logger = null) =>
        (HeunDiscreteScheduler)SchedulerRegistry.Create(nameof(HeunDiscreteScheduler), config, overrides, logger);

    /// <inheritdoc />
    private protected override void SetTimestepsCore(int numInferenceSteps)
    {
        CheckStepCount(numInferenceSteps, NumTrainTimesteps);
        NumInferenceSteps = numInferenceSteps;
        Build(SpacedTimestepsFor(numInferenceSteps));
    }

    // Heun accepts custom timesteps (not with Karras / exponential / beta sigmas); custom sigmas are not supported.
    private protected override void SetCustomScheduleCore(IReadOnlyList<float>? timesteps, IReadOnlyList<float>? sigmas)
    {
        if (timesteps is null)
        {
            base.SetCustomScheduleCore(timesteps, sigmas);
            return;
        }
        if (sigmas is not null)
        {
            throw new NotSupportedException($"{ClassName} does not accept custom sigmas.");
        }
        if (Options.SigmaSpacing != SigmaSpacing.None)
        {
            throw new ArgumentException($"{ClassName}: custom timesteps cannot be used with use_karras_sigmas, use_exponential_sigmas or use_beta_sigmas.", nameof(timesteps));
        }
        if (timesteps.Count == 0 || timesteps.Any(t => !float.IsFinite(t)))
        {
            throw new ArgumentException("Give at least one finite timestep.", nameof(timesteps));
        }
        NumInferenceSteps = timesteps.Count;
        Build(timesteps.ToArray());
    }

    private void Build(float[] timesteps)
    {
        double[] t64 = Array.ConvertAll(timesteps, x => (double)x);
        SigmaScheduleParts parts = Respace(InterpolateSigmas(timesteps), false, t64, Options.SigmaSpacing,
            NumInferenceSteps, ConfigNumber("sigma_min"), ConfigNumber("sigma_max"));

        var sigmas = new float[parts.Sigmas.Length + 1];
        for (int i = 0; i < parts.Sigmas.Length; i++)
        {
            sigmas[i] = (float)parts.Sigmas[i];
        }
        // cat([σ[:1], σ[1:-1].repeat_interleave(2), σ[-1:]]) — the final 0 appears once.
        float[] withoutLast = sigmas[..^1];
        float[] interleaved = SigmaScheduleMath.RepeatInterleaveTail(withoutLast, appendLast: false);
        _dt = null;
        InstallSchedule([.. interleaved, sigmas[^1]], SigmaScheduleMath.RepeatInterleaveTail(ToFloat(parts.Timesteps), appendLast: false));
    }

    /// <inheritdoc />
    private protected override SchedulerOutput StepCore(Tensor<float> modelOutput, float timestep, Tensor<float> sample, TorchGenerator? generator)
    {
        CheckStepArguments(modelOutput, sample);
        EnsureTimestepsSet();
        if (StepIndex is null)
        {
            InitStepIndex(timestep);
        }
        int index = StepIndex!.Value;
        bool firstOrder = StateInFirstOrder;
        CheckStepInRange(firstOrder ? index : index - 1, 2);

        Span<float> x = sample.AsSpan();
        int n = x.Length;
        Tensor<float> predOriginalTensor = RentLike(ref _predOriginal, ref _predOriginalTensor, sample);
        Span<float> x0 = _predOriginal;
        Span<float> derivative = Rent(ref _derivative, n);

        float sigma = firstOrder ? SigmaValues[index] : SigmaValues[index - 1];
        float sigmaNext = firstOrder ? SigmaValues[index + 1] : SigmaValues[index];
        float sigmaHat = sigma; // γ = 0
        PredictOriginalSample(Options.PredictionType, modelOutput.AsSpan(), x, firstOrder ? sigmaHat : sigmaNext, x0);
        if (Options.ClipSample)
        {
            float r = (float)Options.ClipSampleRange;
            TensorPrimitives.Clamp(x0, -r, r, x0);
        }

        if (firstOrder)
        {
            ElementwiseOps.DifferenceQuotient(x, x0, sigmaHat, derivative);
            float dt = sigmaNext - sigmaHat;
            derivative.CopyTo(Rent(ref _prevDerivative, n));
            x.CopyTo(Rent(ref _storedSample, n));
            _dt = dt;
            ElementwiseOps.AddScaled(x, dt, derivative, x);
        }
        else
        {
            if (_prevDerivative is null || _storedSample is null || _prevDerivative.Length != n || _storedSample.Length != n)
            {
                throw new InvalidOperationException($"{ClassName}: the second-order step needs the first-order step's state for a sample of the same size.");
            }
            ElementwiseOps.DifferenceQuotient(x, x0, sigmaNext, derivative);
            ElementwiseOps.Average(_prevDerivative, derivative, derivative);
            float dt = _dt!.Value;
            _dt = null;
            ElementwiseOps.AddScaled(_storedSample, dt, derivative, x);
        }

        StepIndex = index + 1;
        return new SchedulerOutput(sample, predOriginalTensor);
    }
}
