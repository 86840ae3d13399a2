using Spright.Diffusion.Numerics;
using Spright.Diffusion.Schedulers;

namespace Spright.Diffusion.Tests.Schedulers;

public sealed class VpSolverMathTests
{
    private static double Ulp(float value) => MathF.BitIncrement(MathF.Abs(value)) - MathF.Abs(value);

    private static IEnumerable<float> Sweep(float from, float to, int count)
    {
        for (int i = 0; i <= count; i++)
        {
            yield return from + (to - from) * i / count;
        }
    }

    [Fact]
    public void SleefExpIsWithinOneUlp()
    {
        foreach (float x in Sweep(-87f, 88f, 200_000).Concat([0f, 1e-8f, -1e-8f, 0.5f, -2.9f]))
        {
            double exact = Math.Exp(x);
            float r = SleefFloat.Exp(x);
            Assert.True(Math.Abs(r - exact) <= Ulp((float)exact), $"exp({x:R}) = {r:R}, exact {exact:R}");
        }
        Assert.Equal(0f, SleefFloat.Exp(-200f));
        Assert.Equal(float.PositiveInfinity, SleefFloat.Exp(200f));
        Assert.Equal(1f, SleefFloat.Exp(0f));
    }

    [Fact]
    public void SleefLogIsWithinOneUlp()
    {
        foreach (float x in Sweep(1e-6f, 50f, 200_000).Concat([1f, 2f, 1e-30f, 1e-40f, 3.4e38f]))
        {
            double exact = Math.Log(x);
            float r = SleefFloat.Log(x);
            Assert.True(Math.Abs(r - exact) <= Ulp((float)exact), $"log({x:R}) = {r:R}, exact {exact:R}");
        }
        Assert.Equal(0f, SleefFloat.Log(1f));
        Assert.Equal(float.NegativeInfinity, SleefFloat.Log(0f));
        Assert.True(float.IsNaN(SleefFloat.Log(-1f)));
        Assert.Equal(float.PositiveInfinity, SleefFloat.Log(float.PositiveInfinity));
    }

    [Fact]
    public void SleefExpm1IsWithinOneUlp()
    {
        foreach (float x in Sweep(-20f, 20f, 200_000).Concat([1e-7f, -1e-7f, 1e-20f, -3e-4f]))
        {
            double exact = x == 0 ? 0 : Math.Abs(x) < 1e-5 ? x + (double)x * x / 2 + (double)x * x * x / 6 : Math.Exp(x) - 1;
            float r = SleefFloat.Expm1(x);
            Assert.True(Math.Abs(r - exact) <= Ulp((float)exact), $"expm1({x:R}) = {r:R}, exact {exact:R}");
        }
        Assert.Equal(-1f, SleefFloat.Expm1(float.NegativeInfinity));
        Assert.Equal(-1f, SleefFloat.Expm1(-40f));
        Assert.True(float.IsNegative(SleefFloat.Expm1(-0f)));
    }

    [Fact]
    public void NumpyLogIsWithinItsDocumentedFourUlps()
    {
        foreach (float x in Sweep(1e-4f, 30f, 200_000).Concat([1f, 0.5f, 0.70710677f, 0.7071068f, 1e-40f]))
        {
            double exact = Math.Log(x);
            float r = NumpyFloat32.Log(x);
            Assert.True(Math.Abs(r - exact) <= 4 * Ulp((float)exact) + 1e-45, $"np.log({x:R}) = {r:R}, exact {exact:R}");
        }
        Assert.Equal(float.NegativeInfinity, NumpyFloat32.Log(0f));
        Assert.True(float.IsNaN(NumpyFloat32.Log(-2f)));
    }

    [Fact]
    public void KarrasAndLuRamps()
    {
        double[] k = SigmaScheduleMath.Karras(0.1, 10, 3);
        Assert.Equal(10, k[0], 12);
        Assert.Equal(Math.Pow((Math.Pow(10, 1 / 7.0) + Math.Pow(0.1, 1 / 7.0)) / 2, 7), k[1], 12);
        Assert.Equal(0.1, k[2], 12);
        Assert.Equal([2.0, 1.0, 0.0, -1.0], SigmaScheduleMath.Lu(-1, 2, 4));
    }

    [Fact]
    public void SigmaToTInterpolatesInLogSigma()
    {
        float[] logs = [0f, 1f, 2f, 3f];
        Assert.Equal(1.25, SigmaScheduleMath.SigmaToT(Math.Exp(1.25), torchBlend: false, logs), 12);
        Assert.Equal(0, SigmaScheduleMath.SigmaToT(0.5, torchBlend: false, logs), 12);   // below the table: clipped to t = 0
        Assert.Equal(3, SigmaScheduleMath.SigmaToT(100, torchBlend: false, logs), 12);   // above: the last interval, w clipped to 1
        Assert.Equal(2, SigmaScheduleMath.SigmaToT(Math.Exp(2), torchBlend: false, logs), 12);
    }

    [Theory]
    [InlineData("DPMSolverMultistepScheduler", "use_karras_sigmas", 669, 0.2268613080817966, 50f)]
    [InlineData("DPMSolverSinglestepScheduler", "use_karras_sigmas", 669, 0.2268613080817966, 50f)]
    [InlineData("DEISMultistepScheduler", "use_karras_sigmas", 669, 0.2268613080817966, 50f)]
    [InlineData("UniPCMultistepScheduler", "use_karras_sigmas", 669, 0.2268613080817966, 50f)]
    [InlineData("DPMSolverMultistepScheduler", "use_lu_lambdas", 764, 0.11748600978603103, 14f)]
    public void RespacedTimestepsRoundSigmaToTLikeNumpy124(string className, string option, int steps, double sigma, float expected)
    {
        // _sigma_to_t subtracts a float64 scalar log σ from the float32 log_sigmas table: numpy 1.24 computes the
        // distances and the weight in float32. For these SD-schedule sigmas that gives exactly 50.5 and 14.5, which
        // np.round takes to the even neighbour (checked with numpy 1.24.2); float64 weights would give 51 and 15.
        IScheduler s = SchedulerRegistry.Create(className, SchedulerConfig.Empty,
            [new("beta_schedule", "scaled_linear"), new("beta_start", 0.00085), new("beta_end", 0.012), new(option, true)]);
        s.SetTimesteps(steps);
        int index = s.Sigmas.IndexOf((float)sigma);
        Assert.True(index >= 0, $"σ {sigma} is not in the {steps}-step schedule");
        Assert.Equal(expected, s.Timesteps[index]);
    }

    [Fact]
    public void ScheduleHelpers()
    {
        float[] table = [1f, 2f, 3f];
        Assert.Equal(1, SigmaScheduleMath.Interp(-5, table));
        Assert.Equal(2, SigmaScheduleMath.Interp(1, table));
        Assert.Equal(3, SigmaScheduleMath.Interp(9, table));
        float[] lambdas = [3f, 2f, 1f, 0f, -1f, -2f];
        Assert.Equal(0, VpSolverMath.ClippedCount(lambdas, double.NegativeInfinity));
        Assert.Equal(2, VpSolverMath.ClippedCount(lambdas, -0.5)); // −1 and −2 lie below
        Assert.Equal(6, VpSolverMath.ClippedCount(lambdas, double.PositiveInfinity));
        // A clipped schedule (last timestep 900): linspace(0, 899, 4) and arange(900, 0, −250) − 1.
        Assert.Equal([899L, 599L, 300L], SpacedTimesteps.Solver(TimestepSpacing.Linspace, 1000, 900, 3, 0));
        Assert.Equal([899L, 649L, 399L, 149L], SpacedTimesteps.Solver(TimestepSpacing.Trailing, 1000, 900, 4, 0));
        Assert.Equal([675L, 450L, 225L], SpacedTimesteps.Solver(TimestepSpacing.Leading, 1000, 900, 3, 0));
    }

    [Fact]
    public void SolverIndexForTimestepTakesTheSecondMatchAndTheLastStepWhenMissing()
    {
        // add_noise before set_begin_index looks the timestep up like the solvers' index_for_timestep.
        IScheduler s = SchedulerRegistry.Create("DPMSolverMultistepScheduler", SchedulerConfig.Empty);
        s.SetTimesteps([9f, 5f, 5f, 1f], null);
        float[] x0 = [1f, -2f, 0.5f, 3f];
        float[] noise = [0.25f, 0.5f, -1f, 2f];
        foreach ((float t, int index) in new[] { (5f, 2), (7f, 3), (9f, 0) })
        {
            var expected = new float[4];
            VpSolverMath.AddNoiseAtSigma(s.Sigmas[index], x0, noise, expected);
            var actual = new float[4];
            s.AddNoise(x0, noise, t, actual);
            Assert.Equal(expected, actual);
        }
    }
}
