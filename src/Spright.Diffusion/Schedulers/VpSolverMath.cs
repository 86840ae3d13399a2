using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// Arithmetic of the variance-preserving (VP) parameterisation x_t = α_t·x₀ + σ_t·ε shared by DDIM, DDPM, LCM and the
/// multistep solvers (DPM-Solver, DEIS, UniPC), following diffusers v0.31: the x₀ / ε conversions, α and σ of a noise
/// level σ (diffusers' <c>_sigma_to_alpha_sigma_t</c>), λ, forward noising, and the solvers' small linear systems.
/// Everything here is torch float32, one rounding per operation.
/// </summary>
internal static class VpSolverMath
{
    /// <summary>λ_t = log √ᾱ − log √(1 − ᾱ) per training timestep (float32).</summary>
    public static float[] LambdaTable(ReadOnlySpan<float> alphasCumprod)
    {
        var lambdas = new float[alphasCumprod.Length];
        for (int i = 0; i < lambdas.Length; i++)
        {
            float alpha = MathF.Sqrt(alphasCumprod[i]);
            float sigma = MathF.Sqrt(1f - alphasCumprod[i]);
            lambdas[i] = Lambda(alpha, sigma);
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

    /// <summary><c>_sigma_to_alpha_sigma_t</c> in float32: α = 1/√(σ²+1), σ_t = σ·α.</summary>
    public static (float Alpha, float Sigma) AlphaSigma(float sigma)
    {
        float sq = sigma * sigma;
        float alpha = 1f / MathF.Sqrt(sq + 1f);
        return (alpha, sigma * alpha);
    }

    /// <summary>α, σ_t and λ of the noise level σ.</summary>
    public static (float Alpha, float Sigma, float Lambda) AlphaSigmaLambda(float sigma)
    {
        (float alpha, float sigmaT) = AlphaSigma(sigma);
        return (alpha, sigmaT, Lambda(alpha, sigmaT));
    }

    /// <summary>λ = log α − log σ (float32, torch's log).</summary>
    public static float Lambda(float alpha, float sigma) => SleefFloat.Log(alpha) - SleefFloat.Log(sigma);

    /// <summary>x₀ from a model output at (α, σ): ε → (x − σ·ε)/α, v → α·x − σ·v, sample → the output itself.</summary>
    public static void PredictOriginalSample(PredictionType predictionType, float alpha, float sigma, ReadOnlySpan<float> modelOutput,
        ReadOnlySpan<float> sample, Span<float> x0)
    {
        switch (predictionType)
        {
            case PredictionType.Epsilon:
                ElementwiseOps.SubtractScaledThenDivide(sample, sigma, modelOutput, alpha, x0);
                break;
            case PredictionType.Sample:
                modelOutput.CopyTo(x0);
                break;
            default: // v_prediction
                ElementwiseOps.LinearCombination(alpha, sample, -sigma, modelOutput, x0);
                break;
        }
    }

    /// <summary>ε from a model output at (α, σ): ε → the output itself, sample → (x − α·x₀)/σ, v → α·v + σ·x.</summary>
    public static void PredictEpsilon(PredictionType predictionType, float alpha, float sigma, ReadOnlySpan<float> modelOutput,
        ReadOnlySpan<float> sample, Span<float> epsilon)
    {
        switch (predictionType)
        {
            case PredictionType.Epsilon:
                modelOutput.CopyTo(epsilon);
                break;
            case PredictionType.Sample:
                ElementwiseOps.SubtractScaledThenDivide(sample, alpha, modelOutput, sigma, epsilon);
                break;
            default: // v_prediction
                ElementwiseOps.LinearCombination(alpha, modelOutput, sigma, sample, epsilon);
                break;
        }
    }

    /// <summary>Forward noising to ᾱ: <c>√ᾱ·x₀ + √(1 − ᾱ)·ε</c> (DDIM, DDPM, PNDM and LCM's <c>add_noise</c>).</summary>
    public static void AddNoise(float alphaCumprod, ReadOnlySpan<float> originalSamples, ReadOnlySpan<float> noise, Span<float> destination) =>
        ElementwiseOps.LinearCombination(MathF.Sqrt(alphaCumprod), originalSamples, MathF.Sqrt(1f - alphaCumprod), noise, destination);

    /// <summary>Forward noising to the noise level σ: <c>α·x₀ + σ_t·ε</c> (the multistep solvers' <c>add_noise</c>).</summary>
    public static void AddNoiseAtSigma(float sigma, ReadOnlySpan<float> originalSamples, ReadOnlySpan<float> noise, Span<float> destination)
    {
        (float alpha, float sigmaT) = AlphaSigma(sigma);
        ElementwiseOps.LinearCombination(alpha, originalSamples, sigmaT, noise, destination);
    }

    /// <summary>The error for <c>use_exponential_sigmas</c> / <c>use_beta_sigmas</c> on a multistep solver, whose
    /// diffusers 0.31 <c>set_timesteps</c> fails with them (it passes <c>num_inference_steps=None</c>).</summary>
    public static NotSupportedException UnbuildableSigmas(string className, SigmaSpacing spacing, string alternatives) =>
        new($"{className}: diffusers 0.31 cannot build a schedule with {ConfigNames.Of(spacing)} (its set_timesteps fails); use {alternatives}.");

    /// <summary>The error for <c>final_sigmas_type</c> "zero" with a DPM-Solver algorithm that does not predict data.</summary>
    public static ArgumentException FinalSigmaZeroUnsupported(string className, AlgorithmType algorithmType) =>
        new($"{className} option 'final_sigmas_type' \"zero\" is not supported with algorithm_type \"{ConfigNames.Of(algorithmType)}\"; use \"sigma_min\" (\"zero\" needs \"dpmsolver++\" or \"sde-dpmsolver++\").", "final_sigmas_type");

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
