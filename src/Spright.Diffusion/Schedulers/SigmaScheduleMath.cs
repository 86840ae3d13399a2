using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// Noise-level (σ) schedule arithmetic shared by every scheduler family (diffusers v0.31 <c>scheduling_euler_discrete.py</c>
/// and its copies in the other schedulers), with numpy's / torch's dtypes: what diffusers computes in numpy float64 is
/// done in <see cref="double"/>, float32 tensors / arrays in <see cref="float"/>.
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

    /// <summary><c>_convert_to_lu</c> (ρ = 1): λ evenly spaced from <paramref name="lambdaMax"/> to <paramref name="lambdaMin"/>, float64.</summary>
    public static double[] Lu(double lambdaMin, double lambdaMax, int n)
    {
        double[] ramp = NumpyOps.Linspace(0, 1, n);
        double span = lambdaMin - lambdaMax;
        var lambdas = new double[n];
        for (int i = 0; i < n; i++)
        {
            lambdas[i] = lambdaMax + ramp[i] * span;
        }
        return lambdas;
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

    /// <summary>torch <c>a.log().lerp(b.log(), 0.5).exp()</c> for one element (KDPM2's interpolated σ; a lerp with
    /// weight ≥ 0.5 is <c>end − (end − self)·(1 − w)</c>).</summary>
    public static float LogMidpoint(float a, float b)
    {
        float logA = SleefFloat.Log(a);
        float logB = SleefFloat.Log(b);
        float diff = logB - logA;
        float half = diff * 0.5f;
        return SleefFloat.Exp(logB - half);
    }

    /// <summary>Throws unless at most one of the <c>use_*_sigmas</c> options is on.</summary>
    public static void CheckSigmaOptions(string className, bool karras, bool exponential, bool beta)
    {
        if ((karras ? 1 : 0) + (exponential ? 1 : 0) + (beta ? 1 : 0) > 1)
        {
            throw new ArgumentException(
                $"{className}: only one of 'use_beta_sigmas', 'use_exponential_sigmas', 'use_karras_sigmas' can be true.", "use_karras_sigmas");
        }
    }

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
