namespace Spright.Diffusion.Numerics;

/// <summary>
/// numpy 1.24's float32 <c>np.log</c> on x86-64 (the AVX2/FMA3 and AVX512F loops of
/// <c>loops_exponent_log.dispatch.c.src</c>, which numpy also uses for single elements): mantissa in [0.5, 1),
/// a 5th/5th-order rational approximation of log(1 + x) evaluated with FMAs, plus exponent·ln 2.
/// Needed where diffusers calls <c>np.log</c> on float32 values (DEIS coefficients, <c>log_sigmas</c>).
/// </summary>
internal static class NumpyFloat32
{
    /// <summary><c>np.log</c> of a float32 value.</summary>
    public static float Log(float value)
    {
        if (float.IsNaN(value))
        {
            return float.NaN;
        }
        if (value < 0f)
        {
            return -float.NaN;
        }
        if (value == 0f)
        {
            return float.NegativeInfinity;
        }
        if (float.IsPositiveInfinity(value))
        {
            return float.PositiveInfinity;
        }
        float x = value;
        bool denormal = x < 1.17549435E-38f; // FLT_MIN
        if (denormal)
        {
            x *= BitConverter.Int32BitsToSingle(0x71800000); // 2^100
        }
        int bits = BitConverter.SingleToInt32Bits(x);
        float exponent = (bits >>> 23) - 0x7E;
        if (denormal)
        {
            exponent -= 100f;
        }
        x = BitConverter.Int32BitsToSingle((bits & 0x7FFFFF) | (126 << 23));
        if (x <= 0.707106781186547524400844362104849039f)
        {
            x += x;
            exponent -= 1f;
        }
        x -= 1f;

        float num = MathF.FusedMultiplyAdd(2.589979117907922693523e-02f, x, 3.808837741388407920751e-01f);
        num = MathF.FusedMultiplyAdd(num, x, 1.480000633576506585156e+00f);
        num = MathF.FusedMultiplyAdd(num, x, 2.112677543073053063722e+00f);
        num = MathF.FusedMultiplyAdd(num, x, 9.999999999999998702752e-01f);
        num = MathF.FusedMultiplyAdd(num, x, 0f);
        float den = MathF.FusedMultiplyAdd(5.875095403124574342950e-03f, x, 1.546476374983906719538e-01f);
        den = MathF.FusedMultiplyAdd(den, x, 9.864942958519418960339e-01f);
        den = MathF.FusedMultiplyAdd(den, x, 2.453006071784736363091e+00f);
        den = MathF.FusedMultiplyAdd(den, x, 2.612677543073109236779e+00f);
        den = MathF.FusedMultiplyAdd(den, x, 1f);
        float poly = num / den;
        return MathF.FusedMultiplyAdd(exponent, 0.693147180559945309417232121458176568f, poly);
    }
}
