using System.Numerics.Tensors;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Random;
using Spright.Diffusion.Tensors;

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
public sealed class DEISMultistepScheduler : SchedulerBase
{
    private readonly SolverHistory _history = new();
    private int _lowerOrderNums;
    private float[]? _scratch;
    private float[]? _thresholdSort;

    /// <summary>Creates a DEIS scheduler, like <c>DEISMultistepScheduler(**options)</c>.</summary>
    /// <param name="options">The options; <see langword="null"/> for diffusers' defaults.</param>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public DEISMultistepScheduler(DEISMultistepSchedulerOptions? options = null)
        : this(SchedulerSignatures.DEIS.Bind(options ?? new()), null)
    {
    }

    internal DEISMultistepScheduler(BoundOptions<DEISMultistepSchedulerOptions> bound, ILogger? logger)
        : base(bound.Config, logger)
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

        Tables = new TrainingTables(BetaSchedules.AlphasCumprod(ClassName, Options));
        TimestepValues = SpacedTimesteps.AllTraining(Options.NumTrainTimesteps);
        SigmaValues = (float[])Tables.Sigmas.Clone();
        _history.Reset(SolverOrder);
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

    private int NumTrainTimesteps => Options.NumTrainTimesteps;

    private int SolverOrder => Options.SolverOrder;

    /// <inheritdoc />
    private protected override void SetTimestepsCore(int numInferenceSteps)
    {
        CheckStepCount(numInferenceSteps, NumTrainTimesteps);
        long[] timesteps = SpacedTimesteps.Solver(Options.TimestepSpacing, NumTrainTimesteps, NumTrainTimesteps, numInferenceSteps, Options.StepsOffset);
        float[] sigmaValues;
        if (Options.SigmaSpacing == SigmaSpacing.Karras)
        {
            double[] sigmas = SigmaScheduleMath.Karras(Tables.Sigmas[0], Tables.Sigmas[^1], numInferenceSteps);
            timesteps = Tables.RoundedTimestepsOf(sigmas);
            sigmaValues = new float[sigmas.Length + 1];
            for (int i = 0; i < sigmas.Length; i++)
            {
                sigmaValues[i] = (float)sigmas[i];
            }
            sigmaValues[^1] = sigmaValues[^2]; // DEIS repeats the last Karras sigma
        }
        else if (Options.SigmaSpacing != SigmaSpacing.None)
        {
            throw VpSolverMath.UnbuildableSigmas(ClassName, Options.SigmaSpacing, "use_karras_sigmas");
        }
        else
        {
            sigmaValues = new float[timesteps.Length + 1];
            double[] sigmas = Tables.SigmasAt(timesteps);
            for (int i = 0; i < sigmas.Length; i++)
            {
                sigmaValues[i] = (float)sigmas[i];
            }
            sigmaValues[^1] = Tables.Sigmas[0];
        }
        SigmaValues = sigmaValues;
        TimestepValues = VpSolverMath.TimestepsToFloat(timesteps);
        NumInferenceSteps = timesteps.Length;
        _history.Reset(SolverOrder);
        _lowerOrderNums = 0;
        StepIndex = null;
        BeginIndex = null;
    }

    /// <inheritdoc />
    private protected override SchedulerOutput StepCore(Tensor<float> modelOutput, float timestep, Tensor<float> sample, TorchGenerator? generator)
    {
        CheckStepArguments(modelOutput, sample);
        EnsureStepsSet();
        int index = EnsureSolverStepIndex(timestep);
        int count = TimestepValues.Length;
        if (index >= count)
        {
            throw new InvalidOperationException($"{ClassName}: all {count} steps have run; call SetTimesteps again.");
        }
        bool lowerOrderFinal = index == count - 1 && Options.LowerOrderFinal && count < 15;
        bool lowerOrderSecond = index == count - 2 && Options.LowerOrderFinal && count < 15;

        Span<float> x = sample.AsSpan();
        int n = x.Length;
        _history.EnsureLength(n);
        float[] converted = _history.Pending;
        ConvertModelOutput(SigmaValues[index], modelOutput.AsSpan(), x, converted, (int)sample.Lengths[0]);
        _history.Push();

        if (SolverOrder == 1 || _lowerOrderNums < 1 || lowerOrderFinal)
        {
            FirstOrder(index, x);
        }
        else if (SolverOrder == 2 || _lowerOrderNums < 2 || lowerOrderSecond)
        {
            SecondOrder(index, x);
        }
        else
        {
            ThirdOrder(index, x);
        }

        if (_lowerOrderNums < SolverOrder)
        {
            _lowerOrderNums++;
        }
        StepIndex = index + 1;
        return new SchedulerOutput(sample, null);
    }

    // convert_model_output: x₀ from the model output (thresholded when enabled), then ε = (x − α·x₀)/σ.
    private void ConvertModelOutput(float sigma, ReadOnlySpan<float> modelOutput, ReadOnlySpan<float> sample, Span<float> destination, int batch)
    {
        (float alphaT, float sigmaT) = VpSolverMath.AlphaSigma(sigma);
        int n = sample.Length;
        Span<float> x0 = Rent(ref _scratch, n);
        VpSolverMath.PredictOriginalSample(Options.PredictionType, alphaT, sigmaT, modelOutput, sample, x0);
        if (Options.Thresholding)
        {
            DynamicThresholding.Apply(x0, batch, (float)Options.DynamicThresholdingRatio, (float)Options.SampleMaxValue, Rent(ref _thresholdSort, n / Math.Max(batch, 1)));
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
        ElementwiseOps.LinearCombination(a, x, -b, _history[0], x);
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
        ElementwiseOps.AddScaled(tmp, coef1, _history[0], tmp);
        ElementwiseOps.AddScaled(tmp, coef2, _history[1], tmp);
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
        ElementwiseOps.AddScaled(tmp, coef1, _history[0], tmp);
        ElementwiseOps.AddScaled(tmp, coef2, _history[1], tmp);
        ElementwiseOps.AddScaled(tmp, coef3, _history[2], tmp);
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

    /// <inheritdoc />
    private protected override void AddNoiseCore(ReadOnlySpan<float> originalSamples, ReadOnlySpan<float> noise, float timestep, Span<float> destination) =>
        VpSolverMath.AddNoiseAtSigma(SigmaValues[AddNoiseIndex(timestep, lastWhenMissing: true)], originalSamples, noise, destination);
}
