using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using TensorElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;
using Float16 = Microsoft.ML.OnnxRuntime.Float16;
using Spright.Diffusion.Hub;

namespace Spright.Diffusion.Models.Onnx;

/// <summary>
/// The denoising UNet on ONNX Runtime. Handles every historical export: <c>timestep</c> as float rank-0 (optimum ≥ 1.24),
/// int64 rank-1 (older optimum), float <c>[batch]</c> (diffusers' legacy script), in float32 or float16 graphs.
/// Runners evaluate through I/O binding on pinned, preallocated buffers.
/// </summary>
public sealed class OnnxUNet : OnnxComponent, IUNet
{
    private static readonly TensorElementType[] FloatTypes = [TensorElementType.Float, TensorElementType.Float16];
    private static readonly TensorElementType[] TimestepTypes =
        [TensorElementType.Float, TensorElementType.Float16, TensorElementType.Double, TensorElementType.Int64, TensorElementType.Int32];

    /// <summary>Loads a UNet graph (external weights next to it are found by ONNX Runtime).</summary>
    /// <param name="modelPath">Path of <c>unet/model.onnx</c>.</param>
    /// <param name="settings">Session settings.</param>
    /// <param name="logger">Where messages go.</param>
    public OnnxUNet(string modelPath, OnnxSessionSettings? settings = null, ILogger? logger = null)
        : base(modelPath, "unet", settings, logger)
    {
        try
        {
            var taken = new HashSet<string>(StringComparer.Ordinal);
            SamplePort = RequireInput("latent sample", ["sample"], [4], FloatTypes, taken);
            HiddenStatesPort = RequireInput("text conditioning", ["encoder_hidden_states"], [3], FloatTypes, taken);
            TimestepPort = RequireInput("timestep", ["timestep", "timesteps", "t"], [0, 1], TimestepTypes, taken);
            RejectUnknownInputs(taken);
            OutputPort = RequireOutput("noise prediction", ["out_sample", "sample_out", "noise_pred"], [4], FloatTypes);

            UNetConfigInfo config = UNetConfigInfo.Read(Path.GetDirectoryName(ModelPath)!);
            InChannels = SamplePort.Fixed(1) ?? config.InChannels ?? 4;
            if (config.InChannels is int c && c != InChannels)
            {
                throw new ModelLoadException(config.Path!, $"in_channels is {c} but the graph's sample input has {InChannels} channels");
            }
            SampleSize = config.SampleSize;
            int? graphCross = HiddenStatesPort.Fixed(2);
            if (config.CrossAttentionDim is int configured && graphCross is int g && configured != g)
            {
                throw new ModelLoadException(config.Path!, $"cross_attention_dim is {configured} but the graph's encoder_hidden_states are {g} wide");
            }
            CrossAttentionDim = graphCross ?? config.CrossAttentionDim;
            if (config.TimeCondProjDim is not null)
            {
                Logger.LogWarning("{Path}: time_cond_proj_dim is set (an LCM-distilled UNet); its guidance embedding input is not supported.", config.Path);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public int InChannels { get; }

    /// <inheritdoc />
    public int? SampleSize { get; }

    /// <inheritdoc />
    public int? CrossAttentionDim { get; }

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

    /// <inheritdoc />
    public IUNetRunner CreateRunner(UNetShape shape)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if (shape.BatchSize <= 0 || shape.Height <= 0 || shape.Width <= 0 || shape.SequenceLength <= 0 || shape.HiddenSize <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(shape), shape, "Every dimension of a UNet shape must be positive.");
        }
        if (shape.Channels != InChannels)
        {
            throw new ArgumentException($"The UNet takes {InChannels} latent channels, not {shape.Channels}.", nameof(shape));
        }
        if (CrossAttentionDim is int d && d != shape.HiddenSize)
        {
            throw new ArgumentException($"The UNet's text conditioning is {d} wide, not {shape.HiddenSize}.", nameof(shape));
        }
        return new OnnxUNetRunner(this, shape);
    }
}

/// <summary>One UNet shape's preallocated buffers and I/O binding.</summary>
internal sealed class OnnxUNetRunner : IUNetRunner
{
    private static int s_live;
    private readonly OnnxUNet _unet;
    private readonly OrtTensorBuffer _sample;
    private readonly OrtTensorBuffer _timestep;
    private readonly OrtTensorBuffer _hidden;
    private readonly OrtTensorBuffer _output;
    private readonly float[]? _sampleStaging;
    private readonly float[]? _hiddenStaging;
    private readonly float[]? _outputStaging;
    private readonly OrtIoBinding _binding;
    private readonly RunOptions _runOptions;
    private CancellationToken _registeredToken;
    private CancellationTokenRegistration _registration;
    private bool _disposed;

    public OnnxUNetRunner(OnnxUNet unet, UNetShape shape)
    {
        _unet = unet;
        Shape = shape;
        var disposables = new List<IDisposable>();
        try
        {
            _sample = Track(OrtTensorBuffer.Create(unet.SamplePort.ElementType, shape.BatchSize, shape.Channels, shape.Height, shape.Width));
            long[] timestepShape = unet.TimestepPort.Rank == 0 ? [] : [unet.TimestepPort.Fixed(0) ?? shape.BatchSize];
            _timestep = Track(OrtTensorBuffer.Create(unet.TimestepPort.ElementType, timestepShape));
            _hidden = Track(OrtTensorBuffer.Create(unet.HiddenStatesPort.ElementType, shape.BatchSize, shape.SequenceLength, shape.HiddenSize));
            _output = Track(OrtTensorBuffer.Create(unet.OutputPort.ElementType, shape.BatchSize, shape.Channels, shape.Height, shape.Width));
            _sampleStaging = _sample.IsFloat ? null : new float[_sample.Length];
            _hiddenStaging = _hidden.IsFloat ? null : new float[_hidden.Length];
            _outputStaging = _output.IsFloat ? null : new float[_output.Length];

            _runOptions = Track(new RunOptions());
            _binding = Track(unet.Session.CreateIoBinding());
            _binding.BindInput(unet.SamplePort.Name, _sample.Value);
            _binding.BindInput(unet.TimestepPort.Name, _timestep.Value);
            _binding.BindInput(unet.HiddenStatesPort.Name, _hidden.Value);
            _binding.BindOutput(unet.OutputPort.Name, _output.Value);
            Interlocked.Increment(ref s_live);
        }
        catch
        {
            foreach (IDisposable d in disposables)
            {
                d.Dispose();
            }
            throw;
        }

        T Track<T>(T item) where T : IDisposable
        {
            disposables.Add(item);
            return item;
        }
    }

    /// <summary>Runners (I/O bindings over pinned buffers) not yet disposed, process-wide.</summary>
    internal static int Live => Volatile.Read(ref s_live);

    public UNetShape Shape { get; }

    public Span<float> Sample => _sampleStaging ?? _sample.FloatSpan;

    public Span<float> EncoderHiddenStates => _hiddenStaging ?? _hidden.FloatSpan;

    public ReadOnlySpan<float> Output => _outputStaging ?? _output.FloatSpan;

    public void Run(float timestep, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        cancellationToken.ThrowIfCancellationRequested();
        if (!cancellationToken.Equals(_registeredToken))
        {
            _registration.Dispose();
            _runOptions.Terminate = false; // a late cancel of the previous token must not stop this one
            _registeredToken = cancellationToken;
            _registration = cancellationToken.CanBeCanceled
                ? cancellationToken.Register(static o => ((RunOptions)o!).Terminate = true, _runOptions)
                : default;
        }

        _timestep.Fill(timestep);
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
            _unet.Session.RunWithBinding(_runOptions, _binding);
        }
        catch (OnnxRuntimeException) when (cancellationToken.IsCancellationRequested)
        {
            _runOptions.Terminate = false;
            throw new OperationCanceledException("The UNet run was cancelled.", cancellationToken);
        }

        if (_outputStaging is not null)
        {
            _output.Read(_outputStaging);
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        Interlocked.Decrement(ref s_live);
        _registration.Dispose();
        _binding.Dispose();
        _runOptions.Dispose();
        _sample.Dispose();
        _timestep.Dispose();
        _hidden.Dispose();
        _output.Dispose();
    }
}
