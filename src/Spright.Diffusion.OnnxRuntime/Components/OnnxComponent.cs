using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using Spright.Diffusion.Components;
using Spright.Diffusion.Logging;
using Spright.Diffusion.OnnxRuntime.Sessions;
using Spright.Diffusion.IO;
using Spright.Diffusion.Numerics;
using Float16 = Microsoft.ML.OnnxRuntime.Float16;
using TensorElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;

namespace Spright.Diffusion.OnnxRuntime.Components;

/// <summary>
/// Base of the ONNX model components: owns the <see cref="InferenceSession"/>, reads input/output names, element
/// types and ranks from the session metadata, and reports graphs that do not fit the component as
/// <see cref="ModelLoadException"/>s naming the file.
/// </summary>
internal abstract class OnnxComponent : IDisposable
{
    private InferenceSession? _session;

    /// <summary>Loads the graph and creates the session.</summary>
    /// <param name="modelPath">The <c>model.onnx</c> path.</param>
    /// <param name="componentName">The component folder name (for messages and the session hook).</param>
    /// <param name="settings">Session settings.</param>
    /// <param name="logger">Where messages go.</param>
    private protected OnnxComponent(string modelPath, string componentName, OnnxRuntimeSettings? settings, ILogger? logger)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        ModelPath = Path.GetFullPath(modelPath);
        ComponentName = componentName;
        Logger = logger ?? DiffusionLogging.CreateLogger("Spright.Diffusion.OnnxRuntime." + componentName);
        Settings = settings ?? new OnnxRuntimeSettings();
        _session = SessionFactory.Create(ModelPath, componentName, Settings, out SessionTraits traits, Logger);
        OnnxMetrics.SessionCreated();
        Traits = traits;
        HasCpuArena = traits.CpuArena;
        SingleThreadedCpu = traits.SingleThreadedCpu;
        // A small graph's working memory is small: handing it back after each stage would only cost its regrowth.
        ReleasesMemoryAfterStages = traits.CpuArena && !traits.SmallGraph;
    }

    /// <summary>Whether runs that end a stage hand the arena's memory back (arena on and a graph that is not small).</summary>
    private protected bool ReleasesMemoryAfterStages { get; }

    /// <summary>The settings the session was created with.</summary>
    private protected OnnxRuntimeSettings Settings { get; }

    /// <summary>How the session runs.</summary>
    internal SessionTraits Traits { get; }

    /// <summary>Whether the session runs on the CPU with one intra-op thread: independent runs (the items of a batch)
    /// can then go side by side on the other cores.</summary>
    private protected bool SingleThreadedCpu { get; }

    /// <summary>Whether the session allocates through ONNX Runtime's CPU arena.</summary>
    private protected bool HasCpuArena { get; }

    /// <summary>Run options; with <paramref name="releaseMemory"/> (and an arena) the arena's unused memory is handed
    /// back at the end of the run, so the next stage does not start on top of this one's working memory.</summary>
    private protected RunOptions CreateRunOptions(bool releaseMemory)
    {
        var options = new RunOptions();
        if (releaseMemory && ReleasesMemoryAfterStages)
        {
            options.AddRunConfigEntry("memory.enable_memory_arena_shrinkage", "cpu:0");
        }
        return options;
    }

    /// <summary>Whether runs may go through sessions specialised for their shape (small graphs on the CPU: with every
    /// dimension known, ONNX Runtime folds the graph's shape computations away, a sizeable share of a small graph's
    /// time; creating such a session takes a fraction of a second).</summary>
    internal bool SpecializesShapes => Traits.Provider == ExecutionProvider.Cpu && Traits.SmallGraph;

    /// <summary>Shape-specialised sessions kept without a user.</summary>
    private const int IdleSpecializedSessions = 4;

    private readonly Lock _specializedLock = new();
    private readonly List<SpecializedSession> _specialized = [];
    private readonly HashSet<string> _unspecializable = new(StringComparer.Ordinal);

    /// <summary>Shape-specialised sessions alive (in use or kept idle).</summary>
    internal int SpecializedSessionCount
    {
        get
        {
            lock (_specializedLock)
            {
                return _specialized.Count;
            }
        }
    }

    /// <summary>The session for runs at one shape: with <see cref="SpecializesShapes"/> and <paramref name="dimensions"/>
    /// (values for the graph's named symbolic dimensions, see <see cref="NamedDimensions"/>), one with those dimensions
    /// fixed, shared by every user of the shape; otherwise (or when such a session cannot be created) the general
    /// session. Hand it back with <see cref="ReleaseSession"/>.</summary>
    private protected InferenceSession AcquireSession(IReadOnlyList<KeyValuePair<string, long>>? dimensions)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if (!SpecializesShapes || dimensions is null)
        {
            return Session;
        }
        string key = string.Join(",", dimensions.Select(kv => $"{kv.Key}={kv.Value}"));
        lock (_specializedLock)
        {
            if (_unspecializable.Contains(key))
            {
                return Session;
            }
            SpecializedSession? entry = _specialized.Find(e => e.Key == key);
            if (entry is null)
            {
                InferenceSession session;
                try
                {
                    session = SessionFactory.Create(ModelPath, ComponentName, Settings, out _, Logger, dimensions);
                }
                catch (ModelLoadException ex)
                {
                    // A graph whose fixed-shape optimisation fails still runs through the general session.
                    Logger.LogWarning("{Path}: no session specialised for {Shape} ({Message}); using the general one.", ModelPath, key, ex.Message);
                    _unspecializable.Add(key);
                    return Session;
                }
                OnnxMetrics.SessionCreated();
                entry = new SpecializedSession(key, session);
                _specialized.Add(entry);
            }
            entry.Users++;
            entry.LastUse = Environment.TickCount64;
            return entry.Session;
        }
    }

    /// <summary>Hands back a session from <see cref="AcquireSession"/>; keeps the most recently used idle ones.</summary>
    private protected void ReleaseSession(InferenceSession session)
    {
        lock (_specializedLock)
        {
            SpecializedSession? entry = _specialized.Find(e => ReferenceEquals(e.Session, session));
            if (entry is null)
            {
                return;
            }
            entry.Users--;
            entry.LastUse = Environment.TickCount64;
            List<SpecializedSession> idle = _specialized.Where(e => e.Users == 0).OrderBy(e => e.LastUse).ToList();
            for (int i = 0; i < idle.Count - IdleSpecializedSessions; i++)
            {
                _specialized.Remove(idle[i]);
                idle[i].Session.Dispose();
                OnnxMetrics.SessionDisposed();
            }
        }
    }

    /// <summary>Values for the named symbolic dimensions of the given (port, axis, size) triples, or null when there are
    /// none or the names contradict each other (one name on two axes of different sizes).</summary>
    private protected static List<KeyValuePair<string, long>>? NamedDimensions(params ReadOnlySpan<(TensorPort Port, int Axis, long Size)> dimensions)
    {
        var values = new SortedDictionary<string, long>(StringComparer.Ordinal);
        foreach ((TensorPort port, int axis, long size) in dimensions)
        {
            if (port.SymbolicName(axis) is not { } name)
            {
                continue;
            }
            if (values.TryGetValue(name, out long known) && known != size)
            {
                return null;
            }
            values[name] = size;
        }
        return values.Count > 0 ? values.ToList() : null;
    }

    private sealed class SpecializedSession(string key, InferenceSession session)
    {
        public string Key { get; } = key;

        public InferenceSession Session { get; } = session;

        public int Users { get; set; }

        public long LastUse { get; set; }
    }

    /// <summary>The graph file.</summary>
    public string ModelPath { get; }

    /// <summary>The component name (<c>unet</c>, <c>text_encoder</c>…).</summary>
    public string ComponentName { get; }

    /// <summary>A loaded component needs no lease: it stays loaded until disposed.</summary>
    /// <exception cref="ObjectDisposedException">The component was disposed.</exception>
    public IDisposable? Acquire()
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        return null;
    }

    /// <summary>Where messages go.</summary>
    private protected ILogger Logger { get; }

    /// <summary>The live session.</summary>
    /// <exception cref="ObjectDisposedException">The component was disposed.</exception>
    internal InferenceSession Session => _session ?? throw new ObjectDisposedException(GetType().Name);

    /// <summary>Whether <see cref="Dispose()"/> ran.</summary>
    protected bool IsDisposed => _session is null;

    /// <summary>Finds an input by preferred names, else by rank among the remaining inputs.</summary>
    private protected TensorPort RequireInput(string role, string[] names, int[] ranks, TensorElementType[] types, ISet<string>? taken = null) =>
        Require(Session.InputMetadata, "input", role, names, ranks, types, taken);

    /// <summary>Finds an output by preferred names, else by rank.</summary>
    private protected TensorPort RequireOutput(string role, string[] names, int[] ranks, TensorElementType[] types) =>
        Require(Session.OutputMetadata, "output", role, names, ranks, types, null);

    /// <summary>Fails when the graph has inputs the component cannot feed.</summary>
    private protected void RejectUnknownInputs(IEnumerable<string> known)
    {
        var set = new HashSet<string>(known, StringComparer.Ordinal);
        string[] extra = Session.InputMetadata.Keys.Where(k => !set.Contains(k)).ToArray();
        if (extra.Length > 0)
        {
            throw new ModelLoadException(ModelPath,
                $"the {ComponentName} graph has input(s) {string.Join(", ", extra.Select(e => $"'{e}'"))} that a Stable Diffusion {ComponentName} does not take; inputs found: {Describe(Session.InputMetadata)}");
        }
    }

    private TensorPort Require(IReadOnlyDictionary<string, NodeMetadata> metadata, string kind, string role, string[] names, int[] ranks, TensorElementType[] types, ISet<string>? taken)
    {
        KeyValuePair<string, NodeMetadata>? found = null;
        foreach (string n in names)
        {
            if (metadata.TryGetValue(n, out NodeMetadata? m))
            {
                found = new(n, m);
                break;
            }
        }
        if (found is null)
        {
            KeyValuePair<string, NodeMetadata>[] byRank = metadata
                .Where(kv => (taken is null || !taken.Contains(kv.Key)) && kv.Value.IsTensor && ranks.Contains(kv.Value.Dimensions.Length) && types.Contains(kv.Value.ElementDataType))
                .ToArray();
            if (byRank.Length == 1)
            {
                found = byRank[0];
            }
        }
        if (found is not { } f)
        {
            throw new ModelLoadException(ModelPath,
                $"the {ComponentName} graph has no {kind} for the {role} (expected one named {string.Join(" or ", names.Select(n => $"'{n}'"))}); {kind}s found: {Describe(metadata)}");
        }
        NodeMetadata meta = f.Value;
        if (!meta.IsTensor || !types.Contains(meta.ElementDataType))
        {
            throw new ModelLoadException(ModelPath,
                $"the {ComponentName} {kind} '{f.Key}' ({role}) is {meta.ElementDataType}; expected {string.Join(" or ", types)}");
        }
        if (!ranks.Contains(meta.Dimensions.Length))
        {
            throw new ModelLoadException(ModelPath,
                $"the {ComponentName} {kind} '{f.Key}' ({role}) has rank {meta.Dimensions.Length}; expected rank {string.Join(" or ", ranks)}");
        }
        taken?.Add(f.Key);
        return new TensorPort(f.Key, meta.ElementDataType, meta.Dimensions.ToArray(), meta.SymbolicDimensions.ToArray());
    }

    private static string Describe(IReadOnlyDictionary<string, NodeMetadata> metadata) =>
        string.Join(", ", metadata.Select(kv => $"{kv.Key} {kv.Value.ElementDataType}[{string.Join(",", kv.Value.Dimensions.Select(d => d < 0 ? "?" : d.ToString(System.Globalization.CultureInfo.InvariantCulture)))}]"));

    /// <summary>Runs a one-input, one-output image graph (the VAE decoder or encoder) over a batch one item at a time,
    /// which keeps the peak memory of large batches low, through a session specialised for the item's shape where the
    /// graph is small (see <see cref="SpecializesShapes"/>).</summary>
    /// <param name="batchInput">[batch, channels, height, width].</param>
    /// <param name="inputPort">The graph input.</param>
    /// <param name="outputPort">The graph output.</param>
    /// <param name="emptyShape">The result's shape for an empty batch.</param>
    /// <param name="cancellationToken">Stops the run.</param>
    private protected Tensor<float> RunPerItem(Tensor<float> batchInput, TensorPort inputPort, TensorPort outputPort, int[] emptyShape, CancellationToken cancellationToken)
    {
        int[] shape = batchInput.Shape();
        int batch = shape[0];
        int perItem = shape[1] * shape[2] * shape[3];
        ReadOnlySpan<float> all = batchInput.AsSpan();
        float[]? result = null;
        int outPerItem = 0;
        int[] outShape = [];
        using RunOptions runOptions = CreateRunOptions(releaseMemory: true);
        using OrtTensorBuffer input = OrtTensorBuffer.Create(inputPort.ElementType, 1, shape[1], shape[2], shape[3]);
        InferenceSession session = batch == 0 ? Session
            : AcquireSession(NamedDimensions((inputPort, 0, 1), (inputPort, 1, shape[1]), (inputPort, 2, shape[2]), (inputPort, 3, shape[3])));
        try
        {
            for (int b = 0; b < batch; b++)
            {
                input.Write(all.Slice(b * perItem, perItem));
                using IDisposableReadOnlyCollection<OrtValue> outputs = RunCancellable(runOptions, () => session.Run(runOptions, [inputPort.Name], [input.Value], [outputPort.Name]), cancellationToken);
                long[] s = outputs[0].GetTensorTypeAndShape().Shape;
                if (result is null)
                {
                    outShape = [batch, (int)s[1], (int)s[2], (int)s[3]];
                    outPerItem = checked((int)(s[1] * s[2] * s[3]));
                    result = new float[checked(outPerItem * batch)];
                }
                OrtTensorBuffer.ReadValue(outputs[0], outputPort.ElementType, result.AsSpan(b * outPerItem, outPerItem));
            }
        }
        finally
        {
            ReleaseSession(session);
        }
        return TensorShapes.Wrap(result ?? [], batch == 0 ? emptyShape : outShape);
    }

    /// <summary>Runs <paramref name="action"/> translating ONNX Runtime's terminate error into cancellation, and any
    /// other ONNX Runtime failure (a graph that loads but cannot run) into a <see cref="ModelLoadException"/> naming the graph.</summary>
    private protected T RunCancellable<T>(RunOptions runOptions, Func<T> action, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        using CancellationTokenRegistration registration = cancellationToken.CanBeCanceled
            ? cancellationToken.Register(static o => ((RunOptions)o!).Terminate = true, runOptions)
            : default;
        try
        {
            return action();
        }
        catch (OnnxRuntimeException) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException("The model run was cancelled.", cancellationToken);
        }
        catch (OnnxRuntimeException ex)
        {
            throw new ModelLoadException(ModelPath, $"ONNX Runtime failed running the {ComponentName} graph: {NativeMessages.Shorten(ex.Message, ModelPath)}", ex);
        }
    }

    /// <summary>Releases the session.</summary>
    /// <param name="disposing">Whether called from <see cref="Dispose()"/>.</param>
    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            lock (_specializedLock)
            {
                foreach (SpecializedSession entry in _specialized)
                {
                    entry.Session.Dispose();
                    OnnxMetrics.SessionDisposed();
                }
                _specialized.Clear();
            }
            InferenceSession? session = Interlocked.Exchange(ref _session, null);
            if (session is not null)
            {
                session.Dispose();
                OnnxMetrics.SessionDisposed();
            }
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }
}

/// <summary>An input or output of a graph: name, element type and dimensions (−1 for symbolic).</summary>
/// <param name="Name">The tensor name.</param>
/// <param name="ElementType">The element type.</param>
/// <param name="Dimensions">The dimensions, −1 where symbolic.</param>
/// <param name="SymbolicNames">The names of symbolic dimensions (empty where fixed or unnamed).</param>
internal readonly record struct TensorPort(string Name, TensorElementType ElementType, int[] Dimensions, string[] SymbolicNames)
{
    /// <summary>The name of a symbolic dimension, or null when fixed or unnamed.</summary>
    public string? SymbolicName(int axis) =>
        axis < Dimensions.Length && Dimensions[axis] <= 0 && axis < SymbolicNames.Length && !string.IsNullOrEmpty(SymbolicNames[axis]) ? SymbolicNames[axis] : null;

    public int Rank => Dimensions.Length;

    /// <summary>The fixed size of a dimension, or null when symbolic.</summary>
    public int? Fixed(int axis) => axis < Dimensions.Length && Dimensions[axis] > 0 ? Dimensions[axis] : null;
}
