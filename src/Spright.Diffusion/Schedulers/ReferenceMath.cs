namespace Spright.Diffusion.Schedulers;

/// <summary>
/// The float32 <c>log</c>/<c>exp</c> that diffusers' reference stack actually evaluates, so that schedules derived from
/// them match bit for bit: torch 1.13's CPU tensor <c>log()</c>/<c>exp()</c> go through SLEEF's 1-ulp vector routines
/// (<c>Sleef_logf8_u10</c>, <c>Sleef_expf8_u10</c>, AVX2 build with fused multiply-adds), and numpy 1.24's float32
/// <c>np.log</c> uses its own AVX2/AVX-512F rational approximation (up to ~4 ulp). Written from the published algorithms
/// (SLEEF 3.5 <c>sleefsimdsp.c</c>, numpy <c>loops_exponent_log.dispatch.c.src</c>); the fused operations are fused here too.
/// </summary>
internal static class ReferenceMath
{
    private const float MinNormalFloat = 1.17549435e-38f;
    private const float L2Uf = 0.693145751953125f;
    private const float L2Lf = 1.428606765330187045e-06f;
    private const float RLn2f = 1.442695040888963407359924681001892137426645954152985934135449406931f;

    /// <summary>torch's float32 tensor <c>exp</c> (SLEEF <c>xexpf</c>, 1 ulp).</summary>
    public static float TorchExp(float d)
    {
        if (float.IsNaN(d))
        {
            return d;
        }
        int q = (int)MathF.Round(d * RLn2f, MidpointRounding.ToEven);
        float qf = q;
        float s = MathF.FusedMultiplyAdd(qf, -L2Uf, d);
        s = MathF.FusedMultiplyAdd(qf, -L2Lf, s);

        float u = 0.000198527617612853646278381f;
        u = MathF.FusedMultiplyAdd(u, s, 0.00139304355252534151077271f);
        u = MathF.FusedMultiplyAdd(u, s, 0.00833336077630519866943359f);
        u = MathF.FusedMultiplyAdd(u, s, 0.0416664853692054748535156f);
        u = MathF.FusedMultiplyAdd(u, s, 0.166666671633720397949219f);
        u = MathF.FusedMultiplyAdd(u, s, 0.5f);
        u = 1.0f + MathF.FusedMultiplyAdd(s * s, u, s);

        // ldexp2: two power-of-two multiplications.
        int half = q >> 1;
        u = u * Pow2i(half) * Pow2i(q - half);
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

    /// <summary>torch's float32 tensor <c>log</c> (SLEEF <c>xlogf_u1</c>, 1 ulp).</summary>
    public static float TorchLog(float d)
    {
        if (float.IsNaN(d) || d < 0)
        {
            return float.NaN;
        }
        if (d == 0)
        {
            return float.NegativeInfinity;
        }
        if (float.IsPositiveInfinity(d))
        {
            return float.PositiveInfinity;
        }
        bool tiny = d < MinNormalFloat;
        if (tiny)
        {
            d *= (float)(1L << 32) * (float)(1L << 32);
        }
        int e = ((BitConverter.SingleToInt32Bits(d * (1.0f / 0.75f)) >> 23) & 0xff) - 0x7f;
        float m = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(d) + ((-e) << 23));
        if (tiny)
        {
            e -= 64;
        }

        // s = (ln 2 as a double-float) · e
        (float sx, float sy) = MulDF(0.69314718246459960938f, -1.904654323148236017e-09f, e);
        // x = (m − 1) / (m + 1) in double-float
        (float nx, float ny) = Add2(-1f, m);
        (float dx, float dy) = Add2(1f, m);
        (float xx, float xy) = DivDF(nx, ny, dx, dy);
        float x2 = xx * xx;

        float t = 0.3027294874e+0f;
        t = MathF.FusedMultiplyAdd(t, x2, 0.3996108174e+0f);
        t = MathF.FusedMultiplyAdd(t, x2, 0.6666694880e+0f);

        (sx, sy) = AddDF(sx, sy, xx * 2f, xy * 2f);
        (sx, sy) = AddDF(sx, sy, x2 * xx * t);
        return sx + sy;
    }

    /// <summary>numpy 1.24's float32 <c>np.log</c> (SIMD rational approximation, as dispatched on AVX2/AVX-512F CPUs).</summary>
    public static float NumpyLog(float x)
    {
        if (float.IsNaN(x))
        {
            return x;
        }
        if (x < 0)
        {
            return -float.NaN;
        }
        if (x == 0)
        {
            return float.NegativeInfinity;
        }
        if (float.IsPositiveInfinity(x))
        {
            return x;
        }
        bool denormal = x < MinNormalFloat;
        float scaled = denormal ? x * BitConverter.Int32BitsToSingle(0x71800000) : x;
        int bits = BitConverter.SingleToInt32Bits(scaled);
        float exponent = (bits >>> 23) - 0x7E;
        if (denormal)
        {
            exponent -= 100f;
        }
        float m = BitConverter.Int32BitsToSingle((bits & 0x7fffff) | (126 << 23));
        if (m <= 0.707106781186547524400844362104849039f)
        {
            m += m;
            exponent -= 1f;
        }
        m -= 1f;

        float num = MathF.FusedMultiplyAdd(2.589979117907922693523e-02f, m, 3.808837741388407920751e-01f);
        num = MathF.FusedMultiplyAdd(num, m, 1.480000633576506585156e+00f);
        num = MathF.FusedMultiplyAdd(num, m, 2.112677543073053063722e+00f);
        num = MathF.FusedMultiplyAdd(num, m, 9.999999999999998702752e-01f);
        num = MathF.FusedMultiplyAdd(num, m, 0f);
        float den = MathF.FusedMultiplyAdd(5.875095403124574342950e-03f, m, 1.546476374983906719538e-01f);
        den = MathF.FusedMultiplyAdd(den, m, 9.864942958519418960339e-01f);
        den = MathF.FusedMultiplyAdd(den, m, 2.453006071784736363091e+00f);
        den = MathF.FusedMultiplyAdd(den, m, 2.612677543073109236779e+00f);
        den = MathF.FusedMultiplyAdd(den, m, 1f);
        float poly = num / den;
        return MathF.FusedMultiplyAdd(exponent, 0.693147180559945309417232121458176568f, poly);
    }

    private static float Pow2i(int q) => BitConverter.Int32BitsToSingle((q + 0x7f) << 23);

    // SLEEF's double-float helpers (FMA variants).
    private static (float X, float Y) MulDF(float x, float xy, float y)
    {
        float s = x * y;
        return (s, MathF.FusedMultiplyAdd(xy, y, MathF.FusedMultiplyAdd(x, y, -s)));
    }

    private static (float X, float Y) Add2(float x, float y)
    {
        float s = x + y;
        float v = s - x;
        return (s, (x - (s - v)) + (y - v));
    }

    private static (float X, float Y) DivDF(float nx, float ny, float dx, float dy)
    {
        float t = 1.0f / dx;
        float s = nx * t;
        float u = MathF.FusedMultiplyAdd(t, nx, -s);
        float v = MathF.FusedMultiplyAdd(-dy, t, MathF.FusedMultiplyAdd(-dx, t, 1f));
        return (s, MathF.FusedMultiplyAdd(s, v, MathF.FusedMultiplyAdd(ny, t, u)));
    }

    private static (float X, float Y) AddDF(float xx, float xy, float yx, float yy)
    {
        float s = xx + yx;
        return (s, (((xx - s) + yx) + xy) + yy);
    }

    private static (float X, float Y) AddDF(float xx, float xy, float y)
    {
        float s = xx + y;
        return (s, ((xx - s) + y) + xy);
    }
}
