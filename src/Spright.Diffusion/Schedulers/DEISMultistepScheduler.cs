using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Random;
using Spright.Diffusion.IO;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// Diffusion exponential integrator sampler (DEIS, log-ρ multistep, orders 1–3). Follows
/// <c>diffusers/schedulers/scheduling_deis_multistep.py</c> (v0.31): ε re-derived through x₀ (so thresholding applies),
/// the log-ρ polynomial coefficients in float32, <c>lower_order_final</c>, Karras sigmas and the three timestep
/// spacings. <c>dpmsolver</c>/<c>dpmsolver++</c> and the other solvers' <c>solver_type</c> values are read as
/// <c>deis</c>/<c>logrho</c>, as diffusers does.
/// </summary>
/// <remarks>diffusers 0.31 cannot build a DEIS schedule with <c>use_exponential_sigmas</c> or <c>use_beta_sigmas</c>
/// (its <c>set_timesteps</c> fails), so <see cref="IScheduler.SetTimesteps(int)"/> throws <see cref="NotSupportedException"/> for
/// them; DEIS takes no custom timesteps in diffusers 0.31 either.</remarks>
public sealed class DEISMultistepScheduler : SolverSchedulerBase
{
    private float[]? _scratch;

    /// <summary>Creates a DEIS scheduler, like <c>DEISMultistepScheduler(**options)</c>.</summary>
    /// <param name="options">The options; <see langword="null"/> for diffusers' defaults.</param>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public DEISMultistepScheduler(DEISMultistepSchedulerOptions? options = null)
        : this(SchedulerSignatures.DEIS.Bind(options ?? new()), null)
    {
    }

    internal DEISMultistepScheduler(BoundOptions<DEISMultistepSchedulerOptions> bound, ILogger? logger)
        : base(bound.Config, bound.Options, rescaleBetasZeroSnr: false, logger)
    {
        Options = bound.Options;
        if (Options.AlgorithmType != AlgorithmType.Deis)
        {
            MapOption("algorithm_type", AlgorithmType.Deis);
        }
        if (Options.SolverType != SolverType.LogRho)
        {
            MapOption("solver_type", SolverType.LogRho);
        }
    }

    /// <summary>The options this scheduler runs with (<see cref="IScheduler.Config"/> shows them as configuration keys).</summary>
    internal DEISMultistepSchedulerOptions Options { get; }

    /// <summary>Builds a scheduler from a configuration (possibly another scheduler's), like
    /// <c>DEISMultistepScheduler.from_config(config, **overrides)</c>.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="overrides">Options to set; as in diffusers, names this class does not take are ignored with a warning.</param>
    /// <param name="logger">Where warnings go.</param>
    /// <returns>The scheduler.</returns>
    /// <exception cref="ArgumentException">An option value is invalid.</exception>
    public static DEISMultistepScheduler FromConfig(SchedulerConfig config, IEnumerable<KeyValuePair<string, object?>>? overrides = null, ILogger? logger = null) =>
        (DEISMultistepScheduler)SchedulerRegistry.Create(nameof(DEISMultistepScheduler), config, overrides, logger);

    /// <inheritdoc />
    private protected override void SetTimestepsCore(int numInferenceSteps)
    {
        CheckStepCount(numInferenceSteps, NumTrainTimesteps);
        RejectUnbuildableSigmas("use_karras_sigmas");
        long[] timesteps = SpacedTimesteps.Solver(Options.TimestepSpacing, NumTrainTimesteps, NumTrainTimesteps, numInferenceSteps, Options.StepsOffset);
        double[] sigmas = SpacedOrKarrasSigmas(ref timesteps, numInferenceSteps);
        // With Karras sigmas DEIS repeats the last one; else the schedule ends at the smallest training σ.
        InstallSchedule(timesteps, sigmas, Options.SigmaSpacing == SigmaSpacing.Karras ? (float)sigmas[^1] : Tables.Sigmas[0]);
    }

    /// <inheritdoc />
    private protected override SchedulerOutput StepCore(Tensor<float> modelOutput, float timestep, Tensor<float> sample, TorchGenerator? generator)
    {
        CheckStepArguments(modelOutput, sample);
        EnsureStepsSet();
        int count = TimestepValues.Length;
        int index = SolverStepIndex(timestep, count);
        bool lowerOrderFinal = index == count - 1 && Options.LowerOrderFinal && count < 15;
        bool lowerOrderSecond = index == count - 2 && Options.LowerOrderFinal && count < 15;

        Span<float> x = sample.AsSpan();
        int n = x.Length;
        History.EnsureLength(n);
        float[] converted = History.Pending;
        ConvertModelOutput(SigmaValues[index], modelOutput.AsSpan(), x, converted, Threshold(sample, Options.Thresholding, withWorkspace: false));
        History.Push();

        if (SolverOrder == 1 || LowerOrderNums < 1 || lowerOrderFinal)
        {
            FirstOrder(index, x);
        }
        else if (SolverOrder == 2 || LowerOrderNums < 2 || lowerOrderSecond)
        {
            SecondOrder(index, x);
        }
        else
        {
            ThirdOrder(index, x);
        }

        CountLowerOrderStep();
        StepIndex = index + 1;
        return new SchedulerOutput(sample, null);
    }

    // convert_model_output: x₀ from the model output (thresholded when enabled), then ε = (x − α·x₀)/σ.
    private void ConvertModelOutput(float sigma, ReadOnlySpan<float> modelOutput, ReadOnlySpan<float> sample, Span<float> destination, in ThresholdSettings threshold)
    {
        (float alphaT, float sigmaT) = VpSolverMath.AlphaSigma(sigma);
        Span<float> x0 = Rent(ref _scratch, sample.Length);
        VpSolverMath.PredictOriginalSample(Options.PredictionType, alphaT, sigmaT, modelOutput, sample, x0);
        if (threshold.Enabled)
        {
            threshold.Apply(x0);
        }
        ElementwiseOps.SubtractScaledThenDivide(sample, alphaT, x0, sigmaT, destination);
    }

    // deis_first_order_update
    private void FirstOrder(int index, Span<float> x)
    {
        (float alphaT, float sigmaT) = VpSolverMath.AlphaSigma(SigmaValues[index + 1]);
        (float alphaS, float sigmaS) = VpSolverMath.AlphaSigma(SigmaValues[index]);
        float lambdaT = VpSolverMath.Lambda(alphaT, sigmaT);
        float lambdaS = VpSolverMath.Lambda(alphaS, sigmaS);
        float h = lambdaT - lambdaS;
        float a = alphaT / alphaS;
        float b = sigmaT * (SleefFloat.Exp(h) - 1f);
        ElementwiseOps.LinearCombination(a, x, -b, History[0], x);
    }

    // multistep_deis_second_order_update: x_t = α_t·(x/α_s0 + c1·m0 + c2·m1) with the log-ρ integrals.
    private void SecondOrder(int index, Span<float> x)
    {
        (float alphaT, float sigmaT) = VpSolverMath.AlphaSigma(SigmaValues[index + 1]);
        (float alphaS0, float sigmaS0) = VpSolverMath.AlphaSigma(SigmaValues[index]);
        (float alphaS1, float sigmaS1) = VpSolverMath.AlphaSigma(SigmaValues[index - 1]);
        float rhoT = sigmaT / alphaT;
        float rhoS0 = sigmaS0 / alphaS0;
        float rhoS1 = sigmaS1 / alphaS1;
        float coef1 = Integral2(rhoT, rhoS0, rhoS1) - Integral2(rhoS0, rhoS0, rhoS1);
        float coef2 = Integral2(rhoT, rhoS1, rhoS0) - Integral2(rhoS0, rhoS1, rhoS0);
        float[] tmp = Rent(ref _scratch, x.Length);
        TensorPrimitives.Divide(x, alphaS0, tmp);
        ElementwiseOps.AddScaled(tmp, coef1, History[0], tmp);
        ElementwiseOps.AddScaled(tmp, coef2, History[1], tmp);
        TensorPrimitives.Multiply(tmp, alphaT, x);
    }

    // multistep_deis_third_order_update
    private void ThirdOrder(int index, Span<float> x)
    {
        (float alphaT, float sigmaT) = VpSolverMath.AlphaSigma(SigmaValues[index + 1]);
        (float alphaS0, float sigmaS0) = VpSolverMath.AlphaSigma(SigmaValues[index]);
        (float alphaS1, float sigmaS1) = VpSolverMath.AlphaSigma(SigmaValues[index - 1]);
        (float alphaS2, float sigmaS2) = VpSolverMath.AlphaSigma(SigmaValues[index - 2]);
        float rhoT = sigmaT / alphaT;
        float rhoS0 = sigmaS0 / alphaS0;
        float rhoS1 = sigmaS1 / alphaS1;
        float rhoS2 = sigmaS2 / alphaS2;
        float coef1 = Integral3(rhoT, rhoS0, rhoS1, rhoS2) - Integral3(rhoS0, rhoS0, rhoS1, rhoS2);
        float coef2 = Integral3(rhoT, rhoS1, rhoS2, rhoS0) - Integral3(rhoS0, rhoS1, rhoS2, rhoS0);
        float coef3 = Integral3(rhoT, rhoS2, rhoS0, rhoS1) - Integral3(rhoS0, rhoS2, rhoS0, rhoS1);
        float[] tmp = Rent(ref _scratch, x.Length);
        TensorPrimitives.Divide(x, alphaS0, tmp);
        ElementwiseOps.AddScaled(tmp, coef1, History[0], tmp);
        ElementwiseOps.AddScaled(tmp, coef2, History[1], tmp);
        ElementwiseOps.AddScaled(tmp, coef3, History[2], tmp);
        TensorPrimitives.Multiply(tmp, alphaT, x);
    }

    /// <summary>∫ (log t − log c)/(log b − log c) dt = t·(−log c + log t − 1)/(log b − log c), float32.</summary>
    internal static float Integral2(float t, float b, float c)
    {
        float lt = NumpyFloat32.Log(t);
        float lb = NumpyFloat32.Log(b);
        float lc = NumpyFloat32.Log(c);
        float inner = -lc + lt;
        inner -= 1f;
        float numerator = t * inner;
        return numerator / (lb - lc);
    }

    /// <summary>∫ (log t − log c)(log t − log d)/((log b − log c)(log b − log d)) dt, float32, diffusers' term order.</summary>
    internal static float Integral3(float t, float b, float c, float d)
    {
        float lt = NumpyFloat32.Log(t);
        float lb = NumpyFloat32.Log(b);
        float lc = NumpyFloat32.Log(c);
        float ld = NumpyFloat32.Log(d);
        float p = lc * (ld - lt + 1f);
        p -= ld * lt;
        p += ld;
        p += lt * lt;
        p -= 2f * lt;
        p += 2f;
        float numerator = t * p;
        float denominator = (lb - lc) * (lb - ld);
        return numerator / denominator;
    }
}
