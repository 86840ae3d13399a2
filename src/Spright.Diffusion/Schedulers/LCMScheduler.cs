using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Spright.Diffusion.Random;
using Spright.Diffusion.IO;
using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// Latent consistency model (LCM) multistep sampling: each step denoises with the consistency boundary conditions
/// (c_skip, c_out) and re-noises to the next timestep with fresh noise from the generator (except after the last
/// step). Follows <c>diffusers/schedulers/scheduling_lcm.py</c> (v0.31): the <c>original_inference_steps</c>
/// distillation schedule, <c>timestep_scaling</c>, custom timesteps, <c>strength</c>, sample clipping, dynamic
/// thresholding and zero-terminal-SNR rescaling.
/// </summary>
/// <remarks><c>timestep_spacing</c> is kept in the configuration but, as in diffusers, does not affect the schedule.</remarks>
public sealed class LCMScheduler : SchedulerBase
{
    private const float SigmaData = 0.5f;

    private readonly float[] _alphasCumprod;
    private readonly float _finalAlphaCumprod;
    private float[]? _denoised;
    private Tensor<float>? _denoisedTensor;
    private float[]? _predOriginal;
    private float[]? _noise;
    private float[]? _thresholdSort;

    /// <summary>Creates an LCM scheduler, like <c>LCMScheduler(**options)</c>.</summary>
    /// <param name="options">The options; <see langword="null"/> for diffusers' defaults.</param>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public LCMScheduler(LCMSchedulerOptions? options = null)
        : this(SchedulerSignatures.LCM.Bind(options ?? new()), null)
    {
    }

    internal LCMScheduler(BoundOptions<LCMSchedulerOptions> bound, ILogger? logger)
        : base(bound.Config, logger)
    {
        Options = bound.Options;
        Tables = new TrainingTables(BetaSchedules.AlphasCumprod(ClassName, Options, Options.RescaleBetasZeroSnr));
        _alphasCumprod = Tables.AlphasCumprod;
        _finalAlphaCumprod = Options.SetAlphaToOne ? 1f : _alphasCumprod[0];
        TimestepValues = SpacedTimesteps.AllTraining(Options.NumTrainTimesteps);
    }

    /// <summary>The options this scheduler runs with (<see cref="IScheduler.Config"/> shows them as configuration keys).</summary>
    internal LCMSchedulerOptions Options { get; }

    /// <summary>Whether the current schedule came from custom timesteps.</summary>
    internal bool CustomTimesteps { get; private set; }

    /// <summary>Builds a scheduler from a configuration (possibly another scheduler's), like
    /// <c>LCMScheduler.from_config(config, **overrides)</c>.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="overrides">Options to set; as in diffusers, names this class does not take are ignored with a warning.</param>
    /// <param name="logger">Where warnings go.</param>
    /// <returns>The scheduler.</returns>
    /// <exception cref="ArgumentException">An option value is invalid.</exception>
    public static LCMScheduler FromConfig(SchedulerConfig config, IEnumerable<KeyValuePair<string, object?>>? overrides = null, ILogger? logger = null) =>
        (LCMScheduler)SchedulerRegistry.Create(nameof(LCMScheduler), config, overrides, logger);

    private int NumTrainTimesteps => Options.NumTrainTimesteps;

    /// <inheritdoc />
    private protected override void SetTimestepsCore(int numInferenceSteps) => SetTimesteps(numInferenceSteps, null, 1.0);

    /// <summary>
    /// LCM's <c>set_timesteps(num_inference_steps, original_inference_steps=..., strength=...)</c>: takes
    /// <paramref name="numInferenceSteps"/> evenly spaced entries of the distillation schedule
    /// [k−1, 2k−1, …] (k = num_train_timesteps // original steps), which <paramref name="strength"/> shortens.
    /// </summary>
    /// <param name="numInferenceSteps">The number of steps.</param>
    /// <param name="originalInferenceSteps">Overrides <c>original_inference_steps</c> for this schedule.</param>
    /// <param name="strength">The image-to-image strength in (0, 1] (1 for text-to-image).</param>
    /// <exception cref="ArgumentException">The combination cannot produce a schedule (as diffusers' ValueErrors).</exception>
    public void SetTimesteps(int numInferenceSteps, int? originalInferenceSteps, double strength)
    {
        int originalSteps = CheckOriginalSteps(originalInferenceSteps, strength);
        if (numInferenceSteps < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(numInferenceSteps), numInferenceSteps, "num_inference_steps must be at least 1.");
        }
        if (numInferenceSteps > NumTrainTimesteps)
        {
            throw new ArgumentOutOfRangeException(nameof(numInferenceSteps), numInferenceSteps,
                $"num_inference_steps cannot be larger than num_train_timesteps ({NumTrainTimesteps}).");
        }
        long[] origin = OriginTimesteps(originalSteps, strength);
        int skippingStep = origin.Length / numInferenceSteps;
        if (skippingStep < 1)
        {
            throw new ArgumentException(
                $"original_inference_steps × strength = {originalSteps} × {strength} gives {origin.Length} timesteps, fewer than num_inference_steps {numInferenceSteps}; " +
                $"use fewer steps or a strength above {numInferenceSteps / (double)originalSteps}.", nameof(numInferenceSteps));
        }
        if (numInferenceSteps > originalSteps)
        {
            throw new ArgumentException($"num_inference_steps {numInferenceSteps} cannot be larger than original_inference_steps {originalSteps}: the schedule is a subset of the original one.", nameof(numInferenceSteps));
        }
        // Reverse the distillation schedule and take floor(linspace(0, len, n, endpoint=False)) entries.
        var timesteps = new float[numInferenceSteps];
        double step = origin.Length / (double)numInferenceSteps;
        for (int i = 0; i < numInferenceSteps; i++)
        {
            long index = (long)Math.Floor(i * step);
            timesteps[i] = origin[origin.Length - 1 - index];
        }
        NumInferenceSteps = numInferenceSteps;
        CustomTimesteps = false;
        TimestepValues = timesteps;
        StepIndex = null;
        BeginIndex = null;
    }

    // Custom timesteps (set_timesteps(timesteps=[...])); LCM takes no custom sigmas.
    private protected override void SetCustomScheduleCore(IReadOnlyList<float>? timesteps, IReadOnlyList<float>? sigmas)
    {
        if (sigmas is not null || timesteps is null)
        {
            base.SetCustomScheduleCore(timesteps, sigmas);
            return;
        }
        SetTimesteps(timesteps, null, 1.0);
    }

    /// <summary>Custom timesteps with LCM's <c>original_inference_steps</c> and <c>strength</c> arguments; with
    /// strength below 1 only the last <c>int(n·strength)</c> timesteps are kept (as the image-to-image pipeline expects).</summary>
    /// <param name="timesteps">Strictly decreasing integer timesteps below num_train_timesteps.</param>
    /// <param name="originalInferenceSteps">Overrides <c>original_inference_steps</c> (used for the warnings).</param>
    /// <param name="strength">The image-to-image strength in (0, 1].</param>
    /// <exception cref="ArgumentException">The timesteps are not strictly decreasing or start at or above num_train_timesteps.</exception>
    public void SetTimesteps(IReadOnlyList<float> timesteps, int? originalInferenceSteps, double strength)
    {
        ArgumentNullException.ThrowIfNull(timesteps);
        int originalSteps = CheckOriginalSteps(originalInferenceSteps, strength);
        long[] custom = VpSolverMath.CustomTimesteps(timesteps);
        long[] origin = OriginTimesteps(originalSteps, strength);
        var nonTrain = new List<float>();
        for (int i = 1; i < timesteps.Count; i++)
        {
            if (timesteps[i] >= timesteps[i - 1])
            {
                throw new ArgumentException("Custom timesteps must be in descending order.", nameof(timesteps));
            }
            if (Array.IndexOf(origin, (long)timesteps[i]) < 0 || timesteps[i] != Math.Floor(timesteps[i]))
            {
                nonTrain.Add(timesteps[i]);
            }
        }
        if (timesteps[0] >= NumTrainTimesteps)
        {
            throw new ArgumentException($"Custom timesteps must start below num_train_timesteps ({NumTrainTimesteps}).", nameof(timesteps));
        }
        if (custom[^1] < 0)
        {
            throw new ArgumentException("Custom timesteps must not be negative.", nameof(timesteps));
        }
        if (strength == 1.0 && custom[0] != NumTrainTimesteps - 1)
        {
            Logger.LogWarning("The first timestep on the custom timestep schedule is {First}, not num_train_timesteps - 1 = {Last}; results may be unexpected.", custom[0], NumTrainTimesteps - 1);
        }
        if (nonTrain.Count > 0)
        {
            Logger.LogWarning("The custom timestep schedule contains timesteps that are not on the original distillation schedule: {Timesteps}; results may be unexpected.", string.Join(", ", nonTrain));
        }
        if (custom.Length > originalSteps)
        {
            Logger.LogWarning("The custom timestep schedule has {Count} timesteps, more than original_inference_steps {Original}; results may be unexpected.", custom.Length, originalSteps);
        }
        int n = custom.Length;
        int initTimestep = Math.Min((int)(n * strength), n);
        int tStart = Math.Max(n - initTimestep, 0);
        NumInferenceSteps = n;
        CustomTimesteps = true;
        TimestepValues = VpSolverMath.TimestepsToFloat(custom.AsSpan(tStart * Order));
        StepIndex = null;
        BeginIndex = null;
    }

    private int CheckOriginalSteps(int? originalInferenceSteps, double strength)
    {
        if (!(strength > 0 && strength <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(strength), strength, "strength must be in (0, 1].");
        }
        int originalSteps = originalInferenceSteps ?? Options.OriginalInferenceSteps;
        if (originalSteps < 1 || originalSteps > NumTrainTimesteps)
        {
            throw new ArgumentOutOfRangeException(nameof(originalInferenceSteps), originalSteps,
                $"original_inference_steps must be in [1, {NumTrainTimesteps}] (num_train_timesteps).");
        }
        return originalSteps;
    }

    // lcm_origin_timesteps = [1, 2, …, int(original_steps·strength)]·k − 1
    private long[] OriginTimesteps(int originalSteps, double strength)
    {
        long k = NumTrainTimesteps / originalSteps;
        int count = (int)(originalSteps * strength);
        var origin = new long[count];
        for (int i = 0; i < count; i++)
        {
            origin[i] = (i + 1) * k - 1;
        }
        return origin;
    }

    /// <summary>The consistency boundary conditions at <paramref name="timestep"/> (float32 as torch computes them
    /// from the int64 timestep): c_skip = σ_d²/(s² + σ_d²), c_out = s/√(s² + σ_d²), s = t·timestep_scaling.</summary>
    /// <param name="timestep">The timestep.</param>
    /// <returns>(c_skip, c_out).</returns>
    internal (float CSkip, float COut) GetScalingsForBoundaryCondition(float timestep)
    {
        float scaled = timestep * (float)Options.TimestepScaling;
        float sq = scaled * scaled;
        float denominator = sq + SigmaData * SigmaData;
        float cSkip = 1f / denominator * (SigmaData * SigmaData);
        float cOut = scaled / MathF.Sqrt(denominator);
        return (cSkip, cOut);
    }

    /// <inheritdoc />
    /// <remarks><see cref="SchedulerOutput.PredOriginalSample"/> is LCM's <c>denoised</c> sample (a scheduler-owned buffer).</remarks>
    private protected override SchedulerOutput StepCore(Tensor<float> modelOutput, float timestep, Tensor<float> sample, TorchGenerator? generator)
    {
        CheckStepArguments(modelOutput, sample);
        EnsureStepsSet();
        int t = CheckIntegerTimestep(timestep, "LCM");
        if (StepIndex is null)
        {
            InitStepIndex(timestep);
        }
        int index = StepIndex!.Value;
        bool lastStep = index == NumInferenceSteps - 1;
        if (!lastStep && generator is null)
        {
            throw new ArgumentNullException(nameof(generator), "LCM draws fresh noise after every step but the last: pass the generator.");
        }

        int prevIndex = index + 1;
        float prevT = prevIndex < TimestepValues.Length ? TimestepValues[prevIndex] : timestep;
        float alphaProdT = _alphasCumprod[t];
        float alphaProdTPrev = prevT >= 0 ? _alphasCumprod[(int)prevT] : _finalAlphaCumprod;
        float betaProdT = 1f - alphaProdT;
        float betaProdTPrev = 1f - alphaProdTPrev;
        (float cSkip, float cOut) = GetScalingsForBoundaryCondition(timestep);

        Span<float> x = sample.AsSpan();
        ReadOnlySpan<float> mo = modelOutput.AsSpan();
        int n = x.Length;
        Span<float> x0 = Rent(ref _predOriginal, n);
        float sqrtAlpha = MathF.Sqrt(alphaProdT);
        float sqrtBeta = MathF.Sqrt(betaProdT);
        VpSolverMath.PredictOriginalSample(Options.PredictionType, sqrtAlpha, sqrtBeta, mo, x, x0);
        DynamicThresholding.ClipOrThreshold(Options, x0, sample, ref _thresholdSort);

        Tensor<float> denoisedTensor = RentLike(ref _denoised, ref _denoisedTensor, sample);
        float[] denoised = _denoised!;
        ElementwiseOps.LinearCombination(cOut, x0, cSkip, x, denoised);

        if (!lastStep)
        {
            Span<float> noise = Rent(ref _noise, n);
            generator!.Randn(noise);
            ElementwiseOps.LinearCombination(MathF.Sqrt(alphaProdTPrev), denoised, MathF.Sqrt(betaProdTPrev), noise, x);
        }
        else
        {
            denoised.CopyTo(x);
        }

        StepIndex = index + 1;
        return new SchedulerOutput(sample, denoisedTensor);
    }

    /// <inheritdoc />
    private protected override void AddNoiseCore(ReadOnlySpan<float> originalSamples, ReadOnlySpan<float> noise, float timestep, Span<float> destination) =>
        VpSolverMath.AddNoise(_alphasCumprod[CheckTrainingTimestep(timestep, NumTrainTimesteps)], originalSamples, noise, destination);
}
