using Spright.Diffusion.Random;
using Spright.Diffusion.Schedulers;
using static Spright.Diffusion.Tests.Schedulers.SolverTestKit;

namespace Spright.Diffusion.Tests.Schedulers;

public sealed class DPMSolverSinglestepSchedulerTests
{
    private const string Name = "DPMSolverSinglestepScheduler";

    [Fact]
    public void DefaultsMatchDiffusers()
    {
        var s = new DPMSolverSinglestepScheduler();
        Assert.Equal(
            ["num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas", "solver_order", "prediction_type",
             "thresholding", "dynamic_thresholding_ratio", "sample_max_value", "algorithm_type", "solver_type", "lower_order_final",
             "use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas", "final_sigmas_type", "lambda_min_clipped", "variance_type"],
            s.Config.Keys.Where(k => !k.StartsWith('_')));
        // lower_order_final defaults to false but diffusers forces it on with final_sigmas_type "zero".
        Assert.True(s.LowerOrderFinal);
        Assert.True(s.Config["lower_order_final"]!.GetValue<bool>());
    }

    [Fact]
    public void LowerOrderFinalIsForcedForStepCountsThatAreNotAMultipleOfTheOrder()
    {
        var s = (DPMSolverSinglestepScheduler)Create(Name, ("final_sigmas_type", "sigma_min"), ("lower_order_final", false));
        Assert.False(s.LowerOrderFinal);
        s.SetTimesteps(8);
        Assert.False(s.LowerOrderFinal);
        Assert.Equal([1, 2, 1, 2, 1, 2, 1, 2], s.OrderList);
        s.SetTimesteps(7);
        Assert.True(s.LowerOrderFinal);
        Assert.True(s.Config["lower_order_final"]!.GetValue<bool>());
        Assert.Equal([1, 2, 1, 2, 1, 2, 1], s.OrderList);
        Assert.True(((DPMSolverSinglestepScheduler)s.Clone()).LowerOrderFinal);
    }

    [Theory]
    [InlineData(3, true, 6, new[] { 1, 2, 3, 1, 2, 1 })]
    [InlineData(3, true, 7, new[] { 1, 2, 3, 1, 2, 3, 1 })]
    [InlineData(3, true, 8, new[] { 1, 2, 3, 1, 2, 3, 1, 2 })]
    [InlineData(2, true, 6, new[] { 1, 2, 1, 2, 1, 1 })]
    [InlineData(2, true, 5, new[] { 1, 2, 1, 2, 1 })]
    [InlineData(1, true, 3, new[] { 1, 1, 1 })]
    [InlineData(3, false, 6, new[] { 1, 2, 3, 1, 2, 3 })]
    [InlineData(2, false, 4, new[] { 1, 2, 1, 2 })]
    public void OrderList(int order, bool lowerOrderFinal, int steps, int[] expected)
    {
        var s = (DPMSolverSinglestepScheduler)Create(Name, ("solver_order", order), ("lower_order_final", lowerOrderFinal), ("final_sigmas_type", "sigma_min"));
        Assert.Equal(expected, s.GetOrderList(steps));
    }

    [Fact]
    public void TimestepsAreAlwaysLinspace()
    {
        IScheduler s = Create(Name); // the SD base config's "leading" spacing stays a hidden key
        Assert.Equal("leading", s.Config["timestep_spacing"]!.GetValue<string>());
        s.SetTimesteps(4);
        Assert.Equal([999f, 749f, 500f, 250f], s.Timesteps.ToArray());
        Assert.Equal(0f, s.Sigmas[^1]);
    }

    public static TheoryData<string, string, int, string> ConstantCases()
    {
        var data = new TheoryData<string, string, int, string>();
        foreach (string algorithm in new[] { "dpmsolver++", "dpmsolver" })
        {
            foreach (int order in new[] { 1, 2, 3 })
            {
                data.Add(algorithm, "midpoint", order, "epsilon");
                data.Add(algorithm, "heun", order, "v_prediction");
            }
            data.Add(algorithm, "midpoint", 2, "sample");
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(ConstantCases))]
    public void ConstantDataPredictionFollowsTheClosedForm(string algorithm, string solver, int order, string prediction)
    {
        IScheduler s = Create(Name, ("algorithm_type", algorithm), ("solver_type", solver), ("solver_order", order),
            ("prediction_type", prediction), ("final_sigmas_type", algorithm == "dpmsolver" ? "sigma_min" : "zero"));
        AssertConstantDataPredictionIsFollowed(s, 12, 5e-5);
        AssertConstantDataPredictionIsFollowed(s, 7, 5e-5);
        AssertConstantDataPredictionIsFollowed(Create(Name, ("use_karras_sigmas", true), ("solver_order", order)), 9, 5e-5);
    }

    [Theory]
    [InlineData("dpmsolver++", 2, 0.4, 0)]
    [InlineData("dpmsolver", 2, 0.4, 0)]
    [InlineData("dpmsolver++", 3, 0.3, 0.05)]
    [InlineData("dpmsolver", 3, 0.3, 0.05)]
    public void FullOrderHeunStepsAreExactForPolynomialModels(string algorithm, int order, double linear, double quadratic)
    {
        // 2S integrates a model linear in λ exactly, 3S one quadratic in λ (from the sample at the segment start).
        bool data = algorithm == "dpmsolver++";
        var s = (DPMSolverSinglestepScheduler)Create(Name, ("algorithm_type", algorithm), ("solver_type", "heun"), ("solver_order", order),
            ("prediction_type", data ? "sample" : "epsilon"), ("final_sigmas_type", "sigma_min"), ("lower_order_final", false));
        s.SetTimesteps(6);
        int[] orders = s.OrderList.ToArray();
        int checkedSteps = AssertPolynomialSteps(s, 6, new Polynomial(linear, quadratic), data, step => orders[step] == order, 3e-5);
        Assert.Equal(6 / order, checkedSteps);
    }

    [Fact]
    public void SdeFirstOrderStepUsesTheGeneratorNoise()
    {
        IScheduler s = Create(Name, ("algorithm_type", "sde-dpmsolver++"), ("prediction_type", "sample"), ("solver_order", 1));
        s.SetTimesteps(5);
        var g = new TorchGenerator(6);
        var mirror = g.Clone();
        var x = Pattern(30, 1).Select(v => (float)v).ToArray();
        double[] before = x.Select(v => (double)v).ToArray();
        double[] m = Pattern(31, 0.5);
        s.Step(Tensor(m.Select(v => (float)v).ToArray()), s.Timesteps[0], Tensor(x), g);
        var z = new float[Length];
        mirror.Randn(z);
        var vs = Vp(s.Sigmas[0]);
        var vt = Vp(s.Sigmas[1]);
        double h = vt.Lambda - vs.Lambda;
        for (int i = 0; i < Length; i++)
        {
            Near(vt.Sigma / vs.Sigma * Math.Exp(-h) * before[i] + vt.Alpha * (1 - Math.Exp(-2 * h)) * m[i] + vt.Sigma * Math.Sqrt(1 - Math.Exp(-2 * h)) * z[i], x[i]);
        }
        Assert.Equal(mirror.NextUInt32(), g.NextUInt32());
    }

    [Fact]
    public void UnusableCombinationsAreRejected()
    {
        Assert.Throws<NotSupportedException>(() => Run(Create(Name, ("algorithm_type", "sde-dpmsolver++"), ("solver_order", 3)), 6, new TorchGenerator(1)));
        IScheduler thresholded = Create(Name, ("algorithm_type", "dpmsolver"), ("final_sigmas_type", "sigma_min"), ("thresholding", true));
        Assert.Throws<NotSupportedException>(() => Run(thresholded, 4));
        Assert.Throws<NotSupportedException>(() => Create(Name, ("use_exponential_sigmas", true)).SetTimesteps(4));
        Assert.Throws<NotSupportedException>(() => Create(Name, ("use_beta_sigmas", true)).SetTimesteps(4));
        var ex = Assert.Throws<ArgumentException>(() => Create(Name, ("algorithm_type", "sde-dpmsolver")));
        Assert.Equal("algorithm_type", ex.ParamName);
        Assert.Equal("final_sigmas_type", Assert.Throws<ArgumentException>(() => Create(Name, ("algorithm_type", "dpmsolver"))).ParamName);
        Assert.Equal("solver_order", Assert.Throws<ArgumentException>(() => Create(Name, ("solver_order", 4))).ParamName);
    }

    [Fact]
    public void ThresholdingClampsTheDataPrediction()
    {
        IScheduler s = Create(Name, ("prediction_type", "sample"), ("thresholding", true), ("sample_max_value", 2.0), ("solver_order", 1));
        s.SetTimesteps(4);
        var x = Pattern(32, 1).Select(v => (float)v).ToArray();
        double[] before = x.Select(v => (double)v).ToArray();
        s.Step(Tensor(Enumerable.Repeat(-8f, Length).ToArray()), s.Timesteps[0], Tensor(x));
        var vs = Vp(s.Sigmas[0]);
        var vt = Vp(s.Sigmas[1]);
        for (int i = 0; i < Length; i++)
        {
            Near(vt.Alpha * -1.0 + vt.Sigma * (before[i] + vs.Alpha) / vs.Sigma, x[i]);
        }
    }

    [Fact]
    public void ImageToImageStartsWithAFirstOrderStep()
    {
        // begin index 3 falls on an order-2 slot of [1, 2, 1, 2, …]; with no history diffusers lowers it to order 1.
        var s = (DPMSolverSinglestepScheduler)Create(Name, ("prediction_type", "sample"));
        s.SetTimesteps(10);
        Assert.Equal(2, s.OrderList[3]);
        s.SetBeginIndex(3);
        var x = Pattern(33, 1).Select(v => (float)v).ToArray();
        double[] before = x.Select(v => (double)v).ToArray();
        double[] m = Pattern(34, 0.5);
        s.Step(Tensor(m.Select(v => (float)v).ToArray()), s.Timesteps[3], Tensor(x));
        var vs = Vp(s.Sigmas[3]);
        var vt = Vp(s.Sigmas[4]);
        for (int i = 0; i < Length; i++)
        {
            Near(vt.Alpha * m[i] + vt.Sigma * (before[i] - vs.Alpha * m[i]) / vs.Sigma, x[i]);
        }
        Assert.Equal(4, s.StepIndex);
    }

    [Fact]
    public void CustomTimesteps()
    {
        var s = (DPMSolverSinglestepScheduler)Create(Name);
        s.SetTimesteps([950f, 700f, 400f, 100f, 10f], null);
        Assert.Equal([950f, 700f, 400f, 100f, 10f], s.Timesteps.ToArray());
        Assert.Equal(5, s.OrderList.Count);
        Assert.Throws<ArgumentException>(() => ((IScheduler)Create(Name, ("use_karras_sigmas", true))).SetTimesteps([900f, 10f], null));
        Assert.Throws<NotSupportedException>(() => s.SetTimesteps(null, [1f, 0.5f]));
    }
}
