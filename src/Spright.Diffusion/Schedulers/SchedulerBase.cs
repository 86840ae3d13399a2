using System.Numerics.Tensors;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Spright.Diffusion.Logging;
using Spright.Diffusion.Random;
using Spright.Diffusion.IO;
using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// Shared plumbing of the scheduler family: configuration reading (diffusers' <c>ConfigMixin</c> semantics),
/// the timestep/sigma arrays, the step index bookkeeping of <c>_init_step_index</c>/<c>index_for_timestep</c>,
/// and argument checks. Concrete schedulers read their options in their constructor, then call
/// <see cref="CompleteConfig"/>.
/// </summary>
public abstract class SchedulerBase : IScheduler
{
    private SchedulerConfigReader? _reader;
    private SchedulerConfig? _config;

    /// <summary>Starts building a scheduler.</summary>
    /// <param name="className">The diffusers class name.</param>
    /// <param name="config">The configuration (possibly another scheduler's).</param>
    /// <param name="explicitKeys">Keys the caller overrode explicitly (must all be known options).</param>
    /// <param name="logger">Where warnings go; defaults to <see cref="DiffusionLogging"/>.</param>
    private protected SchedulerBase(string className, SchedulerConfig config, IReadOnlyCollection<string>? explicitKeys, ILogger? logger)
    {
        ArgumentNullException.ThrowIfNull(config);
        ClassName = className;
        Logger = logger ?? DiffusionLogging.CreateLogger("Spright.Diffusion.Schedulers." + className);
        _reader = new SchedulerConfigReader(className, config, explicitKeys);
    }

    /// <inheritdoc />
    public string ClassName { get; }

    /// <inheritdoc />
    public SchedulerConfig Config => _config ?? throw new InvalidOperationException($"{ClassName} did not finish reading its configuration.");

    /// <inheritdoc />
    public virtual int Order => 1;

    /// <inheritdoc />
    public float InitNoiseSigma { get; protected set; } = 1f;

    /// <inheritdoc />
    public int NumInferenceSteps { get; protected set; }

    /// <inheritdoc />
    public ReadOnlySpan<float> Timesteps => TimestepValues;

    /// <inheritdoc />
    public abstract bool HasIntegerTimesteps { get; }

    /// <inheritdoc />
    public ReadOnlySpan<float> Sigmas => SigmaValues;

    /// <inheritdoc />
    public int? StepIndex { get; protected set; }

    /// <inheritdoc />
    public int? BeginIndex { get; protected set; }

    /// <summary>Where warnings go.</summary>
    protected ILogger Logger { get; }

    /// <summary>The timestep schedule (after <c>SetTimesteps</c>).</summary>
    protected float[] TimestepValues { get; set; } = [];

    /// <summary>The sigma schedule for sigma-based schedulers (empty otherwise).</summary>
    protected float[] SigmaValues { get; set; } = [];

    /// <summary>The option reader, available during construction only.</summary>
    private protected SchedulerConfigReader Options => _reader ?? throw new InvalidOperationException("Options can only be read while constructing.");

    /// <summary>Finishes construction: resolves the configuration and warns about ignored keys.</summary>
    private protected void CompleteConfig()
    {
        _config = Options.Complete(Logger);
        _reader = null;
    }

    /// <summary>Changes one resolved option after construction, like diffusers' <c>register_to_config(key=value)</c>
    /// inside a scheduler (the key keeps its position in the configuration).</summary>
    /// <param name="key">The option name.</param>
    /// <param name="value">The new value.</param>
    private protected void UpdateConfig(string key, JsonNode? value) => _config = Config.With(key, value);

    /// <inheritdoc />
    public abstract void SetTimesteps(int numInferenceSteps);

    /// <inheritdoc />
    public virtual void SetTimesteps(IReadOnlyList<float>? timesteps, IReadOnlyList<float>? sigmas)
    {
        if (timesteps is null && sigmas is null)
        {
            throw new ArgumentException("Give custom timesteps or sigmas (or call SetTimesteps(numInferenceSteps)).", nameof(timesteps));
        }
        throw new NotSupportedException($"{ClassName} does not accept custom {(timesteps is not null ? "timesteps" : "sigmas")}; use SetTimesteps(numInferenceSteps).");
    }

    /// <inheritdoc />
    public virtual void SetBeginIndex(int beginIndex)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(beginIndex);
        BeginIndex = beginIndex;
    }

    /// <inheritdoc />
    public virtual void ScaleModelInput(ReadOnlySpan<float> sample, float timestep, Span<float> destination)
    {
        CheckSameLength(sample.Length, destination.Length, nameof(destination));
        if (!sample.Overlaps(destination, out int offset) || offset != 0)
        {
            sample.CopyTo(destination);
        }
    }

    /// <summary>Scales a model input into a new tensor (allocating convenience over the span overload).</summary>
    /// <param name="sample">The current latents.</param>
    /// <param name="timestep">The current timestep.</param>
    /// <returns>The scaled copy.</returns>
    public Tensor<float> ScaleModelInput(Tensor<float> sample, float timestep)
    {
        ArgumentNullException.ThrowIfNull(sample);
        Tensor<float> result = sample.CloneDense();
        ScaleModelInput(result.AsSpan(), timestep, result.AsSpan());
        return result;
    }

    /// <inheritdoc />
    public abstract SchedulerOutput Step(Tensor<float> modelOutput, float timestep, Tensor<float> sample, TorchGenerator? generator = null, float eta = 0f);

    /// <inheritdoc />
    public abstract void AddNoise(ReadOnlySpan<float> originalSamples, ReadOnlySpan<float> noise, float timestep, Span<float> destination);

    /// <summary>Noises clean latents into a new tensor (allocating convenience over the span overload).</summary>
    /// <param name="originalSamples">The clean latents.</param>
    /// <param name="noise">The noise, same shape.</param>
    /// <param name="timestep">The timestep to noise to.</param>
    /// <returns>The noised latents.</returns>
    public Tensor<float> AddNoise(Tensor<float> originalSamples, Tensor<float> noise, float timestep)
    {
        ArgumentNullException.ThrowIfNull(originalSamples);
        ArgumentNullException.ThrowIfNull(noise);
        Tensor<float> result = TensorShapes.Zeros(originalSamples.Shape());
        AddNoise(originalSamples.AsSpan(), noise.AsSpan(), timestep, result.AsSpan());
        return result;
    }

    /// <inheritdoc />
    public IScheduler Clone() =>
        SchedulerRegistry.Create(ClassName, Config, overrides: null, new EventFilteringLogger(Logger, SchedulerConfigReader.UnexpectedKeysEvent));

    /// <summary>diffusers' <c>index_for_timestep</c>: the position of <paramref name="timestep"/> in the schedule,
    /// taking the second match when it occurs twice (so image-to-image never skips a sigma).</summary>
    /// <param name="timestep">The timestep to find.</param>
    /// <param name="schedule">The schedule to search (defaults to <see cref="Timesteps"/>).</param>
    /// <returns>The index.</returns>
    protected int IndexForTimestep(float timestep, ReadOnlySpan<float> schedule)
    {
        int index = FindTimestep(timestep, schedule);
        if (index < 0)
        {
            throw new ArgumentException($"Timestep {timestep} is not in {ClassName}'s schedule; call SetTimesteps first and pass values from Timesteps.", nameof(timestep));
        }
        return index;
    }

    /// <summary>diffusers' <c>_init_step_index</c>: the begin index when set, else the index of <paramref name="timestep"/>.</summary>
    /// <param name="timestep">The first timestep stepped.</param>
    protected void InitStepIndex(float timestep) => StepIndex = BeginIndex ?? IndexForTimestep(timestep, TimestepValues);

    /// <summary>The multistep solvers' <c>_init_step_index</c>: like <see cref="InitStepIndex"/>, but a timestep that is
    /// not in the schedule starts at the last step, as their <c>index_for_timestep</c> does.</summary>
    /// <param name="timestep">The first timestep stepped.</param>
    /// <returns>The step index.</returns>
    private protected int EnsureSolverStepIndex(float timestep)
    {
        StepIndex ??= BeginIndex ?? SolverIndexForTimestep(timestep);
        return StepIndex.Value;
    }

    /// <summary>The step index <c>add_noise</c> uses: the index of <paramref name="timestep"/> before
    /// <see cref="SetBeginIndex"/>, else the current step index, else the begin index.</summary>
    /// <param name="timestep">The timestep to noise to.</param>
    /// <param name="lastWhenMissing">Whether a timestep outside the schedule means the last step (multistep solvers)
    /// rather than an error.</param>
    /// <returns>The index into <see cref="Sigmas"/>.</returns>
    private protected int AddNoiseIndex(float timestep, bool lastWhenMissing) => BeginIndex is null
        ? lastWhenMissing ? SolverIndexForTimestep(timestep) : IndexForTimestep(timestep, TimestepValues)
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
    protected void EnsureTimestepsSet()
    {
        if (NumInferenceSteps == 0 && TimestepValues.Length == 0)
        {
            throw new InvalidOperationException($"{ClassName}: call SetTimesteps before Step.");
        }
    }

    /// <summary>Checks that a step's tensors are dense and agree in length.</summary>
    /// <param name="modelOutput">The model output.</param>
    /// <param name="sample">The sample.</param>
    protected static void CheckStepArguments(Tensor<float> modelOutput, Tensor<float> sample)
    {
        ArgumentNullException.ThrowIfNull(modelOutput);
        ArgumentNullException.ThrowIfNull(sample);
        if (modelOutput.FlattenedLength != sample.FlattenedLength)
        {
            throw new ArgumentException($"model output has {modelOutput.FlattenedLength} elements but the sample has {sample.FlattenedLength}.", nameof(modelOutput));
        }
    }

    /// <summary>Validates a <c>SetTimesteps</c> step count against the number of training timesteps.</summary>
    /// <param name="numInferenceSteps">The requested steps.</param>
    /// <param name="numTrainTimesteps">The training timesteps.</param>
    protected static void CheckStepCount(int numInferenceSteps, int numTrainTimesteps)
    {
        if (numInferenceSteps < 1 || numInferenceSteps > numTrainTimesteps)
        {
            throw new ArgumentOutOfRangeException(nameof(numInferenceSteps), numInferenceSteps,
                $"num_inference_steps must be in [1, {numTrainTimesteps}] (num_train_timesteps).");
        }
    }

    /// <summary>A training timestep as an index into the ᾱ table (truncated like an int64 cast).</summary>
    /// <param name="timestep">The timestep.</param>
    /// <param name="numTrainTimesteps">The number of training timesteps.</param>
    /// <returns>The index.</returns>
    private protected static int CheckTrainingTimestep(float timestep, int numTrainTimesteps)
    {
        int t = (int)timestep;
        if (t < 0 || t >= numTrainTimesteps)
        {
            throw new ArgumentOutOfRangeException(nameof(timestep), timestep, $"timestep must be in [0, {numTrainTimesteps - 1}].");
        }
        return t;
    }

    /// <summary>Checks <c>AddNoise</c>'s spans agree in length.</summary>
    /// <param name="originalSamples">The clean latents.</param>
    /// <param name="noise">The noise.</param>
    /// <param name="destination">The destination.</param>
    private protected static void CheckAddNoiseArguments(ReadOnlySpan<float> originalSamples, ReadOnlySpan<float> noise, Span<float> destination)
    {
        CheckSameLength(originalSamples.Length, noise.Length, nameof(noise));
        CheckSameLength(originalSamples.Length, destination.Length, nameof(destination));
    }

    /// <summary>Throws when two spans differ in length.</summary>
    /// <param name="expected">The reference length.</param>
    /// <param name="actual">The checked length.</param>
    /// <param name="paramName">The argument name.</param>
    protected static void CheckSameLength(int expected, int actual, string paramName)
    {
        if (expected != actual)
        {
            throw new ArgumentException($"Expected {expected} elements, got {actual}.", paramName);
        }
    }

    /// <summary>Returns a scheduler-owned tensor shaped like <paramref name="like"/>, reusing the cached buffer and
    /// tensor when the shape is unchanged (no allocation in steady state).</summary>
    /// <param name="buffer">The cached backing array.</param>
    /// <param name="tensor">The cached tensor over <paramref name="buffer"/>.</param>
    /// <param name="like">The tensor whose shape to match.</param>
    /// <returns>The tensor.</returns>
    protected static Tensor<float> RentLike(ref float[]? buffer, ref Tensor<float>? tensor, Tensor<float> like)
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
    /// <param name="buffer">The cached buffer (replaced when the length changes).</param>
    /// <param name="length">The required length.</param>
    /// <returns>The buffer.</returns>
    protected static float[] Rent(ref float[]? buffer, int length)
    {
        if (buffer is null || buffer.Length != length)
        {
            buffer = new float[length];
        }
        return buffer;
    }
}
