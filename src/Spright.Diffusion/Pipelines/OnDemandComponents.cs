using System.Numerics.Tensors;
using Spright.Diffusion.Models;

namespace Spright.Diffusion.Pipelines;

/// <summary>
/// A component of a low-memory pipeline (<see cref="DiffusionPipelineOptions.LowMemory"/>): loaded when a stage needs
/// it and released when the last holder lets go, so only one large model is resident at a time.
/// </summary>
internal interface IOnDemandComponent
{
    /// <summary>Loads the component if needed and keeps it loaded until the returned lease is disposed.</summary>
    /// <param name="observer">Told how long a load took, if one was needed.</param>
    IDisposable Acquire(IGenerationObserver? observer = null);
}

/// <summary>Reference-counted, lazily loaded instance of a component.</summary>
internal sealed class OnDemand<T> : IOnDemandComponent, IDisposable where T : class, IDisposable
{
    private readonly Func<T> _load;
    private readonly Lock _gate = new();
    private T? _value;
    private int _leases;
    private bool _disposed;

    public OnDemand(Func<T> load, T? loaded = null)
    {
        _load = load;
        _value = loaded;
    }

    /// <summary>Whether the component is resident now.</summary>
    public bool IsLoaded
    {
        get
        {
            lock (_gate)
            {
                return _value is not null;
            }
        }
    }

    public IDisposable Acquire(IGenerationObserver? observer = null) => AcquireLease(observer);

    public Lease AcquireLease(IGenerationObserver? observer = null)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_value is null)
            {
                long start = System.Diagnostics.Stopwatch.GetTimestamp();
                _value = _load();
                observer?.OnStage(GenerationStage.Load, -1, System.Diagnostics.Stopwatch.GetTimestamp() - start);
            }
            _leases++;
            return new Lease(this, _value);
        }
    }

    /// <summary>Releases the component now unless a stage holds it.</summary>
    public void ReleaseIfIdle()
    {
        T? toDispose = null;
        lock (_gate)
        {
            if (_leases == 0)
            {
                toDispose = _value;
                _value = null;
            }
        }
        toDispose?.Dispose();
    }

    public void Dispose()
    {
        T? toDispose;
        lock (_gate)
        {
            _disposed = true;
            toDispose = _value;
            _value = null;
        }
        toDispose?.Dispose();
    }

    private void Release()
    {
        T? toDispose = null;
        lock (_gate)
        {
            if (--_leases == 0)
            {
                toDispose = _value;
                _value = null;
            }
        }
        toDispose?.Dispose();
    }

    /// <summary>Keeps the component loaded while held.</summary>
    internal sealed class Lease(OnDemand<T> owner, T value) : IDisposable
    {
        private OnDemand<T>? _owner = owner;

        public T Value { get; } = value;

        public void Dispose() => Interlocked.Exchange(ref _owner, null)?.Release();
    }
}

/// <summary>A text encoder loaded for each encoding stage and released after it.</summary>
internal sealed class OnDemandTextEncoder(OnDemand<ITextEncoder> inner, int? hiddenSize) : ITextEncoder, IOnDemandComponent
{
    public int? HiddenSize { get; } = hiddenSize;

    /// <summary>Whether the component is resident now.</summary>
    public bool IsLoaded => inner.IsLoaded;

    public IDisposable Acquire(IGenerationObserver? observer = null) => inner.Acquire(observer);

    public Tensor<float> Encode(ReadOnlySpan<int> inputIds, int batchSize, CancellationToken cancellationToken = default)
    {
        using OnDemand<ITextEncoder>.Lease lease = inner.AcquireLease();
        return lease.Value.Encode(inputIds, batchSize, cancellationToken);
    }

    public void Dispose() => inner.Dispose();
}

/// <summary>A UNet loaded while a runner exists; the last runner's disposal releases it.</summary>
internal sealed class OnDemandUNet(OnDemand<IUNet> inner, int inChannels, int? sampleSize, int? crossAttentionDim) : IUNet, IOnDemandComponent
{
    public int InChannels { get; } = inChannels;

    public int? SampleSize { get; } = sampleSize;

    public int? CrossAttentionDim { get; } = crossAttentionDim;

    /// <summary>Whether the component is resident now.</summary>
    public bool IsLoaded => inner.IsLoaded;

    public IDisposable Acquire(IGenerationObserver? observer = null) => inner.Acquire(observer);

    public IUNetRunner CreateRunner(UNetShape shape)
    {
        OnDemand<IUNet>.Lease lease = inner.AcquireLease();
        try
        {
            return new Runner(lease.Value.CreateRunner(shape), lease);
        }
        catch
        {
            lease.Dispose();
            throw;
        }
    }

    public void Dispose() => inner.Dispose();

    private sealed class Runner(IUNetRunner runner, IDisposable lease) : IUNetRunner
    {
        public UNetShape Shape => runner.Shape;

        public Span<float> Sample => runner.Sample;

        public Span<float> EncoderHiddenStates => runner.EncoderHiddenStates;

        public ReadOnlySpan<float> Output => runner.Output;

        public void Run(float timestep, CancellationToken cancellationToken = default) => runner.Run(timestep, cancellationToken);

        public void Run(float timestep, bool releaseMemory, CancellationToken cancellationToken) => runner.Run(timestep, releaseMemory, cancellationToken);

        public void Dispose()
        {
            runner.Dispose();
            lease.Dispose();
        }
    }
}

/// <summary>A VAE decoder loaded for each decoding stage and released after it.</summary>
internal sealed class OnDemandVaeDecoder(OnDemand<IVaeDecoder> inner, VaeInfo info) : IVaeDecoder, IOnDemandComponent
{
    public VaeInfo Info { get; } = info;

    /// <summary>Whether the component is resident now.</summary>
    public bool IsLoaded => inner.IsLoaded;

    public IDisposable Acquire(IGenerationObserver? observer = null) => inner.Acquire(observer);

    public Tensor<float> Decode(Tensor<float> latents, CancellationToken cancellationToken = default)
    {
        using OnDemand<IVaeDecoder>.Lease lease = inner.AcquireLease();
        return lease.Value.Decode(latents, cancellationToken);
    }

    public void Dispose() => inner.Dispose();
}

/// <summary>A VAE encoder loaded for each encoding stage and released after it.</summary>
internal sealed class OnDemandVaeEncoder(OnDemand<IVaeEncoder> inner, VaeInfo info, VaeEncoderOutputKind kind) : IVaeEncoder, IOnDemandComponent
{
    public VaeInfo Info { get; } = info;

    public VaeEncoderOutputKind OutputKind { get; } = kind;

    /// <summary>Whether the component is resident now.</summary>
    public bool IsLoaded => inner.IsLoaded;

    public IDisposable Acquire(IGenerationObserver? observer = null) => inner.Acquire(observer);

    public Tensor<float> Encode(Tensor<float> images, CancellationToken cancellationToken = default)
    {
        using OnDemand<IVaeEncoder>.Lease lease = inner.AcquireLease();
        return lease.Value.Encode(images, cancellationToken);
    }

    public void Dispose() => inner.Dispose();
}
