using Spright.Diffusion.Schedulers;

namespace Spright.Diffusion.Tests.Schedulers;

/// <summary>Sampler names ("DPM++ 2M Karras", "Euler a"…) through <see cref="SchedulerRegistry.CreateByName"/>.</summary>
public sealed class SchedulerAliasTests
{
    private static SchedulerConfig Spright => SchedulerReferenceCase.BaseConfig;

    [Theory]
    [InlineData("DDIM", "DDIMScheduler")]
    [InlineData("DDPM", "DDPMScheduler")]
    [InlineData("PNDM", "PNDMScheduler")]
    [InlineData("PLMS", "PNDMScheduler", "skip_prk_steps", true)]
    [InlineData("LMS", "LMSDiscreteScheduler", "use_karras_sigmas", false)]
    [InlineData("LMS Karras", "LMSDiscreteScheduler", "use_karras_sigmas", true)]
    [InlineData("Euler", "EulerDiscreteScheduler", "use_karras_sigmas", false)]
    [InlineData("Euler Karras", "EulerDiscreteScheduler", "use_karras_sigmas", true)]
    [InlineData("Euler a", "EulerAncestralDiscreteScheduler")]
    [InlineData("Heun", "HeunDiscreteScheduler", "use_karras_sigmas", false)]
    [InlineData("Heun Karras", "HeunDiscreteScheduler", "use_karras_sigmas", true)]
    [InlineData("DPM2", "KDPM2DiscreteScheduler", "use_karras_sigmas", false)]
    [InlineData("DPM2 Karras", "KDPM2DiscreteScheduler", "use_karras_sigmas", true)]
    [InlineData("DPM2 a", "KDPM2AncestralDiscreteScheduler", "use_karras_sigmas", false)]
    [InlineData("DPM2 a Karras", "KDPM2AncestralDiscreteScheduler", "use_karras_sigmas", true)]
    [InlineData("DPM++ 2M", "DPMSolverMultistepScheduler", "use_karras_sigmas", false)]
    [InlineData("DPM++ 2M Karras", "DPMSolverMultistepScheduler", "use_karras_sigmas", true)]
    [InlineData("DPM++ 2M SDE", "DPMSolverMultistepScheduler", "algorithm_type", "sde-dpmsolver++")]
    [InlineData("DPM++ 2M SDE Karras", "DPMSolverMultistepScheduler", "use_karras_sigmas", true)]
    [InlineData("DEIS", "DEISMultistepScheduler")]
    [InlineData("UniPC", "UniPCMultistepScheduler")]
    [InlineData("LCM", "LCMScheduler")]
    public void NamesBuildTheirDiffusersConfiguration(string name, string className, string? option = null, object? value = null)
    {
        IScheduler s = SchedulerRegistry.CreateByName(name, Spright);
        Assert.Equal(className, s.ClassName);
        if (option is not null)
        {
            Assert.Equal(value!.ToString(), s.Config[option]!.ToString(), ignoreCase: true);
        }
        // The base configuration is kept: SPRIGHT's v-prediction and betas travel to every class.
        Assert.Equal("v_prediction", s.Config["prediction_type"]!.GetValue<string>());
        Assert.Equal("scaled_linear", s.Config["beta_schedule"]!.GetValue<string>());
        Assert.True(SchedulerRegistry.IsKnownName(name));
        Assert.Contains(SchedulerRegistry.Aliases, a => a.Name == name && a.ClassName == className);
    }

    [Fact]
    public void DpmPlusPlus2MKarrasIsExactlyTheDiffusersConfiguration()
    {
        IScheduler byName = SchedulerRegistry.CreateByName("DPM++ 2M Karras", Spright);
        IScheduler direct = DPMSolverMultistepScheduler.FromConfig(Spright,
            [new("algorithm_type", "dpmsolver++"), new("solver_order", 2), new("use_karras_sigmas", true)]);
        Assert.Equal(direct.Config.ToJson(), byName.Config.ToJson());
        byName.SetTimesteps(20);
        direct.SetTimesteps(20);
        Assert.Equal(direct.Timesteps.ToArray(), byName.Timesteps.ToArray());
        Assert.Equal(direct.Sigmas.ToArray(), byName.Sigmas.ToArray());
    }

    [Theory]
    [InlineData("dpm++ 2m karras", "DPMSolverMultistepScheduler")]
    [InlineData("EULER A", "EulerAncestralDiscreteScheduler")]
    [InlineData("  unipc ", "UniPCMultistepScheduler")]
    [InlineData("EulerDiscreteScheduler", "EulerDiscreteScheduler")]
    [InlineData("eulerdiscretescheduler", "EulerDiscreteScheduler")]
    public void NamesAndClassNamesIgnoreCase(string name, string className)
    {
        Assert.Equal(className, SchedulerRegistry.CreateByName(name, Spright).ClassName);
        Assert.True(SchedulerRegistry.IsKnownName(name));
    }

    [Fact]
    public void ANameOverridesWhatTheBaseConfigurationSaysAndCallerOverridesComeLast()
    {
        IScheduler karras = SchedulerRegistry.Create("DPMSolverMultistepScheduler", Spright, [new("use_karras_sigmas", true), new("solver_order", 3)]);
        IScheduler plain = SchedulerRegistry.CreateByName("DPM++ 2M", karras.Config);
        Assert.False(plain.Config["use_karras_sigmas"]!.GetValue<bool>());
        Assert.Equal(2, plain.Config["solver_order"]!.GetValue<int>());

        IScheduler tuned = SchedulerRegistry.CreateByName("DPM++ 2M", Spright, [new("solver_order", 3), new("timestep_spacing", "trailing")]);
        Assert.Equal(3, tuned.Config["solver_order"]!.GetValue<int>());
        Assert.Equal("trailing", tuned.Config["timestep_spacing"]!.GetValue<string>());
    }

    [Fact]
    public void UnknownNamesListTheChoices()
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => SchedulerRegistry.CreateByName("DPM++ SDE Karras", Spright));
        Assert.Equal("nameOrClassName", e.ParamName);
        Assert.Contains("DPM++ 2M Karras", e.Message);
        Assert.Contains("Euler a", e.Message);
        Assert.Contains("EulerDiscreteScheduler", e.Message);
        Assert.False(SchedulerRegistry.IsKnownName("DPM++ 2S a"));
        Assert.False(SchedulerRegistry.IsKnownName(""));
    }

    [Fact]
    public void EveryAliasIsDistinctAndPointsAtARegisteredClass()
    {
        Assert.Equal(SchedulerRegistry.Aliases.Count, SchedulerRegistry.Aliases.Select(a => a.Name.ToUpperInvariant()).Distinct().Count());
        Assert.All(SchedulerRegistry.Aliases, a => Assert.True(SchedulerRegistry.IsKnown(a.ClassName)));
        Assert.All(SchedulerRegistry.Aliases, a => Assert.All(a.Overrides, o => Assert.Contains(o.Key, SchedulerRegistry.OptionNames(a.ClassName))));
    }
}
