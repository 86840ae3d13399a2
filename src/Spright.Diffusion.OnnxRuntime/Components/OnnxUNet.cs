using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using Spright.Diffusion.Components;
using Spright.Diffusion.Configuration;
using Spright.Diffusion.OnnxRuntime.Sessions;
using Float16 = Microsoft.ML.OnnxRuntime.Float16;
using TensorElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;

namespace Spright.Diffusion.OnnxRuntime.Components;

/// <summary>
/// The denoising UNet on ONNX Runtime. Handles every historical export: <c>timestep</c> as float rank-0 (optimum ≥ 1.24),
/// int64 rank-1 (older optimum), float <c>[batch]</c> (diffusers' legacy script), in float32 or float16 graphs, and the
/// graphs built from diffusers folders. Runners evaluate through I/O binding on pinned, preallocated buffers and are
/// pooled per shape, so a repeated call of the same shape reuses its buffers.
/// </summary>
internal sealed class OnnxUNet : OnnxComponent, IUNet
{
    /// <summary>Idle runners kept per shape.</summary>
    private const int PooledRunnersPerShape = 2;

    private static readonly TensorElementType[] FloatTypes = [TensorElementType.Float, TensorElementType.Float16];
    private static readonly TensorElementType[] TimestepTypes =
        [TensorElementType.Float, TensorElementType.Float16, TensorElementType.Double, TensorElementType.Int64, TensorElementType.Int32];

    private readonly ConcurrentDictionary<UNetShape, ConcurrentBag<OnnxUNetRunner>> _pool = new();

    /// <summary>Loads a UNet graph (external weights next to it are found by ONNX Runtime).</summary>
    /// <param name="modelPath">Path of <c>unet/model.onnx</c>.</param>
    /// <param name="settings">Session settings.</param>
    /// <param name="logger">Where messages go.</param>
    /// <param name="configDirectory">The folder of its <c>config.json</c> (default: the graph's folder).</param>
    /// <param name="anyLatentSize">Whether the graph takes any latent size (graphs built from diffusers folders upsample to
    /// the skip connection's size); exports need sides that are multiples of the UNet's downsampling.</param>
    public OnnxUNet(string modelPath, OnnxRuntimeSettings? settings = null, ILogger? logger = null, string? configDirectory = null, bool anyLatentSize = false)
        : base(modelPath, "unet", settings, logger)
    {
        SplitBatchFromLatentPixels = Settings.SplitUNetBatchFromLatentPixels;
        EvaluatesBatchItemsConcurrently = Settings.SmallGraphTuning && SingleThreadedCpu;
        try
        {
            var taken = new HashSet<string>(StringComparer.Ordinal);
            SamplePort = RequireInput("latent sample", ["sample"], [4], FloatTypes, taken);
            HiddenStatesPort = RequireInput("text conditioning", ["encoder_hidden_states"], [3], FloatTypes, taken);
            TimestepPort = RequireInput("timestep", ["timestep", "timesteps", "t"], [0, 1], TimestepTypes, taken);
            RejectUnknownInputs(taken);
            OutputPort = RequireOutput("noise prediction", ["out_sample", "sample_out", "noise_pred"], [4], FloatTypes);

            UNetConfigInfo config = UNetConfigInfo.Read(configDirectory ?? Path.GetDirectoryName(ModelPath)!);
            int inChannels = SamplePort.Fixed(1) ?? config.InChannels ?? 4;
            if (config.InChannels is int c && c != inChannels)
            {
                throw new ModelLoadException(config.Path!, $"in_channels is {c} but the graph's sample input has {inChannels} channels");
            }
            int? graphCross = HiddenStatesPort.Fixed(2);
            if (config.CrossAttentionDim is int configured && graphCross is int g && configured != g)
            {
                throw new ModelLoadException(config.Path!, $"cross_attention_dim is {configured} but the graph's encoder_hidden_states are {g} wide");
            }
            if (config.TimeCondProjDim is not null)
            {
                Logger.LogWarning("{Path}: time_cond_proj_dim is set (an LCM-distilled UNet); its guidance embedding input is not supported.", config.Path);
            }
            Info = new UNetInfo(inChannels, config.SampleSize, graphCross ?? config.CrossAttentionDim,
                anyLatentSize ? null : config.DownsamplingFactor, HiddenStatesPort.Fixed(1));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public UNetInfo Info { get; }

    /// <summary>Batches whose latent has at least this many pixels (height × width) are evaluated one batch item at a
    /// time (see <see cref="OnnxRuntimeSettings.SplitUNetBatchFromLatentPixels"/>); 0 = never.</summary>
    public int SplitBatchFromLatentPixels { get; }

    /// <summary>Whether batches are split across the CPU cores, one ONNX Runtime call per share of the batch running side
    /// by side (<see cref="OnnxRuntimeSettings.SmallGraphTuning"/> and a session on one intra-op thread).</summary>
    public bool EvaluatesBatchItemsConcurrently { get; }

    /// <summary>The element type of the latent input (Float or Float16).</summary>
    public TensorElementType SampleType => SamplePort.ElementType;

    /// <summary>The element type of the timestep input.</summary>
    public TensorElementType TimestepType => TimestepPort.ElementType;

    /// <summary>The rank of the timestep input (0 = scalar, 1 = vector).</summary>
    public int TimestepRank => TimestepPort.Rank;

    internal TensorPort SamplePort { get; }

    internal TensorPort TimestepPort { get; }

    internal TensorPort HiddenStatesPort { get; }

    internal TensorPort OutputPort { get; }

    /// <summary>Run options that hand the arena's memory back after the run.</summary>
    internal RunOptions CreateReleasingRunOptions() => CreateRunOptions(releaseMemory: true);

    /// <inheritdoc />
    public IUNetRunner RentRunner(UNetShape shape)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if (shape.BatchSize <= 0 || shape.Height <= 0 || shape.Width <= 0 || shape.SequenceLength <= 0 || shape.HiddenSize <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(shape), shape, "Every dimension of a UNet shape must be positive.");
        }
        if (shape.Channels != Info.InChannels)
        {
            throw new ArgumentException($"The UNet takes {Info.InChannels} latent channels, not {shape.Channels}.", nameof(shape));
        }
        if (Info.CrossAttentionDim is int d && d != shape.HiddenSize)
        {
            throw new ArgumentException($"The UNet's text conditioning is {d} wide, not {shape.HiddenSize}.", nameof(shape));
        }
        OnnxUNetRunner runner = _pool.TryGetValue(shape, out ConcurrentBag<OnnxUNetRunner>? bag) && bag.TryTake(out OnnxUNetRunner? pooled)
            ? pooled
            : CreateRunner(shape);
        runner.Prime();
        return new RentedRunner(this, runner);
    }

    /// <summary>Creates a runner: the batch in one call, split per item for memory at large sizes, or in shares side by
    /// side on the cores for small single-threaded graphs.</summary>
    internal OnnxUNetRunner CreateRunner(UNetShape shape)
    {
        // A graph with a fixed timestep batch larger than one cannot take part of a batch.
        bool splittable = shape.BatchSize > 1 && TimestepPort.Fixed(0) is null or 1;
        if (splittable && SplitBatchFromLatentPixels > 0 && (long)shape.Height * shape.Width >= SplitBatchFromLatentPixels)
        {
            return new OnnxUNetRunner(this, shape, shape.BatchSize, concurrent: false);
        }
        if (splittable && EvaluatesBatchItemsConcurrently && Environment.ProcessorCount > 1)
        {
            return new OnnxUNetRunner(this, shape, Math.Min(shape.BatchSize, Environment.ProcessorCount), concurrent: true);
        }
        return new OnnxUNetRunner(this, shape, 1, concurrent: false);
    }

    /// <summary>The session a runner evaluates <paramref name="shareBatch"/> items of <paramref name="shape"/> with (see
    /// <see cref="OnnxComponent.SpecializesShapes"/>); hand it back with <see cref="ReleaseRunnerSession"/>.</summary>
    internal InferenceSession AcquireSession(UNetShape shape, int shareBatch) =>
        AcquireSession(NamedDimensions(
            (SamplePort, 0, shareBatch), (SamplePort, 1, shape.Channels), (SamplePort, 2, shape.Height), (SamplePort, 3, shape.Width),
            (HiddenStatesPort, 0, shareBatch), (HiddenStatesPort, 1, shape.SequenceLength), (HiddenStatesPort, 2, shape.HiddenSize),
            (OutputPort, 0, shareBatch), (OutputPort, 1, shape.Channels), (OutputPort, 2, shape.Height), (OutputPort, 3, shape.Width),
            (TimestepPort, 0, shareBatch)));

    /// <summary>Hands back a session from <see cref="AcquireSession(UNetShape, int)"/>.</summary>
    internal void ReleaseRunnerSession(InferenceSession session) => ReleaseSession(session);

    /// <summary>Takes a runner back into the pool (or disposes it when the UNet is gone or the pool is full).</summary>
    private void Return(OnnxUNetRunner runner)
    {
        if (!IsDisposed)
        {
            ConcurrentBag<OnnxUNetRunner> bag = _pool.GetOrAdd(runner.Shape, _ => []);
            if (bag.Count < PooledRunnersPerShape)
            {
                bag.Add(runner);
                if (!IsDisposed)
                {
                    return;
                }
                // Disposed meanwhile: fall through and drain the pool ourselves.
            }
        }
        runner.Dispose();
        DrainPool();
    }

    private void DrainPool()
    {
        if (!IsDisposed)
        {
            return;
        }
        foreach (ConcurrentBag<OnnxUNetRunner> bag in _pool.Values)
        {
            while (bag.TryTake(out OnnxUNetRunner? r))
            {
                r.Dispose();
            }
        }
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            DrainPool();
        }
    }

    /// <summary>A runner lent out by <see cref="RentRunner"/>; disposing it gives it back.</summary>
    private sealed class RentedRunner(OnnxUNet owner, OnnxUNetRunner runner) : IUNetRunner
    {
        private OnnxUNetRunner? _runner = runner;

        private OnnxUNetRunner Runner => _runner ?? throw new ObjectDisposedException(nameof(IUNetRunner));

        public UNetShape Shape => Runner.Shape;

        public Span<float> Sample => Runner.Sample;

        public Span<float> EncoderHiddenStates => Runner.EncoderHiddenStates;

        public ReadOnlySpan<float> Output => Runner.Output;

        public void Run(float timestep, UNetRunHints hints, CancellationToken cancellationToken) => Runner.Run(timestep, hints, cancellationToken);

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _runner, null) is { } r)
            {
                owner.Return(r);
            }
        }
    }
}

/// <summary>
/// One UNet shape's preallocated, pinned buffers and I/O bindings. A batch is evaluated as one call, or split into
/// shares (contiguous runs of batch items) through bindings over slices of the same buffers (no copies): each item's
/// result is the same either way. Shares run one after another (only one share's attention matrices alive at once) or
/// side by side on the CPU cores (a single-threaded session leaves the other cores idle otherwise).
/// </summary>
internal sealed class OnnxUNetRunner : IDisposable
{
    private readonly OnnxUNet _unet;
    private readonly OrtTensorBuffer _sample;
    private readonly OrtTensorBuffer[] _timesteps;
    private readonly OrtTensorBuffer _hidden;
    private readonly OrtTensorBuffer _output;
    private readonly float[]? _sampleStaging;
    private readonly float[]? _hiddenStaging;
    private readonly float[]? _outputStaging;
    private readonly OrtIoBinding[] _bindings;
    private readonly InferenceSession[] _sessions;
    private readonly ConcurrentCalls? _concurrent;
    private readonly List<IDisposable> _owned = [];
    private readonly RunOptions _runOptions;
    private readonly RunOptions _releasingRunOptions;
    private CancellationToken _registeredToken;
    private CancellationTokenRegistration _registration;
    private bool _releaseLast;
    private bool _disposed;

    /// <summary>Allocates the buffers and binds <paramref name="calls"/> shares of the batch.</summary>
    /// <param name="unet">The UNet.</param>
    /// <param name="shape">The batch shape.</param>
    /// <param name="calls">Into how many shares the batch is split (1 = one call; at most the batch size).</param>
    /// <param name="concurrent">Whether the shares run side by side rather than one after another.</param>
    public OnnxUNetRunner(OnnxUNet unet, UNetShape shape, int calls, bool concurrent)
    {
        _unet = unet;
        Shape = shape;
        try
        {
            calls = Math.Clamp(calls, 1, shape.BatchSize);
            _sample = Track(OrtTensorBuffer.Create(unet.SamplePort.ElementType, shape.BatchSize, shape.Channels, shape.Height, shape.Width));
            _hidden = Track(OrtTensorBuffer.Create(unet.HiddenStatesPort.ElementType, shape.BatchSize, shape.SequenceLength, shape.HiddenSize));
            _output = Track(OrtTensorBuffer.Create(unet.OutputPort.ElementType, shape.BatchSize, shape.Channels, shape.Height, shape.Width));
            _sampleStaging = _sample.IsFloat ? null : new float[_sample.Length];
            _hiddenStaging = _hidden.IsFloat ? null : new float[_hidden.Length];
            _outputStaging = _output.IsFloat ? null : new float[_output.Length];

            _runOptions = Track(new RunOptions());
            // The last evaluation of a loop hands the arena's memory back (the VAE runs next); steps in between keep it.
            _releasingRunOptions = Track(unet.CreateReleasingRunOptions());
            _bindings = new OrtIoBinding[calls];
            _sessions = new InferenceSession[calls];
            _timesteps = new OrtTensorBuffer[calls];
            for (int c = 0; c < calls; c++)
            {
                int first = c * shape.BatchSize / calls;
                int count = (c + 1) * shape.BatchSize / calls - first;
                // A scalar or fixed-size timestep is shared; a per-item one gets a buffer of the share's size.
                _timesteps[c] = c > 0 && (unet.TimestepPort.Rank == 0 || unet.TimestepPort.Fixed(0) is not null)
                    ? _timesteps[0]
                    : Track(OrtTensorBuffer.Create(unet.TimestepPort.ElementType, unet.TimestepPort.Rank == 0 ? [] : [unet.TimestepPort.Fixed(0) ?? count]));
                InferenceSession session = _sessions[c] = unet.AcquireSession(shape, count);
                _owned.Add(new SessionLease(unet, session));
                OrtIoBinding binding = _bindings[c] = Track(session.CreateIoBinding());
                binding.BindInput(unet.SamplePort.Name, calls == 1 ? _sample.Value : Track(_sample.Slice(first, count)));
                binding.BindInput(unet.TimestepPort.Name, _timesteps[c].Value);
                binding.BindInput(unet.HiddenStatesPort.Name, calls == 1 ? _hidden.Value : Track(_hidden.Slice(first, count)));
                binding.BindOutput(unet.OutputPort.Name, calls == 1 ? _output.Value : Track(_output.Slice(first, count)));
            }
            if (concurrent && calls > 1)
            {
                _concurrent = Track(new ConcurrentCalls(calls, RunShare, "spright unet share"));
            }
            OnnxMetrics.RunnerCreated();
        }
        catch
        {
            DisposeOwned();
            throw;
        }

        T Track<T>(T item) where T : IDisposable
        {
            _owned.Add(item);
            return item;
        }
    }

    public UNetShape Shape { get; }

    /// <summary>How many ONNX Runtime calls one evaluation makes (1, or one per share of the batch).</summary>
    public int CallsPerEvaluation => _bindings.Length;

    /// <summary>Whether the calls of one evaluation run side by side.</summary>
    public bool RunsCallsConcurrently => _concurrent is not null;

    public Span<float> Sample => _sampleStaging ?? _sample.FloatSpan;

    public Span<float> EncoderHiddenStates => _hiddenStaging ?? _hidden.FloatSpan;

    public ReadOnlySpan<float> Output => _outputStaging ?? _output.FloatSpan;

    public void Run(float timestep, UNetRunHints hints, CancellationToken cancellationToken)
    {
        bool releaseMemory = (hints & UNetRunHints.LastOfLoop) != 0;
        ObjectDisposedException.ThrowIf(_disposed, this);
        cancellationToken.ThrowIfCancellationRequested();
        if (!cancellationToken.Equals(_registeredToken))
        {
            _registration.Dispose();
            _runOptions.Terminate = false; // a late cancel of the previous token must not stop this one
            _releasingRunOptions.Terminate = false;
            _registeredToken = cancellationToken;
            _registration = cancellationToken.CanBeCanceled
                ? cancellationToken.Register(static o =>
                {
                    var runner = (OnnxUNetRunner)o!;
                    runner._runOptions.Terminate = true;
                    runner._releasingRunOptions.Terminate = true;
                }, this)
                : default;
        }

        _timesteps[0].Fill(timestep);
        for (int c = 1; c < _timesteps.Length; c++)
        {
            if (!ReferenceEquals(_timesteps[c], _timesteps[0]))
            {
                _timesteps[c].Fill(timestep);
            }
        }
        if (_sampleStaging is not null)
        {
            _sample.Write(_sampleStaging);
        }
        if (_hiddenStaging is not null)
        {
            _hidden.Write(_hiddenStaging);
        }

        try
        {
            _releaseLast = releaseMemory;
            if (_concurrent is not null)
            {
                _concurrent.Invoke(lastOfSeries: releaseMemory);
            }
            else
            {
                for (int c = 0; c < _bindings.Length; c++)
                {
                    RunShare(c);
                }
            }
        }
        catch (OnnxRuntimeException) when (cancellationToken.IsCancellationRequested)
        {
            _runOptions.Terminate = false;
            _releasingRunOptions.Terminate = false;
            throw new OperationCanceledException("The UNet run was cancelled.", cancellationToken);
        }
        catch (OnnxRuntimeException ex)
        {
            throw new InferenceException("unet",
                $"ONNX Runtime failed on a {Shape.Height}×{Shape.Width} latent, batch {Shape.BatchSize}, {Shape.SequenceLength} tokens " +
                $"({_unet.ModelPath}): {NativeMessages.Shorten(ex.Message, _unet.ModelPath)}", ex);
        }

        if (_outputStaging is not null)
        {
            _output.Read(_outputStaging);
        }
    }

    /// <summary>Tells the runner that an evaluation follows soon (it was just rented): threads that run shares side by
    /// side get ready, instead of being woken by the first step.</summary>
    internal void Prime()
    {
        if (!_disposed)
        {
            _concurrent?.Prime();
        }
    }

    /// <summary>Evaluates share <paramref name="c"/> of the batch; the last share of a releasing run hands the arena back.</summary>
    private void RunShare(int c)
    {
        bool release = _releaseLast && c == _bindings.Length - 1;
        _sessions[c].RunWithBinding(release ? _releasingRunOptions : _runOptions, _bindings[c]);
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        OnnxMetrics.RunnerDisposed();
        _registration.Dispose();
        DisposeOwned();
    }

    /// <summary>Hands a session back to the UNet when the runner is disposed (after the bindings made from it).</summary>
    private sealed class SessionLease(OnnxUNet unet, InferenceSession session) : IDisposable
    {
        public void Dispose() => unet.ReleaseRunnerSession(session);
    }

    private void DisposeOwned()
    {
        // Threads, bindings and run options first, then the values they reference.
        for (int i = _owned.Count - 1; i >= 0; i--)
        {
            _owned[i].Dispose();
        }
        _owned.Clear();
    }
}
