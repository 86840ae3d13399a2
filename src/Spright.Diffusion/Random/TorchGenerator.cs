using System.Numerics.Tensors;
using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Random;

/// <summary>
/// A bit-exact replica of <c>torch.Generator("cpu")</c> with <c>torch.randn</c> and <c>torch.rand</c> for
/// float32 tensors (torch 1.13, x86-64 AVX2 kernel). Seeding it like diffusers users seed torch gives the
/// same initial noise, so the same seed gives the same image.
/// </summary>
/// <remarks>
/// Follows <c>aten/src/ATen/CPUGeneratorImpl.cpp</c>, <c>core/DistributionsHelper.h</c> and
/// <c>native/cpu/DistributionTemplates.h</c> (<c>normal_fill_AVX2</c>). A generator is not thread-safe:
/// use one per concurrent generation.
/// </remarks>
public sealed class TorchGenerator
{
    /// <summary>torch's default CPU seed (<c>default_rng_seed_val</c>).</summary>
    public const ulong DefaultSeed = 67280421310721UL;

    private const int BlockSize = 16;

    private Mt19937 _engine;
    private double? _cachedNormal;

    /// <summary>Creates a generator seeded with torch's default seed.</summary>
    public TorchGenerator()
        : this(DefaultSeed)
    {
    }

    /// <summary>Creates a generator and seeds it, like <c>torch.Generator("cpu").manual_seed(seed)</c>.</summary>
    /// <param name="seed">The seed; only its low 32 bits reach the engine, as in torch.</param>
    public TorchGenerator(ulong seed)
    {
        _engine = new Mt19937((uint)seed);
        InitialSeed = seed;
    }

    /// <summary>Creates a generator from a signed seed (negative seeds wrap as in torch).</summary>
    /// <param name="seed">The seed; only its low 32 bits reach the engine.</param>
    public TorchGenerator(long seed)
        : this(unchecked((ulong)seed))
    {
    }

    /// <summary>The seed given last to <see cref="ManualSeed(ulong)"/> (torch's <c>initial_seed()</c>).</summary>
    public ulong InitialSeed { get; private set; }

    /// <summary>Re-seeds the generator and clears the cached normal sample, like <c>manual_seed</c>.</summary>
    /// <param name="seed">The seed; only its low 32 bits reach the engine.</param>
    /// <returns>This generator, for chaining.</returns>
    public TorchGenerator ManualSeed(ulong seed)
    {
        _engine.Seed((uint)seed);
        _cachedNormal = null;
        InitialSeed = seed;
        return this;
    }

    /// <summary>Re-seeds the generator from a signed seed (negative seeds wrap as in torch).</summary>
    /// <param name="seed">The seed.</param>
    /// <returns>This generator, for chaining.</returns>
    public TorchGenerator ManualSeed(long seed) => ManualSeed(unchecked((ulong)seed));

    /// <summary>Returns an independent copy with the same state (as <c>get_state</c>/<c>set_state</c> would give).</summary>
    /// <returns>A generator that will produce the same future stream as this one.</returns>
    public TorchGenerator Clone()
    {
        var copy = new TorchGenerator(InitialSeed);
        copy._engine = _engine.Clone();
        copy._cachedNormal = _cachedNormal;
        return copy;
    }

    /// <summary>One raw 32-bit draw from the engine (torch's <c>random()</c>).</summary>
    /// <returns>The next 32-bit value.</returns>
    public uint NextUInt32() => _engine.NextUInt32();

    /// <summary>One raw 64-bit draw: two 32-bit draws, the first in the high half (torch's <c>random64()</c>).</summary>
    /// <returns>The next 64-bit value.</returns>
    public ulong NextUInt64()
    {
        ulong hi = _engine.NextUInt32();
        ulong lo = _engine.NextUInt32();
        return (hi << 32) | lo;
    }

    /// <summary>A float32 uniform in [0, 1) with 24 random bits, as <c>torch.rand</c> draws it.</summary>
    /// <returns>The next float uniform.</returns>
    public float NextSingle() => (_engine.NextUInt32() & 0xFFFFFFu) * (1.0f / 16777216.0f);

    /// <summary>A float64 uniform in [0, 1) with 53 random bits (torch's <c>uniform_real_distribution&lt;double&gt;</c>).</summary>
    /// <returns>The next double uniform.</returns>
    public double NextDouble() => (NextUInt64() & ((1UL << 53) - 1)) * (1.0 / 9007199254740992.0);

    /// <summary>Fills <paramref name="destination"/> like <c>torch.rand(n, generator=g)</c> for a contiguous float32 tensor.</summary>
    /// <param name="destination">Where to write; its length is the tensor's element count.</param>
    public void Rand(Span<float> destination)
    {
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = NextSingle();
        }
    }

    /// <summary>Fills <paramref name="destination"/> like <c>torch.randn(shape, generator=g)</c> for a contiguous
    /// float32 tensor of <c>destination.Length</c> elements (only the element count matters to torch).</summary>
    /// <param name="destination">Where to write; its length is the tensor's element count.</param>
    public void Randn(Span<float> destination)
    {
        int n = destination.Length;
        if (n >= BlockSize)
        {
            FillNormalVectorized(destination);
        }
        else
        {
            for (int i = 0; i < n; i++)
            {
                destination[i] = (float)NextScalarNormal();
            }
        }
    }

    /// <summary>Allocates a tensor and fills it like <c>torch.randn(shape, generator=g)</c>.</summary>
    /// <param name="shape">The tensor shape.</param>
    /// <returns>A new dense float32 tensor.</returns>
    public Tensor<float> Randn(params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        var data = new float[Spright.Diffusion.Numerics.TensorShapes.ElementCount(shape, nameof(shape))];
        Randn(data);
        return Spright.Diffusion.Numerics.TensorShapes.Wrap(data, shape);
    }

    /// <summary>Allocates a tensor and fills it like <c>torch.rand(shape, generator=g)</c>.</summary>
    /// <param name="shape">The tensor shape.</param>
    /// <returns>A new dense float32 tensor.</returns>
    public Tensor<float> Rand(params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        var data = new float[Spright.Diffusion.Numerics.TensorShapes.ElementCount(shape, nameof(shape))];
        Rand(data);
        return Spright.Diffusion.Numerics.TensorShapes.Wrap(data, shape);
    }

    /// <summary>One sample of torch's scalar <c>normal_distribution&lt;double&gt;</c> (Box–Muller with a cached second value).</summary>
    private double NextScalarNormal()
    {
        if (_cachedNormal is double cached)
        {
            _cachedNormal = null;
            return cached;
        }

        double u1 = NextDouble();
        double u2 = NextDouble();
        double r = Math.Sqrt(-2.0 * Math.Log(1.0 - u2));
        double theta = 2.0 * Math.PI * u1;
        _cachedNormal = r * Math.Sin(theta);
        return r * Math.Cos(theta);
    }

    private void FillNormalVectorized(Span<float> data)
    {
        int n = data.Length;
        for (int i = 0; i < n; i++)
        {
            data[i] = NextSingle();
        }

        int fullBlocks = n / BlockSize;
        for (int b = 0; b < fullBlocks; b++)
        {
            BoxMuller16(data.Slice(b * BlockSize, BlockSize));
        }

        if (n % BlockSize != 0)
        {
            // torch recomputes the last 16 values from 16 fresh uniforms.
            Span<float> tail = data.Slice(n - BlockSize, BlockSize);
            for (int i = 0; i < BlockSize; i++)
            {
                tail[i] = NextSingle();
            }
            BoxMuller16(tail);
        }
    }

    private static void BoxMuller16(Span<float> block)
    {
        for (int j = 0; j < 8; j++)
        {
            float u1 = 1f - block[j];
            float u2 = block[j + 8];
            float radius = MathF.Sqrt(-2f * CephesFloat.Log(u1));
            float theta = 6.2831855f * u2;
            CephesFloat.SinCos(theta, out float sin, out float cos);
            block[j] = radius * cos;
            block[j + 8] = radius * sin;
        }
    }
}
