using System.Numerics.Tensors;
using Spright.Diffusion.Random;
using Spright.Diffusion.Schedulers;
using static Spright.Diffusion.Tests.Schedulers.SolverTestKit;

namespace Spright.Diffusion.Tests.Schedulers;

/// <summary>Behaviour every group-B scheduler shares: state handling, allocation-free steps, configuration round trips.</summary>
public sealed class VpSolverContractTests
{
    public static TheoryData<string> Variants() =>
    [
        "dpm", "dpm-sde", "dpm-3-heun-threshold", "dpm-karras", "dpm-sde-solver",
        "single", "single-sde", "single-3",
        "deis", "deis-3-threshold",
        "unipc", "unipc-3-bh1", "unipc-noise",
        "lcm", "lcm-threshold",
    ];

    private static (IScheduler Scheduler, bool NeedsGenerator) Make(string variant) => variant switch
    {
        "dpm" => (Create("DPMSolverMultistepScheduler"), false),
        "dpm-sde" => (Create("DPMSolverMultistepScheduler", ("algorithm_type", "sde-dpmsolver++")), true),
        "dpm-3-heun-threshold" => (Create("DPMSolverMultistepScheduler", ("solver_order", 3), ("solver_type", "heun"), ("thresholding", true)), false),
        "dpm-karras" => (Create("DPMSolverMultistepScheduler", ("use_karras_sigmas", true)), false),
        "dpm-sde-solver" => (Create("DPMSolverMultistepScheduler", ("algorithm_type", "sde-dpmsolver"), ("final_sigmas_type", "sigma_min")), true),
        "single" => (Create("DPMSolverSinglestepScheduler"), false),
        "single-sde" => (Create("DPMSolverSinglestepScheduler", ("algorithm_type", "sde-dpmsolver++")), true),
        "single-3" => (Create("DPMSolverSinglestepScheduler", ("solver_order", 3), ("solver_type", "heun")), false),
        "deis" => (Create("DEISMultistepScheduler"), false),
        "deis-3-threshold" => (Create("DEISMultistepScheduler", ("solver_order", 3), ("thresholding", true)), false),
        "unipc" => (Create("UniPCMultistepScheduler"), false),
        "unipc-3-bh1" => (Create("UniPCMultistepScheduler", ("solver_order", 3), ("solver_type", "bh1")), false),
        "unipc-noise" => (Create("UniPCMultistepScheduler", ("predict_x0", false), ("final_sigmas_type", "sigma_min")), false),
        "lcm" => (Create("LCMScheduler"), true),
        "lcm-threshold" => (Create("LCMScheduler", ("thresholding", true)), true),
        _ => throw new ArgumentException(variant),
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void SteadyStateStepsDoNotAllocate(string variant)
    {
        (IScheduler s, bool needsGenerator) = Make(variant);
        int steps = s.ClassName == "LCMScheduler" ? 20 : 24;
        s.SetTimesteps(steps);
        float[] timesteps = s.Timesteps.ToArray();
        var x = Pattern(80, 1).Select(v => (float)v).ToArray();
        var output = new float[Length];
        Tensor<float> sample = Tensor(x);
        Tensor<float> modelOutput = Tensor(output);
        TorchGenerator? g = needsGenerator ? new TorchGenerator(1) : null;
        void StepAt(int i)
        {
            for (int k = 0; k < Length; k++)
            {
                output[k] = x[k] * 0.3f + 0.01f * i;
            }
            s.ScaleModelInput(x, timesteps[i], x);
            s.Step(modelOutput, timesteps[i], sample, g);
        }
        for (int i = 0; i < 5; i++)
        {
            StepAt(i); // warm-up: history buffers fill, JIT settles
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 5; i < 15; i++)
        {
            StepAt(i);
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void CloneIsAFreshSchedulerWithTheSameConfiguration(string variant)
    {
        (IScheduler s, bool needsGenerator) = Make(variant);
        s.SetTimesteps(10);
        s.SetBeginIndex(0);
        RunLoaded(s, needsGenerator ? new TorchGenerator(5) : null);
        IScheduler clone = s.Clone();
        Assert.NotSame(s, clone);
        Assert.Equal(s.ClassName, clone.ClassName);
        Assert.Equal(s.Config.ToJson(), clone.Config.ToJson());
        Assert.Equal(0, clone.NumInferenceSteps);
        Assert.Null(clone.StepIndex);
        Assert.Null(clone.BeginIndex);

        float[] fromClone = Run(clone, 10, needsGenerator ? new TorchGenerator(5) : null);
        float[] fromFresh = Run(Make(variant).Scheduler, 10, needsGenerator ? new TorchGenerator(5) : null);
        Assert.Equal(fromFresh, fromClone);
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void SetTimestepsResetsTheRunState(string variant)
    {
        (IScheduler s, bool needsGenerator) = Make(variant);
        float[] first = Run(s, 9, needsGenerator ? new TorchGenerator(6) : null);
        float[] second = Run(s, 9, needsGenerator ? new TorchGenerator(6) : null);
        Assert.Equal(first, second);
        Assert.Equal(9, s.StepIndex);
        Assert.True(((SchedulerBase)s).HasIntegerTimesteps);
        Assert.All(s.Timesteps.ToArray(), t => Assert.Equal(MathF.Round(t), t));
        Assert.Equal(1, s.Order);
        Assert.Equal(1f, s.InitNoiseSigma);
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void ConfigurationRoundTripsThroughTheRegistry(string variant)
    {
        IScheduler s = Make(variant).Scheduler;
        IScheduler again = SchedulerRegistry.Create(s.ClassName, SchedulerConfig.Parse(s.Config.ToJson()));
        Assert.Equal(s.Config.ToJson(), again.Config.ToJson());
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void StepBeforeSetTimestepsThrowsAndScaleModelInputIsIdentity(string variant)
    {
        IScheduler s = Make(variant).Scheduler;
        var x = Pattern(81, 1).Select(v => (float)v).ToArray();
        Assert.Throws<InvalidOperationException>(() => s.Step(Tensor(new float[Length]), 999f, Tensor(x), new TorchGenerator(1)));
        var copy = (float[])x.Clone();
        s.ScaleModelInput(x, 999f, x);
        Assert.Equal(copy, x);
        var dst = new float[Length];
        s.ScaleModelInput(x, 999f, dst);
        Assert.Equal(copy, dst);
    }

    [Theory]
    [InlineData("DPMSolverMultistepScheduler")]
    [InlineData("DPMSolverSinglestepScheduler")]
    [InlineData("DEISMultistepScheduler")]
    [InlineData("UniPCMultistepScheduler")]
    [InlineData("LCMScheduler")]
    public void OverridesThatAreNotOptionsAreIgnored(string className)
    {
        IScheduler s = Create(className, ("not_an_option_of_anyone", 3), ("prediction_type", "sample"));
        Assert.False(s.Config.ContainsKey("not_an_option_of_anyone"));
        Assert.Equal("sample", s.Config["prediction_type"]!.GetValue<string>());
    }

    [Fact]
    public void DefaultedValuesOfAnotherClassDoNotCarryOver()
    {
        // A DDIM config without timestep_spacing records DDIM's default ("leading") in _use_default_values; like
        // diffusers, switching to DPM-Solver applies DPM-Solver's own default ("linspace") unless overridden.
        SchedulerConfig file = SchedulerConfig.Parse("""{"_class_name": "DDIMScheduler", "beta_schedule": "scaled_linear", "steps_offset": 1}""");
        var ddim = DDIMScheduler.FromConfig(file);
        Assert.Equal("leading", GroupASchedulerTestKit.Text(ddim, "timestep_spacing"));
        var dpm = DPMSolverMultistepScheduler.FromConfig(ddim.Config);
        Assert.Equal("linspace", GroupASchedulerTestKit.Text(dpm, "timestep_spacing"));
        Assert.Equal("scaled_linear", GroupASchedulerTestKit.Text(dpm, "beta_schedule"));
        Assert.Contains("timestep_spacing", dpm.Config["_use_default_values"]!.AsArray().Select(n => n!.GetValue<string>()));
        var overridden = DPMSolverMultistepScheduler.FromConfig(ddim.Config, [new("timestep_spacing", "trailing")]);
        Assert.Equal("trailing", GroupASchedulerTestKit.Text(overridden, "timestep_spacing"));
        Assert.Equal(dpm.Config.ToJson(), dpm.Clone().Config.ToJson());
    }

    [Theory]
    [InlineData("DPMSolverMultistepScheduler", true)]
    [InlineData("DPMSolverSinglestepScheduler", true)]
    [InlineData("DEISMultistepScheduler", false)]
    [InlineData("UniPCMultistepScheduler", false)]
    [InlineData("LCMScheduler", true)]
    public void CustomTimestepSupportFollowsDiffusers031(string className, bool acceptsTimesteps)
    {
        IScheduler s = Create(className);
        if (acceptsTimesteps)
        {
            s.SetTimesteps([999f, 759f, 499f, 259f], null);
            Assert.Equal([999f, 759f, 499f, 259f], s.Timesteps.ToArray());
        }
        else
        {
            Assert.Throws<NotSupportedException>(() => s.SetTimesteps([999f, 500f], null));
        }
        Assert.Throws<NotSupportedException>(() => s.SetTimesteps(null, [10f, 1f]));
        Assert.Throws<ArgumentException>(() => s.SetTimesteps(null, null));
    }

    [Theory]
    [InlineData("DPMSolverMultistepScheduler")]
    [InlineData("DPMSolverSinglestepScheduler")]
    [InlineData("DEISMultistepScheduler")]
    [InlineData("UniPCMultistepScheduler")]
    [InlineData("LCMScheduler")]
    public void BetaSchedules(string className)
    {
        var linear = SchedulerRegistry.Create(className, SchedulerConfig.Empty, [new("beta_schedule", "linear"), new("beta_start", 0.001), new("beta_end", 0.02)]);
        float ac0 = AlphasCumprod(linear)[0];
        Assert.Equal(1f - 0.001f, ac0);
        var cosine = SchedulerRegistry.Create(className, SchedulerConfig.Empty, [new("beta_schedule", "squaredcos_cap_v2")]);
        ReadOnlySpan<float> ac = AlphasCumprod(cosine);
        double Bar(double t) => Math.Pow(Math.Cos((t + 0.008) / 1.008 * Math.PI / 2), 2);
        foreach (int t in new[] { 0, 100, 500, 900 })
        {
            Near(Bar((t + 1) / 1000.0) / Bar(0), ac[t], 1e-5, $"alphas_cumprod[{t}]");
        }
        var trained = SchedulerRegistry.Create(className, SchedulerConfig.Empty, [new("num_train_timesteps", 4), new("trained_betas", new[] { 0.1, 0.2, 0.3, 0.4 })]);
        Near(0.9 * 0.8 * 0.7, AlphasCumprod(trained)[2], 1e-6);
        Assert.Equal("trained_betas", Assert.Throws<ArgumentException>(() =>
            SchedulerRegistry.Create(className, SchedulerConfig.Empty, [new("trained_betas", new[] { 0.1, 0.2 })])).ParamName);
    }

    private static ReadOnlySpan<float> AlphasCumprod(IScheduler s) => s switch
    {
        DPMSolverMultistepScheduler d => d.AlphasCumprod,
        DPMSolverSinglestepScheduler d => d.AlphasCumprod,
        DEISMultistepScheduler d => d.AlphasCumprod,
        UniPCMultistepScheduler d => d.AlphasCumprod,
        LCMScheduler d => d.AlphasCumprod,
        _ => throw new ArgumentException(s.ClassName),
    };
}
