namespace Spright.Diffusion.Numerics;

/// <summary>
/// Scalar replicas of the float32 Cephes polynomials in <c>avx_mathfun.h</c> (<c>log256_ps</c>,
/// <c>sincos256_ps</c>) that torch's AVX2 <c>normal_fill</c> kernel uses, including the multiply–add
/// contractions a GCC <c>-mfma</c> build performs. Every operation is a float32 rounding in the same
/// order, so results are bit-identical to torch 1.13 on x86-64.
/// </summary>
internal static class CephesFloat
{
    private const float SqrtHalf = 0.707106781186547524f;

    /// <summary>Natural logarithm for x in (0, 1].</summary>
    public static float Log(float x)
    {
        uint bits = BitConverter.SingleToUInt32Bits(x);
        float e = (float)((int)(bits >> 23) - 127);
        e += 1f;
        float m = BitConverter.UInt32BitsToSingle((bits & 0x807FFFFFu) | 0x3F000000u);
        bool lt = m < SqrtHalf;
        float v = m - 1f;
        v += lt ? m : 0f;
        if (lt)
        {
            e -= 1f;
        }

        float z = v * v;
        float y = MathF.FusedMultiplyAdd(7.0376836292E-2f, v, -1.1514610310E-1f);
        y = MathF.FusedMultiplyAdd(y, v, 1.1676998740E-1f);
        y = MathF.FusedMultiplyAdd(y, v, -1.2420140846E-1f);
        y = MathF.FusedMultiplyAdd(y, v, 1.4249322787E-1f);
        y = MathF.FusedMultiplyAdd(y, v, -1.6668057665E-1f);
        y = MathF.FusedMultiplyAdd(y, v, 2.0000714765E-1f);
        y = MathF.FusedMultiplyAdd(y, v, -2.4999993993E-1f);
        y = MathF.FusedMultiplyAdd(y, v, 3.3333331174E-1f);
        y *= v;
        float eq1 = e * -2.12194440e-4f;
        y = MathF.FusedMultiplyAdd(y, z, eq1);
        y -= z * 0.5f;
        float xy = v + y;
        return MathF.FusedMultiplyAdd(e, 0.693359375f, xy);
    }

    /// <summary>Sine and cosine for x ≥ 0.</summary>
    public static void SinCos(float x, out float sin, out float cos)
    {
        float scaled = x * 1.27323954473516f;
        int j = (int)scaled; // truncation, as cvttps
        j = (j + 1) & ~1;
        float y = j;
        bool sinFlip = (j & 4) != 0;
        bool usePolyA = (j & 2) == 0;
        bool cosFlip = ((~(j - 2)) & 4) != 0;

        x = MathF.FusedMultiplyAdd(y, -0.78515625f, x);
        x = MathF.FusedMultiplyAdd(y, -2.4187564849853515625e-4f, x);
        x = MathF.FusedMultiplyAdd(y, -3.77489497744594108e-8f, x);
        float z = x * x;

        float a = MathF.FusedMultiplyAdd(2.443315711809948E-5f, z, -1.388731625493765E-3f);
        a = MathF.FusedMultiplyAdd(a, z, 4.166664568298827E-2f);
        a *= z;
        a = MathF.FusedMultiplyAdd(a, z, -(z * 0.5f));
        a += 1f;

        float b = MathF.FusedMultiplyAdd(-1.9515295891E-4f, z, 8.3321608736E-3f);
        b = MathF.FusedMultiplyAdd(b, z, -1.6666654611E-1f);
        b *= z;
        b = MathF.FusedMultiplyAdd(b, x, x);

        // Masked sums exactly as the SIMD code forms them (only the sign of an exact zero depends on it).
        float sinFromA = usePolyA ? 0f : a;
        float sinFromB = usePolyA ? b : 0f;
        float cosA = a - sinFromA;
        float cosB = b - sinFromB;
        sin = sinFromA + sinFromB;
        cos = cosA + cosB;
        if (sinFlip)
        {
            sin = -sin;
        }
        if (cosFlip)
        {
            cos = -cos;
        }
    }
}
