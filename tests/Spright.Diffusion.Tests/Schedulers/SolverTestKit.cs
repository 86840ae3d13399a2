using System.Numerics.Tensors;
using System.Text.Json.Nodes;
using Spright.Diffusion.Random;
using Spright.Diffusion.Schedulers;
using Spright.Diffusion.IO;
using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Tests.Schedulers;

/// <summary>
/// Closed-form solutions of the diffusion ODEs used to check the VP solvers without reference data.
/// With x_t = α_t·x̂₀ + σ_t·ε (α = 1/√(σ²+1), λ = log α − log σ):
/// <list type="bullet">
/// <item>data form: x_t/σ_t = x_s/σ_s + ∫ e^λ x̂₀(λ) dλ; for x̂₀ = c + bλ + qλ² the integral is e^λ[c + b(λ−1) + q(λ²−2λ+2)].</item>
/// <item>noise form: x_t/α_t = x_s/α_s − ∫ e^−λ ε(λ) dλ; for ε = c + bλ + qλ² the integral is −e^−λ[c + b(λ+1) + q(λ²+2λ+2)].</item>
/// </list>
/// A constant x̂₀ makes ε constant along the solution as well, so every consistent solver follows it exactly.
/// </summary>
internal static class SolverTestKit
{
    public const int Length = 32;

    public static SchedulerConfig SdConfig => SchedulerReferenceCase.BaseConfig;

    public static IScheduler Create(string className, params (string Key, object? Value)[] overrides) =>
        SchedulerRegistry.Create(className, SdConfig, overrides.Select(o => new KeyValuePair<string, object?>(o.Key, o.Value)));

    public static (double Alpha, double Sigma, double Lambda) Vp(double sigma)
    {
        double alpha = 1 / Math.Sqrt(sigma * sigma + 1);
        double s = sigma * alpha;
        return (alpha, s, Math.Log(alpha) - Math.Log(s));
    }

    public static double[] Pattern(int seed, double scale)
    {
        var r = new double[Length];
        for (int i = 0; i < Length; i++)
        {
            r[i] = scale * Math.Sin(0.7 * i + seed) + 0.1 * seed;
        }
        return r;
    }

    public static Tensor<float> Tensor(float[] data) => TensorShapes.Wrap(data, 1, 2, 4, 4);

    public static string PredictionType(IScheduler s) => s.Config["prediction_type"]!.GetValue<string>();

    /// <summary>Fills the model output for a prediction type from x̂₀ and ε at noise level σ.</summary>
    public static void ModelOutput(string predictionType, double sigma, ReadOnlySpan<float> x, ReadOnlySpan<double> x0, Span<float> output, ReadOnlySpan<double> epsilon = default)
    {
        (double a, double s, _) = Vp(sigma);
        for (int i = 0; i < output.Length; i++)
        {
            double eps = epsilon.IsEmpty ? (x[i] - a * x0[i]) / s : epsilon[i];
            double x0i = epsilon.IsEmpty ? x0[i] : (x[i] - s * eps) / a;
            output[i] = predictionType switch
            {
                "epsilon" => (float)eps,
                "sample" => (float)x0i,
                _ => (float)(a * eps - s * x0i),
            };
        }
    }

    /// <summary>Runs a whole schedule with a constant x̂₀ and asserts every step lands on α·x̂₀ + σ·ε₀.</summary>
    public static double AssertConstantDataPredictionIsFollowed(IScheduler scheduler, int steps, double tolerance)
    {
        scheduler.SetTimesteps(steps);
        double[] x0 = Pattern(1, 0.8);
        double[] eps0 = Pattern(2, 1.0);
        string prediction = PredictionType(scheduler);
        var x = new float[Length];
        (double a0, double s0, _) = Vp(scheduler.Sigmas[0]);
        for (int i = 0; i < Length; i++)
        {
            x[i] = (float)(a0 * x0[i] + s0 * eps0[i]);
        }
        var output = new float[Length];
        Tensor<float> sampleTensor = Tensor(x);
        Tensor<float> outputTensor = Tensor(output);
        double worst = 0;
        ReadOnlySpan<float> timesteps = scheduler.Timesteps.ToArray();
        for (int step = 0; step < timesteps.Length; step++)
        {
            ModelOutput(prediction, scheduler.Sigmas[step], x, x0, output);
            scheduler.Step(outputTensor, timesteps[step], sampleTensor);
            (double a, double s, _) = Vp(scheduler.Sigmas[step + 1]);
            for (int i = 0; i < Length; i++)
            {
                double expected = a * x0[i] + s * eps0[i];
                double err = Math.Abs(x[i] - expected);
                worst = Math.Max(worst, err);
                Assert.True(err <= tolerance * (1 + Math.Abs(expected)),
                    $"{scheduler.ClassName} step {step} element {i}: {x[i]} vs closed form {expected} (|err| {err:E2})");
            }
        }
        return worst;
    }

    /// <summary>A polynomial-in-λ model: coefficients per element for c + bλ + qλ².</summary>
    public sealed class Polynomial(double linear, double quadratic)
    {
        private readonly double[] _c = Pattern(3, 0.5);
        private readonly double[] _b = Pattern(4, 1).Select(v => v * linear).ToArray();
        private readonly double[] _q = Pattern(5, 1).Select(v => v * quadratic).ToArray();
        private readonly double[] _k = Pattern(6, 0.3);

        public double Value(int i, double lambda) => _c[i] + _b[i] * lambda + _q[i] * lambda * lambda;

        /// <summary>An exact solution of the data-form ODE (x̂₀ = this polynomial).</summary>
        public double DataSolution(int i, double sigma)
        {
            (_, double s, double l) = Vp(sigma);
            double g = Math.Exp(l) * (_c[i] + _b[i] * (l - 1) + _q[i] * (l * l - 2 * l + 2));
            return s * (_k[i] + g);
        }

        /// <summary>An exact solution of the noise-form ODE (ε = this polynomial).</summary>
        public double NoiseSolution(int i, double sigma)
        {
            (double a, _, double l) = Vp(sigma);
            double h = Math.Exp(-l) * (_c[i] + _b[i] * (l + 1) + _q[i] * (l * l + 2 * l + 2));
            return a * (_k[i] + h);
        }
    }

    /// <summary>
    /// Drives the scheduler with a model whose x̂₀ (<paramref name="dataForm"/>) or ε is polynomial in λ, resetting the
    /// sample to the exact solution before every step, and asserts the steps selected by <paramref name="check"/> land
    /// on the exact solution.
    /// </summary>
    public static int AssertPolynomialSteps(IScheduler scheduler, int steps, Polynomial poly, bool dataForm, Func<int, bool> check, double tolerance)
    {
        scheduler.SetTimesteps(steps);
        var x = new float[Length];
        var output = new float[Length];
        Tensor<float> sampleTensor = Tensor(x);
        Tensor<float> outputTensor = Tensor(output);
        float[] timesteps = scheduler.Timesteps.ToArray();
        int checkedSteps = 0;
        for (int step = 0; step < timesteps.Length; step++)
        {
            double sigma = scheduler.Sigmas[step];
            double lambda = Vp(sigma).Lambda;
            for (int i = 0; i < Length; i++)
            {
                x[i] = (float)(dataForm ? poly.DataSolution(i, sigma) : poly.NoiseSolution(i, sigma));
                output[i] = (float)poly.Value(i, lambda);
            }
            scheduler.Step(outputTensor, timesteps[step], sampleTensor);
            if (!check(step))
            {
                continue;
            }
            checkedSteps++;
            double next = scheduler.Sigmas[step + 1];
            for (int i = 0; i < Length; i++)
            {
                double expected = dataForm ? poly.DataSolution(i, next) : poly.NoiseSolution(i, next);
                double err = Math.Abs(x[i] - expected);
                Assert.True(err <= tolerance * (1 + Math.Abs(expected)),
                    $"{scheduler.ClassName} step {step} element {i}: {x[i]} vs exact {expected} (|err| {err:E2})");
            }
        }
        return checkedSteps;
    }

    /// <summary>Runs <paramref name="steps"/> steps with a fixed model output pattern and returns the final sample.</summary>
    public static float[] Run(IScheduler scheduler, int steps, TorchGenerator? generator = null, int seed = 7)
    {
        scheduler.SetTimesteps(steps);
        return RunLoaded(scheduler, generator, seed);
    }

    /// <summary>Runs the already set schedule from its begin index (or 0).</summary>
    public static float[] RunLoaded(IScheduler scheduler, TorchGenerator? generator = null, int seed = 7, int begin = 0)
    {
        var x = Pattern(seed, 1).Select(v => (float)v).ToArray();
        var output = new float[Length];
        Tensor<float> sampleTensor = Tensor(x);
        Tensor<float> outputTensor = Tensor(output);
        float[] timesteps = scheduler.Timesteps.ToArray();
        for (int step = begin; step < timesteps.Length; step++)
        {
            float c = (float)(0.05 * Math.Cos(timesteps[step] / 100.0));
            for (int i = 0; i < Length; i++)
            {
                output[i] = x[i] * 0.3f + c;
            }
            scheduler.Step(outputTensor, timesteps[step], sampleTensor, generator);
        }
        return x;
    }

    public static JsonNode? Node(IScheduler s, string key) => s.Config[key];

    /// <summary>Asserts |actual − expected| ≤ tolerance·(1 + |expected|).</summary>
    public static void Near(double expected, double actual, double tolerance = 2e-5, string what = "value") =>
        Assert.True(Math.Abs(actual - expected) <= tolerance * (1 + Math.Abs(expected)), $"{what}: {actual} vs expected {expected}");
}
