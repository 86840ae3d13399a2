using System.Numerics.Tensors;
using Spright.Diffusion.Random;
using Spright.Diffusion.Schedulers;
using Spright.Diffusion.IO;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Tests.Infrastructure;
using static Spright.Diffusion.Tests.Schedulers.GroupASchedulerTestKit;

namespace Spright.Diffusion.Tests.Schedulers;

/// <summary>DDPM options checked against formula (7) of Ho et al. / diffusers' <c>scheduling_ddpm.py</c>, evaluated by
/// hand in float32.</summary>
public sealed class DDPMSchedulerTests
{
    // x₀ and the posterior mean, torch-style float32 (each operation rounded).
    private static (float[] X0, float[] Mean) Posterior(DDPMScheduler s, int t, int prevT, float[] x, float[] m, string prediction, float? clip)
    {
        float a = s.AlphasCumprod[t];
        float ap = prevT >= 0 ? s.AlphasCumprod[prevT] : 1f;
        float bt = 1f - a, btp = 1f - ap, ca = a / ap, cb = 1f - ca;
        var x0 = new float[x.Length];
        var mean = new float[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            float v = prediction switch
            {
                "epsilon" => (x[i] - MathF.Sqrt(bt) * m[i]) / MathF.Sqrt(a),
                "sample" => m[i],
                _ => MathF.Sqrt(a) * x[i] - MathF.Sqrt(bt) * m[i],
            };
            x0[i] = clip is float c ? Math.Clamp(v, -c, c) : v;
        }
        float c0 = MathF.Sqrt(ap) * cb / bt;
        float c1 = MathF.Sqrt(ca) * btp / bt;
        for (int i = 0; i < x.Length; i++)
        {
            float p0 = c0 * x0[i];
            float p1 = c1 * x[i];
            mean[i] = p0 + p1;
        }
        return (x0, mean);
    }

    private static float FixedSmallVariance(DDPMScheduler s, int t, int prevT)
    {
        float a = s.AlphasCumprod[t];
        float ap = prevT >= 0 ? s.AlphasCumprod[prevT] : 1f;
        float cb = 1f - a / ap;
        float v = (1f - ap) / (1f - a) * cb;
        return Math.Max(v, 1e-20f);
    }

    private static float[] AddScaled(float[] mean, float scale, float[] noise) =>
        mean.Select((v, i) => v + scale * noise[i]).ToArray();

    [Fact]
    public void LeadingSpacingWithOffsetAndTheOtherSpacings()
    {
        var s = Make<DDPMScheduler>();
        s.SetTimesteps(10);
        Assert.Equal([900f, 800, 700, 600, 500, 400, 300, 200, 100, 0], s.Timesteps.ToArray());
        Assert.True(s.HasIntegerTimesteps);
        Assert.Equal(1f, s.InitNoiseSigma);

        var offset = Make<DDPMScheduler>(("steps_offset", 1));
        offset.SetTimesteps(10);
        Assert.Equal([901f, 801, 701, 601, 501, 401, 301, 201, 101, 1], offset.Timesteps.ToArray());

        var trailing = Make<DDPMScheduler>(("timestep_spacing", "trailing"), ("steps_offset", 1));
        trailing.SetTimesteps(10);
        Assert.Equal([999f, 899, 799, 699, 599, 499, 399, 299, 199, 99], trailing.Timesteps.ToArray());

        var linspace = Make<DDPMScheduler>(("timestep_spacing", "linspace"));
        linspace.SetTimesteps(7);
        // linspace(0, 999, 7) = 0, 166.5, 333, 499.5, 666, 832.5, 999 rounded half to even, reversed.
        Assert.Equal([999f, 832, 666, 500, 333, 166, 0], linspace.Timesteps.ToArray());
    }

    [Fact]
    public void EpsilonStepIsThePosteriorMeanPlusFixedSmallNoise()
    {
        var s = Make<DDPMScheduler>(); // clip_sample defaults to true (±1)
        s.SetTimesteps(10);
        var generator = new TorchGenerator(7);
        float[] noise = PeekNoise(generator, 4);
        Tensor<float> sample = Vec(Sample);
        SchedulerOutput output = s.Step(Vec(Output), 900, sample, generator);

        (float[] x0, float[] mean) = Posterior(s, 900, 800, Sample, Output, "epsilon", 1f);
        float[] expected = AddScaled(mean, MathF.Sqrt(FixedSmallVariance(s, 900, 800)), noise);
        AssertClose.Exact(expected, sample.AsSpan(), "prev_sample");
        AssertClose.Exact(x0, output.PredOriginalSample!.AsSpan(), "pred_original_sample");
        Assert.Contains(x0, v => v == 1f || v == -1f); // this case exercises the clipping
        Assert.Same(sample, output.PrevSample);
    }

    [Theory]
    [InlineData("sample")]
    [InlineData("v_prediction")]
    public void OtherPredictionTypes(string prediction)
    {
        var s = Make<DDPMScheduler>(("prediction_type", prediction), ("clip_sample", false));
        s.SetTimesteps(10);
        var generator = new TorchGenerator(8);
        float[] noise = PeekNoise(generator, 4);
        Tensor<float> sample = Vec(Sample);
        s.Step(Vec(Output), 500, sample, generator);
        (_, float[] mean) = Posterior(s, 500, 400, Sample, Output, prediction, null);
        AssertClose.Exact(AddScaled(mean, MathF.Sqrt(FixedSmallVariance(s, 500, 400)), noise), sample.AsSpan(), prediction);
    }

    [Fact]
    public void LastStepReturnsX0AndDrawsNoNoise()
    {
        var s = Make<DDPMScheduler>(("clip_sample", false));
        s.SetTimesteps(10);
        var generator = new TorchGenerator(9);
        var before = generator.Clone();
        Tensor<float> sample = Vec(Sample);
        SchedulerOutput output = s.Step(Vec(Output), 0, sample, generator);
        // ᾱ_prev = 1: coefficients (√1·β)/β = 1 and √α·0/β = 0.
        AssertClose.Exact(output.PredOriginalSample!.AsSpan(), sample.AsSpan(), "prev == x0");
        Assert.True(SameState(before, generator));
        Tensor<float> untouched = Vec(Sample);
        Assert.Throws<ArgumentNullException>(() => s.Step(Vec(Output), 100, untouched, null));
        Assert.Equal(Sample, untouched.AsSpan().ToArray()); // rejected before the sample is updated
        s.Step(Vec(Output), 0, Vec(Sample), null); // t = 0 needs no generator
    }

    [Theory]
    [InlineData("fixed_small_log")]
    [InlineData("fixed_large")]
    public void FixedVarianceTypes(string varianceType)
    {
        var s = Make<DDPMScheduler>(("variance_type", varianceType), ("clip_sample", false));
        s.SetTimesteps(10);
        var generator = new TorchGenerator(10);
        float[] noise = PeekNoise(generator, 4);
        Tensor<float> sample = Vec(Sample);
        s.Step(Vec(Output), 700, sample, generator);
        (_, float[] mean) = Posterior(s, 700, 600, Sample, Output, "epsilon", null);
        float beta = 1f - s.AlphasCumprod[700] / s.AlphasCumprod[600];
        // fixed_small_log: exp(0.5·log v) = √v up to the last bit of torch's log/exp.
        float std = varianceType == "fixed_large" ? MathF.Sqrt(beta) : MathF.Sqrt(FixedSmallVariance(s, 700, 600));
        AssertClose.All(AddScaled(mean, std, noise), sample.AsSpan(), 1e-6, 1e-6, varianceType);
        Assert.NotEqual(MathF.Sqrt(FixedSmallVariance(s, 700, 600)), MathF.Sqrt(beta)); // the two types differ here
    }

    [Fact]
    public void FixedLargeLogTakesTheSquareRootOfALogLikeDiffusers()
    {
        var s = Make<DDPMScheduler>(("variance_type", "fixed_large_log"));
        s.SetTimesteps(10);
        Tensor<float> sample = Vec(Sample);
        s.Step(Vec(Output), 700, sample, new TorchGenerator(1));
        Assert.All(sample.AsSpan().ToArray(), v => Assert.True(float.IsNaN(v)));
    }

    [Fact]
    public void LearnedVariancesSplitTheModelOutputChannels()
    {
        float[] variance = [0.04f, 0.09f, 0.25f, 0.01f];
        float[] rangeValues = [-1f, -0.5f, 0.5f, 1f];
        foreach (string type in new[] { "learned", "learned_range" })
        {
            var s = Make<DDPMScheduler>(("variance_type", type), ("clip_sample", false));
            s.SetTimesteps(10);
            var generator = new TorchGenerator(12);
            float[] noise = PeekNoise(generator, 4);
            float[] second = type == "learned" ? variance : rangeValues;
            Tensor<float> model = TensorShapes.Wrap([.. Output, .. second], 1, 2, 1, 4);
            Tensor<float> sample = TensorShapes.Wrap(Sample, 1, 1, 1, 4);
            s.Step(model, 300, sample, generator);
            (_, float[] mean) = Posterior(s, 300, 200, Sample, Output, "epsilon", null);
            float small = FixedSmallVariance(s, 300, 200);
            float beta = 1f - s.AlphasCumprod[300] / s.AlphasCumprod[200];
            var expected = new float[4];
            for (int i = 0; i < 4; i++)
            {
                float std;
                if (type == "learned")
                {
                    std = MathF.Sqrt(variance[i]);
                }
                else
                {
                    float frac = (rangeValues[i] + 1f) / 2f;
                    float logVar = frac * MathF.Log(beta) + (1f - frac) * MathF.Log(small);
                    std = MathF.Exp(0.5f * logVar);
                }
                expected[i] = mean[i] + std * noise[i];
            }
            AssertClose.All(expected, sample.AsSpan(), 1e-6, 1e-6, type);

            // Without the extra channels there is no predicted variance to use.
            var plain = Make<DDPMScheduler>(("variance_type", type));
            plain.SetTimesteps(10);
            Tensor<float> kept = Vec(Sample);
            Assert.ThrowsAny<ArgumentException>(() => plain.Step(Vec(Output), 300, kept, new TorchGenerator(1)));
            Assert.Equal(Sample, kept.AsSpan().ToArray());
        }
    }

    [Fact]
    public void ClippingAndThresholdingOfX0()
    {
        var clipped = Make<DDPMScheduler>(("clip_sample", true), ("clip_sample_range", 0.5));
        clipped.SetTimesteps(10);
        SchedulerOutput o = clipped.Step(Vec(Output), 900, Vec(Sample), new TorchGenerator(1));
        (float[] raw, _) = Posterior(clipped, 900, 800, Sample, Output, "epsilon", null);
        Assert.Contains(raw, v => Math.Abs(v) > 0.5f);
        AssertClose.Exact(raw.Select(v => Math.Clamp(v, -0.5f, 0.5f)).ToArray(), o.PredOriginalSample!.AsSpan(), "clipped x0");

        // Dynamic thresholding: s = quantile(|x0|, ratio) clamped to [1, sample_max_value]; x0 ← clamp(x0, −s, s)/s.
        var thresholded = Make<DDPMScheduler>(("thresholding", true), ("dynamic_thresholding_ratio", 0.5), ("sample_max_value", 10.0));
        thresholded.SetTimesteps(10);
        SchedulerOutput t = thresholded.Step(Vec(Output), 900, Vec(Sample), new TorchGenerator(1));
        float[] sorted = raw.Select(MathF.Abs).Order().ToArray();
        float q = sorted[1] + 0.5f * (sorted[2] - sorted[1]); // rank 0.5·3 = 1.5
        float threshold = Math.Clamp(q, 1f, 10f);
        Assert.True(threshold > 1f);
        AssertClose.All(raw.Select(v => Math.Clamp(v, -threshold, threshold) / threshold).ToArray(), t.PredOriginalSample!.AsSpan(), 1e-6, 0, "thresholded x0");
    }

    [Fact]
    public void CustomTimestepsStepToTheNextListedTimestep()
    {
        var s = Make<DDPMScheduler>(("clip_sample", false));
        s.SetTimesteps([900f, 500f, 100f], null);
        Assert.Equal([900f, 500f, 100f], s.Timesteps.ToArray());
        var generator = new TorchGenerator(13);
        float[] noise = PeekNoise(generator, 4);
        Tensor<float> sample = Vec(Sample);
        s.Step(Vec(Output), 500, sample, generator);
        (_, float[] mean) = Posterior(s, 500, 100, Sample, Output, "epsilon", null);
        AssertClose.Exact(AddScaled(mean, MathF.Sqrt(FixedSmallVariance(s, 500, 100)), noise), sample.AsSpan(), "500 → 100");

        // The last custom timestep goes to ᾱ = 1: the result is x₀.
        Tensor<float> last = Vec(Sample);
        SchedulerOutput o = s.Step(Vec(Output), 100, last, new TorchGenerator(1));
        AssertClose.All(o.PredOriginalSample!.AsSpan(), last.AsSpan(), 1e-6, 0, "100 → end");

        Assert.ThrowsAny<ArgumentException>(() => s.SetTimesteps([500f, 900f], null));
        Assert.ThrowsAny<ArgumentException>(() => s.SetTimesteps([1000f, 10f], null));
        Assert.ThrowsAny<ArgumentException>(() => s.SetTimesteps([900.5f, 10f], null));
        Assert.Throws<NotSupportedException>(() => s.SetTimesteps(null, [1f, 0f]));
    }

    [Fact]
    public void StepsWithoutSetTimestepsWalkEveryTrainingTimestep()
    {
        var s = Make<DDPMScheduler>(("clip_sample", false));
        Assert.Equal(1000, s.Timesteps.Length);
        var generator = new TorchGenerator(14);
        float[] noise = PeekNoise(generator, 4);
        Tensor<float> sample = Vec(Sample);
        s.Step(Vec(Output), 999, sample, generator);
        (_, float[] mean) = Posterior(s, 999, 998, Sample, Output, "epsilon", null);
        AssertClose.Exact(AddScaled(mean, MathF.Sqrt(FixedSmallVariance(s, 999, 998)), noise), sample.AsSpan(), "999 → 998");
    }

    [Fact]
    public void AddNoiseIsTheForwardProcess()
    {
        var s = Make<DDPMScheduler>(("beta_schedule", "scaled_linear"), ("beta_start", 0.00085), ("beta_end", 0.012));
        float[] noise = Output;
        var dst = new float[4];
        s.AddNoise(Sample, noise, 601, dst);
        float a = s.AlphasCumprod[601];
        AssertClose.Exact(Sample.Select((x, i) => MathF.Sqrt(a) * x + MathF.Sqrt(1f - a) * noise[i]).ToArray(), dst, "add_noise");
        Assert.Throws<ArgumentOutOfRangeException>(() => s.AddNoise(Sample, noise, 1000, dst));
    }

    [Fact]
    public void BetaSchedulesAndZeroSnr()
    {
        var trained = Make<DDPMScheduler>(("num_train_timesteps", 3), ("trained_betas", new[] { 0.1, 0.2, 0.3 }));
        double acc = 1;
        var expected = new float[3];
        for (int i = 0; i < 3; i++)
        {
            acc *= 1f - (float)new[] { 0.1, 0.2, 0.3 }[i];
            expected[i] = (float)acc;
        }
        AssertClose.Exact(expected, trained.AlphasCumprod, "trained betas");

        var sigmoid = Make<DDPMScheduler>(("beta_schedule", "sigmoid"));
        double beta0 = 1 / (1 + Math.Exp(6)) * (0.02 - 0.0001) + 0.0001;
        Assert.Equal(1 - beta0, sigmoid.AlphasCumprod[0], 1e-7);
        double betaLast = 1 / (1 + Math.Exp(-6)) * (0.02 - 0.0001) + 0.0001;
        Assert.Equal(betaLast, 1 - (double)sigmoid.AlphasCumprod[999] / sigmoid.AlphasCumprod[998], 1e-4);

        var cosine = Make<DDPMScheduler>(("beta_schedule", "squaredcos_cap_v2"));
        static double AlphaBar(double t) => Math.Pow(Math.Cos((t + 0.008) / 1.008 * Math.PI / 2), 2);
        Assert.Equal(1 - Math.Min(1 - AlphaBar(0.001) / AlphaBar(0), 0.999), cosine.AlphasCumprod[0], 1e-7);

        var plain = Make<DDPMScheduler>();
        var zeroSnr = Make<DDPMScheduler>(("rescale_betas_zero_snr", true));
        Assert.Equal(0f, zeroSnr.AlphasCumprod[999]);
        Assert.True(plain.AlphasCumprod[999] > 0);
        Assert.Equal(plain.AlphasCumprod[0], zeroSnr.AlphasCumprod[0], 1e-6);
    }
}
