using System.Numerics.Tensors;
using Spright.Diffusion.Components;

namespace Spright.Diffusion.OnnxRuntime.LowMemory;

/// <summary>A text encoder loaded for each encoding stage and released after it.</summary>
internal sealed class OnDemandTextEncoder(OnDemand<ITextEncoder> inner, int? hiddenSize, int? maxSequenceLength) : ITextEncoder
{
    public int? HiddenSize { get; } = hiddenSize;

    public int? MaxSequenceLength { get; } = maxSequenceLength;

    /// <summary>Whether the component is resident now.</summary>
    public bool IsLoaded => inner.IsLoaded;

    public IDisposable? Acquire() => inner.Acquire();

    public Tensor<float> Encode(ReadOnlySpan<int> inputIds, int batchSize, CancellationToken cancellationToken = default)
    {
        using OnDemand<ITextEncoder>.Lease lease = inner.Acquire();
        return lease.Value.Encode(inputIds, batchSize, cancellationToken);
    }

    public void Dispose() => inner.Dispose();
}

/// <summary>A UNet loaded while a runner or lease exists; the last one's end releases it.</summary>
internal sealed class OnDemandUNet(OnDemand<IUNet> inner, UNetInfo info) : IUNet
{
    public UNetInfo Info { get; } = info;

    /// <summary>Whether the component is resident now.</summary>
    public bool IsLoaded => inner.IsLoaded;

    public IDisposable? Acquire() => inner.Acquire();

    public IUNetRunner RentRunner(UNetShape shape)
    {
        OnDemand<IUNet>.Lease lease = inner.Acquire();
        try
        {
            return new Runner(lease.Value.RentRunner(shape), lease);
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

        public void Run(float timestep, UNetRunHints hints, CancellationToken cancellationToken) => runner.Run(timestep, hints, cancellationToken);

        public void Dispose()
        {
            runner.Dispose();
            lease.Dispose();
        }
    }
}

/// <summary>A VAE decoder loaded for each decoding stage and released after it.</summary>
internal sealed class OnDemandVaeDecoder(OnDemand<IVaeDecoder> inner, VaeInfo info) : IVaeDecoder
{
    public VaeInfo Info { get; } = info;

    /// <summary>Whether the component is resident now.</summary>
    public bool IsLoaded => inner.IsLoaded;

    public IDisposable? Acquire() => inner.Acquire();

    public Tensor<float> Decode(Tensor<float> latents, CancellationToken cancellationToken = default)
    {
        using OnDemand<IVaeDecoder>.Lease lease = inner.Acquire();
        return lease.Value.Decode(latents, cancellationToken);
    }

    public void Dispose() => inner.Dispose();
}

/// <summary>A VAE encoder loaded for each encoding stage and released after it.</summary>
internal sealed class OnDemandVaeEncoder(OnDemand<IVaeEncoder> inner, VaeInfo info, VaeEncoderOutputKind kind) : IVaeEncoder
{
    public VaeInfo Info { get; } = info;

    public VaeEncoderOutputKind OutputKind { get; } = kind;

    /// <summary>Whether the component is resident now.</summary>
    public bool IsLoaded => inner.IsLoaded;

    public IDisposable? Acquire() => inner.Acquire();

    public Tensor<float> Encode(Tensor<float> images, CancellationToken cancellationToken = default)
    {
        using OnDemand<IVaeEncoder>.Lease lease = inner.Acquire();
        return lease.Value.Encode(images, cancellationToken);
    }

    public void Dispose() => inner.Dispose();
}
