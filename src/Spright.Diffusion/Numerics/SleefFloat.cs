namespace Spright.Diffusion.Numerics;

/// <summary>
/// Scalar replicas of the SLEEF 3.5 float32 functions that torch's CPU kernels use for <c>torch.exp</c>,
/// <c>torch.log</c> and <c>torch.expm1</c> (the "vml" fallback maps every element, even of a 0-dim tensor, through
/// <c>Vectorized&lt;float&gt;</c> → <c>Sleef_expf8_u10</c> / <c>Sleef_logf8_u10</c> / <c>Sleef_expm1f8_u10</c> on AVX2).
/// The AVX2 build contracts SLEEF's multiply–add helpers into FMAs, reproduced here with
/// <see cref="MathF.FusedMultiplyAdd"/>; the double-float (<c>df</c>) arithmetic keeps SLEEF's operation order.
/// </summary>
internal static class SleefFloat
{
    private const float RecipLn2 = 1.442695040888963407359924681001892137426645954152985934135449406931f;
    private const float Ln2Upper = 0.693145751953125f;
    private const float Ln2Lower = 1.428606765330187045e-06f;

    /// <summary><c>torch.exp</c> of a float32 value (SLEEF <c>expf_u10</c>).</summary>
    public static float Exp(float d)
    {
        if (float.IsNaN(d))
        {
            return d;
        }
        int q = RoundToInt(d * RecipLn2);
        float s = MathF.FusedMultiplyAdd(q, -Ln2Upper, d);
        s = MathF.FusedMultiplyAdd(q, -Ln2Lower, s);

        float u = 0.000198527617612853646278381f;
        u = MathF.FusedMultiplyAdd(u, s, 0.00139304355252534151077271f);
        u = MathF.FusedMultiplyAdd(u, s, 0.00833336077630519866943359f);
        u = MathF.FusedMultiplyAdd(u, s, 0.0416664853692054748535156f);
        u = MathF.FusedMultiplyAdd(u, s, 0.166666671633720397949219f);
        u = MathF.FusedMultiplyAdd(u, s, 0.5f);
        u = 1f + MathF.FusedMultiplyAdd(s * s, u, s);
        u = LdExp2(u, q);

        if (d < -104f)
        {
            u = 0f;
        }
        if (100f < d)
        {
            u = float.PositiveInfinity;
        }
        return u;
    }

    /// <summary><c>torch.log</c> of a float32 value (SLEEF <c>logf_u10</c>, non-AVX512 path).</summary>
    public static float Log(float d)
    {
        if (float.IsNaN(d) || d < 0f)
        {
            return float.NaN;
        }
        if (d == 0f)
        {
            return float.NegativeInfinity;
        }
        if (float.IsPositiveInfinity(d))
        {
            return float.PositiveInfinity;
        }
        bool tiny = d < 1.17549435E-38f; // FLT_MIN
        if (tiny)
        {
            d *= 1.8446744073709552E19f; // 2^64
        }
        int e = ILogB2K(d * (1f / 0.75f));
        float m = LdExp3(d, -e);
        if (tiny)
        {
            e -= 64;
        }

        DF s = MulDF(new DF(0.69314718246459960938f, -1.904654323148236017e-09f), e);
        DF x = DivDF(Add2(-1f, m), Add2(1f, m));
        float x2 = x.X * x.X;

        float t = 0.3027294874f;
        t = MathF.FusedMultiplyAdd(t, x2, 0.3996108174f);
        t = MathF.FusedMultiplyAdd(t, x2, 0.6666694880f);

        s = AddDF(s, new DF(x.X * 2f, x.Y * 2f));
        s = AddDF(s, x2 * x.X * t);
        return s.X + s.Y;
    }

    /// <summary><c>torch.expm1</c> of a float32 value (SLEEF <c>expm1f_u10</c>).</summary>
    public static float Expm1(float a)
    {
        if (float.IsNaN(a))
        {
            return a;
        }
        DF d = Add2(ExpK2(new DF(a, 0f)), -1f);
        float x = d.X + d.Y;
        if (a > 88.72283172607421875f)
        {
            x = float.PositiveInfinity;
        }
        if (a < -16.635532333438687426013570f)
        {
            x = -1f;
        }
        if (a == 0f && float.IsNegative(a))
        {
            x = -0f;
        }
        return x;
    }

    // e^d as a double-float (SLEEF expk2f).
    private static DF ExpK2(DF d)
    {
        float u = (d.X + d.Y) * RecipLn2;
        int q = RoundToInt(u);
        DF s = Add2(d, q * -Ln2Upper);
        s = Add2(s, q * -Ln2Lower);

        u = 0.1980960224e-3f;
        u = MathF.FusedMultiplyAdd(u, s.X, 0.1394256484e-2f);
        u = MathF.FusedMultiplyAdd(u, s.X, 0.8333456703e-2f);
        u = MathF.FusedMultiplyAdd(u, s.X, 0.4166637361e-1f);

        DF t = Add2(MulDF(s, u), 0.166666659414234244790680580464e+0f);
        t = Add2(MulDF(s, t), 0.5f);
        t = Add2(s, MulDF(SquareDF(s), t));
        t = AddDF(1f, t);

        t = new DF(LdExp2(t.X, q), LdExp2(t.Y, q));
        if (d.X < -104f)
        {
            t = new DF(0f, 0f);
        }
        return t;
    }

    /// <summary>cvtps2dq: round to nearest even (out-of-range values give int.MinValue).</summary>
    private static int RoundToInt(float x)
    {
        float r = MathF.Round(x, MidpointRounding.ToEven);
        return r >= -2147483648f && r < 2147483648f ? (int)r : int.MinValue;
    }

    private static float Pow2I(int q) => BitConverter.Int32BitsToSingle((q + 0x7f) << 23);

    private static float LdExp2(float d, int e) => d * Pow2I(e >> 1) * Pow2I(e - (e >> 1));

    private static float LdExp3(float d, int q) => BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(d) + (q << 23));

    private static int ILogB2K(float d) => ((BitConverter.SingleToInt32Bits(d) >>> 23) & 0xff) - 0x7f;

    private static float FmaPN(float x, float y, float z) => MathF.FusedMultiplyAdd(x, y, -z); // x·y − z

    private static float FmaNP(float x, float y, float z) => MathF.FusedMultiplyAdd(-x, y, z); // −x·y + z

    // dfadd2_vf2_vf_vf
    private static DF Add2(float x, float y)
    {
        float s = x + y;
        float v = s - x;
        return new DF(s, (x - (s - v)) + (y - v));
    }

    // dfadd2_vf2_vf2_vf
    private static DF Add2(DF x, float y)
    {
        float s = x.X + y;
        float v = s - x.X;
        float t = (x.X - (s - v)) + (y - v);
        return new DF(s, t + x.Y);
    }

    // dfadd2_vf2_vf2_vf2
    private static DF Add2(DF x, DF y)
    {
        float s = x.X + y.X;
        float v = s - x.X;
        float t = (x.X - (s - v)) + (y.X - v);
        return new DF(s, t + (x.Y + y.Y));
    }

    // dfadd_vf2_vf2_vf2 (|x| ≥ |y|)
    private static DF AddDF(DF x, DF y)
    {
        float s = x.X + y.X;
        return new DF(s, (((x.X - s) + y.X) + x.Y) + y.Y);
    }

    // dfadd_vf2_vf2_vf
    private static DF AddDF(DF x, float y)
    {
        float s = x.X + y;
        return new DF(s, ((x.X - s) + y) + x.Y);
    }

    // dfadd_vf2_vf_vf2
    private static DF AddDF(float x, DF y)
    {
        float s = x + y.X;
        return new DF(s, ((x - s) + y.X) + y.Y);
    }

    // dfmul_vf2_vf2_vf (FMA)
    private static DF MulDF(DF x, float y)
    {
        float s = x.X * y;
        return new DF(s, MathF.FusedMultiplyAdd(x.Y, y, FmaPN(x.X, y, s)));
    }

    // dfmul_vf2_vf2_vf2 (FMA)
    private static DF MulDF(DF x, DF y)
    {
        float s = x.X * y.X;
        return new DF(s, MathF.FusedMultiplyAdd(x.X, y.Y, MathF.FusedMultiplyAdd(x.Y, y.X, FmaPN(x.X, y.X, s))));
    }

    // dfsqu_vf2_vf2 (FMA)
    private static DF SquareDF(DF x)
    {
        float s = x.X * x.X;
        return new DF(s, MathF.FusedMultiplyAdd(x.X + x.X, x.Y, FmaPN(x.X, x.X, s)));
    }

    // dfdiv_vf2_vf2_vf2 (FMA)
    private static DF DivDF(DF n, DF d)
    {
        float t = 1f / d.X;
        float s = n.X * t;
        float u = FmaPN(t, n.X, s);
        float v = FmaNP(d.Y, t, FmaNP(d.X, t, 1f));
        return new DF(s, MathF.FusedMultiplyAdd(s, v, MathF.FusedMultiplyAdd(n.Y, t, u)));
    }

    private readonly record struct DF(float X, float Y);
}
