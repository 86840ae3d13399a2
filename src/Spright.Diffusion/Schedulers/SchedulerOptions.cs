namespace Spright.Diffusion.Schedulers;

/// <summary>
/// What every scheduler is configured with, like the first parameters of a diffusers scheduler's <c>__init__</c>: the
/// training noise schedule and what the model predicts. Each scheduler class has its own sealed options type
/// (<see cref="DDIMSchedulerOptions"/>, …) with that class's diffusers defaults; set what differs in an object
/// initializer, like <c>DDIMScheduler(beta_end=0.012)</c>. The options map to <c>scheduler_config.json</c> keys in one
/// place, and <see cref="IScheduler.Config"/> shows the values a scheduler runs with.
/// </summary>
public abstract class SchedulerOptions
{
    /// <summary><c>num_train_timesteps</c>: the number of diffusion steps the model was trained with (default 1000).</summary>
    public int NumTrainTimesteps { get; init; } = 1000;

    /// <summary><c>beta_start</c>: the first β of the schedule (default 0.0001; 0.00085 for Heun, KDPM2, KDPM2 ancestral and LCM).</summary>
    public double BetaStart { get; init; } = 0.0001;

    /// <summary><c>beta_end</c>: the last β of the schedule (default 0.02; 0.012 for Heun, KDPM2, KDPM2 ancestral and LCM).</summary>
    public double BetaEnd { get; init; } = 0.02;

    /// <summary><c>beta_schedule</c> (default <see cref="BetaSchedule.Linear"/>; <see cref="BetaSchedule.ScaledLinear"/> for LCM).</summary>
    public BetaSchedule BetaSchedule { get; init; } = BetaSchedule.Linear;

    /// <summary><c>trained_betas</c>: explicit betas, one per training timestep, instead of the schedule (default none).</summary>
    public IReadOnlyList<double>? TrainedBetas { get; init; }

    /// <summary><c>prediction_type</c> (default <see cref="PredictionType.Epsilon"/>; SPRIGHT uses <see cref="PredictionType.VPrediction"/>).</summary>
    public PredictionType PredictionType { get; init; } = PredictionType.Epsilon;
}
