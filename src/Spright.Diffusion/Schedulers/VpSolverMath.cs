namespace Spright.Diffusion.Schedulers;

/// <summary>
/// Shared arithmetic of the variance-preserving ODE/SDE solvers (DPM-Solver multistep and singlestep, DEIS, UniPC),
/// following diffusers v0.31 <c>scheduling_dpmsolver_multistep.py</c> and its copies. Two precisions meet here, as
/// upstream: schedules are built with numpy float64 and cast to float32 once; everything the solver steps compute
/// (α_t, σ_t, λ_t, h and the update coefficients) is torch float32, one rounding per operation.
/// </summary>
internal static class VpSolverMath
{
    /// <summary>The <c>timestep_spacing</c> values the solvers accept.</summary>
    public static readonly string[] Spacings = ["linspace", "leading", "trailing"];

    /// <summary>Every <c>variance_type</c> a diffusers config may carry (DDPM's names); only the learned ones change
    /// what the solvers do.</summary>
    public static readonly string[] VarianceTypes = ["fixed_small", "fixed_small_log", "fixed_large", "fixed_large_log", "learned", "learned_range"];

    /// <summary>ᾱ for every training timestep: betas, optional zero-terminal-SNR rescale, float32 cumprod, and (where
    /// the scheduler does it) ᾱ[-1] = 2⁻²⁴ so that the first σ stays finite.</summary>
    public static float[] AlphasCumprod(string className, int numTrainTimesteps, double betaStart, double betaEnd, string betaSchedule,
        double[]? trainedBetas, bool rescaleZeroSnr, bool clampTerminal)
    {
        if (trainedBetas is not null && trainedBetas.Length != numTrainTimesteps)
        {
            throw new ArgumentException($"{className} option 'trained_betas' has {trainedBetas.Length} values but num_train_timesteps is {numTrainTimesteps}.", "trained_betas");
        }
        float[] betas = BetaSchedules.Betas(betaSchedule, numTrainTimesteps, betaStart, betaEnd, trainedBetas);
        if (rescaleZeroSnr)
        {
            betas = BetaSchedules.RescaleZeroTerminalSnr(betas);
        }
        float[] alphasCumprod = BetaSchedules.CumulativeProduct(BetaSchedules.Alphas(betas));
        if (rescaleZeroSnr && clampTerminal)
        {
            alphasCumprod[^1] = 1f / (1 << 24);
        }
        return alphasCumprod;
    }

    /// <summary>σ = √((1 − ᾱ)/ᾱ) per training timestep (float32 tensor ops).</summary>
    public static float[] SigmaTable(ReadOnlySpan<float> alphasCumprod)
    {
        var sigmas = new float[alphasCumprod.Length];
        for (int i = 0; i < sigmas.Length; i++)
        {
            float a = alphasCumprod[i];
            sigmas[i] = MathF.Sqrt((1f - a) / a);
        }
        return sigmas;
    }

    /// <summary><c>np.log</c> of the float32 sigma table (a float32 array).</summary>
    public static float[] LogTable(ReadOnlySpan<float> sigmas)
    {
        var logs = new float[sigmas.Length];
        for (int i = 0; i < logs.Length; i++)
        {
            logs[i] = NumpyFloat32.Log(sigmas[i]);
        }
        return logs;
    }

    /// <summary>λ_t = log √ᾱ − log √(1 − ᾱ) per training timestep (float32).</summary>
    public static float[] LambdaTable(ReadOnlySpan<float> alphasCumprod)
    {
        var lambdas = new float[alphasCumprod.Length];
        for (int i = 0; i < lambdas.Length; i++)
        {
            float alpha = MathF.Sqrt(alphasCumprod[i]);
            float sigma = MathF.Sqrt(1f - alphasCumprod[i]);
            lambdas[i] = SleefFloat.Log(alpha) - SleefFloat.Log(sigma);
        }
        return lambdas;
    }

    /// <summary><c>torch.searchsorted(torch.flip(lambda_t), lambda_min_clipped)</c>: the lower bound of the (float32)
    /// threshold in the reversed λ table, i.e. how many of the last training timesteps are clipped.</summary>
    public static int ClippedCount(ReadOnlySpan<float> lambdas, double lambdaMinClipped)
    {
        float v = (float)lambdaMinClipped;
        int n = lambdas.Length;
        int lo = 0;
        int hi = n;
        while (lo < hi)
        {
            int mid = lo + ((hi - lo) >> 1);
            float value = lambdas[n - 1 - mid]; // flipped[mid]
            if (value < v)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }
        return lo;
    }

    /// <summary>
    /// The integer timesteps of the multistep solvers for <paramref name="steps"/> steps, as
    /// <c>DPMSolverMultistepScheduler.set_timesteps</c> builds them (DEIS and UniPC are the same with
    /// <paramref name="lastTimestep"/> = <c>num_train_timesteps</c>).
    /// </summary>
    public static long[] SpacedTimesteps(string spacing, int numTrainTimesteps, int lastTimestep, int steps, int stepsOffset)
    {
        var result = new long[steps];
        switch (spacing)
        {
            case "linspace":
                {
                    double[] lin = NumpyOps.Linspace(0, lastTimestep - 1, steps + 1);
                    for (int i = 0; i < steps; i++)
                    {
                        result[i] = (long)NumpyOps.Round(lin[steps - i]);
                    }
                    return result;
                }
            case "leading":
                {
                    long stepRatio = lastTimestep / (steps + 1);
                    for (int i = 0; i < steps; i++)
                    {
                        result[i] = (steps - i) * stepRatio + stepsOffset;
                    }
                    return result;
                }
            case "trailing":
                {
                    double stepRatio = numTrainTimesteps / (double)steps;
                    double[] ar = NumpyOps.Arange(lastTimestep, 0, -stepRatio);
                    result = new long[ar.Length];
                    for (int i = 0; i < ar.Length; i++)
                    {
                        result[i] = (long)NumpyOps.Round(ar[i]) - 1;
                    }
                    return result;
                }
            default:
                throw new ArgumentException($"timestep_spacing '{spacing}' is not one of {string.Join(", ", Spacings)}.", "timestep_spacing");
        }
    }

    /// <summary><c>_convert_to_karras</c> (ρ = 7) in float64, from σ_max down to σ_min.</summary>
    public static double[] Karras(double sigmaMin, double sigmaMax, int steps)
    {
        const double rho = 7.0;
        double[] ramp = NumpyOps.Linspace(0, 1, steps);
        double minInvRho = Math.Pow(sigmaMin, 1 / rho);
        double maxInvRho = Math.Pow(sigmaMax, 1 / rho);
        double span = minInvRho - maxInvRho;
        var sigmas = new double[steps];
        for (int i = 0; i < steps; i++)
        {
            sigmas[i] = Math.Pow(maxInvRho + ramp[i] * span, rho);
        }
        return sigmas;
    }

    /// <summary><c>_convert_to_lu</c> (ρ = 1): log-σ values evenly spaced from <paramref name="lambdaMax"/> to
    /// <paramref name="lambdaMin"/>, in float64.</summary>
    public static double[] Lu(double lambdaMin, double lambdaMax, int steps)
    {
        double[] ramp = NumpyOps.Linspace(0, 1, steps);
        double span = lambdaMin - lambdaMax;
        var lambdas = new double[steps];
        for (int i = 0; i < steps; i++)
        {
            lambdas[i] = lambdaMax + ramp[i] * span;
        }
        return lambdas;
    }

    /// <summary><c>_sigma_to_t</c>: the fractional training timestep of σ, interpolating linearly in log σ over the
    /// float32 table <paramref name="logSigmas"/> (float64 arithmetic).</summary>
    public static double SigmaToT(double sigma, ReadOnlySpan<float> logSigmas)
    {
        double logSigma = Math.Log(Math.Max(sigma, 1e-10));
        // cumsum(dists >= 0).argmax(): the last index whose log σ is ≤ logSigma (0 when none), clipped to n − 2.
        int low = 0;
        for (int i = 0; i < logSigmas.Length; i++)
        {
            if (logSigma - logSigmas[i] >= 0)
            {
                low = i;
            }
        }
        low = Math.Min(low, logSigmas.Length - 2);
        int high = low + 1;
        double lowValue = logSigmas[low];
        double highValue = logSigmas[high];
        double w = (lowValue - logSigma) / (lowValue - highValue);
        w = Math.Clamp(w, 0, 1);
        return (1 - w) * low + w * high;
    }

    /// <summary><c>np.interp(t, arange(n), table)</c> at an integer t (exact table values, clamped at the ends).</summary>
    public static double InterpolateAtTimestep(long t, ReadOnlySpan<float> table) =>
        t <= 0 ? table[0] : t >= table.Length - 1 ? table[^1] : table[(int)t];

    /// <summary><c>_sigma_to_alpha_sigma_t</c> in float32: α = 1/√(σ²+1), σ_t = σ·α.</summary>
    public static (float Alpha, float Sigma) AlphaSigma(float sigma)
    {
        float sq = sigma * sigma;
        float alpha = 1f / MathF.Sqrt(sq + 1f);
        return (alpha, sigma * alpha);
    }

    /// <summary>λ = log α − log σ (float32, torch's log).</summary>
    public static float Lambda(float alpha, float sigma) => SleefFloat.Log(alpha) - SleefFloat.Log(sigma);

    /// <summary><c>torch.expm1</c> of a float32 value.</summary>
    public static float Expm1(float x) => SleefFloat.Expm1(x);

    /// <summary>The solvers' <c>index_for_timestep</c>: the second match when the timestep occurs twice, the only match
    /// otherwise, and the last index when it does not occur at all.</summary>
    public static int IndexForTimestep(float timestep, ReadOnlySpan<float> schedule)
    {
        int first = -1;
        for (int i = 0; i < schedule.Length; i++)
        {
            if (schedule[i] == timestep)
            {
                if (first >= 0)
                {
                    return i;
                }
                first = i;
            }
        }
        return first >= 0 ? first : schedule.Length - 1;
    }

    /// <summary>The int64 timesteps as the float values <see cref="IScheduler.Timesteps"/> exposes (exact below 2²⁴).</summary>
    public static float[] TimestepsToFloat(ReadOnlySpan<long> timesteps)
    {
        var result = new float[timesteps.Length];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = timesteps[i];
        }
        return result;
    }

    /// <summary>Applies dynamic thresholding to x₀ in place without allocating (same rule as
    /// <see cref="DynamicThresholding"/>; <paramref name="scratch"/> holds one batch item).</summary>
    public static void Threshold(Span<float> x0, int batchSize, float ratio, float sampleMaxValue, Span<float> scratch)
    {
        if (batchSize <= 0 || x0.Length % batchSize != 0)
        {
            throw new ArgumentException($"Cannot split {x0.Length} elements into {batchSize} batch items.", nameof(batchSize));
        }
        int n = x0.Length / batchSize;
        Span<float> sorted = scratch[..n];
        for (int b = 0; b < batchSize; b++)
        {
            Span<float> row = x0.Slice(b * n, n);
            for (int i = 0; i < n; i++)
            {
                sorted[i] = MathF.Abs(row[i]);
            }
            sorted.Sort();
            float s = DynamicThresholding.Quantile(sorted, ratio);
            s = Math.Clamp(s, 1f, sampleMaxValue);
            for (int i = 0; i < n; i++)
            {
                row[i] = Math.Clamp(row[i], -s, s) / s;
            }
        }
    }

    /// <summary>
    /// <c>torch.linalg.solve(A, b)</c> in float32 as torch 1.13 does it on CPU: A is C-contiguous, so torch LU-factors
    /// M = Aᵀ (LAPACK <c>getrf</c>: partial pivoting on the first largest entry, multipliers scaled by the reciprocal
    /// pivot) and solves Mᵀx = b with <c>getrs(trans='T')</c>: Uᵀy = b forward, Lᵀz = y backward, then the row
    /// interchanges in reverse. <paramref name="a"/> (row-major n×n) is overwritten, <paramref name="b"/> becomes x.
    /// </summary>
    public static void Solve(Span<float> a, Span<float> b, int n)
    {
        // m[i, j] = a[j, i]: transpose in place so that m is row-major M = Aᵀ.
        for (int i = 0; i < n; i++)
        {
            for (int j = i + 1; j < n; j++)
            {
                (a[i * n + j], a[j * n + i]) = (a[j * n + i], a[i * n + j]);
            }
        }
        Span<int> pivots = stackalloc int[n];
        for (int k = 0; k < n; k++)
        {
            int pivot = k;
            float best = MathF.Abs(a[k * n + k]);
            for (int i = k + 1; i < n; i++)
            {
                float v = MathF.Abs(a[i * n + k]);
                if (v > best)
                {
                    best = v;
                    pivot = i;
                }
            }
            pivots[k] = pivot;
            if (a[pivot * n + k] == 0f || float.IsNaN(best))
            {
                throw new InvalidOperationException("The solver's coefficient matrix is singular (repeated timesteps?).");
            }
            if (pivot != k)
            {
                for (int j = 0; j < n; j++)
                {
                    (a[k * n + j], a[pivot * n + j]) = (a[pivot * n + j], a[k * n + j]);
                }
            }
            float reciprocal = 1f / a[k * n + k];
            for (int i = k + 1; i < n; i++)
            {
                a[i * n + k] *= reciprocal;
            }
            for (int i = k + 1; i < n; i++)
            {
                float l = a[i * n + k];
                for (int j = k + 1; j < n; j++)
                {
                    a[i * n + j] -= l * a[k * n + j];
                }
            }
        }
        // Uᵀy = b (strsm Left/Upper/Transpose/Non-unit)
        for (int i = 0; i < n; i++)
        {
            float t = b[i];
            for (int k = 0; k < i; k++)
            {
                t -= a[k * n + i] * b[k];
            }
            b[i] = t / a[i * n + i];
        }
        // Lᵀz = y (strsm Left/Lower/Transpose/Unit)
        for (int i = n - 1; i >= 0; i--)
        {
            float t = b[i];
            for (int k = i + 1; k < n; k++)
            {
                t -= a[k * n + i] * b[k];
            }
            b[i] = t;
        }
        // slaswp with incx = −1: undo the interchanges from the last to the first.
        for (int k = n - 1; k >= 0; k--)
        {
            if (pivots[k] != k)
            {
                (b[k], b[pivots[k]]) = (b[pivots[k]], b[k]);
            }
        }
    }

    /// <summary><c>torch.pow(x, e)</c> for a float32 tensor and an integer exponent (0 fills ones, 1 copies, 2 and 3
    /// multiply, others call <c>pow</c>).</summary>
    public static float PowInt(float x, int e) => e switch
    {
        0 => 1f,
        1 => x,
        2 => x * x,
        3 => x * x * x,
        _ => MathF.Pow(x, e),
    };

    /// <summary>Checks that a custom schedule is usable (non-empty, finite).</summary>
    public static long[] CustomTimesteps(IReadOnlyList<float> timesteps)
    {
        if (timesteps.Count == 0)
        {
            throw new ArgumentException("Custom timesteps must not be empty.", nameof(timesteps));
        }
        var result = new long[timesteps.Count];
        for (int i = 0; i < result.Length; i++)
        {
            float t = timesteps[i];
            if (!float.IsFinite(t))
            {
                throw new ArgumentException($"Custom timestep {t} is not a finite number.", nameof(timesteps));
            }
            result[i] = (long)t; // np.array(timesteps).astype(np.int64) truncates
        }
        return result;
    }
}
