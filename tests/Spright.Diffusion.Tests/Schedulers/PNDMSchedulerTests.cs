using System.Numerics.Tensors;
using Spright.Diffusion.Schedulers;
using Spright.Diffusion.IO;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Tests.Infrastructure;
using static Spright.Diffusion.Tests.Schedulers.GroupASchedulerTestKit;

namespace Spright.Diffusion.Tests.Schedulers;

/// <summary>PNDM's schedule and state machine checked against formula (9) of Liu et al. and diffusers'
/// <c>step_prk</c> / <c>step_plms</c>, evaluated by hand in float32.</summary>
public sealed class PNDMSchedulerTests
{
    // Formula (9): x_prev = √(ᾱ_prev/ᾱ)·x − (ᾱ_prev − ᾱ)·ε / (ᾱ·√(1−ᾱ_prev) + √(ᾱ(1−ᾱ)ᾱ_prev)).
    private static float[] Prev(PNDMScheduler s, float[] x, int t, int prevT, float[] eps, float finalAlpha)
    {
        float a = s.AlphasCumprod[t];
        float ap = prevT >= 0 ? s.AlphasCumprod[prevT] : finalAlpha;
        float bt = 1f - a, btp = 1f - ap;
        float sc = MathF.Sqrt(ap / a);
        float den = a * MathF.Sqrt(btp) + MathF.Sqrt(a * bt * ap);
        return x.Select((v, i) => sc * v - (ap - a) * eps[i] / den).ToArray();
    }

    private static float[] Scaled(float[] v, float k) => v.Select(x => x * k).ToArray();

    private static float[] Out(int k) => Output.Select((v, i) => v * (1 + 0.1f * k) + 0.01f * i * k).ToArray();

    [Fact]
    public void SchedulesWithAndWithoutRungeKutta()
    {
        var plms = Make<PNDMScheduler>(("skip_prk_steps", true), ("steps_offset", 1));
        plms.SetTimesteps(10);
        Assert.Equal([901f, 801, 801, 701, 601, 501, 401, 301, 201, 101, 1], plms.Timesteps.ToArray());
        Assert.Empty(plms.PrkTimesteps.ToArray());

        var trailing = Make<PNDMScheduler>(("skip_prk_steps", true), ("timestep_spacing", "trailing"));
        trailing.SetTimesteps(10);
        Assert.Equal([999f, 899, 899, 799, 699, 599, 499, 399, 299, 199, 99], trailing.Timesteps.ToArray());

        var linspace = Make<PNDMScheduler>(("skip_prk_steps", true), ("timestep_spacing", "linspace"));
        linspace.SetTimesteps(10);
        Assert.Equal([999f, 888, 888, 777, 666, 555, 444, 333, 222, 111, 0], linspace.Timesteps.ToArray());

        // Runge–Kutta: the last four base timesteps with half steps, then PLMS from the fourth largest down.
        var prk = Make<PNDMScheduler>();
        prk.SetTimesteps(10);
        float[] expectedPrk = [900, 850, 850, 800, 800, 750, 750, 700, 700, 650, 650, 600];
        Assert.Equal(expectedPrk, prk.PrkTimesteps.ToArray());
        Assert.Equal([.. expectedPrk, 600, 500, 400, 300, 200, 100, 0], prk.Timesteps.ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => prk.SetTimesteps(3));
    }

    [Fact]
    public void PlmsUsesTheAdamsBashforthCombinationsOfPastOutputs()
    {
        var s = Make<PNDMScheduler>(("skip_prk_steps", true), ("steps_offset", 1));
        s.SetTimesteps(10);
        float[] final = [s.AlphasCumprod[0]];
        float[] x = Sample;
        Tensor<float> sample = Vec(Sample);
        float[] e0 = Out(0), e1 = Out(1), e2 = Out(2), e3 = Out(3), e4 = Out(4), e5 = Out(5);

        // 901 → 801 with ε₀; the sample at 901 is kept.
        s.Step(Vec(e0), 901, sample);
        AssertClose.Exact(Prev(s, x, 901, 801, e0, final[0]), sample.AsSpan(), "step 0");
        // Second 801: redo 901 → 801 from the kept sample with (ε₁ + ε₀)/2.
        s.Step(Vec(e1), 801, sample);
        float[] x1 = Prev(s, x, 901, 801, e1.Select((v, i) => (v + e0[i]) / 2f).ToArray(), final[0]);
        AssertClose.Exact(x1, sample.AsSpan(), "step 1");
        // 801 → 701 with (3ε₂ − ε₀)/2 (ε₁ is not kept).
        s.Step(Vec(e2), 801, sample);
        float[] x2 = Prev(s, x1, 801, 701, e2.Select((v, i) => (3f * v - e0[i]) / 2f).ToArray(), final[0]);
        AssertClose.Exact(x2, sample.AsSpan(), "step 2");
        // 701 → 601 with (23ε₃ − 16ε₂ + 5ε₀)/12.
        s.Step(Vec(e3), 701, sample);
        float[] x3 = Prev(s, x2, 701, 601, e3.Select((v, i) => (23f * v - 16f * e2[i] + 5f * e0[i]) / 12f).ToArray(), final[0]);
        AssertClose.Exact(x3, sample.AsSpan(), "step 3");
        // 601 → 501 with (55ε₄ − 59ε₃ + 37ε₂ − 9ε₀)/24.
        s.Step(Vec(e4), 601, sample);
        float k = (float)(1.0 / 24.0);
        float[] x4 = Prev(s, x3, 601, 501, e4.Select((v, i) => k * (55f * v - 59f * e3[i] + 37f * e2[i] - 9f * e0[i])).ToArray(), final[0]);
        AssertClose.Exact(x4, sample.AsSpan(), "step 4");
        // 501 → 401: the oldest output drops out.
        s.Step(Vec(e5), 501, sample);
        float[] x5 = Prev(s, x4, 501, 401, e5.Select((v, i) => k * (55f * v - 59f * e4[i] + 37f * e3[i] - 9f * e2[i])).ToArray(), final[0]);
        AssertClose.Exact(x5, sample.AsSpan(), "step 5");
    }

    [Fact]
    public void RungeKuttaWarmUpCombinesFourEvaluationsFromTheKeptSample()
    {
        var s = Make<PNDMScheduler>();
        s.SetTimesteps(4);
        float[] timesteps = s.Timesteps.ToArray();
        Assert.Equal([750f, 625, 625, 500, 500, 375, 375, 250, 250, 125, 125, 0, 0], timesteps);
        float finalAlpha = s.AlphasCumprod[0];
        float sixth = (float)(1.0 / 6.0), third = (float)(1.0 / 3.0);
        float[] x = Sample;
        Tensor<float> sample = Vec(Sample);
        var e = Enumerable.Range(0, 13).Select(Out).ToArray();

        s.Step(Vec(e[0]), 750, sample);
        AssertClose.Exact(Prev(s, x, 750, 625, e[0], finalAlpha), sample.AsSpan(), "k1");
        s.Step(Vec(e[1]), 625, sample);
        AssertClose.Exact(Prev(s, x, 750, 625, e[1], finalAlpha), sample.AsSpan(), "k2");
        s.Step(Vec(e[2]), 625, sample);
        AssertClose.Exact(Prev(s, x, 750, 500, e[2], finalAlpha), sample.AsSpan(), "k3");
        s.Step(Vec(e[3]), 500, sample);
        float[] combined = e[0].Select((v, i) => sixth * v + third * e[1][i] + third * e[2][i] + sixth * e[3][i]).ToArray();
        float[] x4 = Prev(s, x, 750, 500, combined, finalAlpha);
        AssertClose.Exact(x4, sample.AsSpan(), "RK4 combination");

        // The next group starts from the new sample; after 12 evaluations PLMS uses ε₀, ε₄, ε₈ and the new one.
        for (int i = 4; i < 12; i++)
        {
            s.Step(Vec(e[i]), timesteps[i], sample);
        }
        float[] x12 = sample.AsSpan().ToArray();
        s.Step(Vec(e[12]), 0, sample);
        float k = (float)(1.0 / 24.0);
        float[] plms = e[12].Select((v, i) => k * (55f * v - 59f * e[8][i] + 37f * e[4][i] - 9f * e[0][i])).ToArray();
        AssertClose.Exact(Prev(s, x12, 0, -250, plms, finalAlpha), sample.AsSpan(), "first PLMS step");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void VPredictionAndTheFinalAlpha(bool setAlphaToOne)
    {
        var s = Make<PNDMScheduler>(("skip_prk_steps", true), ("prediction_type", "v_prediction"), ("set_alpha_to_one", setAlphaToOne), ("steps_offset", 1));
        s.SetTimesteps(1);
        Assert.Equal([1f], s.Timesteps.ToArray());
        Tensor<float> sample = Vec(Sample);
        s.Step(Vec(Output), 1, sample);
        float a = s.AlphasCumprod[1];
        float[] eps = Output.Select((v, i) => MathF.Sqrt(a) * v + MathF.Sqrt(1f - a) * Sample[i]).ToArray();
        float finalAlpha = setAlphaToOne ? 1f : s.AlphasCumprod[0];
        AssertClose.Exact(Prev(s, Sample, 1, 1 - 1000, eps, finalAlpha), sample.AsSpan(), "v-prediction single step");
    }

    [Fact]
    public void AddNoiseAndGuards()
    {
        var s = Make<PNDMScheduler>();
        var dst = new float[4];
        s.AddNoise(Sample, Output, 250, dst);
        float a = s.AlphasCumprod[250];
        AssertClose.Exact(Sample.Select((x, i) => MathF.Sqrt(a) * x + MathF.Sqrt(1f - a) * Output[i]).ToArray(), dst, "add_noise");
        Assert.Throws<InvalidOperationException>(() => s.Step(Vec(Output), 1, Vec(Sample)));
        s.SetTimesteps(10);
        Assert.Throws<ArgumentOutOfRangeException>(() => s.Step(Vec(Output), 900.5f, Vec(Sample)));
        Assert.Null(s.Step(Vec(Output), 900, Vec(Sample)).PredOriginalSample);
    }
}
