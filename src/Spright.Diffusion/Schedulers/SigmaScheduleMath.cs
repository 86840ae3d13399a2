namespace Spright.Diffusion.Schedulers;

/// <summary>
/// The schedule arithmetic shared by the k-diffusion style schedulers (Euler, Heun, LMS, KDPM2…), following
/// diffusers v0.31 <c>scheduling_euler_discrete.py</c> and its copies, with numpy's / torch's dtypes: what diffusers
/// computes in numpy float64 is done in <see cref="double"/>, float32 tensors / arrays in <see cref="float"/>.
/// </summary>
internal static class SigmaScheduleMath
{
    /// <summary>ρ of the Karras et al. (2022) schedule.</summary>
    public const double KarrasRho = 7.0;

    /// <summary>The α and β of the "Beta Sampling is All You Need" schedule (fixed in diffusers).</summary>
    public const double BetaSigmasAlpha = 0.6;

    /// <summary>torch: <c>((1 − ᾱ) / ᾱ) ** 0.5</c> in float32 (ascending with the training timestep).</summary>
    public static float[] TrainingSigmas(ReadOnlySpan<float> alphasCumprod)
    {
        var sigmas = new float[alphasCumprod.Length];
        for (int i = 0; i < sigmas.Length; i++)
        {
            float a = alphasCumprod[i];
            float q = (1f - a) / a;
            sigmas[i] = MathF.Sqrt(q);
        }
        return sigmas;
    }

    /// <summary>numpy <c>np.log</c> of a float32 array (float32 result, numpy's SIMD algorithm).</summary>
    public static float[] LogF(ReadOnlySpan<float> values)
    {
        var result = new float[values.Length];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = NumpyFloat32.Log(values[i]);
        }
        return result;
    }

    /// <summary>
    /// The float32 timesteps of <c>timestep_spacing</c> for the float schedulers (descending):
    /// <c>linspace</c> = <c>np.linspace(0, T−1, n, dtype=float32)[::-1]</c>; <c>leading</c> =
    /// <c>(arange(n)·(T//n)).round()[::-1] + steps_offset</c>; <c>trailing</c> = <c>arange(T, 0, −T/n).round() − 1</c>
    /// (which, like numpy, can hold one value more than <paramref name="n"/> when T/n is not exact).
    /// </summary>
    public static float[] SpacedTimesteps(string spacing, int numTrainTimesteps, int n, int stepsOffset)
    {
        switch (spacing)
        {
            case "linspace":
                {
                    double[] lin = NumpyOps.Linspace(0, numTrainTimesteps - 1, n);
                    var t = new float[n];
                    for (int i = 0; i < n; i++)
                    {
                        t[i] = (float)lin[n - 1 - i];
                    }
                    return t;
                }
            case "leading":
                {
                    long stepRatio = numTrainTimesteps / n;
                    var t = new float[n];
                    for (int i = 0; i < n; i++)
                    {
                        float v = (n - 1 - i) * stepRatio;
                        t[i] = v + stepsOffset;
                    }
                    return t;
                }
            case "trailing":
                {
                    double stepRatio = numTrainTimesteps / (double)n;
                    double[] ar = NumpyOps.Arange(numTrainTimesteps, 0, -stepRatio);
                    var t = new float[ar.Length];
                    for (int i = 0; i < ar.Length; i++)
                    {
                        t[i] = (float)NumpyOps.Round(ar[i]) - 1f;
                    }
                    return t;
                }
            default:
                throw new ArgumentException($"timestep_spacing '{spacing}' is not one of \"linspace\", \"leading\", \"trailing\".", "timestep_spacing");
        }
    }

    /// <summary><c>np.interp(x, arange(len(fp)), fp)</c> in float64 (numpy's formula <c>slope·(x − xⱼ) + fⱼ</c>).</summary>
    public static double Interp(double x, ReadOnlySpan<float> fp)
    {
        int n = fp.Length;
        if (double.IsNaN(x))
        {
            return x;
        }
        if (x < 0)
        {
            return fp[0];
        }
        if (x >= n - 1)
        {
            return fp[n - 1];
        }
        int j = (int)Math.Floor(x);
        if (j == x)
        {
            return fp[j];
        }
        double slope = ((double)fp[j + 1] - fp[j]) / 1.0;
        return slope * (x - j) + fp[j];
    }

    /// <summary>The Karras et al. (2022) schedule in float64: <c>(max^(1/ρ) + ramp·(min^(1/ρ) − max^(1/ρ)))^ρ</c>.</summary>
    public static double[] Karras(double sigmaMin, double sigmaMax, int n)
    {
        double[] ramp = NumpyOps.Linspace(0, 1, n);
        double minInvRho = Math.Pow(sigmaMin, 1 / KarrasRho);
        double maxInvRho = Math.Pow(sigmaMax, 1 / KarrasRho);
        var sigmas = new double[n];
        for (int i = 0; i < n; i++)
        {
            sigmas[i] = Math.Pow(maxInvRho + ramp[i] * (minInvRho - maxInvRho), KarrasRho);
        }
        return sigmas;
    }

    /// <summary>The exponential schedule: <c>torch.linspace(log σmax, log σmin, n).exp()</c> (float32 tensor).</summary>
    public static float[] Exponential(double sigmaMin, double sigmaMax, int n)
    {
        float[] lin = BetaSchedules.LinspaceFloat32(Math.Log(sigmaMax), Math.Log(sigmaMin), n);
        for (int i = 0; i < lin.Length; i++)
        {
            lin[i] = SleefFloat.Exp(lin[i]);
        }
        return lin;
    }

    /// <summary>The beta schedule (arXiv:2407.12173): <c>σmin + ppf(1 − linspace(0, 1, n))·(σmax − σmin)</c> with the
    /// Beta(0.6, 0.6) quantile function, as a float32 tensor.</summary>
    public static float[] BetaSigmas(double sigmaMin, double sigmaMax, int n)
    {
        double[] lin = NumpyOps.Linspace(0, 1, n);
        var sigmas = new float[n];
        for (int i = 0; i < n; i++)
        {
            double ppf = BetaDistribution.Quantile(1 - lin[i], BetaSigmasAlpha, BetaSigmasAlpha);
            sigmas[i] = (float)(sigmaMin + ppf * (sigmaMax - sigmaMin));
        }
        return sigmas;
    }

    /// <summary>
    /// diffusers' <c>_sigma_to_t</c>: the (fractional) training timestep of <paramref name="sigma"/> by linear
    /// interpolation in log σ. <c>np.maximum(σ, 1e-10)</c> has only scalar operands, so numpy 1.24 promotes it to
    /// float64 and takes a float64 log; the distances and the weight w are then float32 (the float32
    /// <paramref name="logSigmas"/> set the dtype, the log is rounded to float32). The final blend
    /// <c>(1 − w)·low_idx + w·high_idx</c> is float64 when numpy evaluates it (σ a numpy scalar), but float32 when σ
    /// is a torch tensor, because numpy then hands the arithmetic to torch, which promotes float32 × int64 to float32.
    /// </summary>
    /// <param name="sigma">The noise level.</param>
    /// <param name="torchBlend">Whether σ is a torch tensor (float32 blend).</param>
    /// <param name="logSigmas">log of the training sigmas (float32, ascending).</param>
    public static double SigmaToT(double sigma, bool torchBlend, ReadOnlySpan<float> logSigmas)
    {
        float logSigma = (float)Math.Log(double.IsNaN(sigma) ? sigma : Math.Max(sigma, 1e-10));
        int n = logSigmas.Length;
        int lastNonNegative = 0;
        for (int j = 0; j < n; j++)
        {
            float dist = logSigma - logSigmas[j];
            if (dist >= 0)
            {
                lastNonNegative = j;
            }
        }
        int low = Math.Min(lastNonNegative, n - 2);
        int high = low + 1;
        float lowLog = logSigmas[low];
        float highLog = logSigmas[high];
        float numerator = lowLog - logSigma;
        float denominator = lowLog - highLog;
        float w = numerator / denominator;
        if (w < 0)
        {
            w = 0;
        }
        else if (w > 1)
        {
            w = 1;
        }
        float oneMinusW = 1f - w;
        if (torchBlend)
        {
            float a = oneMinusW * low;
            float b = w * high;
            return a + b;
        }
        return (double)oneMinusW * low + (double)w * high;
    }

    /// <summary>torch <c>0.25 · σ.log()</c> on float32 (the continuous timesteps of v-prediction Euler).</summary>
    public static float ContinuousTimestep(float sigma) => 0.25f * SleefFloat.Log(sigma);

    /// <summary>Interleaves like diffusers' second-order schedulers: <c>cat([x[:1], x[1:].repeat_interleave(2)])</c>,
    /// optionally followed by the last element once more (<c>, x[-1:]</c>).</summary>
    public static float[] RepeatInterleaveTail(ReadOnlySpan<float> x, bool appendLast)
    {
        int n = x.Length;
        var result = new float[1 + 2 * (n - 1) + (appendLast ? 1 : 0)];
        result[0] = x[0];
        int k = 1;
        for (int i = 1; i < n; i++)
        {
            result[k++] = x[i];
            result[k++] = x[i];
        }
        if (appendLast)
        {
            result[k] = x[n - 1];
        }
        return result;
    }

    /// <summary>The maximum (NaN-propagating, like torch's <c>max()</c>).</summary>
    public static float Max(ReadOnlySpan<float> values)
    {
        float max = float.NegativeInfinity;
        foreach (float v in values)
        {
            if (float.IsNaN(v))
            {
                return v;
            }
            if (v > max)
            {
                max = v;
            }
        }
        return max;
    }

}
