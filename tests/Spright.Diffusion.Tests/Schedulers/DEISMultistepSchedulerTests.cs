using Spright.Diffusion.Schedulers;
using static Spright.Diffusion.Tests.Schedulers.SolverTestKit;

namespace Spright.Diffusion.Tests.Schedulers;

public sealed class DEISMultistepSchedulerTests
{
    private const string Name = "DEISMultistepScheduler";

    [Fact]
    public void DefaultsAndNameMapping()
    {
        var s = new DEISMultistepScheduler();
        Assert.Equal(
            ["num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas", "solver_order", "prediction_type",
             "thresholding", "dynamic_thresholding_ratio", "sample_max_value", "algorithm_type", "solver_type", "lower_order_final",
             "use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas", "timestep_spacing", "steps_offset"],
            s.Config.Keys.Where(k => !k.StartsWith('_')));
        IScheduler mapped = Create(Name, ("algorithm_type", "dpmsolver++"), ("solver_type", "bh2"));
        Assert.Equal("deis", mapped.Config["algorithm_type"]!.GetValue<string>());
        Assert.Equal("logrho", mapped.Config["solver_type"]!.GetValue<string>());
        Assert.Equal("algorithm_type", Assert.Throws<ArgumentException>(() => Create(Name, ("algorithm_type", "sde-dpmsolver++"))).ParamName);
        Assert.Equal("solver_type", Assert.Throws<ArgumentException>(() => Create(Name, ("solver_type", "rk4"))).ParamName);
    }

    [Fact]
    public void ScheduleEndsAtTheFirstTrainingSigma()
    {
        var s = (DEISMultistepScheduler)Create(Name, ("timestep_spacing", "leading"), ("steps_offset", 1));
        s.SetTimesteps(4);
        Assert.Equal([801f, 601f, 401f, 201f], s.Timesteps.ToArray());
        float ac0 = s.AlphasCumprod[0];
        Assert.Equal(MathF.Sqrt((1 - ac0) / ac0), s.Sigmas[^1]);

        var karras = (DEISMultistepScheduler)Create(Name, ("use_karras_sigmas", true));
        karras.SetTimesteps(5);
        Assert.Equal(karras.Sigmas[4], karras.Sigmas[5]); // DEIS repeats the last Karras sigma
        Assert.Throws<NotSupportedException>(() => Create(Name, ("use_exponential_sigmas", true)).SetTimesteps(5));
        Assert.Throws<NotSupportedException>(() => Create(Name).SetTimesteps([500f, 10f], null));
    }

    [Theory]
    [InlineData(1, "epsilon", "linspace", false)]
    [InlineData(2, "epsilon", "leading", false)]
    [InlineData(3, "epsilon", "trailing", false)]
    [InlineData(2, "v_prediction", "linspace", true)]
    [InlineData(3, "sample", "leading", true)]
    public void ConstantDataPredictionFollowsTheClosedForm(int order, string prediction, string spacing, bool karras)
    {
        IScheduler s = Create(Name, ("solver_order", order), ("prediction_type", prediction), ("timestep_spacing", spacing), ("use_karras_sigmas", karras));
        AssertConstantDataPredictionIsFollowed(s, 10, 5e-5);
        AssertConstantDataPredictionIsFollowed(s, 16, 5e-5);
    }

    [Theory]
    [InlineData(2, 0.4, 0)]
    [InlineData(3, 0.3, 0.05)]
    public void FullOrderStepsAreExactForPolynomialNoise(int order, double linear, double quadratic)
    {
        // DEIS interpolates ε with a polynomial in log ρ = −λ and integrates it exactly in ρ.
        IScheduler s = Create(Name, ("solver_order", order), ("prediction_type", "epsilon"), ("lower_order_final", false));
        int checkedSteps = AssertPolynomialSteps(s, 10, new Polynomial(linear, quadratic), dataForm: false, step => step >= order - 1, 5e-5);
        Assert.Equal(10 - (order - 1), checkedSteps);
    }

    [Fact]
    public void LowerOrderIsNotExactForQuadraticNoise()
    {
        IScheduler s = Create(Name, ("solver_order", 2), ("prediction_type", "epsilon"), ("lower_order_final", false));
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => AssertPolynomialSteps(s, 10, new Polynomial(0.3, 0.05), false, step => step >= 1, 5e-5));
    }

    [Fact]
    public void ThresholdingAppliesThroughTheDataPrediction()
    {
        IScheduler s = Create(Name, ("prediction_type", "sample"), ("thresholding", true), ("sample_max_value", 3.0), ("solver_order", 1));
        s.SetTimesteps(4);
        var x = Pattern(40, 1).Select(v => (float)v).ToArray();
        double[] before = x.Select(v => (double)v).ToArray();
        s.Step(Tensor(Enumerable.Repeat(6f, Length).ToArray()), s.Timesteps[0], Tensor(x));
        var vs = Vp(s.Sigmas[0]);
        var vt = Vp(s.Sigmas[1]);
        for (int i = 0; i < Length; i++)
        {
            Near(vt.Alpha + vt.Sigma * (before[i] - vs.Alpha) / vs.Sigma, x[i]); // x̂₀ = clamp(6, ±3)/3 = 1
        }
    }

    [Fact]
    public void IntegralsMatchTheirClosedForms()
    {
        // Second order: ∫ (log t − log c)/(log b − log c) dt = t(log t − log c − 1)/(log b − log c).
        double I2(double t, double b, double c) => t * (Math.Log(t) - Math.Log(c) - 1) / (Math.Log(b) - Math.Log(c));
        Near(I2(2.5, 3.0, 4.0), DEISMultistepScheduler.Integral2(2.5f, 3.0f, 4.0f), 1e-5);
        double I3(double t, double b, double c, double d)
        {
            double lt = Math.Log(t), lb = Math.Log(b), lc = Math.Log(c), ld = Math.Log(d);
            return t * (lt * lt - (2 + lc + ld) * lt + 2 + lc + ld + lc * ld) / ((lb - lc) * (lb - ld));
        }
        Near(I3(2.5, 3.0, 4.0, 6.0), DEISMultistepScheduler.Integral3(2.5f, 3.0f, 4.0f, 6.0f), 1e-5);
    }
}
