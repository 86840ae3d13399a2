using Spright.Diffusion.Numerics;
using Spright.Diffusion.Schedulers;

namespace Spright.Diffusion.Tests.Schedulers;

/// <summary>The numeric building blocks of the sigma schedulers, against closed forms.</summary>
public sealed class SigmaScheduleMathTests
{
    [Fact]
    public void GaussKronrod21IsExactForPolynomialsUpToDegree31()
    {
        Assert.Equal(2.0 / 31, GaussKronrod21.Integrate(x => Math.Pow(x, 30), -1, 1, out _), 1e-15);
        Assert.Equal(64.0 / 6, GaussKronrod21.Integrate(x => Math.Pow(x, 5), 0, 2, out double err), 1e-13);
        Assert.True(err < 1e-10);
        Assert.Equal(-64.0 / 6, GaussKronrod21.Integrate(x => Math.Pow(x, 5), 2, 0, out _), 1e-13);
        Assert.Equal(3.0, GaussKronrod21.Integrate(_ => 1.0, 4, 7, out _), 1e-14);
        // Not exact beyond its degree: a smooth non-polynomial is still very close on a short interval.
        Assert.Equal(Math.E - 1, GaussKronrod21.Integrate(Math.Exp, 0, 1, out _), 1e-14);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.05)]
    [InlineData(0.25)]
    [InlineData(0.5)]
    [InlineData(0.8)]
    [InlineData(0.999)]
    [InlineData(1.0)]
    public void BetaQuantileMatchesClosedForms(double p)
    {
        Assert.Equal(p, BetaDistribution.Quantile(p, 1, 1), 1e-13);
        Assert.Equal(Math.Sqrt(p), BetaDistribution.Quantile(p, 2, 1), 1e-12);
        Assert.Equal(1 - Math.Sqrt(1 - p), BetaDistribution.Quantile(p, 1, 2), 1e-12);
        double arcsine = Math.Pow(Math.Sin(Math.PI * p / 2), 2); // Beta(½, ½)
        Assert.Equal(arcsine, BetaDistribution.Quantile(p, 0.5, 0.5), 1e-12);
        double q = BetaDistribution.Quantile(p, 0.6, 0.6);
        Assert.Equal(p, BetaDistribution.Cdf(q, 0.6, 0.6), 1e-13);
        Assert.Equal(1 - q, BetaDistribution.Quantile(1 - p, 0.6, 0.6), 1e-12);
    }

    [Fact]
    public void InterpFollowsNumpy()
    {
        float[] fp = [1f, 2f, 4f, 8f];
        Assert.Equal(1.0, SigmaScheduleMath.Interp(-3, fp));
        Assert.Equal(8.0, SigmaScheduleMath.Interp(3, fp));
        Assert.Equal(8.0, SigmaScheduleMath.Interp(7.5, fp));
        Assert.Equal(4.0, SigmaScheduleMath.Interp(2, fp));
        Assert.Equal(3.0, SigmaScheduleMath.Interp(1.5, fp));
        Assert.Equal(2.0 + 0.25 * 2.0, SigmaScheduleMath.Interp(1.25, fp));
        Assert.True(double.IsNaN(SigmaScheduleMath.Interp(double.NaN, fp)));
    }

    [Fact]
    public void SpacedTimestepsMatchNumpy()
    {
        Assert.Equal([750f, 500, 250, 0], SpacedTimesteps.Fractional(TimestepSpacing.Leading, 1000, 4, 0));
        Assert.Equal([751f, 501, 251, 1], SpacedTimesteps.Fractional(TimestepSpacing.Leading, 1000, 4, 1));
        Assert.Equal([999f, 749.25f, 499.5f, 249.75f, 0], SpacedTimesteps.Fractional(TimestepSpacing.Linspace, 1000, 5, 0));
        Assert.Equal([999f, 799, 599, 399, 199], SpacedTimesteps.Fractional(TimestepSpacing.Trailing, 1000, 5, 0));
        // round(np.arange(1000, 0, -1000/3)) − 1 = [1000, 667, 333] − 1.
        Assert.Equal([999f, 666, 332], SpacedTimesteps.Fractional(TimestepSpacing.Trailing, 1000, 3, 0));
    }

    [Fact]
    public void SigmaToTInvertsTheLogSigmaTable()
    {
        var euler = new EulerDiscreteScheduler();
        float[] train = SigmaScheduleMath.TrainingSigmas(euler.AlphasCumprod);
        float[] logs = SigmaScheduleMath.LogF(train);
        Assert.Equal(0.0, SigmaScheduleMath.SigmaToT(train[0] * 0.5, torchBlend: false, logs));
        Assert.Equal(999.0, SigmaScheduleMath.SigmaToT(train[999] * 2, torchBlend: false, logs));
        Assert.Equal(999.0, SigmaScheduleMath.SigmaToT(train[999], torchBlend: true, logs));
        Assert.Equal(400.0, SigmaScheduleMath.SigmaToT(train[400], torchBlend: false, logs), 1e-3);
        double between = Math.Exp(0.5 * (Math.Log(train[400]) + Math.Log(train[401])));
        Assert.Equal(400.5, SigmaScheduleMath.SigmaToT(between, torchBlend: false, logs), 1e-3);
        Assert.Equal(400.5, SigmaScheduleMath.SigmaToT(between, torchBlend: true, logs), 1e-3);
        Assert.True(double.IsNaN(SigmaScheduleMath.SigmaToT(double.NaN, torchBlend: true, logs)));
    }

    [Fact]
    public void ReferenceLogAndExpStayWithinTheirDocumentedErrors()
    {
        var random = new System.Random(5);
        for (int i = 0; i < 20000; i++)
        {
            float x = (float)Math.Exp(random.NextDouble() * 40 - 20);
            Assert.True(Ulps(SleefFloat.Log(x), (float)Math.Log(x)) <= 1, $"log({x:R})");
            Assert.True(Ulps(NumpyFloat32.Log(x), (float)Math.Log(x)) <= 4, $"np.log({x:R})");
            float y = (float)(random.NextDouble() * 160 - 80);
            Assert.True(Ulps(SleefFloat.Exp(y), (float)Math.Exp(y)) <= 1, $"exp({y:R})");
        }
        Assert.Equal(float.NegativeInfinity, SleefFloat.Log(0f));
        Assert.Equal(float.NegativeInfinity, NumpyFloat32.Log(0f));
        Assert.True(float.IsNaN(SleefFloat.Log(-1f)));
        Assert.True(float.IsNaN(NumpyFloat32.Log(-1f)));
        Assert.Equal(float.PositiveInfinity, SleefFloat.Log(float.PositiveInfinity));
        Assert.Equal(0f, SleefFloat.Log(1f));
        Assert.Equal(1f, SleefFloat.Exp(0f));
        Assert.Equal(0f, SleefFloat.Exp(-200f));
        Assert.Equal(float.PositiveInfinity, SleefFloat.Exp(200f));
        Assert.True(float.IsNaN(SleefFloat.Exp(float.NaN)));
        Assert.True(Ulps(SleefFloat.Log(1e-40f), (float)Math.Log(1e-40)) <= 1); // subnormal input
    }

    private static long Ulps(float a, float b)
    {
        int ia = BitConverter.SingleToInt32Bits(a), ib = BitConverter.SingleToInt32Bits(b);
        return Math.Abs((long)ia - ib);
    }
}
