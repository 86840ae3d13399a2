using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Spright.Diffusion.Random;
using Spright.Diffusion.IO;
using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// Denoising diffusion implicit models (DDIM), SPRIGHT-T2I's default scheduler. Follows
/// <c>diffusers/schedulers/scheduling_ddim.py</c> (v0.31): epsilon / sample / v-prediction, leading / trailing /
/// linspace spacing, <c>steps_offset</c>, <c>set_alpha_to_one</c>, η-noise from the generator, sample clipping,
/// dynamic thresholding and zero-terminal-SNR rescaling. All arithmetic is float32 as in torch.
/// </summary>
public sealed class DDIMScheduler : SchedulerBase
{
    private readonly float[] _alphasCumprod;
    private readonly float _finalAlphaCumprod;
    private float[]? _predOriginal;
    private float[]? _noise;
    private float[]? _thresholdSort;
    private Tensor<float>? _predOriginalTensor;

    private DDIMScheduler(SchedulerConfig config, IReadOnlyCollection<string>? explicitKeys, ILogger? logger)
        : base("DDIMScheduler", config, explicitKeys, logger)
    {
        NumTrainTimesteps = Options.Int("num_train_timesteps", 1000, min: 1, max: 100_000);
        BetaStart = Options.Double("beta_start", 0.0001, min: 0, max: 1);
        BetaEnd = Options.Double("beta_end", 0.02, min: 0, max: 1);
        BetaSchedule = Options.String("beta_schedule", "linear", BetaSchedules.Names);
        TrainedBetas = Options.NullableDoubleArray("trained_betas");
        ClipSample = Options.Bool("clip_sample", true);
        SetAlphaToOne = Options.Bool("set_alpha_to_one", true);
        StepsOffset = Options.Int("steps_offset", 0, min: 0, max: 100_000);
        PredictionType = Options.String("prediction_type", "epsilon", "epsilon", "sample", "v_prediction");
        Thresholding = Options.Bool("thresholding", false);
        DynamicThresholdingRatio = Options.Double("dynamic_thresholding_ratio", 0.995, min: 0, max: 1);
        ClipSampleRange = Options.Double("clip_sample_range", 1.0, min: 0);
        SampleMaxValue = Options.Double("sample_max_value", 1.0, min: 0);
        TimestepSpacing = Options.String("timestep_spacing", "leading", "leading", "trailing", "linspace");
        RescaleBetasZeroSnr = Options.Bool("rescale_betas_zero_snr", false);
        CompleteConfig();

        _alphasCumprod = BetaSchedules.AlphasCumprod(ClassName, BetaSchedule, NumTrainTimesteps, BetaStart, BetaEnd, TrainedBetas, RescaleBetasZeroSnr);
        _finalAlphaCumprod = SetAlphaToOne ? 1f : _alphasCumprod[0];
        InitNoiseSigma = 1f;
        TimestepValues = SpacedTimesteps.AllTraining(NumTrainTimesteps);
    }

    /// <summary>Creates a DDIM scheduler with diffusers' default options.</summary>
    public DDIMScheduler()
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

    /// <summary>Whether x₀ is clipped to ±<see cref="ClipSampleRange"/>.</summary>
    public bool ClipSample { get; }

    /// <summary>Whether the final step uses ᾱ = 1 (else ᾱ₀).</summary>
    public bool SetAlphaToOne { get; }

    /// <summary>Offset added to the timesteps with <c>leading</c> spacing (1 for SD 2.x / SPRIGHT).</summary>
    public int StepsOffset { get; }

    /// <summary><c>epsilon</c>, <c>sample</c> or <c>v_prediction</c> (SPRIGHT).</summary>
    public string PredictionType { get; }

    /// <summary>Whether dynamic thresholding (Imagen) is applied to x₀.</summary>
    public bool Thresholding { get; }

    /// <summary>The quantile of dynamic thresholding.</summary>
    public double DynamicThresholdingRatio { get; }

    /// <summary>The clipping range when <see cref="ClipSample"/> is on.</summary>
    public double ClipSampleRange { get; }

    /// <summary>The upper bound of the dynamic threshold.</summary>
    public double SampleMaxValue { get; }

    /// <summary><c>leading</c>, <c>trailing</c> or <c>linspace</c>.</summary>
    public string TimestepSpacing { get; }

    /// <summary>Whether betas are rescaled to zero terminal SNR.</summary>
    public bool RescaleBetasZeroSnr { get; }

    /// <summary>ᾱ for every training timestep (float32, as diffusers' <c>alphas_cumprod</c>).</summary>
    public ReadOnlySpan<float> AlphasCumprod => _alphasCumprod;

    /// <inheritdoc />
    public override bool HasIntegerTimesteps => true;

    /// <summary>Builds a scheduler from a configuration (possibly another scheduler's), like <c>DDIMScheduler.from_config</c>.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="logger">Where warnings about ignored keys go.</param>
    /// <returns>The scheduler.</returns>
    public static DDIMScheduler FromConfig(SchedulerConfig config, ILogger? logger = null) => new(config, null, logger);

    /// <summary>Builds a scheduler from a configuration with explicit overrides, like <c>from_config(config, **kwargs)</c>.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="overrides">Options to set; unknown names are an error.</param>
    /// <param name="logger">Where warnings about ignored keys go.</param>
    /// <returns>The scheduler.</returns>
    public static DDIMScheduler FromConfig(SchedulerConfig config, IEnumerable<KeyValuePair<string, object?>> overrides, ILogger? logger = null) =>
        (DDIMScheduler)SchedulerRegistry.Create("DDIMScheduler", config, overrides, logger);

    internal static IScheduler Create(SchedulerConfig config, IReadOnlyCollection<string>? explicitKeys, ILogger? logger) => new DDIMScheduler(config, explicitKeys, logger);

    /// <inheritdoc />
    public override void SetTimesteps(int numInferenceSteps)
    {
        CheckStepCount(numInferenceSteps, NumTrainTimesteps);
        NumInferenceSteps = numInferenceSteps;
        float[] timesteps = VpSolverMath.TimestepsToFloat(SpacedTimesteps.Discrete(TimestepSpacing, NumTrainTimesteps, numInferenceSteps, StepsOffset));
        TimestepValues = timesteps;
        StepIndex = null;
    }

    /// <inheritdoc />
    public override SchedulerOutput Step(Tensor<float> modelOutput, float timestep, Tensor<float> sample, TorchGenerator? generator = null, float eta = 0f)
    {
        CheckStepArguments(modelOutput, sample);
        if (NumInferenceSteps == 0)
        {
            throw new InvalidOperationException("DDIMScheduler: call SetTimesteps before Step.");
        }
        if (!float.IsFinite(eta) || eta < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(eta), eta, "eta must be a finite number ≥ 0.");
        }

        int t = (int)timestep;
        if (t < 0 || t >= NumTrainTimesteps || t != timestep)
        {
            throw new ArgumentOutOfRangeException(nameof(timestep), timestep, $"DDIM timesteps are integers in [0, {NumTrainTimesteps - 1}].");
        }
        int prevT = t - NumTrainTimesteps / NumInferenceSteps;

        float alphaProdT = _alphasCumprod[t];
        float alphaProdTPrev = prevT >= 0 ? _alphasCumprod[prevT] : _finalAlphaCumprod;
        float betaProdT = 1f - alphaProdT;
        float sqrtAlphaT = MathF.Sqrt(alphaProdT);
        float sqrtBetaT = MathF.Sqrt(betaProdT);

        Span<float> x = sample.AsSpan();
        ReadOnlySpan<float> mo = modelOutput.AsSpan();
        Tensor<float> predOriginalTensor = RentLike(ref _predOriginal, ref _predOriginalTensor, sample);
        float[] predOriginal = _predOriginal!;

        // x₀ and ε (the direction term needs ε from the unclipped x₀).
        Span<float> x0 = predOriginal;
        VpSolverMath.PredictOriginalSample(PredictionType, sqrtAlphaT, sqrtBetaT, mo, x, x0);
        float[] eps = Rent(ref _noise, x.Length);
        VpSolverMath.PredictEpsilon(PredictionType, sqrtAlphaT, sqrtBetaT, mo, x, eps);

        if (Thresholding)
        {
            int batch = (int)sample.Lengths[0];
            DynamicThresholding.Apply(x0, batch, (float)DynamicThresholdingRatio, (float)SampleMaxValue, Rent(ref _thresholdSort, x.Length / Math.Max(batch, 1)));
        }
        else if (ClipSample)
        {
            float r = (float)ClipSampleRange;
            TensorPrimitives.Clamp(x0, -r, r, x0);
        }

        float betaProdTPrev = 1f - alphaProdTPrev;
        float variance = betaProdTPrev / betaProdT * (1f - alphaProdT / alphaProdTPrev);
        float stdDevT = eta * MathF.Sqrt(variance);
        float directionScale = MathF.Sqrt(1f - alphaProdTPrev - stdDevT * stdDevT);
        float sqrtAlphaPrev = MathF.Sqrt(alphaProdTPrev);

        // prev = √ᾱ_prev·x₀ + √(1−ᾱ_prev−σ²)·ε
        ElementwiseOps.LinearCombination(sqrtAlphaPrev, x0, directionScale, eps, x);

        if (eta > 0)
        {
            if (generator is null)
            {
                throw new ArgumentNullException(nameof(generator), "DDIM with eta > 0 draws variance noise: pass the generator.");
            }
            generator.Randn(eps);
            ElementwiseOps.AddScaled(x, stdDevT, eps, x);
        }

        StepIndex = (StepIndex ?? 0) + 1;
        return new SchedulerOutput(sample, predOriginalTensor);
    }

    /// <inheritdoc />
    public override void AddNoise(ReadOnlySpan<float> originalSamples, ReadOnlySpan<float> noise, float timestep, Span<float> destination)
    {
        CheckAddNoiseArguments(originalSamples, noise, destination);
        VpSolverMath.AddNoise(_alphasCumprod[CheckTrainingTimestep(timestep, NumTrainTimesteps)], originalSamples, noise, destination);
    }
}
