using System.Numerics.Tensors;
using Spright.Diffusion.Random;
using Spright.Diffusion.Schedulers;
using Spright.Diffusion.IO;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Tests.Infrastructure;
using static Spright.Diffusion.Tests.Schedulers.EulerLmsSchedulerTests;
using static Spright.Diffusion.Tests.Schedulers.GroupASchedulerTestKit;

namespace Spright.Diffusion.Tests.Schedulers;

/// <summary>Heun, KDPM2 and KDPM2 ancestral: interleaved schedules and the first/second order state machine,
/// checked against diffusers' formulas evaluated by hand in float32.</summary>
public sealed class SecondOrderSchedulerTests
{
    private static float[] Update(float[] x, float[] derivative, float dt) => x.Select((v, i) => v + derivative[i] * dt).ToArray();

    private static float[] Derivative(float[] x, float[] x0, float sigma) => x.Select((v, i) => (v - x0[i]) / sigma).ToArray();

    [Fact]
    public void HeunInterleavesTimestepsAndSigmas()
    {
        var s = Make<HeunDiscreteScheduler>(("timestep_spacing", "leading"), ("steps_offset", 1));
        s.SetTimesteps(4);
        Assert.Equal([751f, 501, 501, 251, 251, 1, 1], s.Timesteps.ToArray());
        float[] sg = [TrainSigma(s, 751), TrainSigma(s, 501), TrainSigma(s, 251), TrainSigma(s, 1)];
        Assert.Equal([sg[0], sg[1], sg[1], sg[2], sg[2], sg[3], sg[3], 0f], s.Sigmas.ToArray());
        Assert.Equal(MathF.Sqrt(sg[0] * sg[0] + 1f), s.InitNoiseSigma);

        s.SetTimesteps([900f, 500f, 100f], null);
        Assert.Equal([900f, 500, 500, 100, 100], s.Timesteps.ToArray());
        Assert.Throws<NotSupportedException>(() => s.SetTimesteps(null, [3f, 1f, 0f]));
        Assert.ThrowsAny<ArgumentException>(() => Make<HeunDiscreteScheduler>(("use_karras_sigmas", true)).SetTimesteps([900f, 100f], null));
    }

    [Theory]
    [InlineData("epsilon")]
    [InlineData("v_prediction")]
    [InlineData("sample")]
    public void HeunPredictorCorrector(string prediction)
    {
        var s = Make<HeunDiscreteScheduler>(("prediction_type", prediction));
        s.SetTimesteps(5);
        float[] t = s.Timesteps.ToArray();
        float s0 = s.Sigmas[0], s1 = s.Sigmas[1];
        Tensor<float> sample = Vec(Sample);

        // Predictor: Euler from σ₀ to σ₁.
        Assert.True(s.StateInFirstOrder);
        s.Step(Vec(Output), t[0], sample);
        float[] d1 = Derivative(Sample, X0(prediction, Sample, Output, s0), s0);
        float[] x1 = Update(Sample, d1, s1 - s0);
        AssertClose.Exact(x1, sample.AsSpan(), "predictor");
        Assert.False(s.StateInFirstOrder);

        // Corrector: the model is evaluated at σ₁, then the average slope is applied from the kept sample.
        var scaled = new float[4];
        s.ScaleModelInput(x1, t[1], scaled);
        AssertClose.Exact(x1.Select(v => v / InputScale(s1)).ToArray(), scaled, "corrector input");
        SchedulerOutput o = s.Step(Vec(Output2), t[1], sample);
        float[] x0b = X0(prediction, x1, Output2, s1);
        float[] d2 = Derivative(x1, x0b, s1);
        float[] avg = d1.Select((v, i) => (v + d2[i]) / 2f).ToArray();
        AssertClose.Exact(Update(Sample, avg, s1 - s0), sample.AsSpan(), "corrector");
        AssertClose.Exact(x0b, o.PredOriginalSample!.AsSpan(), "x0 of the corrector");
        Assert.True(s.StateInFirstOrder);
        Assert.Equal(2, s.StepIndex);
    }

    [Fact]
    public void HeunClipsX0AndAcceptsTheExpBetaSchedule()
    {
        var s = Make<HeunDiscreteScheduler>(("clip_sample", true), ("clip_sample_range", 0.2), ("prediction_type", "sample"));
        s.SetTimesteps(5);
        SchedulerOutput o = s.Step(Vec(Output), s.Timesteps[0], Vec(Sample));
        AssertClose.Exact(Output.Select(v => Math.Clamp(v, -0.2f, 0.2f)).ToArray(), o.PredOriginalSample!.AsSpan(), "clipped x0");

        var exp = Make<HeunDiscreteScheduler>(("beta_schedule", "exp"));
        Assert.Equal(Math.Exp(-12.0 / 1000), exp.AlphasCumprod[0], 1e-7);
        Assert.Equal(Math.Exp(-12.0 * 500 / 1000), exp.AlphasCumprod[499], 1e-6);

        // set_timesteps starts over in the first order state.
        s.SetTimesteps(5);
        Assert.True(s.StateInFirstOrder);
        Assert.Null(s.StepIndex);
    }

    [Fact]
    public void Kdpm2InterpolatesGeometricMidpoints()
    {
        var s = Make<KDPM2DiscreteScheduler>(("timestep_spacing", "leading"), ("steps_offset", 1));
        s.SetTimesteps(4);
        float[] sg = [TrainSigma(s, 751), TrainSigma(s, 501), TrainSigma(s, 251), TrainSigma(s, 1)];
        // cat([σ[:1], σ[1:].repeat_interleave(2), σ[-1:]]) over σ₀…σ₃, 0.
        Assert.Equal([sg[0], sg[1], sg[1], sg[2], sg[2], sg[3], sg[3], 0f, 0f, 0f], s.Sigmas.ToArray());
        float[] interpol = s.SigmasInterpol.ToArray();
        Assert.Equal(10, interpol.Length);
        Assert.True(float.IsNaN(interpol[0])); // log(σ₀) with log(0) from the roll, as in torch
        for (int i = 1; i <= 3; i++)
        {
            double mid = Math.Sqrt((double)sg[i - 1] * sg[i]);
            Assert.Equal(mid, interpol[2 * i - 1], mid * 1e-6);
            Assert.Equal(interpol[2 * i - 1], interpol[2 * i]);
        }
        Assert.Equal(0f, interpol[7]);

        float[] t = s.Timesteps.ToArray();
        Assert.Equal(7, t.Length);
        Assert.Equal([751f, 501, 251, 1], new[] { t[0], t[2], t[4], t[6] });
        for (int i = 1; i <= 3; i++)
        {
            Assert.InRange(t[2 * i - 1], t[2 * i] + 1, t[2 * i - 2] - 1); // the midpoint's timestep lies between
        }
    }

    [Theory]
    [InlineData("epsilon")]
    [InlineData("v_prediction")]
    public void Kdpm2StepsToTheMidpointThenAcrossWithTheMidpointSlope(string prediction)
    {
        var s = Make<KDPM2DiscreteScheduler>(("prediction_type", prediction));
        s.SetTimesteps(5);
        float[] t = s.Timesteps.ToArray();
        float s0 = s.Sigmas[0], s1 = s.Sigmas[1], mid = s.SigmasInterpol[1];
        Tensor<float> sample = Vec(Sample);

        s.Step(Vec(Output), t[0], sample);
        float[] x1 = Update(Sample, Derivative(Sample, X0(prediction, Sample, Output, s0), s0), mid - s0);
        AssertClose.Exact(x1, sample.AsSpan(), "first order");
        Assert.False(s.StateInFirstOrder);

        var scaled = new float[4];
        s.ScaleModelInput(x1, t[1], scaled);
        AssertClose.Exact(x1.Select(v => v / InputScale(mid)).ToArray(), scaled, "input at the midpoint");
        s.Step(Vec(Output2), t[1], sample);
        float[] d = Derivative(x1, X0(prediction, x1, Output2, mid), mid);
        AssertClose.Exact(Update(Sample, d, s1 - s0), sample.AsSpan(), "second order");
        Assert.True(s.StateInFirstOrder);

        var sampleType = Make<KDPM2DiscreteScheduler>(("prediction_type", "sample"));
        sampleType.SetTimesteps(5);
        Assert.Throws<NotSupportedException>(() => sampleType.Step(Vec(Output), sampleType.Timesteps[0], Vec(Sample)));
    }

    [Fact]
    public void Kdpm2AncestralSplitsEachStepIntoDownAndUp()
    {
        var s = Make<KDPM2AncestralDiscreteScheduler>(("prediction_type", "v_prediction"));
        s.SetTimesteps(5);
        float[] distinct = [s.Sigmas[0], s.Sigmas[1], s.Sigmas[3], s.Sigmas[5], s.Sigmas[7], 0f];
        for (int i = 0; i < 5; i++)
        {
            float sigma = distinct[i], next = distinct[i + 1];
            float up = MathF.Sqrt(next * next * (sigma * sigma - next * next) / (sigma * sigma));
            float down = MathF.Sqrt(next * next - up * up);
            int k = i == 0 ? 0 : 2 * i - 1;
            Assert.Equal(up, s.SigmasUp[k]);
            if (i < 4)
            {
                Assert.Equal(down, s.SigmasDown[k]);
                double mid = Math.Sqrt((double)sigma * down);
                Assert.Equal(mid, s.SigmasInterpol[k], mid * 1e-6);
            }
        }
        Assert.Equal(0f, s.SigmasInterpol[7]); // the last step goes straight to 0

        float[] t = s.Timesteps.ToArray();
        float s0 = s.Sigmas[0], mid0 = s.SigmasInterpol[0], up0 = s.SigmasUp[0], down0 = s.SigmasDown[0];
        var generator = new TorchGenerator(23);
        var before = generator.Clone();
        Tensor<float> sample = Vec(Sample);
        s.Step(Vec(Output), t[0], sample, generator);
        float[] x1 = Update(Sample, Derivative(Sample, X0("v_prediction", Sample, Output, s0), s0), mid0 - s0);
        AssertClose.Exact(x1, sample.AsSpan(), "first order");
        Assert.True(SameState(before, generator)); // no noise on the first-order half step

        var scaled = new float[4];
        s.ScaleModelInput(x1, t[1], scaled);
        AssertClose.Exact(x1.Select(v => v / InputScale(mid0)).ToArray(), scaled, "input at the midpoint");
        float[] noise = PeekNoise(generator, 4);
        s.Step(Vec(Output2), t[1], sample, generator);
        float[] d = Derivative(x1, X0("v_prediction", x1, Output2, mid0), mid0);
        float[] expected = Update(Sample, d, down0 - s0).Select((v, i) => v + noise[i] * up0).ToArray();
        AssertClose.Exact(expected, sample.AsSpan(), "second order with noise");

        Assert.Throws<ArgumentNullException>(() =>
        {
            s.Step(Vec(Output), t[2], Vec(Sample), null); // first order: fine without a generator
            s.Step(Vec(Output), t[3], Vec(Sample), null); // second order draws noise
        });
    }

    [Theory]
    [InlineData("KDPM2DiscreteScheduler")]
    [InlineData("KDPM2AncestralDiscreteScheduler")]
    public void KarrasTimestepsAreRoundedForKdpm2(string className)
    {
        var s = Make(className, ("use_karras_sigmas", true));
        s.SetTimesteps(6);
        float[] t = s.Timesteps.ToArray();
        for (int i = 0; i < t.Length; i += 2)
        {
            Assert.Equal(MathF.Round(t[i]), t[i]);
        }
        Assert.Contains(t, v => v != MathF.Round(v)); // the midpoint timesteps stay fractional
    }
}
