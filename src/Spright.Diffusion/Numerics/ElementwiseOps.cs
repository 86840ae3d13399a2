using System.Numerics;
using System.Runtime.InteropServices;

namespace Spright.Diffusion.Numerics;

/// <summary>
/// The element-wise kernels of the schedulers, rounded like torch's float32 CPU kernels: every product, sum and
/// quotient of the Python expression is rounded on its own, in the expression's order (never fused into an FMA).
/// Each kernel reads element i of every input before writing element i, so the destination may be the same span as
/// any input (but must not partly overlap one).
/// </summary>
internal static class ElementwiseOps
{
    /// <summary><c>dst = x + a·y</c>.</summary>
    public static void AddScaled(ReadOnlySpan<float> x, float a, ReadOnlySpan<float> y, Span<float> dst)
    {
        Check(x.Length, y.Length, dst.Length);
        int i = 0;
        if (Vector.IsHardwareAccelerated && dst.Length >= Vector<float>.Count)
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

    /// <summary><c>dst = a·x + b·y</c>.</summary>
    public static void LinearCombination(float a, ReadOnlySpan<float> x, float b, ReadOnlySpan<float> y, Span<float> dst)
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

    /// <summary><c>dst = (a·x + b·y) + c·z</c>.</summary>
    public static void LinearCombination(float a, ReadOnlySpan<float> x, float b, ReadOnlySpan<float> y, float c, ReadOnlySpan<float> z, Span<float> dst)
    {
        Check(x.Length, y.Length, dst.Length);
        Check(z.Length, z.Length, dst.Length);
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
    public static void LinearCombination(float a, ReadOnlySpan<float> x, float b, ReadOnlySpan<float> y, float c, ReadOnlySpan<float> z,
        float d, ReadOnlySpan<float> w, Span<float> dst)
    {
        Check(x.Length, y.Length, dst.Length);
        Check(z.Length, w.Length, dst.Length);
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

    /// <summary><c>dst = (x − a·y) / c</c> (the ε → x₀ form).</summary>
    public static void SubtractScaledThenDivide(ReadOnlySpan<float> x, float a, ReadOnlySpan<float> y, float c, Span<float> dst)
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

    /// <summary><c>dst = x·a + y / c</c> (the v-prediction x₀ of the sigma schedulers).</summary>
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

    /// <summary><c>dst = (x − y) / c</c>.</summary>
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

    /// <summary><c>dst = s·(x − y)</c>.</summary>
    public static void ScaledDifference(float s, ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> dst)
    {
        Check(x.Length, y.Length, dst.Length);
        int i = 0;
        if (Vector.IsHardwareAccelerated && dst.Length >= Vector<float>.Count)
        {
            ReadOnlySpan<Vector<float>> vx = MemoryMarshal.Cast<float, Vector<float>>(x);
            ReadOnlySpan<Vector<float>> vy = MemoryMarshal.Cast<float, Vector<float>>(y);
            Span<Vector<float>> vd = MemoryMarshal.Cast<float, Vector<float>>(dst);
            var vs = new Vector<float>(s);
            for (int v = 0; v < vd.Length; v++)
            {
                vd[v] = (vx[v] - vy[v]) * vs;
            }
            i = vd.Length * Vector<float>.Count;
        }
        for (; i < dst.Length; i++)
        {
            float d = x[i] - y[i];
            dst[i] = d * s;
        }
    }

    /// <summary><c>dst = a·x − (b·y) / c</c> (PNDM's formula (9)).</summary>
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

    /// <summary>PLMS fourth order: <c>dst = (1/24)·(55·e1 − 59·e2 + 37·e3 − 9·e4)</c>, with 1/24 rounded to float32 as
    /// torch rounds a Python scalar.</summary>
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
