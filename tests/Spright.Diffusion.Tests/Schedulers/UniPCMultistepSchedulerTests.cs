using Spright.Diffusion.Schedulers;
using static Spright.Diffusion.Tests.Schedulers.SolverTestKit;

namespace Spright.Diffusion.Tests.Schedulers;

public sealed class UniPCMultistepSchedulerTests
{
    private const string Name = "UniPCMultistepScheduler";

    [Fact]
    public void DefaultsAndOptionChecks()
    {
        var s = new UniPCMultistepScheduler();
        Assert.Equal(
            ["num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas", "solver_order", "prediction_type",
             "thresholding", "dynamic_thresholding_ratio", "sample_max_value", "predict_x0", "solver_type", "lower_order_final",
             "disable_corrector", "solver_p", "use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas", "timestep_spacing",
             "steps_offset", "final_sigmas_type", "rescale_betas_zero_snr"],
            s.Config.Keys.Where(k => !k.StartsWith('_')));
        Assert.Equal(SolverType.Bh2, s.SolverType);
        Assert.Equal("bh2", Create(Name, ("solver_type", "midpoint")).Config["solver_type"]!.GetValue<string>());
        Assert.Equal("solver_type", Assert.Throws<ArgumentException>(() => Create(Name, ("solver_type", "bh3"))).ParamName);
        Assert.Equal("disable_corrector", Assert.Throws<ArgumentException>(() => Create(Name, ("disable_corrector", new[] { 1.5 }))).ParamName);
        Assert.Throws<NotSupportedException>(() => Create(Name, ("solver_p", "DDIMScheduler")));
        Assert.Equal([0, 3], ((UniPCMultistepScheduler)Create(Name, ("disable_corrector", new[] { 0, 3 }))).DisableCorrector);
        Assert.Throws<NotSupportedException>(() => Create(Name).SetTimesteps([500f, 10f], null));
        Assert.Throws<NotSupportedException>(() => Create(Name, ("use_beta_sigmas", true)).SetTimesteps(5));
    }

    [Fact]
    public void FinalSigmaTypes()
    {
        var zero = (UniPCMultistepScheduler)Create(Name);
        zero.SetTimesteps(5);
        Assert.Equal(0f, zero.Sigmas[^1]);
        var min = (UniPCMultistepScheduler)Create(Name, ("final_sigmas_type", "sigma_min"));
        min.SetTimesteps(5);
        float ac0 = min.AlphasCumprod[0];
        Assert.Equal(MathF.Sqrt((1 - ac0) / ac0), min.Sigmas[^1]);
        var karras = (UniPCMultistepScheduler)Create(Name, ("use_karras_sigmas", true), ("final_sigmas_type", "sigma_min"));
        karras.SetTimesteps(5);
        Assert.Equal(karras.Sigmas[4], karras.Sigmas[5]); // the Karras minimum, not the training one
    }

    public static TheoryData<bool, string, int, string, bool> ConstantCases()
    {
        var data = new TheoryData<bool, string, int, string, bool>();
        foreach (bool predictX0 in new[] { true, false })
        {
            foreach (string solver in new[] { "bh1", "bh2" })
            {
                foreach (int order in new[] { 1, 2, 3 })
                {
                    data.Add(predictX0, solver, order, "epsilon", false);
                }
            }
            data.Add(predictX0, "bh2", 2, "v_prediction", true);
            data.Add(predictX0, "bh2", 3, "sample", false);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(ConstantCases))]
    public void ConstantDataPredictionFollowsTheClosedForm(bool predictX0, string solver, int order, string prediction, bool karras)
    {
        IScheduler s = Create(Name, ("predict_x0", predictX0), ("solver_type", solver), ("solver_order", order),
            ("prediction_type", prediction), ("use_karras_sigmas", karras), ("final_sigmas_type", predictX0 ? "zero" : "sigma_min"));
        AssertConstantDataPredictionIsFollowed(s, 10, 5e-5);
        AssertConstantDataPredictionIsFollowed(Create(Name, ("predict_x0", predictX0), ("solver_order", order), ("disable_corrector", new[] { 1, 2, 5 }),
            ("final_sigmas_type", "sigma_min")), 18, 5e-5);
    }

    [Fact]
    public void FirstOrderPredictorEqualsDpmSolverPlusPlus()
    {
        // UniP-1 without corrector is the DPM-Solver++ first-order (DDIM) update: only the float ops differ.
        IScheduler unipc = Create(Name, ("solver_order", 1), ("disable_corrector", Enumerable.Range(0, 10).ToArray()));
        IScheduler dpm = Create("DPMSolverMultistepScheduler", ("solver_order", 1));
        float[] a = Run(unipc, 10);
        float[] b = Run(dpm, 10);
        for (int i = 0; i < Length; i++)
        {
            Near(b[i], a[i], 1e-5);
        }
        float[] corrected = Run(Create(Name, ("solver_order", 1)), 10);
        Assert.True(corrected.Zip(a).Any(p => Math.Abs(p.First - p.Second) > 1e-3), "the corrector must change the result");
    }

    [Theory]
    [InlineData("bh2", false)]
    [InlineData("bh1", false)]
    [InlineData("bh2", true)]
    public void CorrectorAndSecondOrderPredictorMatchTheFormulas(string solver, bool disableFirstCorrector)
    {
        IScheduler s = Create(Name, ("prediction_type", "sample"), ("solver_type", solver), ("final_sigmas_type", "sigma_min"),
            ("disable_corrector", disableFirstCorrector ? new[] { 0 } : Array.Empty<int>()));
        s.SetTimesteps(8);
        double[] x0 = Pattern(50, 1);
        double[] o0 = Pattern(51, 0.5);
        double[] o1 = Pattern(52, 0.4);
        var x = x0.Select(v => (float)v).ToArray();
        s.Step(Tensor(o0.Select(v => (float)v).ToArray()), s.Timesteps[0], Tensor(x));
        double[] x1 = x.Select(v => (double)v).ToArray();
        s.Step(Tensor(o1.Select(v => (float)v).ToArray()), s.Timesteps[1], Tensor(x));

        var v0 = Vp(s.Sigmas[0]);
        var v1 = Vp(s.Sigmas[1]);
        var v2 = Vp(s.Sigmas[2]);
        double B(double hh) => solver == "bh1" ? hh : Math.Exp(hh) - 1;
        double hh1 = -(v1.Lambda - v0.Lambda);
        double hh2 = -(v2.Lambda - v1.Lambda);
        for (int i = 0; i < Length; i++)
        {
            // Step 0, UniP-1: x1 = σ1/σ0·x0 − α1(e^hh − 1)·o0
            double predicted = v1.Sigma / v0.Sigma * x0[i] - v1.Alpha * (Math.Exp(hh1) - 1) * o0[i];
            Near(predicted, x1[i]);
            // Step 1, UniC-1 (ρ = ½) on that step: xc = σ1/σ0·x0 − α1(e^hh − 1)·o0 − α1·B(hh)·½(o1 − o0)
            double corrected = disableFirstCorrector ? x1[i] : predicted - v1.Alpha * B(hh1) * 0.5 * (o1[i] - o0[i]);
            // then UniP-2 (ρ = ½): rk = (λ0 − λ1)/h, D1 = (o0 − o1)/rk
            double rk = (v0.Lambda - v1.Lambda) / (v2.Lambda - v1.Lambda);
            double d1 = (o0[i] - o1[i]) / rk;
            double expected = v2.Sigma / v1.Sigma * corrected - v2.Alpha * (Math.Exp(hh2) - 1) * o1[i] - v2.Alpha * B(hh2) * 0.5 * d1;
            Near(expected, x[i]);
        }
    }

    [Fact]
    public void SecondOrderCorrectorSolvesForItsCoefficients()
    {
        // Three steps transcribed in float64 (bh2, x̂₀ model): UniP-1; UniC-1 + UniP-2; UniC-2 (ρ from the 2×2 system
        // [[1, 1], [rk, 1]]·ρ = b) + UniP-2.
        IScheduler s = Create(Name, ("prediction_type", "sample"), ("final_sigmas_type", "sigma_min"));
        s.SetTimesteps(8);
        double[][] o = [Pattern(60, 0.5), Pattern(61, 0.4), Pattern(62, 0.3)];
        double[] start = Pattern(63, 1);
        var x = start.Select(v => (float)v).ToArray();
        for (int step = 0; step < 3; step++)
        {
            s.Step(Tensor(o[step].Select(v => (float)v).ToArray()), s.Timesteps[step], Tensor(x));
        }
        var v = Enumerable.Range(0, 4).Select(i => Vp(s.Sigmas[i])).ToArray();
        double E(int from, int to) => Math.Exp(-(v[to].Lambda - v[from].Lambda)) - 1; // hφ₁ = B(h) for bh2
        double Rk(int older, int from, int to) => (v[older].Lambda - v[from].Lambda) / (v[to].Lambda - v[from].Lambda);

        // ρ for UniC-2 at step 2 (from σ1 to σ2): b₁ = (hφ₁/hh − 1)/B, b₂ = 2((hφ₁/hh − 1)/hh − ½)/B.
        double hh = -(v[2].Lambda - v[1].Lambda);
        double hPhi1 = Math.Exp(hh) - 1;
        double k1 = hPhi1 / hh - 1;
        double b1 = k1 / hPhi1;
        double b2 = (k1 / hh - 0.5) * 2 / hPhi1;
        double rk = Rk(0, 1, 2);
        double rho0 = (b1 - b2) / (1 - rk);
        double rho1 = b1 - rho0;
        for (int i = 0; i < Length; i++)
        {
            double p1 = v[1].Sigma / v[0].Sigma * start[i] - v[1].Alpha * E(0, 1) * o[0][i];
            double c1 = p1 - v[1].Alpha * E(0, 1) * 0.5 * (o[1][i] - o[0][i]);
            double c2 = v[2].Sigma / v[1].Sigma * c1 - v[2].Alpha * E(1, 2) * o[1][i]
                - v[2].Alpha * E(1, 2) * (rho0 * (o[0][i] - o[1][i]) / rk + rho1 * (o[2][i] - o[1][i]));
            double p3 = v[3].Sigma / v[2].Sigma * c2 - v[3].Alpha * E(2, 3) * o[2][i]
                - v[3].Alpha * E(2, 3) * 0.5 * (o[1][i] - o[2][i]) / Rk(1, 2, 3);
            Near(p3, x[i], 5e-5);
        }
    }

    [Fact]
    public void LinearSolveMatchesFloat64()
    {
        float[] a = [1, 1, 1, 0.5f, -1.2f, 2, 0.25f, 1.44f, 4];
        float[] b = [0.3f, -0.7f, 1.1f];
        double[,] m = { { 1, 1, 1 }, { 0.5, -1.2, 2 }, { 0.25, 1.44, 4 } };
        double[] rhs = [0.3, -0.7, 1.1];
        double[] expected = SolveDouble(m, rhs);
        VpSolverMath.Solve(a, b, 3);
        for (int i = 0; i < 3; i++)
        {
            Near(expected[i], b[i], 1e-5);
        }
        Assert.Throws<InvalidOperationException>(() => VpSolverMath.Solve(new float[] { 1, 1, 1, 1 }, new float[] { 1, 2 }, 2));
    }

    private static double[] SolveDouble(double[,] m, double[] rhs)
    {
        int n = rhs.Length;
        var a = (double[,])m.Clone();
        var b = (double[])rhs.Clone();
        for (int k = 0; k < n; k++)
        {
            int p = k;
            for (int i = k + 1; i < n; i++)
            {
                if (Math.Abs(a[i, k]) > Math.Abs(a[p, k]))
                {
                    p = i;
                }
            }

            for (int j = 0; j < n; j++)
            {
                (a[k, j], a[p, j]) = (a[p, j], a[k, j]);
            }

            (b[k], b[p]) = (b[p], b[k]);
            for (int i = k + 1; i < n; i++)
            {
                double f = a[i, k] / a[k, k];
                for (int j = k; j < n; j++)
                {
                    a[i, j] -= f * a[k, j];
                }

                b[i] -= f * b[k];
            }
        }
        for (int k = n - 1; k >= 0; k--)
        {
            for (int j = k + 1; j < n; j++)
            {
                b[k] -= a[k, j] * b[j];
            }

            b[k] /= a[k, k];
        }
        return b;
    }
}
