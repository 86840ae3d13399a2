using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace Spright.Diffusion.Tensors;

/// <summary>
/// SIMD element-wise kernels with torch's float32 rounding: every multiply and add is rounded separately
/// (never fused), so results match torch's unfused CPU kernels bit for bit.
/// </summary>
internal static class ElementwiseOps
{
    /// <summary><c>dst = a·x + b·y</c> (three roundings: a·x, b·y, the sum). <paramref name="dst"/> may alias an input.</summary>
    public static void LinearCombination(float a, ReadOnlySpan<float> x, float b, ReadOnlySpan<float> y, Span<float> dst)
    {
        CheckLengths(x.Length, y.Length, dst.Length);
        int i = 0;
        if (Vector.IsHardwareAccelerated && x.Length >= Vector<float>.Count)
        {
            ReadOnlySpan<Vector<float>> vx = MemoryMarshal.Cast<float, Vector<float>>(x);
            ReadOnlySpan<Vector<float>> vy = MemoryMarshal.Cast<float, Vector<float>>(y);
            Span<Vector<float>> vd = MemoryMarshal.Cast<float, Vector<float>>(dst);
            var va = new Vector<float>(a);
            var vb = new Vector<float>(b);
            for (int v = 0; v < vd.Length; v++)
            {
                Vector<float> ax = va * vx[v];
                Vector<float> by = vb * vy[v];
                vd[v] = ax + by;
            }
            i = vd.Length * Vector<float>.Count;
        }
        for (; i < dst.Length; i++)
        {
            float ax = a * x[i];
            float by = b * y[i];
            dst[i] = ax + by;
        }
    }

    /// <summary><c>dst = (x − a·y) / c</c> with separate roundings (diffusers' epsilon → x₀ form).</summary>
    public static void SubtractScaledThenDivide(ReadOnlySpan<float> x, float a, ReadOnlySpan<float> y, float c, Span<float> dst)
    {
        CheckLengths(x.Length, y.Length, dst.Length);
        int i = 0;
        if (Vector.IsHardwareAccelerated && x.Length >= Vector<float>.Count)
        {
            ReadOnlySpan<Vector<float>> vx = MemoryMarshal.Cast<float, Vector<float>>(x);
            ReadOnlySpan<Vector<float>> vy = MemoryMarshal.Cast<float, Vector<float>>(y);
            Span<Vector<float>> vd = MemoryMarshal.Cast<float, Vector<float>>(dst);
            var va = new Vector<float>(a);
            var vc = new Vector<float>(c);
            for (int v = 0; v < vd.Length; v++)
            {
                Vector<float> ay = va * vy[v];
                vd[v] = (vx[v] - ay) / vc;
            }
            i = vd.Length * Vector<float>.Count;
        }
        for (; i < dst.Length; i++)
        {
            float ay = a * y[i];
            dst[i] = (x[i] - ay) / c;
        }
    }

    /// <summary><c>dst = x + a·y</c> (two roundings).</summary>
    public static void AddScaled(ReadOnlySpan<float> x, float a, ReadOnlySpan<float> y, Span<float> dst)
    {
        CheckLengths(x.Length, y.Length, dst.Length);
        int i = 0;
        if (Vector.IsHardwareAccelerated && x.Length >= Vector<float>.Count)
        {
            ReadOnlySpan<Vector<float>> vx = MemoryMarshal.Cast<float, Vector<float>>(x);
            ReadOnlySpan<Vector<float>> vy = MemoryMarshal.Cast<float, Vector<float>>(y);
            Span<Vector<float>> vd = MemoryMarshal.Cast<float, Vector<float>>(dst);
            var va = new Vector<float>(a);
            for (int v = 0; v < vd.Length; v++)
            {
                Vector<float> ay = va * vy[v];
                vd[v] = vx[v] + ay;
            }
            i = vd.Length * Vector<float>.Count;
        }
        for (; i < dst.Length; i++)
        {
            float ay = a * y[i];
            dst[i] = x[i] + ay;
        }
    }

    /// <summary><c>dst = a·x</c>.</summary>
    public static void Scale(ReadOnlySpan<float> x, float a, Span<float> dst) => TensorPrimitives.Multiply(x, a, dst);

    private static void CheckLengths(int x, int y, int dst)
    {
        if (x != dst || y != dst)
        {
            throw new ArgumentException($"Element-wise operands must have equal lengths (got {x}, {y} → {dst}).");
        }
    }
}
