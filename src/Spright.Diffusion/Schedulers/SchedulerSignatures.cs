using static Spright.Diffusion.Schedulers.OptionBinding;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// The <c>__init__</c> signature of every scheduler class (diffusers v0.31): its option keys in diffusers' order, each
/// bound to an options property. The shared keys are defined once here; a table lists which a class takes and, where
/// classes differ, the values it allows. This is the counterpart of diffusers' <c>register_to_config</c>.
/// </summary>
internal static class SchedulerSignatures
{
    private const int MaxTrainTimesteps = 100_000;

    private static readonly OptionBinding NumTrainTimesteps = Int("num_train_timesteps", nameof(SchedulerOptions.NumTrainTimesteps), 2, MaxTrainTimesteps);
    private static readonly OptionBinding NumTrainTimestepsFromOne = Int("num_train_timesteps", nameof(SchedulerOptions.NumTrainTimesteps), 1, MaxTrainTimesteps);
    private static readonly OptionBinding BetaStart = Double("beta_start", nameof(SchedulerOptions.BetaStart), 0, 1);
    private static readonly OptionBinding BetaEnd = Double("beta_end", nameof(SchedulerOptions.BetaEnd), 0, 1);
    private static readonly OptionBinding Betas = Enum("beta_schedule", nameof(SchedulerOptions.BetaSchedule), BetaSchedule.Linear, BetaSchedule.ScaledLinear, BetaSchedule.SquaredCosCapV2);
    private static readonly OptionBinding TrainedBetas = NullableDoubleList("trained_betas", nameof(SchedulerOptions.TrainedBetas));
    private static readonly OptionBinding Prediction = Enum("prediction_type", nameof(SchedulerOptions.PredictionType), PredictionType.Epsilon, PredictionType.Sample, PredictionType.VPrediction);
    private static readonly OptionBinding Spacing = Enum("timestep_spacing", nameof(SigmaSchedulerOptions.TimestepSpacing), TimestepSpacing.Linspace, TimestepSpacing.Leading, TimestepSpacing.Trailing);
    private static readonly OptionBinding StepsOffset = Int("steps_offset", nameof(SigmaSchedulerOptions.StepsOffset), 0, MaxTrainTimesteps);
    private static readonly OptionBinding RescaleBetasZeroSnr = Bool("rescale_betas_zero_snr", nameof(DenoisingSchedulerOptions.RescaleBetasZeroSnr));
    private static readonly OptionBinding ClipSample = Bool("clip_sample", nameof(DenoisingSchedulerOptions.ClipSample));
    private static readonly OptionBinding ClipSampleRange = Double("clip_sample_range", nameof(DenoisingSchedulerOptions.ClipSampleRange), 0);
    private static readonly OptionBinding SetAlphaToOne = Bool("set_alpha_to_one", nameof(DDIMSchedulerOptions.SetAlphaToOne));
    private static readonly OptionBinding Thresholding = Bool("thresholding", nameof(DenoisingSchedulerOptions.Thresholding));
    private static readonly OptionBinding ThresholdingRatio = Double("dynamic_thresholding_ratio", nameof(DenoisingSchedulerOptions.DynamicThresholdingRatio), 0, 1);
    private static readonly OptionBinding SampleMaxValue = Double("sample_max_value", nameof(DenoisingSchedulerOptions.SampleMaxValue), 0);
    private static readonly OptionBinding Sigmas = SigmaFlags(nameof(KDiffusionSchedulerOptions.SigmaSpacing));
    private static readonly OptionBinding FinalSigmas = Enum("final_sigmas_type", nameof(EulerDiscreteSchedulerOptions.FinalSigmasType), FinalSigmasType.Zero, FinalSigmasType.SigmaMin);
    private static readonly OptionBinding SolverOrder = Int("solver_order", nameof(SolverSchedulerOptions.SolverOrder), 1, 3);
    private static readonly OptionBinding Solver = Enum("solver_type", nameof(SolverSchedulerOptions.SolverType), SolverType.Midpoint, SolverType.Heun, SolverType.LogRho, SolverType.Bh1, SolverType.Bh2);
    private static readonly OptionBinding LowerOrderFinal = Bool("lower_order_final", nameof(SolverSchedulerOptions.LowerOrderFinal));
    private static readonly OptionBinding LambdaMinClipped = Double("lambda_min_clipped", nameof(DPMSolverMultistepSchedulerOptions.LambdaMinClipped));
    private static readonly OptionBinding SolverVariance = NullableEnum("variance_type", nameof(DPMSolverMultistepSchedulerOptions.VarianceType), System.Enum.GetValues<VarianceType>());
    private static readonly OptionBinding Algorithm = Enum("algorithm_type", nameof(DPMSolverMultistepSchedulerOptions.AlgorithmType), System.Enum.GetValues<AlgorithmType>());

    public static readonly SchedulerSignature<DDIMSchedulerOptions> DDIM = new(nameof(DDIMScheduler),
    [
        NumTrainTimestepsFromOne, BetaStart, BetaEnd, Betas, TrainedBetas, ClipSample, SetAlphaToOne, StepsOffset, Prediction, Thresholding,
        ThresholdingRatio, ClipSampleRange, SampleMaxValue, Spacing, RescaleBetasZeroSnr,
    ]);

    public static readonly SchedulerSignature<DDPMSchedulerOptions> DDPM = new(nameof(DDPMScheduler),
    [
        NumTrainTimestepsFromOne, BetaStart, BetaEnd,
        Enum("beta_schedule", nameof(SchedulerOptions.BetaSchedule), BetaSchedule.Linear, BetaSchedule.ScaledLinear, BetaSchedule.SquaredCosCapV2, BetaSchedule.Sigmoid),
        TrainedBetas, Enum("variance_type", nameof(DDPMSchedulerOptions.VarianceType), System.Enum.GetValues<VarianceType>()), ClipSample, Prediction, Thresholding,
        ThresholdingRatio, ClipSampleRange, SampleMaxValue, Spacing, StepsOffset, RescaleBetasZeroSnr,
    ]);

    public static readonly SchedulerSignature<PNDMSchedulerOptions> PNDM = new(nameof(PNDMScheduler),
    [
        NumTrainTimestepsFromOne, BetaStart, BetaEnd, Betas, TrainedBetas, Bool("skip_prk_steps", nameof(PNDMSchedulerOptions.SkipPrkSteps)), SetAlphaToOne,
        Enum("prediction_type", nameof(SchedulerOptions.PredictionType), PredictionType.Epsilon, PredictionType.VPrediction), Spacing, StepsOffset,
    ]);

    public static readonly SchedulerSignature<LCMSchedulerOptions> LCM = new(nameof(LCMScheduler),
    [
        NumTrainTimestepsFromOne, BetaStart, BetaEnd, Betas, TrainedBetas,
        Int("original_inference_steps", nameof(LCMSchedulerOptions.OriginalInferenceSteps), 1, MaxTrainTimesteps), ClipSample, ClipSampleRange, SetAlphaToOne,
        StepsOffset, Prediction, Thresholding, ThresholdingRatio, SampleMaxValue, Spacing, Double("timestep_scaling", nameof(LCMSchedulerOptions.TimestepScaling)),
        RescaleBetasZeroSnr,
    ]);

    public static readonly SchedulerSignature<EulerDiscreteSchedulerOptions> Euler = new(nameof(EulerDiscreteScheduler),
    [
        NumTrainTimesteps, BetaStart, BetaEnd, Betas, TrainedBetas,
        Enum("prediction_type", nameof(SchedulerOptions.PredictionType), PredictionType.Epsilon, PredictionType.Sample, PredictionType.VPrediction, PredictionType.OriginalSample),
        Enum("interpolation_type", nameof(EulerDiscreteSchedulerOptions.InterpolationType), InterpolationType.Linear, InterpolationType.LogLinear), Sigmas,
        NullableDouble("sigma_min", nameof(EulerDiscreteSchedulerOptions.SigmaMin), 0), NullableDouble("sigma_max", nameof(EulerDiscreteSchedulerOptions.SigmaMax), 0),
        Spacing, Enum("timestep_type", nameof(EulerDiscreteSchedulerOptions.TimestepType), TimestepType.Discrete, TimestepType.Continuous), StepsOffset,
        RescaleBetasZeroSnr, FinalSigmas,
    ]);

    public static readonly SchedulerSignature<EulerAncestralDiscreteSchedulerOptions> EulerAncestral = new(nameof(EulerAncestralDiscreteScheduler),
    [
        NumTrainTimesteps, BetaStart, BetaEnd, Betas, TrainedBetas, Prediction, Spacing, StepsOffset, RescaleBetasZeroSnr,
    ]);

    public static readonly SchedulerSignature<HeunDiscreteSchedulerOptions> Heun = new(nameof(HeunDiscreteScheduler),
    [
        NumTrainTimesteps, BetaStart, BetaEnd,
        Enum("beta_schedule", nameof(SchedulerOptions.BetaSchedule), BetaSchedule.Linear, BetaSchedule.ScaledLinear, BetaSchedule.SquaredCosCapV2, BetaSchedule.Exp),
        TrainedBetas, Prediction, Sigmas, ClipSample, ClipSampleRange, Spacing, StepsOffset,
    ]);

    public static readonly SchedulerSignature<LMSDiscreteSchedulerOptions> LMS = new(nameof(LMSDiscreteScheduler), KDiffusion());

    public static readonly SchedulerSignature<KDPM2DiscreteSchedulerOptions> KDPM2 = new(nameof(KDPM2DiscreteScheduler), KDiffusion());

    public static readonly SchedulerSignature<KDPM2AncestralDiscreteSchedulerOptions> KDPM2Ancestral = new(nameof(KDPM2AncestralDiscreteScheduler), KDiffusion());

    public static readonly SchedulerSignature<DPMSolverMultistepSchedulerOptions> DPMSolverMultistep = new(nameof(DPMSolverMultistepScheduler),
    [
        NumTrainTimesteps, BetaStart, BetaEnd, Betas, TrainedBetas, SolverOrder, Prediction, Thresholding, ThresholdingRatio, SampleMaxValue,
        Algorithm, Solver, LowerOrderFinal, Bool("euler_at_final", nameof(DPMSolverMultistepSchedulerOptions.EulerAtFinal)), Sigmas,
        Bool("use_lu_lambdas", nameof(DPMSolverMultistepSchedulerOptions.UseLuLambdas)), FinalSigmas, LambdaMinClipped, SolverVariance, Spacing, StepsOffset,
        RescaleBetasZeroSnr,
    ]);

    public static readonly SchedulerSignature<DPMSolverSinglestepSchedulerOptions> DPMSolverSinglestep = new(nameof(DPMSolverSinglestepScheduler),
    [
        NumTrainTimesteps, BetaStart, BetaEnd, Betas, TrainedBetas, SolverOrder, Prediction, Thresholding, ThresholdingRatio, SampleMaxValue,
        Enum("algorithm_type", nameof(DPMSolverSinglestepSchedulerOptions.AlgorithmType), AlgorithmType.DpmSolver, AlgorithmType.DpmSolverPlusPlus, AlgorithmType.SdeDpmSolverPlusPlus, AlgorithmType.Deis),
        Solver, LowerOrderFinal, Sigmas, FinalSigmas, LambdaMinClipped, SolverVariance,
    ]);

    public static readonly SchedulerSignature<DEISMultistepSchedulerOptions> DEIS = new(nameof(DEISMultistepScheduler),
    [
        NumTrainTimesteps, BetaStart, BetaEnd, Betas, TrainedBetas, SolverOrder, Prediction, Thresholding, ThresholdingRatio, SampleMaxValue,
        Enum("algorithm_type", nameof(DEISMultistepSchedulerOptions.AlgorithmType), AlgorithmType.Deis, AlgorithmType.DpmSolver, AlgorithmType.DpmSolverPlusPlus),
        Solver, LowerOrderFinal, Sigmas, Spacing, StepsOffset,
    ]);

    public static readonly SchedulerSignature<UniPCMultistepSchedulerOptions> UniPC = new(nameof(UniPCMultistepScheduler),
    [
        NumTrainTimesteps, BetaStart, BetaEnd, Betas, TrainedBetas, Int("solver_order", nameof(SolverSchedulerOptions.SolverOrder), 1, UniPCMultistepScheduler.MaxOrder),
        Prediction, Thresholding, ThresholdingRatio, SampleMaxValue, Bool("predict_x0", nameof(UniPCMultistepSchedulerOptions.PredictX0)), Solver,
        LowerOrderFinal, IndexList("disable_corrector", nameof(UniPCMultistepSchedulerOptions.DisableCorrector)), UnsupportedUnlessNull("solver_p"), Sigmas,
        Spacing, StepsOffset, FinalSigmas, RescaleBetasZeroSnr,
    ]);

    // LMS, KDPM2 and KDPM2 ancestral take the same options.
    private static OptionBinding[] KDiffusion() => [NumTrainTimesteps, BetaStart, BetaEnd, Betas, TrainedBetas, Sigmas, Prediction, Spacing, StepsOffset];
}
