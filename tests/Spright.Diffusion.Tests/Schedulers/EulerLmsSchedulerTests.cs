using System.Numerics.Tensors;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Random;
using Spright.Diffusion.Schedulers;
using Spright.Diffusion.IO;
using Spright.Diffusion.Tests.Infrastructure;
using static Spright.Diffusion.Tests.Schedulers.GroupASchedulerTestKit;

namespace Spright.Diffusion.Tests.Schedulers;

/// <summary>Euler, Euler ancestral and LMS checked against the k-diffusion formulas of diffusers'
/// <c>scheduling_euler_discrete.py</c>, <c>scheduling_euler_ancestral_discrete.py</c> and <c>scheduling_lms_discrete.py</c>,
/// evaluated by hand in float32.</summary>
public sealed class EulerLmsSchedulerTests
{
    internal static float TrainSigma(SigmaSchedulerBase s, int t)
    {
        float a = s.AlphasCumprod[t];
        return MathF.Sqrt((1f - a) / a);
    }

    // x₀ as diffusers computes it for sigma schedulers.
    internal static float[] X0(string prediction, float[] x, float[] m, float sigma) => prediction switch
    {
        "epsilon" => x.Select((v, i) => v - sigma * m[i]).ToArray(),
        "v_prediction" => x.Select((v, i) => m[i] * (-sigma / InputScale(sigma)) + v / (sigma * sigma + 1f)).ToArray(),
        _ => (float[])m.Clone(),
    };

    private static float[] EulerUpdate(float[] x, float[] x0, float sigmaHat, float sigmaNext) =>
        x.Select((v, i) => v + (v - x0[i]) / sigmaHat * (sigmaNext - sigmaHat)).ToArray();

    [Fact]
    public void SpacingsGiveTrainingSigmasAndInitNoiseSigma()
    {
        var linspace = Make<EulerDiscreteScheduler>();
        linspace.SetTimesteps(10);
        Assert.Equal([999f, 888, 777, 666, 555, 444, 333, 222, 111, 0], linspace.Timesteps.ToArray());
        float[] expected = [.. linspace.Timesteps.ToArray().Select(t => TrainSigma(linspace, (int)t)), 0f];
        AssertClose.Exact(expected, linspace.Sigmas, "linspace sigmas");
        Assert.Equal(linspace.Sigmas[0], linspace.InitNoiseSigma);
        Assert.False(linspace.HasIntegerTimesteps);

        var leading = Make<EulerDiscreteScheduler>(("timestep_spacing", "leading"), ("steps_offset", 1));
        leading.SetTimesteps(10);
        Assert.Equal([901f, 801, 701, 601, 501, 401, 301, 201, 101, 1], leading.Timesteps.ToArray());
        float max = leading.Sigmas[0];
        Assert.Equal(MathF.Sqrt(max * max + 1f), leading.InitNoiseSigma);

        var trailing = Make<EulerDiscreteScheduler>(("timestep_spacing", "trailing"));
        trailing.SetTimesteps(10);
        Assert.Equal([999f, 899, 799, 699, 599, 499, 399, 299, 199, 99], trailing.Timesteps.ToArray());

        // Fractional timesteps interpolate σ linearly (np.interp in float64).
        linspace.SetTimesteps(7);
        Assert.Equal(166.5f, linspace.Timesteps[5]);
        double s166 = TrainSigma(linspace, 166), s167 = TrainSigma(linspace, 167);
        Assert.Equal((float)(s166 + 0.5 * (s167 - s166)), linspace.Sigmas[5]);
    }

    [Theory]
    [InlineData("epsilon")]
    [InlineData("v_prediction")]
    [InlineData("sample")]
    [InlineData("original_sample")]
    public void EulerStepFollowsTheOdeDerivative(string prediction)
    {
        var s = Make<EulerDiscreteScheduler>(("prediction_type", prediction), ("timestep_spacing", "leading"));
        s.SetTimesteps(10);
        float t = s.Timesteps[0];
        float sigma = s.Sigmas[0];
        var scaled = new float[4];
        s.ScaleModelInput(Sample, t, scaled);
        AssertClose.Exact(Sample.Select(v => v / InputScale(sigma)).ToArray(), scaled, "scale_model_input");

        Tensor<float> sample = Vec(Sample);
        SchedulerOutput o = s.Step(Vec(Output), t, sample);
        float[] x0 = X0(prediction == "original_sample" ? "sample" : prediction, Sample, Output, sigma);
        AssertClose.Exact(x0, o.PredOriginalSample!.AsSpan(), "x0");
        AssertClose.Exact(EulerUpdate(Sample, x0, sigma, s.Sigmas[1]), sample.AsSpan(), "prev");
        Assert.Equal(1, s.StepIndex);
    }

    [Fact]
    public void ChurnRaisesSigmaWithGeneratorNoise()
    {
        var s = Make<EulerDiscreteScheduler>();
        s.SetTimesteps(10);
        float t = s.Timesteps[0];
        float sigma = s.Sigmas[0];
        var generator = new TorchGenerator(4);
        float[] noise = PeekNoise(generator, 4);
        Tensor<float> sample = Vec(Sample);
        s.Step(Vec(Output), t, sample, sChurn: 1f, sTmin: 0f, sTmax: float.PositiveInfinity, sNoise: 0.9f, generator);

        // γ = min(1/(11 − 1), √2 − 1) = 0.1; σ̂ = σ·1.1.
        float sigmaHat = sigma * (float)(0.1 + 1);
        float up = MathF.Sqrt(sigmaHat * sigmaHat - sigma * sigma);
        float[] x = Sample.Select((v, i) => v + noise[i] * 0.9f * up).ToArray();
        float[] x0 = X0("epsilon", x, Output, sigmaHat);
        AssertClose.Exact(EulerUpdate(x, x0, sigmaHat, s.Sigmas[1]), sample.AsSpan(), "churned step");

        // Outside [s_tmin, s_tmax] there is no churn and no draw.
        var plain = Make<EulerDiscreteScheduler>();
        plain.SetTimesteps(10);
        var untouched = new TorchGenerator(4);
        Tensor<float> a = Vec(Sample), b = Vec(Sample);
        plain.Step(Vec(Output), t, a, sChurn: 1f, sTmin: 0f, sTmax: 1f, sNoise: 1f, untouched);
        Make<EulerDiscreteScheduler>().Apply(e => e.SetTimesteps(10)).Step(Vec(Output), t, b);
        AssertClose.Exact(b.AsSpan(), a.AsSpan(), "no churn above s_tmax");
        Assert.True(SameState(new TorchGenerator(4), untouched));

        var needsGenerator = Make<EulerDiscreteScheduler>();
        needsGenerator.SetTimesteps(10);
        Assert.Throws<ArgumentNullException>(() => needsGenerator.Step(Vec(Output), t, Vec(Sample), 1f, 0f, float.PositiveInfinity, 1f, null));
    }

    [Fact]
    public void LogLinearInterpolationIsLogUniformFromTheLargestTrainingSigma()
    {
        var s = Make<EulerDiscreteScheduler>(("interpolation_type", "log_linear"));
        s.SetTimesteps(10);
        float[] sigmas = s.Sigmas.ToArray();
        Assert.Equal(12, sigmas.Length); // n + 1 log-spaced values, then the final 0 (as in diffusers)
        Assert.Equal(0f, sigmas[^1]);
        Assert.Equal(TrainSigma(s, 999), sigmas[0], TrainSigma(s, 999) * 1e-6f);
        Assert.Equal(TrainSigma(s, 0), sigmas[10], TrainSigma(s, 0) * 1e-6f);
        double ratio = Math.Log(sigmas[1] / sigmas[0]);
        for (int i = 1; i < 10; i++)
        {
            Assert.Equal(ratio, Math.Log(sigmas[i + 1] / sigmas[i]), 1e-5);
        }
    }

    [Fact]
    public void KarrasSigmasFollowTheRhoSevenRamp()
    {
        var s = Make<EulerDiscreteScheduler>(("use_karras_sigmas", true));
        s.SetTimesteps(5);
        double min = TrainSigma(s, 0), max = TrainSigma(s, 999);
        double[] ramp = [0, 0.25, 0.5, 0.75, 1];
        float[] expected = [.. ramp.Select(r => (float)Math.Pow(Math.Pow(max, 1 / 7.0) + r * (Math.Pow(min, 1 / 7.0) - Math.Pow(max, 1 / 7.0)), 7)), 0f];
        AssertClose.Exact(expected, s.Sigmas, "karras sigmas");
        float[] t = s.Timesteps.ToArray();
        Assert.Equal(999f, t[0], 1e-3f);
        Assert.Equal(0f, t[^1], 1e-3f);
        Assert.True(t.Zip(t.Skip(1)).All(p => p.First > p.Second));

        var bounded = Make<EulerDiscreteScheduler>(("use_karras_sigmas", true), ("sigma_min", 0.1), ("sigma_max", 10.0));
        bounded.SetTimesteps(5);
        Assert.Equal(10f, bounded.Sigmas[0], 1e-5f);
        Assert.Equal(0.1f, bounded.Sigmas[4], 1e-7f);
    }

    [Theory]
    [MemberData(nameof(Respacing), MemberType = typeof(GroupASchedulerTestKit))]
    public void ExponentialAndBetaSigmasSpanTheInterpolatedRange(string className)
    {
        var exp = (SigmaSchedulerBase)Make(className, ("use_exponential_sigmas", true), ("timestep_spacing", "linspace"));
        exp.SetTimesteps(5);
        float[] e = Distinct(exp);
        double min = TrainSigma(exp, 0), max = TrainSigma(exp, 999);
        for (int i = 0; i < 5; i++)
        {
            double expected = Math.Exp(Math.Log(max) + i / 4.0 * (Math.Log(min) - Math.Log(max)));
            Assert.Equal(expected, e[i], expected * 2e-6);
        }

        var beta = (SigmaSchedulerBase)Make(className, ("use_beta_sigmas", true), ("timestep_spacing", "linspace"));
        beta.SetTimesteps(5);
        float[] b = Distinct(beta);
        Assert.Equal(max, b[0], max * 1e-6);
        Assert.Equal(min + 0.5 * (max - min), b[2], max * 1e-6); // Beta(0.6, 0.6) is symmetric: its median is 1/2
        Assert.Equal(min, b[4], min * 1e-6);
        Assert.Equal(0.75, BetaDistribution.Cdf((b[1] - min) / (max - min), 0.6, 0.6), 1e-6);
        Assert.Equal(0.25, BetaDistribution.Cdf((b[3] - min) / (max - min), 0.6, 0.6), 1e-6);

        // The timesteps follow the sigmas back through the log-σ table.
        float[] t = beta.Timesteps.ToArray();
        Assert.Equal(999f, t[0], 1e-3f);
        Assert.True(t.Zip(t.Skip(1)).All(p => p.First >= p.Second));
    }

    // The distinct sigmas of a (possibly interleaved) schedule, without the final one(s).
    private static float[] Distinct(SigmaSchedulerBase s)
    {
        var list = new List<float>();
        foreach (float v in s.Sigmas)
        {
            if (list.Count == 0 || list[^1] != v)
            {
                list.Add(v);
            }
        }
        return list.Where(v => v != 0).ToArray();
    }

    [Fact]
    public void ContinuousTimestepsFinalSigmaAndZeroSnr()
    {
        var continuous = Make<EulerDiscreteScheduler>(("timestep_type", "continuous"), ("prediction_type", "v_prediction"));
        continuous.SetTimesteps(10);
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal(0.25 * Math.Log(continuous.Sigmas[i]), continuous.Timesteps[i], 1e-6);
        }
        var epsilon = Make<EulerDiscreteScheduler>(("timestep_type", "continuous"));
        epsilon.SetTimesteps(10);
        Assert.Equal(999f, epsilon.Timesteps[0]); // continuous timesteps need v-prediction

        var sigmaMin = Make<EulerDiscreteScheduler>(("final_sigmas_type", "sigma_min"));
        sigmaMin.SetTimesteps(10);
        Assert.Equal(TrainSigma(sigmaMin, 0), sigmaMin.Sigmas[^1]);

        var zeroSnr = Make<EulerDiscreteScheduler>(("rescale_betas_zero_snr", true), ("timestep_spacing", "trailing"));
        Assert.Equal(MathF.Pow(2, -24), zeroSnr.AlphasCumprod[999]);
        zeroSnr.SetTimesteps(10);
        float top = MathF.Sqrt((1f - MathF.Pow(2, -24)) / MathF.Pow(2, -24));
        Assert.Equal(top, zeroSnr.Sigmas[0]);
        Assert.Equal(top, zeroSnr.InitNoiseSigma);
    }

    [Fact]
    public void CustomTimestepsAndSigmas()
    {
        var s = Make<EulerDiscreteScheduler>();
        s.SetTimesteps([999f, 500f, 10f], null);
        Assert.Equal(3, s.NumInferenceSteps);
        AssertClose.Exact([TrainSigma(s, 999), TrainSigma(s, 500), TrainSigma(s, 10), 0f], s.Sigmas, "sigmas of custom timesteps");

        float[] custom = [14f, 7f, TrainSigma(s, 500), 0.1f, 0.05f];
        s.SetTimesteps(null, custom);
        Assert.Equal(4, s.NumInferenceSteps);
        Assert.Equal(custom, s.Sigmas.ToArray()); // the last given sigma is the final one
        Assert.Equal(4, s.Timesteps.Length);
        Assert.Equal(500f, s.Timesteps[2], 1e-3f);
        Assert.True(s.Timesteps[0] > s.Timesteps[1]);
        Assert.Equal(14f, s.InitNoiseSigma);

        Assert.ThrowsAny<ArgumentException>(() => s.SetTimesteps([1f], [1f, 0f]));
        Assert.ThrowsAny<ArgumentException>(() => Make<EulerDiscreteScheduler>(("use_karras_sigmas", true)).SetTimesteps([999f, 10f], null));
        Assert.ThrowsAny<ArgumentException>(() => Make<EulerDiscreteScheduler>(("timestep_type", "continuous"), ("prediction_type", "v_prediction")).SetTimesteps([999f, 10f], null));
        Assert.ThrowsAny<ArgumentException>(() => s.SetTimesteps(null, [1f]));
    }

    [Theory]
    [MemberData(nameof(Sigma), MemberType = typeof(GroupASchedulerTestKit))]
    public void AddNoiseUsesTheSigmaOfTheTimestepOrOfTheBeginIndex(string className)
    {
        var s = (SigmaSchedulerBase)Make(className, ("timestep_spacing", "leading"), ("steps_offset", 1));
        s.SetTimesteps(10);
        float[] timesteps = s.Timesteps.ToArray();
        int index = Array.IndexOf(timesteps, 501f);
        float sigma = s.Sigmas[index];
        var dst = new float[4];
        s.AddNoise(Sample, Output, 501f, dst);
        AssertClose.Exact(Sample.Select((x, i) => x + Output[i] * sigma).ToArray(), dst, "add_noise by timestep");

        // img2img: with a begin index the noise level is the begin index's σ and stepping starts there.
        int begin = 4 * s.Order;
        s.SetBeginIndex(begin);
        s.AddNoise(Sample, Output, timesteps[begin], dst);
        AssertClose.Exact(Sample.Select((x, i) => x + Output[i] * s.Sigmas[begin]).ToArray(), dst, "add_noise at begin index");
        var scaled = new float[4];
        s.ScaleModelInput(dst, timesteps[begin], scaled);
        Assert.Equal(begin, s.StepIndex);
        AssertClose.Exact(dst.Select(v => v / InputScale(s.Sigmas[begin])).ToArray(), scaled, "scaled at begin");
        Assert.ThrowsAny<ArgumentException>(() => Make(className).ScaleModelInput(Sample, 12.345f, scaled));
    }

    [Theory]
    [InlineData("epsilon")]
    [InlineData("v_prediction")]
    public void AncestralStepGoesToSigmaDownThenAddsSigmaUpNoise(string prediction)
    {
        var s = Make<EulerAncestralDiscreteScheduler>(("prediction_type", prediction));
        s.SetTimesteps(10);
        float sigma = s.Sigmas[2], to = s.Sigmas[3];
        float up = MathF.Sqrt(to * to * (sigma * sigma - to * to) / (sigma * sigma));
        float down = MathF.Sqrt(to * to - up * up);
        var generator = new TorchGenerator(17);
        float[] noise = PeekNoise(generator, 4);
        s.SetBeginIndex(2);
        Tensor<float> sample = Vec(Sample);
        s.Step(Vec(Output), s.Timesteps[2], sample, generator);
        float[] x0 = X0(prediction, Sample, Output, sigma);
        float[] expected = EulerUpdate(Sample, x0, sigma, down).Select((v, i) => v + noise[i] * up).ToArray();
        AssertClose.Exact(expected, sample.AsSpan(), "ancestral step");

        Assert.Throws<ArgumentNullException>(() => s.Step(Vec(Output), s.Timesteps[3], Vec(Sample), null));
        var sampleType = Make<EulerAncestralDiscreteScheduler>(("prediction_type", "sample"));
        sampleType.SetTimesteps(10);
        Assert.Throws<NotSupportedException>(() => sampleType.Step(Vec(Output), sampleType.Timesteps[0], Vec(Sample), new TorchGenerator(1)));

        var zeroSnr = Make<EulerAncestralDiscreteScheduler>(("rescale_betas_zero_snr", true));
        Assert.Equal(MathF.Pow(2, -24), zeroSnr.AlphasCumprod[999]);
    }

    [Fact]
    public void LmsCoefficientsIntegrateTheLagrangeBasis()
    {
        var s = Make<LMSDiscreteScheduler>();
        s.SetTimesteps(10);
        double[] sg = s.Sigmas.ToArray().Select(v => (double)v).ToArray();
        int t = 3;
        Assert.Equal(sg[t + 1] - sg[t], s.LmsCoefficient(1, t, 0), Math.Abs(sg[t + 1] - sg[t]) * 1e-13);
        // ∫ (τ − σ₂)/(σ₃ − σ₂) dτ over [σ₃, σ₄].
        double analytic = (Math.Pow(sg[4] - sg[2], 2) - Math.Pow(sg[3] - sg[2], 2)) / (2 * (sg[3] - sg[2]));
        Assert.Equal(analytic, s.LmsCoefficient(2, t, 0), Math.Abs(analytic) * 1e-6);
        foreach (int order in new[] { 2, 3, 4 })
        {
            double sum = Enumerable.Range(0, order).Sum(k => s.LmsCoefficient(order, t, k));
            Assert.Equal(sg[t + 1] - sg[t], sum, Math.Abs(sg[t + 1] - sg[t]) * 1e-6); // the basis sums to 1
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => s.LmsCoefficient(5, 3, 0));
    }

    [Fact]
    public void LmsWithAConstantNoisePredictionWalksToXMinusSigmaEpsilon()
    {
        var s = Make<LMSDiscreteScheduler>(("timestep_spacing", "leading"));
        s.SetTimesteps(12);
        float sigma0 = s.Sigmas[0];
        Tensor<float> sample = Vec(Sample);
        foreach (float t in s.Timesteps.ToArray())
        {
            s.Step(Vec(Output), t, sample);
        }
        float[] expected = Sample.Select((v, i) => v - sigma0 * Output[i]).ToArray();
        AssertClose.All(expected, sample.AsSpan(), 1e-4, 1e-5, "x − σ₀ε");
    }

    [Fact]
    public void LmsOfOrderOneIsAnEulerStepAndMatchesEulerSigmas()
    {
        var lms = Make<LMSDiscreteScheduler>(("timestep_spacing", "trailing"));
        var euler = Make<EulerDiscreteScheduler>(("timestep_spacing", "trailing"));
        lms.SetTimesteps(8);
        euler.SetTimesteps(8);
        Assert.Equal(euler.Sigmas.ToArray(), lms.Sigmas.ToArray());
        Assert.Equal(euler.Timesteps.ToArray(), lms.Timesteps.ToArray());
        Assert.Equal(euler.InitNoiseSigma, lms.InitNoiseSigma);
        Tensor<float> a = Vec(Sample), b = Vec(Sample);
        for (int i = 0; i < 3; i++)
        {
            float t = lms.Timesteps[i];
            lms.Step(Vec(Output2), t, a, order: 1);
            euler.Step(Vec(Output2), t, b);
        }
        AssertClose.All(b.AsSpan(), a.AsSpan(), 1e-6, 0, "order-1 LMS vs Euler");
    }

    [Fact]
    public void LmsReadsSigmaBoundsFromTheConfigurationOnlyForExponentialAndBetaSigmas()
    {
        // Keys of another class's configuration are kept hidden and seen by diffusers' hasattr(self.config, ...).
        var euler = EulerDiscreteScheduler.FromConfig(SchedulerConfig.Empty, [new("sigma_min", 0.5), new("sigma_max", 5.0)]);
        var karras = LMSDiscreteScheduler.FromConfig(euler.Config, [new("use_karras_sigmas", true)]);
        karras.SetTimesteps(5);
        Assert.Equal(TrainSigma(karras, 999), karras.Sigmas[0], 1e-5f);
        var exponential = LMSDiscreteScheduler.FromConfig(euler.Config, [new("use_exponential_sigmas", true)]);
        exponential.SetTimesteps(5);
        Assert.Equal(5f, exponential.Sigmas[0], 1e-5f);
        Assert.Equal(0.5f, exponential.Sigmas[4], 1e-6f);
    }
}

internal static class SchedulerTestExtensions
{
    public static T Apply<T>(this T value, Action<T> action)
    {
        action(value);
        return value;
    }
}
