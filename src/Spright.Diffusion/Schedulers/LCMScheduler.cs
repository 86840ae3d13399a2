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
    private const string Name = "LCMScheduler";
    private const float SigmaData = 0.5f;

    private readonly float[] _alphasCumprod;
    private readonly float _finalAlphaCumprod;
    private float[]? _denoised;
    private Tensor<float>? _denoisedTensor;
    private float[]? _predOriginal;
    private float[]? _noise;
    private float[]? _thresholdSort;

    private LCMScheduler(SchedulerConfig config, IReadOnlyCollection<string>? explicitKeys, ILogger? logger)
        : base(Name, config, explicitKeys, logger)
    {
        NumTrainTimesteps = Options.Int("num_train_timesteps", 1000, min: 1, max: 100_000);
        BetaStart = Options.Double("beta_start", 0.00085, min: 0, max: 1);
        BetaEnd = Options.Double("beta_end", 0.012, min: 0, max: 1);
        BetaSchedule = Options.String("beta_schedule", "scaled_linear", BetaSchedules.Names);
        TrainedBetas = Options.NullableDoubleArray("trained_betas");
        OriginalInferenceSteps = Options.Int("original_inference_steps", 50, min: 1, max: 100_000);
        ClipSample = Options.Bool("clip_sample", false);
        ClipSampleRange = Options.Double("clip_sample_range", 1.0, min: 0);
        SetAlphaToOne = Options.Bool("set_alpha_to_one", true);
        StepsOffset = Options.Int("steps_offset", 0, min: 0, max: 100_000);
        PredictionType = Options.String("prediction_type", "epsilon", "epsilon", "sample", "v_prediction");
        Thresholding = Options.Bool("thresholding", false);
        DynamicThresholdingRatio = Options.Double("dynamic_thresholding_ratio", 0.995, min: 0, max: 1);
        SampleMaxValue = Options.Double("sample_max_value", 1.0, min: 0);
        TimestepSpacing = Options.String("timestep_spacing", "leading", SpacedTimesteps.Names);
        TimestepScaling = Options.Double("timestep_scaling", 10.0);
        RescaleBetasZeroSnr = Options.Bool("rescale_betas_zero_snr", false);
        CompleteConfig();

        _alphasCumprod = BetaSchedules.AlphasCumprod(Name, BetaSchedule, NumTrainTimesteps, BetaStart, BetaEnd, TrainedBetas, RescaleBetasZeroSnr);
        _finalAlphaCumprod = SetAlphaToOne ? 1f : _alphasCumprod[0];
        InitNoiseSigma = 1f;
        TimestepValues = SpacedTimesteps.AllTraining(NumTrainTimesteps);
    }

    /// <summary>Creates a scheduler with diffusers' default options.</summary>
    public LCMScheduler()
        : this(SchedulerConfig.Empty, null, null)
    {
    }

    /// <summary>Number of diffusion steps used to train the model.</summary>
    public int NumTrainTimesteps { get; }

    /// <summary>The first beta of the schedule.</summary>
    public double BetaStart { get; }

    /// <summary>The last beta of the schedule.</summary>
    public double BetaEnd { get; }

    /// <summary><c>linear</c>, <c>scaled_linear</c> or <c>squaredcos_cap_v2</c>.</summary>
    public string BetaSchedule { get; }

    /// <summary>Explicit betas, overriding the schedule, or <see langword="null"/>.</summary>
    public double[]? TrainedBetas { get; }

    /// <summary>The number of steps of the distillation schedule the inference timesteps are taken from.</summary>
    public int OriginalInferenceSteps { get; }

    /// <summary>Whether x₀ is clipped to ±<see cref="ClipSampleRange"/>.</summary>
    public bool ClipSample { get; }

    /// <summary>The clipping range when <see cref="ClipSample"/> is on.</summary>
    public double ClipSampleRange { get; }

    /// <summary>Whether ᾱ beyond the schedule is 1 (else ᾱ₀).</summary>
    public bool SetAlphaToOne { get; }

    /// <summary>Kept for compatibility; not used by LCM's schedule.</summary>
    public int StepsOffset { get; }

    /// <summary><c>epsilon</c>, <c>sample</c> or <c>v_prediction</c>.</summary>
    public string PredictionType { get; }

    /// <summary>Whether dynamic thresholding is applied to x₀.</summary>
    public bool Thresholding { get; }

    /// <summary>The quantile of dynamic thresholding.</summary>
    public double DynamicThresholdingRatio { get; }

    /// <summary>The upper bound of the dynamic threshold.</summary>
    public double SampleMaxValue { get; }

    /// <summary>Kept in the configuration; LCM's schedule does not depend on it.</summary>
    public string TimestepSpacing { get; }

    /// <summary>The factor applied to the timestep in the boundary conditions (c_skip, c_out).</summary>
    public double TimestepScaling { get; }

    /// <summary>Whether betas are rescaled to zero terminal SNR.</summary>
    public bool RescaleBetasZeroSnr { get; }

    /// <summary>Whether the current schedule came from custom timesteps.</summary>
    public bool CustomTimesteps { get; private set; }

    /// <summary>ᾱ for every training timestep (float32).</summary>
    public ReadOnlySpan<float> AlphasCumprod => _alphasCumprod;

    /// <inheritdoc />
    public override bool HasIntegerTimesteps => true;

    /// <summary>Builds a scheduler from a configuration (possibly another scheduler's), like <c>from_config</c>.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="logger">Where warnings go.</param>
    /// <returns>The scheduler.</returns>
    public static LCMScheduler FromConfig(SchedulerConfig config, ILogger? logger = null) => new(config, null, logger);

    /// <summary>Builds a scheduler from a configuration with explicit overrides, like <c>from_config(config, **kwargs)</c>.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="overrides">Options to set.</param>
    /// <param name="logger">Where warnings go.</param>
    /// <returns>The scheduler.</returns>
    public static LCMScheduler FromConfig(SchedulerConfig config, IEnumerable<KeyValuePair<string, object?>> overrides, ILogger? logger = null) =>
        (LCMScheduler)SchedulerRegistry.Create(Name, config, overrides, logger);

    internal static IScheduler Create(SchedulerConfig config, IReadOnlyCollection<string>? explicitKeys, ILogger? logger) => new LCMScheduler(config, explicitKeys, logger);

    /// <inheritdoc />
    public override void SetTimesteps(int numInferenceSteps) => SetTimesteps(numInferenceSteps, null, 1.0);

    /// <summary>
    /// LCM's <c>set_timesteps(num_inference_steps, original_inference_steps=..., strength=...)</c>: takes
    /// <paramref name="numInferenceSteps"/> evenly spaced entries of the distillation schedule
    /// [k−1, 2k−1, …] (k = num_train_timesteps // original steps), which <paramref name="strength"/> shortens.
    /// </summary>
    /// <param name="numInferenceSteps">The number of steps.</param>
    /// <param name="originalInferenceSteps">Overrides <see cref="OriginalInferenceSteps"/> for this schedule.</param>
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

    /// <summary>Uses custom timesteps (<c>set_timesteps(timesteps=[...])</c>); LCM takes no custom sigmas.</summary>
    /// <param name="timesteps">Strictly decreasing integer timesteps below num_train_timesteps.</param>
    /// <param name="sigmas">Must be <see langword="null"/>.</param>
    /// <exception cref="NotSupportedException">Custom sigmas were given.</exception>
    public override void SetTimesteps(IReadOnlyList<float>? timesteps, IReadOnlyList<float>? sigmas)
    {
        if (sigmas is not null || timesteps is null)
        {
            base.SetTimesteps(timesteps, sigmas);
            return;
        }
        SetTimesteps(timesteps, null, 1.0);
    }

    /// <summary>Custom timesteps with LCM's <c>original_inference_steps</c> and <c>strength</c> arguments; with
    /// strength below 1 only the last <c>int(n·strength)</c> timesteps are kept (as the image-to-image pipeline expects).</summary>
    /// <param name="timesteps">Strictly decreasing integer timesteps below num_train_timesteps.</param>
    /// <param name="originalInferenceSteps">Overrides <see cref="OriginalInferenceSteps"/> (used for the warnings).</param>
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
        int originalSteps = originalInferenceSteps ?? OriginalInferenceSteps;
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
    public (float CSkip, float COut) GetScalingsForBoundaryCondition(float timestep)
    {
        float scaled = timestep * (float)TimestepScaling;
        float sq = scaled * scaled;
        float denominator = sq + SigmaData * SigmaData;
        float cSkip = 1f / denominator * (SigmaData * SigmaData);
        float cOut = scaled / MathF.Sqrt(denominator);
        return (cSkip, cOut);
    }

    /// <inheritdoc />
    /// <remarks><see cref="SchedulerOutput.PredOriginalSample"/> is LCM's <c>denoised</c> sample (a scheduler-owned buffer).</remarks>
    public override SchedulerOutput Step(Tensor<float> modelOutput, float timestep, Tensor<float> sample, TorchGenerator? generator = null, float eta = 0f)
    {
        CheckStepArguments(modelOutput, sample);
        if (NumInferenceSteps == 0)
        {
            throw new InvalidOperationException($"{Name}: call SetTimesteps before Step.");
        }
        int t = (int)timestep;
        if (t != timestep || t < 0 || t >= NumTrainTimesteps)
        {
            throw new ArgumentOutOfRangeException(nameof(timestep), timestep, $"LCM timesteps are integers in [0, {NumTrainTimesteps - 1}].");
        }
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
        VpSolverMath.PredictOriginalSample(PredictionType, sqrtAlpha, sqrtBeta, mo, x, x0);
        if (Thresholding)
        {
            int batch = (int)sample.Lengths[0];
            DynamicThresholding.Apply(x0, batch, (float)DynamicThresholdingRatio, (float)SampleMaxValue, Rent(ref _thresholdSort, n / Math.Max(batch, 1)));
        }
        else if (ClipSample)
        {
            float r = (float)ClipSampleRange;
            TensorPrimitives.Clamp(x0, -r, r, x0);
        }

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
    public override void AddNoise(ReadOnlySpan<float> originalSamples, ReadOnlySpan<float> noise, float timestep, Span<float> destination)
    {
        CheckAddNoiseArguments(originalSamples, noise, destination);
        VpSolverMath.AddNoise(_alphasCumprod[CheckTrainingTimestep(timestep, NumTrainTimesteps)], originalSamples, noise, destination);
    }
}
