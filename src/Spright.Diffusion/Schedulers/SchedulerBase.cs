using System.Numerics.Tensors;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Spright.Diffusion.Logging;
using Spright.Diffusion.Random;
using Spright.Diffusion.IO;
using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// The implementation the built-in schedulers share: the <see cref="IScheduler"/> members, with the configuration,
/// the timestep/sigma arrays, the step index bookkeeping of diffusers' <c>_init_step_index</c> / <c>index_for_timestep</c>
/// and the argument checks. Only the schedulers of this library derive from it; implement <see cref="IScheduler"/> for
/// a scheduler of your own.
/// </summary>
public abstract class SchedulerBase : IScheduler
{
    private protected SchedulerBase(SchedulerConfig config, ILogger? logger)
    {
        Config = config;
        ClassName = config.ClassName!;
        Logger = logger ?? DiffusionLogging.CreateLogger("Spright.Diffusion.Schedulers." + ClassName);
    }

    /// <inheritdoc />
    public string ClassName { get; }

    /// <inheritdoc />
    public SchedulerConfig Config { get; private set; }

    /// <inheritdoc />
    public int Order { get; private protected init; } = 1;

    /// <inheritdoc />
    public float InitNoiseSigma { get; private protected set; } = 1f;

    /// <inheritdoc />
    public int NumInferenceSteps { get; private protected set; }

    /// <inheritdoc />
    public ReadOnlySpan<float> Timesteps => TimestepValues;

    /// <inheritdoc />
    public ReadOnlySpan<float> Sigmas => SigmaValues;

    /// <inheritdoc />
    public int? StepIndex { get; private protected set; }

    /// <inheritdoc />
    public int? BeginIndex { get; private protected set; }

    /// <summary>Whether diffusers holds the timesteps as int64 (DDIM, PNDM, DPM-Solver…) rather than float32 (Euler, Heun, LMS…).</summary>
    internal bool HasIntegerTimesteps { get; private protected init; } = true;

    /// <summary>ᾱ for every training timestep (float32, as diffusers' <c>alphas_cumprod</c>).</summary>
    internal ReadOnlySpan<float> AlphasCumprod => Tables.AlphasCumprod;

    /// <summary>ᾱ per training timestep and the tables derived from it.</summary>
    private protected TrainingTables Tables { get; init; } = new([]);

    /// <summary>Where warnings go.</summary>
    private protected ILogger Logger { get; }

    /// <summary>The timestep schedule (after <c>SetTimesteps</c>).</summary>
    private protected float[] TimestepValues { get; set; } = [];

    /// <summary>The sigma schedule (empty for schedulers without one).</summary>
    private protected float[] SigmaValues { get; set; } = [];

    /// <inheritdoc />
    public void SetTimesteps(int numInferenceSteps) => SetTimestepsCore(numInferenceSteps);

    /// <inheritdoc />
    public void SetTimesteps(IReadOnlyList<float>? timesteps, IReadOnlyList<float>? sigmas)
    {
        if (timesteps is null && sigmas is null)
        {
            throw new ArgumentException("Give custom timesteps or sigmas (or call SetTimesteps(numInferenceSteps)).", nameof(timesteps));
        }
        SetCustomScheduleCore(timesteps, sigmas);
    }

    /// <inheritdoc />
    public void SetBeginIndex(int beginIndex)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(beginIndex);
        BeginIndex = beginIndex;
    }

    /// <inheritdoc />
    public void ScaleModelInput(ReadOnlySpan<float> sample, float timestep, Span<float> destination)
    {
        CheckSameLength(sample.Length, destination.Length, nameof(destination));
        ScaleModelInputCore(sample, timestep, destination);
    }

    /// <inheritdoc />
    public SchedulerOutput Step(Tensor<float> modelOutput, float timestep, Tensor<float> sample, TorchGenerator? generator = null) =>
        StepCore(modelOutput, timestep, sample, generator);

    /// <inheritdoc />
    public void AddNoise(ReadOnlySpan<float> originalSamples, ReadOnlySpan<float> noise, float timestep, Span<float> destination)
    {
        CheckSameLength(originalSamples.Length, noise.Length, nameof(noise));
        CheckSameLength(originalSamples.Length, destination.Length, nameof(destination));
        AddNoiseCore(originalSamples, noise, timestep, destination);
    }

    /// <inheritdoc />
    public IScheduler Clone() =>
        SchedulerRegistry.Create(ClassName, Config, overrides: null, new EventFilteringLogger(Logger, SchedulerSignature.UnexpectedKeysEvent));

    /// <summary><see cref="SetTimesteps(int)"/>.</summary>
    private protected abstract void SetTimestepsCore(int numInferenceSteps);

    /// <summary><see cref="SetTimesteps(IReadOnlyList{float}, IReadOnlyList{float})"/> with at least one list given;
    /// by default neither kind is supported.</summary>
    private protected virtual void SetCustomScheduleCore(IReadOnlyList<float>? timesteps, IReadOnlyList<float>? sigmas) =>
        throw new NotSupportedException($"{ClassName} does not accept custom {(timesteps is not null ? "timesteps" : "sigmas")}; use SetTimesteps(numInferenceSteps).");

    /// <summary><see cref="ScaleModelInput"/> on spans of equal length; by default the identity.</summary>
    private protected virtual void ScaleModelInputCore(ReadOnlySpan<float> sample, float timestep, Span<float> destination)
    {
        if (!sample.Overlaps(destination, out int offset) || offset != 0)
        {
            sample.CopyTo(destination);
        }
    }

    /// <summary><see cref="Step"/>.</summary>
    private protected abstract SchedulerOutput StepCore(Tensor<float> modelOutput, float timestep, Tensor<float> sample, TorchGenerator? generator);

    /// <summary><see cref="AddNoise"/> on spans of equal length.</summary>
    private protected abstract void AddNoiseCore(ReadOnlySpan<float> originalSamples, ReadOnlySpan<float> noise, float timestep, Span<float> destination);

    /// <summary>Changes one resolved option after construction, like diffusers' <c>register_to_config(key=value)</c>
    /// inside a scheduler (the key keeps its position in the configuration).</summary>
    private protected void UpdateConfig(string key, JsonNode? value) => Config = Config.With(key, value);

    /// <summary>Records that an option's value is read as another one (diffusers' <c>register_to_config</c> of a mapped
    /// <c>algorithm_type</c> or <c>solver_type</c>) and returns it.</summary>
    private protected TEnum MapOption<TEnum>(string key, TEnum value)
        where TEnum : struct, Enum
    {
        UpdateConfig(key, JsonValue.Create(ConfigNames.Of(value)));
        return value;
    }

    /// <summary>diffusers' <c>index_for_timestep</c>: the position of <paramref name="timestep"/> in the schedule,
    /// taking the second match when it occurs twice (so image-to-image never skips a sigma).</summary>
    private protected int IndexForTimestep(float timestep)
    {
        int index = FindTimestep(timestep, TimestepValues);
        if (index < 0)
        {
            throw new ArgumentException($"Timestep {timestep} is not in {ClassName}'s schedule; call SetTimesteps first and pass values from Timesteps.", nameof(timestep));
        }
        return index;
    }

    /// <summary>diffusers' <c>_init_step_index</c>: the begin index when set, else the index of <paramref name="timestep"/>.</summary>
    private protected void InitStepIndex(float timestep) => StepIndex = BeginIndex ?? IndexForTimestep(timestep);

    /// <summary>The multistep solvers' <c>_init_step_index</c>: like <see cref="InitStepIndex"/>, but a timestep that is
    /// not in the schedule starts at the last step, as their <c>index_for_timestep</c> does.</summary>
    private protected int EnsureSolverStepIndex(float timestep)
    {
        StepIndex ??= BeginIndex ?? SolverIndexForTimestep(timestep);
        return StepIndex.Value;
    }

    /// <summary>The step index <c>add_noise</c> uses: the index of <paramref name="timestep"/> before
    /// <see cref="SetBeginIndex"/>, else the current step index, else the begin index. With
    /// <paramref name="lastWhenMissing"/> (multistep solvers) a timestep outside the schedule means the last step.</summary>
    private protected int AddNoiseIndex(float timestep, bool lastWhenMissing) => BeginIndex is null
        ? lastWhenMissing ? SolverIndexForTimestep(timestep) : IndexForTimestep(timestep)
        : StepIndex ?? BeginIndex.Value;

    private int SolverIndexForTimestep(float timestep)
    {
        int index = FindTimestep(timestep, TimestepValues);
        return index >= 0 ? index : TimestepValues.Length - 1;
    }

    /// <summary>The second match of <paramref name="timestep"/> when it occurs twice, the only match otherwise, −1 when absent.</summary>
    private static int FindTimestep(float timestep, ReadOnlySpan<float> schedule)
    {
        int first = -1;
        for (int i = 0; i < schedule.Length; i++)
        {
            if (schedule[i] == timestep)
            {
                if (first >= 0)
                {
                    return i;
                }
                first = i;
            }
        }
        return first;
    }

    /// <summary>Throws unless <see cref="SetTimesteps(int)"/> has been called.</summary>
    private protected void EnsureTimestepsSet()
    {
        if (NumInferenceSteps == 0 && TimestepValues.Length == 0)
        {
            throw new InvalidOperationException($"{ClassName}: call SetTimesteps before Step.");
        }
    }

    /// <summary>Throws unless <see cref="SetTimesteps(int)"/> has been called (the schedulers whose constructor sets no schedule).</summary>
    private protected void EnsureStepsSet()
    {
        if (NumInferenceSteps == 0)
        {
            throw new InvalidOperationException($"{ClassName}: call SetTimesteps before Step.");
        }
    }

    /// <summary>Checks that a step's tensors agree in length.</summary>
    private protected static void CheckStepArguments(Tensor<float> modelOutput, Tensor<float> sample)
    {
        ArgumentNullException.ThrowIfNull(modelOutput);
        ArgumentNullException.ThrowIfNull(sample);
        if (modelOutput.FlattenedLength != sample.FlattenedLength)
        {
            throw new ArgumentException($"model output has {modelOutput.FlattenedLength} elements but the sample has {sample.FlattenedLength}.", nameof(modelOutput));
        }
    }

    /// <summary>Validates a <c>SetTimesteps</c> step count against the number of training timesteps.</summary>
    private protected static void CheckStepCount(int numInferenceSteps, int numTrainTimesteps)
    {
        if (numInferenceSteps < 1 || numInferenceSteps > numTrainTimesteps)
        {
            throw new ArgumentOutOfRangeException(nameof(numInferenceSteps), numInferenceSteps,
                $"num_inference_steps must be in [1, {numTrainTimesteps}] (num_train_timesteps).");
        }
    }

    /// <summary>A training timestep as an index into the ᾱ table (truncated like an int64 cast).</summary>
    private protected static int CheckTrainingTimestep(float timestep, int numTrainTimesteps)
    {
        int t = (int)timestep;
        if (t < 0 || t >= numTrainTimesteps)
        {
            throw new ArgumentOutOfRangeException(nameof(timestep), timestep, $"timestep must be in [0, {numTrainTimesteps - 1}].");
        }
        return t;
    }

    /// <summary>An integer training timestep of an int64 schedule (DDIM, DDPM, PNDM, LCM).</summary>
    private protected int CheckIntegerTimestep(float timestep, string label)
    {
        int t = (int)timestep;
        if (t != timestep || t < 0 || t >= Tables.AlphasCumprod.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(timestep), timestep, $"{label} timesteps are integers in [0, {Tables.AlphasCumprod.Length - 1}].");
        }
        return t;
    }

    /// <summary>Throws when two spans differ in length.</summary>
    private protected static void CheckSameLength(int expected, int actual, string paramName)
    {
        if (expected != actual)
        {
            throw new ArgumentException($"Expected {expected} elements, got {actual}.", paramName);
        }
    }

    /// <summary>Returns a scheduler-owned tensor shaped like <paramref name="like"/>, reusing the cached buffer and
    /// tensor when the shape is unchanged (no allocation in steady state).</summary>
    internal static Tensor<float> RentLike(ref float[]? buffer, ref Tensor<float>? tensor, Tensor<float> like)
    {
        ArgumentNullException.ThrowIfNull(like);
        if (tensor is not null && buffer is not null && buffer.Length == like.FlattenedLength && tensor.Lengths.SequenceEqual(like.Lengths))
        {
            return tensor;
        }
        buffer = new float[checked((int)like.FlattenedLength)];
        tensor = TensorShapes.Wrap(buffer, like.Shape());
        return tensor;
    }

    /// <summary>Returns a buffer of exactly <paramref name="length"/> elements, reusing <paramref name="buffer"/> when it fits.</summary>
    internal static float[] Rent(ref float[]? buffer, int length)
    {
        if (buffer is null || buffer.Length != length)
        {
            buffer = new float[length];
        }
        return buffer;
    }
}
