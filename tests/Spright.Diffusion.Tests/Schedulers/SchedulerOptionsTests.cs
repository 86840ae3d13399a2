using System.Reflection;
using Spright.Diffusion.Random;
using Spright.Diffusion.Schedulers;
using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Tests.Schedulers;

/// <summary>Schedulers built directly from their options classes (diffusers' <c>DDIMScheduler(beta_end=…)</c>), and the
/// one table that binds options to configuration keys.</summary>
public sealed class SchedulerOptionsTests
{
    private static readonly Dictionary<string, Func<IScheduler>> DefaultConstructors = new()
    {
        ["DDIMScheduler"] = () => new DDIMScheduler(),
        ["DDPMScheduler"] = () => new DDPMScheduler(),
        ["PNDMScheduler"] = () => new PNDMScheduler(),
        ["LCMScheduler"] = () => new LCMScheduler(),
        ["EulerDiscreteScheduler"] = () => new EulerDiscreteScheduler(),
        ["EulerAncestralDiscreteScheduler"] = () => new EulerAncestralDiscreteScheduler(),
        ["HeunDiscreteScheduler"] = () => new HeunDiscreteScheduler(),
        ["LMSDiscreteScheduler"] = () => new LMSDiscreteScheduler(),
        ["KDPM2DiscreteScheduler"] = () => new KDPM2DiscreteScheduler(),
        ["KDPM2AncestralDiscreteScheduler"] = () => new KDPM2AncestralDiscreteScheduler(),
        ["DPMSolverMultistepScheduler"] = () => new DPMSolverMultistepScheduler(),
        ["DPMSolverSinglestepScheduler"] = () => new DPMSolverSinglestepScheduler(),
        ["DEISMultistepScheduler"] = () => new DEISMultistepScheduler(),
        ["UniPCMultistepScheduler"] = () => new UniPCMultistepScheduler(),
    };

    private static readonly SchedulerSignature[] Signatures =
    [
        SchedulerSignatures.DDIM, SchedulerSignatures.DDPM, SchedulerSignatures.PNDM, SchedulerSignatures.LCM, SchedulerSignatures.Euler,
        SchedulerSignatures.EulerAncestral, SchedulerSignatures.Heun, SchedulerSignatures.LMS, SchedulerSignatures.KDPM2,
        SchedulerSignatures.KDPM2Ancestral, SchedulerSignatures.DPMSolverMultistep, SchedulerSignatures.DPMSolverSinglestep,
        SchedulerSignatures.DEIS, SchedulerSignatures.UniPC,
    ];

    public static TheoryData<string> ClassNames() => new(DefaultConstructors.Keys);

    [Theory]
    [MemberData(nameof(ClassNames))]
    public void DefaultConstructor_ResolvesLikeFromConfigOfAnEmptyConfig(string className)
    {
        IScheduler direct = DefaultConstructors[className]();
        IScheduler fromConfig = SchedulerRegistry.Create(className, SchedulerConfig.Empty);
        Assert.Equal(className, direct.ClassName);
        Assert.Equal(fromConfig.Config.ToJson(), direct.Config.ToJson());
    }

    [Fact]
    public void EveryClassHasOneSignatureAndEveryOptionPropertyIsBoundToAKey()
    {
        Assert.Equal(SchedulerRegistry.Names.Order(StringComparer.Ordinal), Signatures.Select(s => s.ClassName).Order(StringComparer.Ordinal));
        foreach (SchedulerSignature signature in Signatures)
        {
            Type options = signature.GetType().GetGenericArguments()[0];
            string[] properties = options.GetProperties(BindingFlags.Public | BindingFlags.Instance).Select(p => p.Name).Order(StringComparer.Ordinal).ToArray();
            string[] bound = signature.Bindings.Where(b => b.Property is not null).Select(b => b.Property!).Order(StringComparer.Ordinal).ToArray();
            Assert.Equal(properties, bound);
            Assert.Equal(signature.OrderedKeys, SchedulerRegistry.Create(signature.ClassName, SchedulerConfig.Empty).Config.Keys.Where(k => !k.StartsWith('_')));
        }
    }

    [Fact]
    public void OptionsGivenDirectly_RunLikeTheSameKeysGivenToFromConfig()
    {
        var direct = new DDIMScheduler(new DDIMSchedulerOptions
        {
            BetaStart = 0.00085, BetaEnd = 0.012, BetaSchedule = BetaSchedule.ScaledLinear, PredictionType = PredictionType.VPrediction,
            StepsOffset = 1, TimestepSpacing = TimestepSpacing.Trailing, ClipSample = false, SetAlphaToOne = false,
        });
        DDIMScheduler fromConfig = DDIMScheduler.FromConfig(SchedulerConfig.Empty,
        [
            new("beta_start", 0.00085), new("beta_end", 0.012), new("beta_schedule", "scaled_linear"), new("prediction_type", "v_prediction"),
            new("steps_offset", 1), new("timestep_spacing", "trailing"), new("clip_sample", false), new("set_alpha_to_one", false),
        ]);
        Assert.Equal(fromConfig.Config.ToJson(), direct.Config.ToJson());
        Assert.DoesNotContain("beta_end", direct.Config["_use_default_values"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Contains("thresholding", direct.Config["_use_default_values"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal(Trajectory(fromConfig, 0.5f), Trajectory(direct, 0.5f));
    }

    [Fact]
    public void SigmaSpacing_IsTheThreeUseSigmasFlags()
    {
        var karras = new EulerDiscreteScheduler(new EulerDiscreteSchedulerOptions { SigmaSpacing = SigmaSpacing.Karras });
        Assert.True(karras.Config["use_karras_sigmas"]!.GetValue<bool>());
        Assert.False(karras.Config["use_exponential_sigmas"]!.GetValue<bool>());
        Assert.False(karras.Config["use_beta_sigmas"]!.GetValue<bool>());
        IScheduler fromFlags = SchedulerRegistry.Create("EulerDiscreteScheduler", SchedulerConfig.Empty, [new("use_karras_sigmas", true)]);
        karras.SetTimesteps(12);
        fromFlags.SetTimesteps(12);
        Assert.Equal(fromFlags.Sigmas.ToArray(), karras.Sigmas.ToArray());
        Assert.Equal(SigmaSpacing.Beta, ((KDPM2DiscreteScheduler)SchedulerRegistry.Create("KDPM2DiscreteScheduler", karras.Config,
            [new("use_karras_sigmas", false), new("use_beta_sigmas", true)])).Options.SigmaSpacing);
    }

    [Fact]
    public void InvalidOptionsGivenDirectly_NameTheConfigurationKeyAndTheAllowedRange()
    {
        ArgumentException steps = Assert.ThrowsAny<ArgumentException>(() => new DDIMScheduler(new DDIMSchedulerOptions { NumTrainTimesteps = 0 }));
        Assert.Equal("num_train_timesteps", steps.ParamName);
        Assert.Contains("[1, 100000]", steps.Message, StringComparison.Ordinal);

        ArgumentException order = Assert.ThrowsAny<ArgumentException>(() => new UniPCMultistepScheduler(new UniPCMultistepSchedulerOptions { SolverOrder = 9 }));
        Assert.Equal("solver_order", order.ParamName);
        Assert.Contains("[1, 8]", order.Message, StringComparison.Ordinal);

        // An enum value a class does not take, and one that is not defined at all.
        ArgumentException alias = Assert.ThrowsAny<ArgumentException>(() => new DDIMScheduler(new DDIMSchedulerOptions { PredictionType = PredictionType.OriginalSample }));
        Assert.Equal("prediction_type", alias.ParamName);
        Assert.Contains("\"v_prediction\"", alias.Message, StringComparison.Ordinal);
        Assert.Equal("beta_schedule", Assert.ThrowsAny<ArgumentException>(() => new LMSDiscreteScheduler(new LMSDiscreteSchedulerOptions { BetaSchedule = (BetaSchedule)42 })).ParamName);

        ArgumentException betas = Assert.ThrowsAny<ArgumentException>(() => new PNDMScheduler(new PNDMSchedulerOptions { TrainedBetas = [0.1, 0.2] }));
        Assert.Equal("trained_betas", betas.ParamName);
    }

    [Fact]
    public void OptionsAreCopiedWhenBound()
    {
        double[] betas = Enumerable.Repeat(0.01, 10).ToArray();
        var s = new DDPMScheduler(new DDPMSchedulerOptions { NumTrainTimesteps = 10, TrainedBetas = betas });
        float before = s.AlphasCumprod[9];
        betas[0] = 0.5;
        Assert.Equal(before, s.AlphasCumprod[9]);
        Assert.Equal(0.01, s.Options.TrainedBetas![0]);
    }

    [Fact]
    public void OnlyDdimTakesEta()
    {
        // diffusers' prepare_extra_step_kwargs passes eta to a scheduler whose step accepts it: DDIM among these classes.
        Assert.Equal(["DDIMScheduler"], SchedulerRegistry.Names.Where(n => SchedulerRegistry.Create(n, SchedulerConfig.Empty) is IEtaScheduler));
        var ddim = new DDIMScheduler(new DDIMSchedulerOptions { PredictionType = PredictionType.VPrediction });
        Assert.Equal(Trajectory(ddim, null), Trajectory(ddim, 0f));
        Assert.NotEqual(Trajectory(ddim, 0f), Trajectory(ddim, 0.5f));
        Assert.Throws<ArgumentOutOfRangeException>(() => Trajectory(ddim, -1f));
    }

    [Fact]
    public void ConfigNames_RoundTripEveryEnumMember()
    {
        AssertRoundTrip<PredictionType>();
        AssertRoundTrip<TimestepSpacing>();
        AssertRoundTrip<BetaSchedule>();
        AssertRoundTrip<SigmaSpacing>();
        AssertRoundTrip<AlgorithmType>();
        AssertRoundTrip<SolverType>();
        AssertRoundTrip<FinalSigmasType>();
        AssertRoundTrip<VarianceType>();
        AssertRoundTrip<InterpolationType>();
        AssertRoundTrip<TimestepType>();
        Assert.Equal("v_prediction", ConfigNames.Of(PredictionType.VPrediction));
        Assert.Equal("sde-dpmsolver++", ConfigNames.Of(AlgorithmType.SdeDpmSolverPlusPlus));
        Assert.Equal("squaredcos_cap_v2", ConfigNames.Of(BetaSchedule.SquaredCosCapV2));
    }

    private static void AssertRoundTrip<TEnum>()
        where TEnum : struct, Enum
    {
        foreach (TEnum value in Enum.GetValues<TEnum>())
        {
            Assert.True(ConfigNames.TryParse(ConfigNames.Of(value), out TEnum parsed), $"{typeof(TEnum).Name}.{value}");
            Assert.Equal(value, parsed);
        }
    }

    // Ten steps of the analytic model; η through IEtaScheduler when given.
    private static float[] Trajectory(DDIMScheduler prototype, float? eta)
    {
        IScheduler s = prototype.Clone();
        s.SetTimesteps(10);
        var latents = new float[32];
        var generator = new TorchGenerator(3);
        generator.Randn(latents);
        var output = new float[latents.Length];
        var sample = TensorShapes.Wrap(latents, 1, 2, 4, 4);
        var model = TensorShapes.Wrap(output, 1, 2, 4, 4);
        foreach (float t in s.Timesteps.ToArray())
        {
            SchedulerReferenceCase.Model(latents, t, output);
            _ = eta is null ? s.Step(model, t, sample, generator) : ((IEtaScheduler)s).Step(model, t, sample, eta.Value, generator);
        }
        return latents;
    }
}
