using Spright.Diffusion.Random;
using Spright.Diffusion.Schedulers;
using static Spright.Diffusion.Tests.Schedulers.SolverTestKit;

namespace Spright.Diffusion.Tests.Schedulers;

public sealed class LCMSchedulerTests
{
    private const string Name = "LCMScheduler";

    [Fact]
    public void DefaultsMatchDiffusers()
    {
        var s = new LCMScheduler();
        Assert.Equal(
            ["num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas", "original_inference_steps", "clip_sample",
             "clip_sample_range", "set_alpha_to_one", "steps_offset", "prediction_type", "thresholding", "dynamic_thresholding_ratio",
             "sample_max_value", "timestep_spacing", "timestep_scaling", "rescale_betas_zero_snr"],
            s.Config.Keys.Where(k => !k.StartsWith('_')));
        Assert.Equal("scaled_linear", s.Config["beta_schedule"]!.GetValue<string>());
        Assert.Equal(50, s.Config["original_inference_steps"]!.GetValue<int>());
        Assert.Equal(10.0, s.Config["timestep_scaling"]!.GetValue<double>());
    }

    [Fact]
    public void TimestepsComeFromTheDistillationSchedule()
    {
        var s = new LCMScheduler();
        // k = 1000 // 50 = 20: [19, 39, …, 999] reversed, indices floor(linspace(0, 50, 4, endpoint=False)) = 0, 12, 25, 37.
        s.SetTimesteps(4);
        Assert.Equal([999f, 759f, 499f, 259f], s.Timesteps.ToArray());
        s.SetTimesteps(4, originalInferenceSteps: 20, strength: 1.0); // k = 50, indices 0, 5, 10, 15
        Assert.Equal([999f, 749f, 499f, 249f], s.Timesteps.ToArray());
        s.SetTimesteps(4, null, 0.5); // 25 origin steps [19 … 499], indices 0, 6, 12, 18
        Assert.Equal([499f, 379f, 259f, 139f], s.Timesteps.ToArray());
        Assert.Equal(4, s.NumInferenceSteps);
        Assert.False(s.CustomTimesteps);
    }

    [Fact]
    public void InvalidScheduleRequests()
    {
        var s = new LCMScheduler();
        Assert.Throws<ArgumentException>(() => s.SetTimesteps(60));                 // more than original_inference_steps
        Assert.Throws<ArgumentOutOfRangeException>(() => s.SetTimesteps(1001));
        Assert.Throws<ArgumentException>(() => s.SetTimesteps(6, null, 0.1));      // 5 origin timesteps < 6 steps
        Assert.Throws<ArgumentOutOfRangeException>(() => s.SetTimesteps(4, 2000, 1.0));
        Assert.Throws<ArgumentOutOfRangeException>(() => s.SetTimesteps(4, null, 0));
        Assert.Throws<ArgumentException>(() => s.SetTimesteps([500f, 600f], null));
        Assert.Throws<ArgumentException>(() => s.SetTimesteps([1000f, 500f], null));
        Assert.Throws<NotSupportedException>(() => s.SetTimesteps(null, [1f, 0.1f]));
        Assert.Equal("original_inference_steps", Assert.Throws<ArgumentException>(() => Create(Name, ("original_inference_steps", 0))).ParamName);
        Assert.Equal("prediction_type", Assert.Throws<ArgumentException>(() => Create(Name, ("prediction_type", "x0"))).ParamName);
    }

    [Fact]
    public void CustomTimestepsWithStrength()
    {
        var s = new LCMScheduler();
        s.SetTimesteps([999f, 759f, 499f, 259f], originalInferenceSteps: null, strength: 0.5);
        Assert.Equal([499f, 259f], s.Timesteps.ToArray());
        Assert.Equal(4, s.NumInferenceSteps);
        Assert.True(s.CustomTimesteps);
        // As in diffusers the noise decision compares with num_inference_steps (4), so the second and last step of the
        // shortened schedule still re-noises: the generator advances on every step.
        var g = new TorchGenerator(2);
        var mirror = g.Clone();
        RunLoaded(s, g);
        var skip = new float[Length * 2];
        mirror.Randn(skip.AsSpan(0, Length));
        mirror.Randn(skip.AsSpan(Length, Length));
        Assert.Equal(mirror.NextUInt32(), g.NextUInt32());
    }

    [Fact]
    public void BoundaryConditionScalings()
    {
        var s = new LCMScheduler();
        foreach (float t in new[] { 999f, 259f, 19f, 0f })
        {
            double scaled = t * 10.0;
            (float cSkip, float cOut) = s.GetScalingsForBoundaryCondition(t);
            Near(0.25 / (scaled * scaled + 0.25), cSkip, 1e-6);
            Near(scaled / Math.Sqrt(scaled * scaled + 0.25), cOut, 1e-6);
        }
        Assert.Equal((1f, 0f), s.GetScalingsForBoundaryCondition(0f));
    }

    [Theory]
    [InlineData("epsilon")]
    [InlineData("v_prediction")]
    [InlineData("sample")]
    public void StepDenoisesThenRenoisesToTheNextTimestep(string prediction)
    {
        var s = (LCMScheduler)LCMScheduler.FromConfig(SchedulerConfig.Empty, [new("prediction_type", prediction)]);
        s.SetTimesteps(4);
        var g = new TorchGenerator(9);
        var mirror = g.Clone();
        double[] before = Pattern(70, 1);
        double[] m = Pattern(71, 0.5);
        var x = before.Select(v => (float)v).ToArray();
        var sample = Tensor(x);
        SchedulerOutput output = s.Step(Tensor(m.Select(v => (float)v).ToArray()), 999f, sample, g);
        var z = new float[Length];
        mirror.Randn(z);
        double a = s.AlphasCumprod[999];
        double aPrev = s.AlphasCumprod[759];
        (float cSkip, float cOut) = s.GetScalingsForBoundaryCondition(999f);
        float[] denoised = output.PredOriginalSample!.ToArray();
        for (int i = 0; i < Length; i++)
        {
            double x0 = prediction switch
            {
                "epsilon" => (before[i] - Math.Sqrt(1 - a) * m[i]) / Math.Sqrt(a),
                "v_prediction" => Math.Sqrt(a) * before[i] - Math.Sqrt(1 - a) * m[i],
                _ => m[i],
            };
            double d = cOut * x0 + cSkip * before[i];
            Near(d, denoised[i], 5e-5);
            Near(Math.Sqrt(aPrev) * d + Math.Sqrt(1 - aPrev) * z[i], x[i], 5e-5);
        }
        Assert.Same(sample, output.PrevSample);
        Assert.Equal(1, s.StepIndex);
    }

    [Fact]
    public void LastStepReturnsTheDenoisedSampleWithoutNoise()
    {
        var s = new LCMScheduler();
        s.SetTimesteps(1);
        var g = new TorchGenerator(10);
        var mirror = g.Clone();
        var x = Pattern(72, 1).Select(v => (float)v).ToArray();
        SchedulerOutput output = s.Step(Tensor(Pattern(73, 0.4).Select(v => (float)v).ToArray()), s.Timesteps[0], Tensor(x), g);
        Assert.Equal(output.PredOriginalSample!.ToArray(), x);
        Assert.Equal(mirror.NextUInt32(), g.NextUInt32());
        // One step needs no generator at all.
        s.SetTimesteps(1);
        s.Step(Tensor(new float[Length]), s.Timesteps[0], Tensor(x));
        s.SetTimesteps(2);
        Assert.Throws<ArgumentNullException>(() => s.Step(Tensor(new float[Length]), s.Timesteps[0], Tensor(x)));
    }

    [Fact]
    public void ClippingAndThresholdingLimitTheDataPrediction()
    {
        foreach ((string key, object value) in new (string, object)[] { ("clip_sample", true), ("thresholding", true) })
        {
            var s = (LCMScheduler)LCMScheduler.FromConfig(SchedulerConfig.Empty, [new("prediction_type", "sample"), new(key, value)]);
            s.SetTimesteps(1);
            var x = Pattern(74, 1).Select(v => (float)v).ToArray();
            double[] before = x.Select(v => (double)v).ToArray();
            s.Step(Tensor(Enumerable.Repeat(3f, Length).ToArray()), s.Timesteps[0], Tensor(x));
            (float cSkip, float cOut) = s.GetScalingsForBoundaryCondition(s.Timesteps[0]);
            for (int i = 0; i < Length; i++)
            {
                Near(cOut * 1.0 + cSkip * before[i], x[i]); // clamp(3, ±1) = 1; threshold s = clamp(3, 1, 1) → 3/3… = 1
            }
        }
    }

    [Fact]
    public void ZeroTerminalSnrAndAddNoise()
    {
        var s = (LCMScheduler)Create(Name, ("rescale_betas_zero_snr", true));
        Assert.Equal(0f, s.AlphasCumprod[999]);
        var plain = new LCMScheduler();
        double[] x0 = Pattern(75, 1);
        double[] n = Pattern(76, 1);
        var noisy = new float[Length];
        plain.AddNoise(x0.Select(v => (float)v).ToArray(), n.Select(v => (float)v).ToArray(), 499f, noisy);
        double a = plain.AlphasCumprod[499];
        for (int i = 0; i < Length; i++)
        {
            Near(Math.Sqrt(a) * x0[i] + Math.Sqrt(1 - a) * n[i], noisy[i], 1e-6);
        }
    }
}
