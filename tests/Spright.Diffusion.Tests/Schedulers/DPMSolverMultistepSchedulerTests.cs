using System.Numerics.Tensors;
using System.Text.Json.Nodes;
using Spright.Diffusion.Random;
using Spright.Diffusion.Schedulers;
using static Spright.Diffusion.Tests.Schedulers.SolverTestKit;
using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Tests.Schedulers;

public sealed class DPMSolverMultistepSchedulerTests
{
    private const string Name = "DPMSolverMultistepScheduler";

    [Fact]
    public void DefaultsMatchDiffusers()
    {
        var s = new DPMSolverMultistepScheduler();
        Assert.Equal(
            ["num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas", "solver_order", "prediction_type",
             "thresholding", "dynamic_thresholding_ratio", "sample_max_value", "algorithm_type", "solver_type", "lower_order_final",
             "euler_at_final", "use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas", "use_lu_lambdas", "final_sigmas_type",
             "lambda_min_clipped", "variance_type", "timestep_spacing", "steps_offset", "rescale_betas_zero_snr"],
            s.Config.Keys.Where(k => !k.StartsWith('_')));
        Assert.Equal("dpmsolver++", s.Config["algorithm_type"]!.GetValue<string>());
        Assert.Equal(2, s.Config["solver_order"]!.GetValue<int>());
        Assert.Equal("linspace", s.Config["timestep_spacing"]!.GetValue<string>());
        Assert.Equal(1, s.Order);
        Assert.Equal(1f, s.InitNoiseSigma);
        Assert.True(s.HasIntegerTimesteps);
        Assert.Equal(1f - 0.0001f, s.AlphasCumprod[0]);
    }

    [Theory]
    [InlineData("linspace", 0, new float[] { 999, 749, 500, 250 })] // linspace(0, 999, 5).round(): 499.5 rounds to even
    [InlineData("leading", 1, new float[] { 801, 601, 401, 201 })]   // 1000 // 5 = 200, + steps_offset
    [InlineData("trailing", 0, new float[] { 999, 749, 499, 249 })]  // arange(1000, 0, -250) − 1
    public void TimestepSpacings(string spacing, int offset, float[] expected)
    {
        IScheduler s = Create(Name, ("timestep_spacing", spacing), ("steps_offset", offset));
        s.SetTimesteps(4);
        Assert.Equal(expected, s.Timesteps.ToArray());
        Assert.Equal(5, s.Sigmas.Length);
        Assert.Equal(0f, s.Sigmas[4]);
        var table = (DPMSolverMultistepScheduler)s;
        for (int i = 0; i < 4; i++)
        {
            float ac = table.AlphasCumprod[(int)expected[i]];
            Assert.Equal(MathF.Sqrt((1 - ac) / ac), s.Sigmas[i]);
        }
    }

    [Fact]
    public void FinalSigmaMinIsTheFirstTrainingSigma()
    {
        var s = (DPMSolverMultistepScheduler)Create(Name, ("final_sigmas_type", "sigma_min"));
        s.SetTimesteps(5);
        float ac0 = s.AlphasCumprod[0];
        Assert.Equal(MathF.Sqrt((1 - ac0) / ac0), s.Sigmas[^1]);
    }

    [Fact]
    public void LambdaMinClippedShortensTheCosineSchedule()
    {
        var s = (DPMSolverMultistepScheduler)DPMSolverMultistepScheduler.FromConfig(SchedulerConfig.Empty,
            [new("beta_schedule", "squaredcos_cap_v2"), new("lambda_min_clipped", -5.1)]);
        // Independent count of the training timesteps whose λ = ½·log(ᾱ/(1−ᾱ)) is below the threshold.
        int clipped = 0;
        for (int t = 0; t < 1000; t++)
        {
            double ac = s.AlphasCumprod[t];
            if (0.5 * Math.Log(ac / (1 - ac)) < -5.1)
            {
                clipped++;
            }
        }
        Assert.InRange(clipped, 1, 100);
        s.SetTimesteps(10);
        Assert.Equal((float)Math.Round((double)(1000 - clipped - 1), MidpointRounding.ToEven), s.Timesteps[0]);

        var unclipped = new DPMSolverMultistepScheduler();
        unclipped.SetTimesteps(10);
        Assert.Equal(999f, unclipped.Timesteps[0]);
    }

    [Fact]
    public void KarrasSigmasFollowTheRhoSevenRamp()
    {
        var s = (DPMSolverMultistepScheduler)Create(Name, ("use_karras_sigmas", true));
        s.SetTimesteps(6);
        float ac0 = s.AlphasCumprod[0];
        float acN = s.AlphasCumprod[999];
        double min = MathF.Sqrt((1 - ac0) / ac0);
        double max = MathF.Sqrt((1 - acN) / acN);
        for (int i = 0; i < 6; i++)
        {
            double ramp = i / 5.0;
            double expected = Math.Pow(Math.Pow(max, 1 / 7.0) + ramp * (Math.Pow(min, 1 / 7.0) - Math.Pow(max, 1 / 7.0)), 7);
            Assert.Equal(expected, s.Sigmas[i], 5);
        }
        Assert.Equal(0f, s.Sigmas[6]);
        Assert.Equal(999f, s.Timesteps[0]);
        Assert.Equal(0f, s.Timesteps[5]);
        Assert.True(s.Timesteps.ToArray().Zip(s.Timesteps.ToArray().Skip(1)).All(p => p.First >= p.Second));
    }

    [Fact]
    public void LuLambdasAreUniformInLogSigma()
    {
        var s = (DPMSolverMultistepScheduler)Create(Name, ("use_lu_lambdas", true));
        s.SetTimesteps(8);
        double[] logs = Enumerable.Range(0, 8).Select(i => Math.Log(s.Sigmas[i])).ToArray();
        double step = logs[1] - logs[0];
        Assert.True(step < 0);
        for (int i = 1; i < 8; i++)
        {
            Assert.Equal(step, logs[i] - logs[i - 1], 4);
        }
        float acN = s.AlphasCumprod[999];
        Assert.Equal(Math.Sqrt((1 - acN) / acN), s.Sigmas[0], 4);
        Assert.Equal(999f, s.Timesteps[0]);
    }

    [Theory]
    [InlineData("use_exponential_sigmas")]
    [InlineData("use_beta_sigmas")]
    public void SigmaSchedulesBrokenInDiffusers031AreRejected(string option)
    {
        IScheduler s = Create(Name, (option, true));
        Assert.True(s.Config[option]!.GetValue<bool>());
        Assert.Throws<NotSupportedException>(() => s.SetTimesteps(10));
    }

    [Fact]
    public void AtMostOneSigmaSchedule()
    {
        var ex = Assert.Throws<ArgumentException>(() => Create(Name, ("use_karras_sigmas", true), ("use_beta_sigmas", true)));
        Assert.Contains("use_karras_sigmas", ex.Message);
    }

    [Theory]
    [InlineData("algorithm_type", "dpm++", "sde-dpmsolver++")]
    [InlineData("solver_type", "rk4", "heun")]
    [InlineData("final_sigmas_type", "one", "sigma_min")]
    [InlineData("timestep_spacing", "uniform", "trailing")]
    [InlineData("prediction_type", "flow", "v_prediction")]
    [InlineData("variance_type", "other", "learned_range")]
    [InlineData("beta_schedule", "cubic", "squaredcos_cap_v2")]
    public void InvalidStringOptionsNameTheOptionAndTheAllowedValues(string option, string value, string allowedExample)
    {
        var ex = Assert.Throws<ArgumentException>(() => Create(Name, (option, value)));
        Assert.Equal(option, ex.ParamName);
        Assert.Contains(allowedExample, ex.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    public void SolverOrderOutOfRange(int order)
    {
        var ex = Assert.Throws<ArgumentException>(() => Create(Name, ("solver_order", order)));
        Assert.Equal("solver_order", ex.ParamName);
        Assert.Contains("[1, 3]", ex.Message);
    }

    [Theory]
    [InlineData("dpmsolver")]
    [InlineData("sde-dpmsolver")]
    public void NoisePredictionAlgorithmsNeedSigmaMin(string algorithm)
    {
        var ex = Assert.Throws<ArgumentException>(() => Create(Name, ("algorithm_type", algorithm)));
        Assert.Equal("final_sigmas_type", ex.ParamName);
        Assert.NotNull(Create(Name, ("algorithm_type", algorithm), ("final_sigmas_type", "sigma_min")));
    }

    [Fact]
    public void OtherSolversNamesAreMappedLikeDiffusers()
    {
        var s = (DPMSolverMultistepScheduler)Create(Name, ("algorithm_type", "deis"), ("solver_type", "bh2"), ("final_sigmas_type", "sigma_min"));
        Assert.Equal(AlgorithmType.DpmSolverPlusPlus, s.AlgorithmType);
        Assert.Equal(SolverType.Midpoint, s.SolverType);
        Assert.Equal("dpmsolver++", s.Config["algorithm_type"]!.GetValue<string>());
        Assert.Equal("midpoint", s.Config["solver_type"]!.GetValue<string>());
        // diffusers checks final_sigmas_type against the algorithm as given ("deis" is not a data-prediction name).
        Assert.Throws<ArgumentException>(() => Create(Name, ("algorithm_type", "deis")));
    }

    public static TheoryData<string, string, int, string, string, bool> ConstantCases()
    {
        var data = new TheoryData<string, string, int, string, string, bool>();
        foreach (string algorithm in new[] { "dpmsolver++", "dpmsolver" })
        {
            foreach (int order in new[] { 1, 2, 3 })
            {
                foreach (string solver in new[] { "midpoint", "heun" })
                {
                    data.Add(algorithm, solver, order, "epsilon", "linspace", false);
                }
            }
            data.Add(algorithm, "midpoint", 2, "v_prediction", "leading", false);
            data.Add(algorithm, "midpoint", 2, "sample", "trailing", false);
            data.Add(algorithm, "heun", 3, "v_prediction", "trailing", true);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(ConstantCases))]
    public void ConstantDataPredictionFollowsTheClosedForm(string algorithm, string solver, int order, string prediction, string spacing, bool karras)
    {
        IScheduler s = Create(Name, ("algorithm_type", algorithm), ("solver_type", solver), ("solver_order", order),
            ("prediction_type", prediction), ("timestep_spacing", spacing), ("use_karras_sigmas", karras),
            ("final_sigmas_type", algorithm == "dpmsolver" ? "sigma_min" : "zero"),
            // Karras + sigma_min repeats the last sigma (h = 0); diffusers then needs a first-order final step too.
            ("euler_at_final", karras && algorithm == "dpmsolver"));
        AssertConstantDataPredictionIsFollowed(s, 12, 5e-5);
        AssertConstantDataPredictionIsFollowed(s, 20, 5e-5); // ≥ 15 steps: no lower-order final steps
    }

    [Fact]
    public void ConstantDataPredictionWithLuLambdasAndOneStep()
    {
        AssertConstantDataPredictionIsFollowed(Create(Name, ("use_lu_lambdas", true)), 7, 5e-5);
        AssertConstantDataPredictionIsFollowed(Create(Name), 1, 5e-5);
    }

    [Theory]
    [InlineData("dpmsolver++", 2)]
    [InlineData("dpmsolver", 2)]
    [InlineData("dpmsolver++", 3)]
    [InlineData("dpmsolver", 3)]
    public void FullOrderHeunStepsAreExactForLinearModels(string algorithm, int order)
    {
        // The φ-function ("heun") update integrates a model that is linear in λ exactly once the history is full.
        bool data = algorithm == "dpmsolver++";
        IScheduler s = Create(Name, ("algorithm_type", algorithm), ("solver_type", "heun"), ("solver_order", order),
            ("prediction_type", data ? "sample" : "epsilon"), ("final_sigmas_type", "sigma_min"), ("lower_order_final", false));
        int checkedSteps = AssertPolynomialSteps(s, 10, new Polynomial(0.4, 0), data, step => step >= order - 1, 2e-5);
        Assert.Equal(10 - (order - 1), checkedSteps);
    }

    [Fact]
    public void MidpointIsNotExactForLinearModels()
    {
        // Sanity check of the test above: the midpoint variant approximates the φ₂ term, so it must miss.
        IScheduler s = Create(Name, ("solver_type", "midpoint"), ("prediction_type", "sample"), ("final_sigmas_type", "sigma_min"), ("lower_order_final", false));
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => AssertPolynomialSteps(s, 10, new Polynomial(0.4, 0), true, step => step >= 1, 2e-5));
    }

    [Fact]
    public void SecondOrderMidpointStepMatchesTheFormula()
    {
        // Two steps by hand (float64): D0 = m0, D1 = (m0 − m1)/r0, x_t = σt/σs·x − αt(e^−h − 1)·(D0 + D1/2).
        IScheduler s = Create(Name, ("prediction_type", "sample"), ("final_sigmas_type", "sigma_min"));
        s.SetTimesteps(6);
        double[] m1 = Pattern(8, 0.6);
        double[] m0 = Pattern(9, 0.7);
        var x = Pattern(10, 1).Select(v => (float)v).ToArray();
        var xs = (float[])x.Clone();
        var output = new float[Length];
        Tensor<float> sample = Tensor(x);
        Tensor<float> mo = Tensor(output);
        for (int i = 0; i < Length; i++)
        {
            output[i] = (float)m1[i];
        }

        s.Step(mo, s.Timesteps[0], sample);
        double[] afterFirst = x.Select(v => (double)v).ToArray();
        for (int i = 0; i < Length; i++)
        {
            output[i] = (float)m0[i];
        }

        s.Step(mo, s.Timesteps[1], sample);

        var v0 = Vp(s.Sigmas[0]);
        var v1 = Vp(s.Sigmas[1]);
        var v2 = Vp(s.Sigmas[2]);
        double hFirst = v1.Lambda - v0.Lambda;
        double h = v2.Lambda - v1.Lambda;
        double r0 = (v1.Lambda - v0.Lambda) / h;
        for (int i = 0; i < Length; i++)
        {
            double first = v1.Sigma / v0.Sigma * xs[i] - v1.Alpha * (Math.Exp(-hFirst) - 1) * m1[i];
            Near(first, afterFirst[i]);
            double d1 = (m0[i] - m1[i]) / r0;
            double expected = v2.Sigma / v1.Sigma * afterFirst[i] - v2.Alpha * (Math.Exp(-h) - 1) * (m0[i] + 0.5 * d1);
            Near(expected, x[i]);
        }
    }

    [Fact]
    public void LowerOrderFinalUsesFirstOrderForTheLastStepOfShortSchedules()
    {
        // With 10 steps the last step is first order: it equals the DDIM step from x̂₀ = model output.
        IScheduler s = Create(Name, ("solver_order", 3), ("prediction_type", "sample"), ("final_sigmas_type", "sigma_min"));
        s.SetTimesteps(10);
        var x = Pattern(11, 1).Select(v => (float)v).ToArray();
        var output = new float[Length];
        for (int step = 0; step < 10; step++)
        {
            double[] m = Pattern(20 + step, 0.5);
            for (int i = 0; i < Length; i++)
            {
                output[i] = (float)m[i];
            }

            double[] before = x.Select(v => (double)v).ToArray();
            s.Step(Tensor(output), s.Timesteps[step], Tensor(x));
            if (step == 9)
            {
                var vs = Vp(s.Sigmas[9]);
                var vt = Vp(s.Sigmas[10]);
                for (int i = 0; i < Length; i++)
                {
                    double ddim = vt.Alpha * m[i] + vt.Sigma * (before[i] - vs.Alpha * m[i]) / vs.Sigma;
                    Near(ddim, x[i]);
                }
            }
        }
    }

    [Fact]
    public void SdeDpmSolverPlusPlusDrawsOneNoisePerStep()
    {
        IScheduler s = Create(Name, ("algorithm_type", "sde-dpmsolver++"), ("prediction_type", "sample"), ("solver_order", 1));
        s.SetTimesteps(5);
        var g = new TorchGenerator(3);
        var mirror = g.Clone();
        var x = Pattern(12, 1).Select(v => (float)v).ToArray();
        double[] before = x.Select(v => (double)v).ToArray();
        double[] m = Pattern(13, 0.5);
        var output = m.Select(v => (float)v).ToArray();
        s.Step(Tensor(output), s.Timesteps[0], Tensor(x), g);

        var z = new float[Length];
        mirror.Randn(z);
        var vs = Vp(s.Sigmas[0]);
        var vt = Vp(s.Sigmas[1]);
        double h = vt.Lambda - vs.Lambda;
        for (int i = 0; i < Length; i++)
        {
            double expected = vt.Sigma / vs.Sigma * Math.Exp(-h) * before[i] + vt.Alpha * (1 - Math.Exp(-2 * h)) * m[i]
                + vt.Sigma * Math.Sqrt(1 - Math.Exp(-2 * h)) * z[i];
            Near(expected, x[i]);
        }
        Assert.Equal(mirror.NextUInt32(), g.NextUInt32());
        Assert.Throws<ArgumentNullException>(() => s.Step(Tensor(output), s.Timesteps[1], Tensor(x)));
    }

    [Fact]
    public void SdeDpmSolverFirstOrderFormula()
    {
        IScheduler s = Create(Name, ("algorithm_type", "sde-dpmsolver"), ("prediction_type", "epsilon"), ("solver_order", 1), ("final_sigmas_type", "sigma_min"));
        s.SetTimesteps(5);
        var g = new TorchGenerator(4);
        var mirror = g.Clone();
        var x = Pattern(14, 1).Select(v => (float)v).ToArray();
        double[] before = x.Select(v => (double)v).ToArray();
        double[] eps = Pattern(15, 0.5);
        s.Step(Tensor(eps.Select(v => (float)v).ToArray()), s.Timesteps[0], Tensor(x), g);
        var z = new float[Length];
        mirror.Randn(z);
        var vs = Vp(s.Sigmas[0]);
        var vt = Vp(s.Sigmas[1]);
        double h = vt.Lambda - vs.Lambda;
        for (int i = 0; i < Length; i++)
        {
            double expected = vt.Alpha / vs.Alpha * before[i] - 2 * vt.Sigma * (Math.Exp(h) - 1) * eps[i] + vt.Sigma * Math.Sqrt(Math.Exp(2 * h) - 1) * z[i];
            Near(expected, x[i]);
        }
    }

    [Fact]
    public void SdeSecondOrderMidpointUsesTheHistoryAndTheNoise()
    {
        IScheduler s = Create(Name, ("algorithm_type", "sde-dpmsolver++"), ("prediction_type", "sample"), ("lower_order_final", false), ("final_sigmas_type", "sigma_min"));
        s.SetTimesteps(20);
        var g = new TorchGenerator(5);
        var x = Pattern(16, 1).Select(v => (float)v).ToArray();
        double[] m1 = Pattern(17, 0.5);
        double[] m0 = Pattern(18, 0.4);
        s.Step(Tensor(m1.Select(v => (float)v).ToArray()), s.Timesteps[0], Tensor(x), g);
        double[] before = x.Select(v => (double)v).ToArray();
        var mirror = g.Clone();
        s.Step(Tensor(m0.Select(v => (float)v).ToArray()), s.Timesteps[1], Tensor(x), g);
        var z = new float[Length];
        mirror.Randn(z);
        var v0 = Vp(s.Sigmas[0]);
        var v1 = Vp(s.Sigmas[1]);
        var v2 = Vp(s.Sigmas[2]);
        double h = v2.Lambda - v1.Lambda;
        double r0 = (v1.Lambda - v0.Lambda) / h;
        for (int i = 0; i < Length; i++)
        {
            double d1 = (m0[i] - m1[i]) / r0;
            double b = v2.Alpha * (1 - Math.Exp(-2 * h));
            double expected = v2.Sigma / v1.Sigma * Math.Exp(-h) * before[i] + b * m0[i] + 0.5 * b * d1 + v2.Sigma * Math.Sqrt(1 - Math.Exp(-2 * h)) * z[i];
            Near(expected, x[i]);
        }
    }

    [Fact]
    public void SdeThirdOrderIsRejectedLikeDiffusersCannotRunIt()
    {
        IScheduler s = Create(Name, ("algorithm_type", "sde-dpmsolver++"), ("solver_order", 3));
        var g = new TorchGenerator(1);
        Assert.Throws<NotSupportedException>(() => Run(s, 8, g));
        // Up to 4 steps diffusers never reaches a third-order update (lower_order_final), so those run.
        Assert.Equal(Length, Run(s, 4, new TorchGenerator(1)).Length);
    }

    [Fact]
    public void ThresholdingClampsTheDataPrediction()
    {
        // x̂₀ = 5 everywhere: the 0.995 quantile is 5, clamped to sample_max_value 1.5, so x̂₀ becomes 1.5/1.5 = 1.
        IScheduler s = Create(Name, ("prediction_type", "sample"), ("thresholding", true), ("sample_max_value", 1.5), ("solver_order", 1), ("final_sigmas_type", "sigma_min"));
        s.SetTimesteps(4);
        var x = Pattern(19, 1).Select(v => (float)v).ToArray();
        double[] before = x.Select(v => (double)v).ToArray();
        s.Step(Tensor(Enumerable.Repeat(5f, Length).ToArray()), s.Timesteps[0], Tensor(x));
        var vs = Vp(s.Sigmas[0]);
        var vt = Vp(s.Sigmas[1]);
        for (int i = 0; i < Length; i++)
        {
            double ddim = vt.Alpha * 1.0 + vt.Sigma * (before[i] - vs.Alpha * 1.0) / vs.Sigma;
            Near(ddim, x[i]);
        }
    }

    [Fact]
    public void LearnedVarianceUsesTheFirstThreeChannels()
    {
        var plain = Create(Name, ("prediction_type", "epsilon"));
        var learned = Create(Name, ("prediction_type", "epsilon"), ("variance_type", "learned_range"));
        plain.SetTimesteps(5);
        learned.SetTimesteps(5);
        var x1 = Enumerable.Range(0, 3 * 16).Select(i => MathF.Sin(i)).ToArray();
        var x2 = (float[])x1.Clone();
        for (int step = 0; step < 5; step++)
        {
            var eps = Enumerable.Range(0, 3 * 16).Select(i => MathF.Cos(i + step) * 0.5f).ToArray();
            var withVariance = new float[6 * 16];
            eps.CopyTo(withVariance, 0);
            Array.Fill(withVariance, 9f, 3 * 16, 3 * 16);
            plain.Step(Spright.Diffusion.Numerics.TensorShapes.Wrap(eps, 1, 3, 4, 4), plain.Timesteps[step], Spright.Diffusion.Numerics.TensorShapes.Wrap(x1, 1, 3, 4, 4));
            learned.Step(Spright.Diffusion.Numerics.TensorShapes.Wrap(withVariance, 1, 6, 4, 4), learned.Timesteps[step], Spright.Diffusion.Numerics.TensorShapes.Wrap(x2, 1, 3, 4, 4));
        }
        Assert.Equal(x1, x2);
    }

    [Fact]
    public void PredictionTypesAgreeOnTheSameTrajectory()
    {
        // Covered by the closed-form theory too; here the three parameterisations drive one run each.
        foreach (string p in new[] { "epsilon", "sample", "v_prediction" })
        {
            AssertConstantDataPredictionIsFollowed(Create(Name, ("prediction_type", p), ("timestep_spacing", "trailing")), 9, 5e-5);
        }
    }

    [Fact]
    public void RescaleBetasZeroSnrKeepsTheFirstSigmaFinite()
    {
        var s = (DPMSolverMultistepScheduler)Create(Name, ("rescale_betas_zero_snr", true), ("timestep_spacing", "trailing"));
        Assert.Equal(MathF.Pow(2, -24), s.AlphasCumprod[999]);
        s.SetTimesteps(10);
        Assert.True(float.IsFinite(s.Sigmas[0]));
        Assert.Equal(MathF.Sqrt((1 - MathF.Pow(2, -24)) / MathF.Pow(2, -24)), s.Sigmas[0]);
        Assert.All(Run(s, 10), v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void CustomTimestepsAreUsedAsGiven()
    {
        var s = (DPMSolverMultistepScheduler)Create(Name);
        s.SetTimesteps([900f, 650.7f, 300f, 20f], null);
        Assert.Equal([900f, 650f, 300f, 20f], s.Timesteps.ToArray()); // int64 cast truncates
        Assert.Equal(4, s.NumInferenceSteps);
        float ac = s.AlphasCumprod[650];
        Assert.Equal(MathF.Sqrt((1 - ac) / ac), s.Sigmas[1]);
        Assert.Equal(0f, s.Sigmas[4]);
        Assert.Throws<NotSupportedException>(() => s.SetTimesteps(null, [10f, 1f]));
        Assert.Throws<ArgumentException>(() => ((IScheduler)Create(Name, ("use_karras_sigmas", true))).SetTimesteps([900f, 10f], null));
        Assert.Throws<ArgumentException>(() => ((IScheduler)Create(Name, ("use_lu_lambdas", true))).SetTimesteps([900f, 10f], null));
    }

    [Fact]
    public void BeginIndexStartsMidScheduleAndAddNoiseUsesItsSigma()
    {
        IScheduler s = Create(Name);
        s.SetTimesteps(10);
        s.SetBeginIndex(4);
        double[] x0 = Pattern(21, 0.5);
        double[] noise = Pattern(22, 1);
        var noisy = new float[Length];
        s.AddNoise(x0.Select(v => (float)v).ToArray(), noise.Select(v => (float)v).ToArray(), s.Timesteps[4], noisy);
        var v4 = Vp(s.Sigmas[4]);
        for (int i = 0; i < Length; i++)
        {
            Assert.Equal(v4.Alpha * x0[i] + v4.Sigma * noise[i], noisy[i], 5);
        }
        // A timestep that is not in the schedule maps to the last index (diffusers' index_for_timestep) when no begin index is set.
        IScheduler t = Create(Name);
        t.SetTimesteps(10);
        t.AddNoise(x0.Select(v => (float)v).ToArray(), noise.Select(v => (float)v).ToArray(), 12345f, noisy);
        var last = Vp(t.Sigmas[9]);
        Assert.Equal(last.Alpha * x0[0] + last.Sigma * noise[0], noisy[0], 5);

        var output = new float[Length];
        s.Step(Tensor(output), s.Timesteps[4], Tensor(noisy));
        Assert.Equal(5, s.StepIndex);
        Assert.Equal(1, ((DPMSolverMultistepScheduler)s).LowerOrderNums);
    }
}
