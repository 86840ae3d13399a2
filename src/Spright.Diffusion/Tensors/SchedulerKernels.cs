using System.Numerics;
using System.Runtime.InteropServices;

namespace Spright.Diffusion.Tensors;

/// <summary>
/// Element-wise kernels for the sigma / multistep schedulers, with torch's float32 rounding: each multiply, add and
/// divide of the Python expression is rounded separately, in the same order (never fused). Every kernel reads the
/// inputs of element i before writing element i, so the destination may alias any input.
/// </summary>
internal static class SchedulerKernels
{
    /// <summary><c>dst = x·a + y / c</c> (diffusers' v-prediction x₀ for sigma schedulers: four roundings).</summary>
    public static void ScaleAddQuotient(ReadOnlySpan<float> x, float a, ReadOnlySpan<float> y, float c, Span<float> dst)
    {
        Check(x.Length, y.Length, dst.Length);
        int i = 0;
        if (Vector.IsHardwareAccelerated && dst.Length >= Vector<float>.Count)
        {
            ReadOnlySpan<Vector<float>> vx = MemoryMarshal.Cast<float, Vector<float>>(x);
            ReadOnlySpan<Vector<float>> vy = MemoryMarshal.Cast<float, Vector<float>>(y);
            Span<Vector<float>> vd = MemoryMarshal.Cast<float, Vector<float>>(dst);
            var va = new Vector<float>(a);
            var vc = new Vector<float>(c);
            for (int v = 0; v < vd.Length; v++)
            {
                Vector<float> p = vx[v] * va;
                Vector<float> q = vy[v] / vc;
                vd[v] = p + q;
            }
            i = vd.Length * Vector<float>.Count;
        }
        for (; i < dst.Length; i++)
        {
            float p = x[i] * a;
            float q = y[i] / c;
            dst[i] = p + q;
        }
    }

    /// <summary><c>dst = (x − y) / c</c> (the ODE derivative of the sigma schedulers).</summary>
    public static void DifferenceQuotient(ReadOnlySpan<float> x, ReadOnlySpan<float> y, float c, Span<float> dst)
    {
        Check(x.Length, y.Length, dst.Length);
        int i = 0;
        if (Vector.IsHardwareAccelerated && dst.Length >= Vector<float>.Count)
        {
            ReadOnlySpan<Vector<float>> vx = MemoryMarshal.Cast<float, Vector<float>>(x);
            ReadOnlySpan<Vector<float>> vy = MemoryMarshal.Cast<float, Vector<float>>(y);
            Span<Vector<float>> vd = MemoryMarshal.Cast<float, Vector<float>>(dst);
            var vc = new Vector<float>(c);
            for (int v = 0; v < vd.Length; v++)
            {
                vd[v] = (vx[v] - vy[v]) / vc;
            }
            i = vd.Length * Vector<float>.Count;
        }
        for (; i < dst.Length; i++)
        {
            float d = x[i] - y[i];
            dst[i] = d / c;
        }
    }

    /// <summary><c>dst = a·x − (b·y) / c</c> (PNDM's formula (9) update).</summary>
    public static void ScaledMinusScaledQuotient(float a, ReadOnlySpan<float> x, float b, ReadOnlySpan<float> y, float c, Span<float> dst)
    {
        Check(x.Length, y.Length, dst.Length);
        int i = 0;
        if (Vector.IsHardwareAccelerated && dst.Length >= Vector<float>.Count)
        {
            ReadOnlySpan<Vector<float>> vx = MemoryMarshal.Cast<float, Vector<float>>(x);
            ReadOnlySpan<Vector<float>> vy = MemoryMarshal.Cast<float, Vector<float>>(y);
            Span<Vector<float>> vd = MemoryMarshal.Cast<float, Vector<float>>(dst);
            var va = new Vector<float>(a);
            var vb = new Vector<float>(b);
            var vc = new Vector<float>(c);
            for (int v = 0; v < vd.Length; v++)
            {
                Vector<float> p = va * vx[v];
                Vector<float> q = (vb * vy[v]) / vc;
                vd[v] = p - q;
            }
            i = vd.Length * Vector<float>.Count;
        }
        for (; i < dst.Length; i++)
        {
            float p = a * x[i];
            float by = b * y[i];
            float q = by / c;
            dst[i] = p - q;
        }
    }

    /// <summary><c>dst = (x + y) / 2</c>.</summary>
    public static void Average(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> dst)
    {
        Check(x.Length, y.Length, dst.Length);
        for (int i = 0; i < dst.Length; i++)
        {
            float s = x[i] + y[i];
            dst[i] = s / 2f;
        }
    }

    /// <summary>PLMS second order: <c>dst = (3·e1 − e2) / 2</c>.</summary>
    public static void Plms2(ReadOnlySpan<float> e1, ReadOnlySpan<float> e2, Span<float> dst)
    {
        Check(e1.Length, e2.Length, dst.Length);
        for (int i = 0; i < dst.Length; i++)
        {
            float a = 3f * e1[i];
            float s = a - e2[i];
            dst[i] = s / 2f;
        }
    }

    /// <summary>PLMS third order: <c>dst = (23·e1 − 16·e2 + 5·e3) / 12</c>.</summary>
    public static void Plms3(ReadOnlySpan<float> e1, ReadOnlySpan<float> e2, ReadOnlySpan<float> e3, Span<float> dst)
    {
        Check(e1.Length, e2.Length, dst.Length);
        Check(e3.Length, e3.Length, dst.Length);
        for (int i = 0; i < dst.Length; i++)
        {
            float a = 23f * e1[i];
            float b = 16f * e2[i];
            float s = a - b;
            float c = 5f * e3[i];
            s += c;
            dst[i] = s / 12f;
        }
    }

    /// <summary>PLMS fourth order: <c>dst = (1/24)·(55·e1 − 59·e2 + 37·e3 − 9·e4)</c>, the 1/24 rounded to float32 as torch does with a Python scalar.</summary>
    public static void Plms4(ReadOnlySpan<float> e1, ReadOnlySpan<float> e2, ReadOnlySpan<float> e3, ReadOnlySpan<float> e4, Span<float> dst)
    {
        Check(e1.Length, e2.Length, dst.Length);
        Check(e3.Length, e4.Length, dst.Length);
        const float OneOver24 = (float)(1.0 / 24.0);
        for (int i = 0; i < dst.Length; i++)
        {
            float a = 55f * e1[i];
            float b = 59f * e2[i];
            float s = a - b;
            float c = 37f * e3[i];
            s += c;
            float d = 9f * e4[i];
            s -= d;
            dst[i] = OneOver24 * s;
        }
    }

    private static void Check(int x, int y, int dst)
    {
        if (x != dst || y != dst)
        {
            throw new ArgumentException($"Element-wise operands must have equal lengths (got {x}, {y} → {dst}).");
        }
    }
}
