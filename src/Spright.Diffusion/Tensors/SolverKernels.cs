using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace Spright.Diffusion.Tensors;

/// <summary>
/// Element-wise kernels of the multistep solvers, evaluated like the torch expressions they replace: every product
/// and every sum is its own float32 rounding, left to right (never fused). Outputs may alias inputs.
/// </summary>
internal static class SolverKernels
{
    /// <summary><c>dst = (a·x + b·y) + c·z</c>.</summary>
    public static void Combine(float a, ReadOnlySpan<float> x, float b, ReadOnlySpan<float> y, float c, ReadOnlySpan<float> z, Span<float> dst)
    {
        Check(x.Length, dst.Length);
        Check(y.Length, dst.Length);
        Check(z.Length, dst.Length);
        int i = 0;
        if (Vector.IsHardwareAccelerated && dst.Length >= Vector<float>.Count)
        {
            ReadOnlySpan<Vector<float>> vx = MemoryMarshal.Cast<float, Vector<float>>(x);
            ReadOnlySpan<Vector<float>> vy = MemoryMarshal.Cast<float, Vector<float>>(y);
            ReadOnlySpan<Vector<float>> vz = MemoryMarshal.Cast<float, Vector<float>>(z);
            Span<Vector<float>> vd = MemoryMarshal.Cast<float, Vector<float>>(dst);
            var va = new Vector<float>(a);
            var vb = new Vector<float>(b);
            var vc = new Vector<float>(c);
            for (int v = 0; v < vd.Length; v++)
            {
                Vector<float> ax = va * vx[v];
                Vector<float> by = vb * vy[v];
                Vector<float> cz = vc * vz[v];
                Vector<float> s = ax + by;
                vd[v] = s + cz;
            }
            i = vd.Length * Vector<float>.Count;
        }
        for (; i < dst.Length; i++)
        {
            float ax = a * x[i];
            float by = b * y[i];
            float cz = c * z[i];
            float s = ax + by;
            dst[i] = s + cz;
        }
    }

    /// <summary><c>dst = ((a·x + b·y) + c·z) + d·w</c>.</summary>
    public static void Combine(float a, ReadOnlySpan<float> x, float b, ReadOnlySpan<float> y, float c, ReadOnlySpan<float> z, float d, ReadOnlySpan<float> w, Span<float> dst)
    {
        Check(x.Length, dst.Length);
        Check(y.Length, dst.Length);
        Check(z.Length, dst.Length);
        Check(w.Length, dst.Length);
        int i = 0;
        if (Vector.IsHardwareAccelerated && dst.Length >= Vector<float>.Count)
        {
            ReadOnlySpan<Vector<float>> vx = MemoryMarshal.Cast<float, Vector<float>>(x);
            ReadOnlySpan<Vector<float>> vy = MemoryMarshal.Cast<float, Vector<float>>(y);
            ReadOnlySpan<Vector<float>> vz = MemoryMarshal.Cast<float, Vector<float>>(z);
            ReadOnlySpan<Vector<float>> vw = MemoryMarshal.Cast<float, Vector<float>>(w);
            Span<Vector<float>> vd = MemoryMarshal.Cast<float, Vector<float>>(dst);
            var va = new Vector<float>(a);
            var vb = new Vector<float>(b);
            var vc = new Vector<float>(c);
            var vdd = new Vector<float>(d);
            for (int v = 0; v < vd.Length; v++)
            {
                Vector<float> ax = va * vx[v];
                Vector<float> by = vb * vy[v];
                Vector<float> cz = vc * vz[v];
                Vector<float> dw = vdd * vw[v];
                Vector<float> s = ax + by;
                s += cz;
                vd[v] = s + dw;
            }
            i = vd.Length * Vector<float>.Count;
        }
        for (; i < dst.Length; i++)
        {
            float ax = a * x[i];
            float by = b * y[i];
            float cz = c * z[i];
            float dw = d * w[i];
            float s = ax + by;
            s += cz;
            dst[i] = s + dw;
        }
    }

    /// <summary><c>dst = s·(x − y)</c> (the difference rounded first).</summary>
    public static void ScaledDifference(float s, ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> dst)
    {
        TensorPrimitives.Subtract(x, y, dst);
        TensorPrimitives.Multiply(dst, s, dst);
    }

    /// <summary><c>dst = (x − y) / s</c> (true division, as torch's CPU kernel).</summary>
    public static void DifferenceOver(ReadOnlySpan<float> x, ReadOnlySpan<float> y, float s, Span<float> dst)
    {
        TensorPrimitives.Subtract(x, y, dst);
        TensorPrimitives.Divide(dst, s, dst);
    }

    private static void Check(int length, int dst)
    {
        if (length != dst)
        {
            throw new ArgumentException($"Element-wise operands must have equal lengths (got {length} → {dst}).");
        }
    }
}
