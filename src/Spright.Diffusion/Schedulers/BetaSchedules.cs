using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// Noise schedules computed with torch's float32 semantics, so that <c>betas</c> and <c>alphas_cumprod</c> equal
/// diffusers' tensors bit for bit (see <c>diffusers/schedulers/scheduling_ddim.py</c> and
/// <c>aten/src/ATen/native/cpu/RangeFactoriesKernel.cpp</c> for <c>torch.linspace</c>).
/// </summary>
internal static class BetaSchedules
{
    /// <summary>
    /// ᾱ per training timestep from a scheduler's beta options: the betas, optionally rescaled to zero terminal SNR,
    /// then the float32 cumulative product. With <paramref name="clampTerminal"/> (schedulers that divide by ᾱ) a
    /// rescaled schedule ends at 2⁻²⁴ instead of 0, as diffusers sets it.
    /// </summary>
    public static float[] AlphasCumprod(string className, SchedulerOptions options, bool rescaleZeroSnr = false, bool clampTerminal = false) =>
        AlphasCumprod(className, options.BetaSchedule, options.NumTrainTimesteps, options.BetaStart, options.BetaEnd, options.TrainedBetas, rescaleZeroSnr, clampTerminal);

    /// <summary>ᾱ per training timestep (see the overload on options).</summary>
    public static float[] AlphasCumprod(string className, BetaSchedule schedule, int numTrainTimesteps, double betaStart, double betaEnd,
        IReadOnlyList<double>? trainedBetas, bool rescaleZeroSnr, bool clampTerminal = false)
    {
        if (trainedBetas is not null && trainedBetas.Count != numTrainTimesteps)
        {
            throw new ArgumentException($"{className} option 'trained_betas' has {trainedBetas.Count} values but num_train_timesteps is {numTrainTimesteps}.", "trained_betas");
        }
        float[] betas = Betas(schedule, numTrainTimesteps, betaStart, betaEnd, trainedBetas);
        if (rescaleZeroSnr)
        {
            betas = RescaleZeroTerminalSnr(betas);
        }
        float[] alphasCumprod = CumulativeProduct(Alphas(betas));
        if (rescaleZeroSnr && clampTerminal)
        {
            alphasCumprod[^1] = 1f / (1 << 24);
        }
        return alphasCumprod;
    }

    /// <summary>
    /// Betas for a schedule: <c>trained_betas</c> when given, else linear / scaled_linear / squaredcos_cap_v2, or the
    /// <c>exp</c> (Heun) and <c>sigmoid</c> (DDPM) schedules of the classes that accept them.
    /// </summary>
    public static float[] Betas(BetaSchedule schedule, int numTrainTimesteps, double betaStart, double betaEnd, IReadOnlyList<double>? trainedBetas)
    {
        if (trainedBetas is not null)
        {
            var t = new float[trainedBetas.Count];
            for (int i = 0; i < t.Length; i++)
            {
                t[i] = (float)trainedBetas[i];
            }
            return t;
        }

        switch (schedule)
        {
            case BetaSchedule.Linear:
                return LinspaceFloat32(betaStart, betaEnd, numTrainTimesteps);
            case BetaSchedule.ScaledLinear:
                {
                    float[] b = LinspaceFloat32(Math.Pow(betaStart, 0.5), Math.Pow(betaEnd, 0.5), numTrainTimesteps);
                    for (int i = 0; i < b.Length; i++)
                    {
                        b[i] *= b[i];
                    }
                    return b;
                }
            case BetaSchedule.SquaredCosCapV2:
                return BetasForAlphaBar(numTrainTimesteps, 0.999, cosine: true);
            case BetaSchedule.Exp:
                return BetasForAlphaBar(numTrainTimesteps, 0.999, cosine: false);
            case BetaSchedule.Sigmoid:
                return SigmoidBetas(numTrainTimesteps, betaStart, betaEnd);
            default:
                throw new ArgumentOutOfRangeException(nameof(schedule), schedule, "Unknown beta schedule.");
        }
    }

    /// <summary>diffusers' <c>betas_for_alpha_bar</c> (Python doubles, then one float32 rounding).</summary>
    public static float[] BetasForAlphaBar(int n, double maxBeta, bool cosine)
    {
        static double CosineBar(double t) => Math.Pow(Math.Cos((t + 0.008) / 1.008 * Math.PI / 2), 2);
        static double ExpBar(double t) => Math.Exp(t * -12.0);

        var betas = new float[n];
        for (int i = 0; i < n; i++)
        {
            double t1 = (double)i / n;
            double t2 = (double)(i + 1) / n;
            double a1 = cosine ? CosineBar(t1) : ExpBar(t1);
            double a2 = cosine ? CosineBar(t2) : ExpBar(t2);
            betas[i] = (float)Math.Min(1 - a2 / a1, maxBeta);
        }
        return betas;
    }

    // torch: sigmoid(linspace(-6, 6, n)) * (beta_end - beta_start) + beta_start, in float32. torch's sigmoid kernel
    // runs 16 elements at a time with SLEEF's exp and the remainder with the C library's expf.
    private static float[] SigmoidBetas(int n, double betaStart, double betaEnd)
    {
        float[] x = LinspaceFloat32(-6, 6, n);
        float scale = (float)(betaEnd - betaStart);
        float start = (float)betaStart;
        int vectorized = n - n % 16;
        for (int i = 0; i < n; i++)
        {
            float e = i < vectorized ? SleefFloat.Exp(-x[i]) : MathF.Exp(-x[i]);
            float sigmoid = 1f / (1f + e);
            float scaled = sigmoid * scale;
            x[i] = scaled + start;
        }
        return x;
    }

    /// <summary><c>alphas = 1 - betas</c> in float32.</summary>
    public static float[] Alphas(ReadOnlySpan<float> betas)
    {
        var alphas = new float[betas.Length];
        for (int i = 0; i < alphas.Length; i++)
        {
            alphas[i] = 1.0f - betas[i];
        }
        return alphas;
    }

    /// <summary><c>torch.cumprod</c> of a float32 tensor on CPU: the running product is kept in double
    /// (torch's CPU accumulate type for float) and each output rounded to float32.</summary>
    public static float[] CumulativeProduct(ReadOnlySpan<float> values)
    {
        var result = new float[values.Length];
        double acc = 1.0;
        for (int i = 0; i < values.Length; i++)
        {
            acc *= values[i];
            result[i] = (float)acc;
        }
        return result;
    }

    /// <summary>diffusers' <c>rescale_zero_terminal_snr</c> (arXiv:2305.08891, Algorithm 1), float32 tensor ops.</summary>
    public static float[] RescaleZeroTerminalSnr(ReadOnlySpan<float> betas)
    {
        float[] alphas = Alphas(betas);
        float[] alphasCumprod = CumulativeProduct(alphas);
        int n = alphasCumprod.Length;
        var sqrtBar = new float[n];
        for (int i = 0; i < n; i++)
        {
            sqrtBar[i] = MathF.Sqrt(alphasCumprod[i]);
        }
        float first = sqrtBar[0];
        float last = sqrtBar[n - 1];
        float scale = first / (first - last);
        for (int i = 0; i < n; i++)
        {
            sqrtBar[i] -= last;
            sqrtBar[i] *= scale;
        }
        var bar = new float[n];
        for (int i = 0; i < n; i++)
        {
            bar[i] = sqrtBar[i] * sqrtBar[i];
        }
        var result = new float[n];
        result[0] = 1f - bar[0];
        for (int i = 1; i < n; i++)
        {
            result[i] = 1f - bar[i] / bar[i - 1];
        }
        return result;
    }

    /// <summary>
    /// <c>torch.linspace(start, end, steps, dtype=torch.float32)</c> on CPU, reproducing the AVX2 kernel: values are
    /// produced in vectors of 8 as <c>base + k·step</c>, where <c>base</c> counts from <c>start</c> before the halfway
    /// point and back from <c>end</c> after it (decided once per vector, computed with a fused multiply-add as the
    /// GCC build contracts it), and the last <c>steps % 16</c> values come from the scalar loop.
    /// Verified bit-exact against torch 1.13's <c>alphas_cumprod</c> for SD's scaled_linear schedule.
    /// </summary>
    public static float[] LinspaceFloat32(double startValue, double endValue, int steps)
    {
        if (steps <= 0)
        {
            return [];
        }
        float start = (float)startValue;
        float end = (float)endValue;
        var result = new float[steps];
        if (steps == 1)
        {
            result[0] = start;
            return result;
        }
        float step = (end - start) / (float)(steps - 1);
        long halfway = steps / 2;
        const int vec = 8;
        int i = 0;
        int vectorEnd = steps - (steps % (2 * vec));
        for (; i < vectorEnd; i += vec)
        {
            float baseValue = Element(i);
            for (int k = 0; k < vec; k++)
            {
                result[i + k] = baseValue + k * step;
            }
        }
        for (; i < steps; i++)
        {
            result[i] = Element(i);
        }
        return result;

        // The GCC -mfma build contracts start + step·i (and end − step·k) into one fused multiply-add.
        float Element(int index) => index < halfway
            ? MathF.FusedMultiplyAdd(step, index, start)
            : MathF.FusedMultiplyAdd(-step, steps - index - 1, end);
    }
}
