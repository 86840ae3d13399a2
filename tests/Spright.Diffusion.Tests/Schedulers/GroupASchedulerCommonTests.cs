using System.Numerics.Tensors;
using System.Text.Json.Nodes;
using Spright.Diffusion.Random;
using Spright.Diffusion.Schedulers;
using Spright.Diffusion.IO;
using Spright.Diffusion.Numerics;
using static Spright.Diffusion.Tests.Schedulers.GroupASchedulerTestKit;

namespace Spright.Diffusion.Tests.Schedulers;

/// <summary>Behaviour every scheduler of group A shares: registration, resolved configuration, cloning, option
/// validation, class switching, steady-state allocation and generator use.</summary>
public sealed class GroupASchedulerCommonTests
{
    private static readonly Dictionary<string, string[]> SignatureKeys = new()
    {
        ["DDPMScheduler"] = ["num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas", "variance_type", "clip_sample", "prediction_type",
            "thresholding", "dynamic_thresholding_ratio", "clip_sample_range", "sample_max_value", "timestep_spacing", "steps_offset", "rescale_betas_zero_snr"],
        ["PNDMScheduler"] = ["num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas", "skip_prk_steps", "set_alpha_to_one", "prediction_type",
            "timestep_spacing", "steps_offset"],
        ["LMSDiscreteScheduler"] = ["num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas", "use_karras_sigmas", "use_exponential_sigmas",
            "use_beta_sigmas", "prediction_type", "timestep_spacing", "steps_offset"],
        ["EulerDiscreteScheduler"] = ["num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas", "prediction_type", "interpolation_type",
            "use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas", "sigma_min", "sigma_max", "timestep_spacing", "timestep_type", "steps_offset",
            "rescale_betas_zero_snr", "final_sigmas_type"],
        ["EulerAncestralDiscreteScheduler"] = ["num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas", "prediction_type", "timestep_spacing",
            "steps_offset", "rescale_betas_zero_snr"],
        ["HeunDiscreteScheduler"] = ["num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas", "prediction_type", "use_karras_sigmas",
            "use_exponential_sigmas", "use_beta_sigmas", "clip_sample", "clip_sample_range", "timestep_spacing", "steps_offset"],
        ["KDPM2DiscreteScheduler"] = ["num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas", "use_karras_sigmas", "use_exponential_sigmas",
            "use_beta_sigmas", "prediction_type", "timestep_spacing", "steps_offset"],
        ["KDPM2AncestralDiscreteScheduler"] = ["num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas", "use_karras_sigmas",
            "use_exponential_sigmas", "use_beta_sigmas", "prediction_type", "timestep_spacing", "steps_offset"],
    };

    [Theory]
    [MemberData(nameof(All), MemberType = typeof(GroupASchedulerTestKit))]
    public void IsRegisteredAndBuildsItsOwnClass(string className)
    {
        Assert.True(SchedulerRegistry.IsKnown(className));
        Assert.Contains(className, SchedulerRegistry.Names);
        IScheduler s = SchedulerRegistry.Create(className, SchedulerConfig.Empty);
        Assert.Equal(className, s.GetType().Name);
        Assert.Equal(className, s.ClassName);
        Assert.Equal(className is "HeunDiscreteScheduler" or "KDPM2DiscreteScheduler" or "KDPM2AncestralDiscreteScheduler" ? 2 : 1, s.Order);
        Assert.Equal(className is "DDPMScheduler" or "PNDMScheduler", ((SchedulerBase)s).HasIntegerTimesteps);
    }

    [Theory]
    [MemberData(nameof(All), MemberType = typeof(GroupASchedulerTestKit))]
    public void DefaultResolvedConfigListsTheSignatureInOrder(string className)
    {
        IScheduler s = Make(className);
        string[] keys = s.Config.Keys.ToArray();
        string[] expected = [.. SignatureKeys[className], "_use_default_values", "_class_name", "_diffusers_version"];
        Assert.Equal(expected, keys);
        JsonArray defaulted = s.Config["_use_default_values"]!.AsArray();
        Assert.Equal(SignatureKeys[className].Order(StringComparer.Ordinal), defaulted.Select(n => n!.GetValue<string>()));
        Assert.Equal(className, s.Config.ClassName);
    }

    [Theory]
    [MemberData(nameof(All), MemberType = typeof(GroupASchedulerTestKit))]
    public void CloneIsAFreshSchedulerWithTheSameConfiguration(string className)
    {
        IScheduler s = Make(className, ("prediction_type", "v_prediction"), ("timestep_spacing", "trailing"));
        s.SetTimesteps(10);
        RunSteps(s, new TorchGenerator(3), 3);
        Assert.NotNull(s.StepIndex);

        IScheduler clone = s.Clone();
        Assert.NotSame(s, clone);
        Assert.Equal(s.GetType(), clone.GetType());
        Assert.Null(clone.StepIndex);
        Assert.Null(clone.BeginIndex);
        Assert.Equal(JsonNode.Parse(s.Config.ToJson())!.ToJsonString(), JsonNode.Parse(clone.Config.ToJson())!.ToJsonString());

        // The clone runs exactly like a scheduler built from scratch.
        IScheduler fresh = Make(className, ("prediction_type", "v_prediction"), ("timestep_spacing", "trailing"));
        clone.SetTimesteps(10);
        fresh.SetTimesteps(10);
        Assert.Equal(fresh.Timesteps.ToArray(), clone.Timesteps.ToArray());
        float[] a = RunSteps(clone, new TorchGenerator(5), int.MaxValue);
        float[] b = RunSteps(fresh, new TorchGenerator(5), int.MaxValue);
        Assert.Equal(b, a);
    }

    [Theory]
    [InlineData("DDPMScheduler", "prediction_type", "x0", "v_prediction")]
    [InlineData("DDPMScheduler", "variance_type", "fixed", "learned_range")]
    [InlineData("DDPMScheduler", "timestep_spacing", "uniform", "trailing")]
    [InlineData("DDPMScheduler", "beta_schedule", "cosine", "sigmoid")]
    [InlineData("PNDMScheduler", "prediction_type", "sample", "v_prediction")]
    [InlineData("PNDMScheduler", "beta_schedule", "sigmoid", "squaredcos_cap_v2")]
    [InlineData("LMSDiscreteScheduler", "timestep_spacing", "karras", "linspace")]
    [InlineData("EulerDiscreteScheduler", "interpolation_type", "cubic", "log_linear")]
    [InlineData("EulerDiscreteScheduler", "timestep_type", "int", "continuous")]
    [InlineData("EulerDiscreteScheduler", "final_sigmas_type", "one", "sigma_min")]
    [InlineData("EulerAncestralDiscreteScheduler", "prediction_type", "flow", "epsilon")]
    [InlineData("HeunDiscreteScheduler", "beta_schedule", "sigmoid", "exp")]
    [InlineData("KDPM2DiscreteScheduler", "timestep_spacing", "", "leading")]
    [InlineData("KDPM2AncestralDiscreteScheduler", "prediction_type", "eps", "v_prediction")]
    public void InvalidOptionValuesNameTheOptionAndTheAllowedValues(string className, string option, string value, string oneAllowed)
    {
        ArgumentException e = Assert.ThrowsAny<ArgumentException>(() => Make(className, (option, value)));
        Assert.Equal(option, e.ParamName);
        Assert.Contains(option, e.Message);
        Assert.Contains(oneAllowed, e.Message);
    }

    [Theory]
    [MemberData(nameof(All), MemberType = typeof(GroupASchedulerTestKit))]
    public void InvalidNumbersAreRejectedAndUnknownOverridesIgnoredAsInDiffusers(string className)
    {
        Assert.ThrowsAny<ArgumentException>(() => Make(className, ("num_train_timesteps", 0)));
        Assert.ThrowsAny<ArgumentException>(() => Make(className, ("steps_offset", -1)));
        Assert.ThrowsAny<ArgumentException>(() => Make(className, ("beta_start", "small")));
        // diffusers' from_config drops keyword arguments the class does not take; OptionNames lets callers be strict.
        IScheduler ignored = Make(className, ("no_such_option", 1));
        Assert.False(ignored.Config.ContainsKey("no_such_option"));
        Assert.DoesNotContain("no_such_option", SchedulerRegistry.OptionNames(className));
        Assert.Contains("num_train_timesteps", SchedulerRegistry.OptionNames(className));
        ArgumentException betas = Assert.ThrowsAny<ArgumentException>(() => Make(className, ("trained_betas", new[] { 0.1, 0.2 })));
        Assert.Equal("trained_betas", betas.ParamName);

        // Integer options given as .NET ints are read like JSON numbers.
        IScheduler s = Make(className, ("steps_offset", 1), ("num_train_timesteps", 500));
        Assert.Equal(1, s.Config["steps_offset"]!.GetValue<int>());
        Assert.Equal(500, s.Config["num_train_timesteps"]!.GetValue<int>());
    }

    [Theory]
    [MemberData(nameof(Respacing), MemberType = typeof(GroupASchedulerTestKit))]
    public void OnlyOneSigmaRespacingCanBeChosen(string className)
    {
        ArgumentException e = Assert.ThrowsAny<ArgumentException>(() => Make(className, ("use_karras_sigmas", true), ("use_beta_sigmas", true)));
        Assert.Contains("use_karras_sigmas", e.Message);
        Assert.ThrowsAny<ArgumentException>(() => Make(className, ("use_exponential_sigmas", true), ("use_beta_sigmas", true)));
    }

    [Theory]
    [InlineData("DDPMScheduler", false, true)]
    [InlineData("PNDMScheduler", true, true)]
    [InlineData("LMSDiscreteScheduler", true, true)]
    [InlineData("EulerAncestralDiscreteScheduler", true, true)]
    [InlineData("HeunDiscreteScheduler", false, true)]
    [InlineData("KDPM2DiscreteScheduler", true, true)]
    [InlineData("KDPM2AncestralDiscreteScheduler", true, true)]
    public void CustomSchedulesDiffusersDoesNotAcceptAreNotSupported(string className, bool timestepsUnsupported, bool sigmasUnsupported)
    {
        IScheduler s = Make(className);
        if (timestepsUnsupported)
        {
            Assert.Throws<NotSupportedException>(() => s.SetTimesteps([900f, 500f, 100f], null));
        }
        if (sigmasUnsupported)
        {
            Assert.Throws<NotSupportedException>(() => s.SetTimesteps(null, [10f, 5f, 1f, 0f]));
        }
        Assert.ThrowsAny<ArgumentException>(() => s.SetTimesteps(null, null));
    }

    [Fact]
    public void SwitchingClassesDropsTheDefaultsOfTheOtherClass()
    {
        // Euler's default spacing is linspace; DDIM's is leading. diffusers drops keys listed in _use_default_values.
        var euler = new EulerDiscreteScheduler();
        Assert.Equal("linspace", Text(euler, "timestep_spacing"));
        var ddim = DDIMScheduler.FromConfig(euler.Config);
        Assert.Equal("leading", Text(ddim, "timestep_spacing"));
        Assert.Equal(0.0001, Number(ddim, "beta_start"));

        // A value that was set explicitly travels, and so does an explicit override of a defaulted key.
        var eulerLinspace = EulerDiscreteScheduler.FromConfig(SchedulerConfig.Empty, [new("timestep_spacing", "linspace")]);
        Assert.Equal("linspace", Text(DDIMScheduler.FromConfig(eulerLinspace.Config), "timestep_spacing"));
        Assert.Equal("trailing", Text(DDIMScheduler.FromConfig(euler.Config, [new("timestep_spacing", "trailing")]), "timestep_spacing"));

        // Heun and DDPM differ in beta_start defaults.
        var heun = new HeunDiscreteScheduler();
        Assert.Equal(0.00085, Number(heun, "beta_start"));
        Assert.Equal(0.0001, Number(DDPMScheduler.FromConfig(heun.Config), "beta_start"));
    }

    [Theory]
    [MemberData(nameof(All), MemberType = typeof(GroupASchedulerTestKit))]
    public void SteadyStateStepsDoNotAllocate(string className)
    {
        IScheduler s = Make(className, ("prediction_type", "v_prediction"));
        s.SetTimesteps(12);
        var generator = new TorchGenerator(11);
        var latents = new float[256];
        generator.Randn(latents);
        Tensor<float> sample = TensorShapes.Wrap(latents, 1, 4, 8, 8);
        var output = new float[256];
        Tensor<float> model = TensorShapes.Wrap(output, 1, 4, 8, 8);
        float[] timesteps = s.Timesteps.ToArray();
        long allocated = 0;
        for (int i = 0; i < timesteps.Length; i++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            s.ScaleModelInput(latents, timesteps[i], output);
            TensorPrimitives.Multiply(output, 0.3f, output);
            s.Step(model, timesteps[i], sample, generator);
            long used = GC.GetAllocatedBytesForCurrentThread() - before;
            if (i >= Math.Max(6, timesteps.Length - 6))
            {
                allocated += used;
            }
        }
        Assert.Equal(0, allocated);
        Assert.All(latents, v => Assert.True(float.IsFinite(v)));
    }

    [Theory]
    [InlineData("DDPMScheduler", 9)]
    [InlineData("PNDMScheduler", 0)]
    [InlineData("LMSDiscreteScheduler", 0)]
    [InlineData("EulerDiscreteScheduler", 0)]
    [InlineData("EulerAncestralDiscreteScheduler", 10)]
    [InlineData("HeunDiscreteScheduler", 0)]
    [InlineData("KDPM2DiscreteScheduler", 0)]
    [InlineData("KDPM2AncestralDiscreteScheduler", 9)]
    public void StochasticSchedulersDrawOneNoiseTensorPerNoisyStep(string className, int expectedDraws)
    {
        IScheduler s = Make(className);
        s.SetTimesteps(10);
        var generator = new TorchGenerator(21);
        var expected = new TorchGenerator(21);
        RunSteps(s, generator, int.MaxValue);
        var scratch = new float[Sample.Length];
        for (int i = 0; i < expectedDraws; i++)
        {
            expected.Randn(scratch);
        }
        Assert.True(SameState(expected, generator), $"{className} should draw {expectedDraws} noise tensors");
    }

    [Theory]
    [MemberData(nameof(All), MemberType = typeof(GroupASchedulerTestKit))]
    public void SetTimestepsRejectsBadStepCounts(string className)
    {
        IScheduler s = Make(className);
        Assert.Throws<ArgumentOutOfRangeException>(() => s.SetTimesteps(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => s.SetTimesteps(1001));
    }

    /// <summary>Runs up to <paramref name="maxSteps"/> loop steps with a fixed analytic model and returns the latents.</summary>
    internal static float[] RunSteps(IScheduler s, TorchGenerator generator, int maxSteps)
    {
        float[] latents = Sample;
        Tensor<float> sample = TensorShapes.Wrap(latents, 1, 1, 2, 2);
        var output = new float[latents.Length];
        Tensor<float> model = TensorShapes.Wrap(output, 1, 1, 2, 2);
        float[] timesteps = s.Timesteps.ToArray();
        int start = s.StepIndex ?? 0;
        for (int i = start; i < timesteps.Length && i < start + maxSteps; i++)
        {
            s.ScaleModelInput(latents, timesteps[i], output);
            SchedulerReferenceCase.Model(output, timesteps[i], output);
            s.Step(model, timesteps[i], sample, generator);
        }
        return latents;
    }
}
