using System.Numerics.Tensors;
using Spright.Diffusion.Random;
using Spright.Diffusion.Schedulers;

namespace Spright.Diffusion.Tests.Schedulers;

/// <summary>Every registered scheduler in the configurations that take different code paths (Karras sigmas, SDE and
/// ancestral noise, solver orders 1–3, thresholding, DDIM with η &gt; 0…), built from SPRIGHT's scheduler config.</summary>
internal static class SchedulerVariants
{
    private static readonly Dictionary<string, (string ClassName, (string Key, object? Value)[] Options, float Eta)> All = new()
    {
        ["ddim"] = ("DDIMScheduler", [], 0f),
        ["ddim-eta"] = ("DDIMScheduler", [], 0.5f),
        ["ddim-threshold"] = ("DDIMScheduler", [("thresholding", true), ("prediction_type", "epsilon")], 0f),
        ["ddpm"] = ("DDPMScheduler", [], 0f),
        ["ddpm-threshold"] = ("DDPMScheduler", [("thresholding", true), ("variance_type", "fixed_small_log")], 0f),
        ["pndm-plms"] = ("PNDMScheduler", [], 0f),
        ["pndm-prk"] = ("PNDMScheduler", [("skip_prk_steps", false)], 0f),
        ["lms"] = ("LMSDiscreteScheduler", [], 0f),
        ["lms-karras"] = ("LMSDiscreteScheduler", [("use_karras_sigmas", true)], 0f),
        ["euler"] = ("EulerDiscreteScheduler", [], 0f),
        ["euler-karras"] = ("EulerDiscreteScheduler", [("use_karras_sigmas", true)], 0f),
        ["euler-ancestral"] = ("EulerAncestralDiscreteScheduler", [], 0f),
        ["heun"] = ("HeunDiscreteScheduler", [], 0f),
        ["heun-karras"] = ("HeunDiscreteScheduler", [("use_karras_sigmas", true)], 0f),
        ["kdpm2"] = ("KDPM2DiscreteScheduler", [], 0f),
        ["kdpm2-karras"] = ("KDPM2DiscreteScheduler", [("use_karras_sigmas", true)], 0f),
        ["kdpm2-ancestral"] = ("KDPM2AncestralDiscreteScheduler", [], 0f),
        ["dpm++2m"] = ("DPMSolverMultistepScheduler", [], 0f),
        ["dpm++2m-karras"] = ("DPMSolverMultistepScheduler", [("use_karras_sigmas", true)], 0f),
        ["dpm++2m-sde-karras"] = ("DPMSolverMultistepScheduler", [("algorithm_type", "sde-dpmsolver++"), ("use_karras_sigmas", true)], 0f),
        ["dpm-1"] = ("DPMSolverMultistepScheduler", [("solver_order", 1), ("algorithm_type", "dpmsolver"), ("final_sigmas_type", "sigma_min")], 0f),
        ["dpm++3m-heun-threshold"] = ("DPMSolverMultistepScheduler", [("solver_order", 3), ("solver_type", "heun"), ("thresholding", true)], 0f),
        ["dpm-sde-2"] = ("DPMSolverMultistepScheduler", [("algorithm_type", "sde-dpmsolver"), ("final_sigmas_type", "sigma_min")], 0f),
        ["dpm-single-1"] = ("DPMSolverSinglestepScheduler", [("solver_order", 1)], 0f),
        ["dpm-single-2"] = ("DPMSolverSinglestepScheduler", [], 0f),
        ["dpm-single-3-karras"] = ("DPMSolverSinglestepScheduler", [("solver_order", 3), ("use_karras_sigmas", true)], 0f),
        ["dpm-single-sde"] = ("DPMSolverSinglestepScheduler", [("algorithm_type", "sde-dpmsolver++")], 0f),
        ["deis-1"] = ("DEISMultistepScheduler", [("solver_order", 1)], 0f),
        ["deis-2"] = ("DEISMultistepScheduler", [], 0f),
        ["deis-3-karras"] = ("DEISMultistepScheduler", [("solver_order", 3), ("use_karras_sigmas", true)], 0f),
        ["unipc-1"] = ("UniPCMultistepScheduler", [("solver_order", 1)], 0f),
        ["unipc-2"] = ("UniPCMultistepScheduler", [], 0f),
        ["unipc-3-bh1-karras"] = ("UniPCMultistepScheduler", [("solver_order", 3), ("solver_type", "bh1"), ("use_karras_sigmas", true)], 0f),
        ["lcm"] = ("LCMScheduler", [], 0f),
        ["lcm-threshold"] = ("LCMScheduler", [("thresholding", true), ("prediction_type", "epsilon")], 0f),
    };

    /// <summary>The variant names.</summary>
    public static IEnumerable<string> Names => All.Keys;

    /// <summary>Every variant name, as theory data.</summary>
    public static TheoryData<string> Data() => new(All.Keys);

    /// <summary>A fresh scheduler of a variant, from SPRIGHT's configuration plus the variant's options.</summary>
    public static IScheduler Create(string variant)
    {
        var (className, options, _) = All[variant];
        return SchedulerRegistry.Create(className, SchedulerReferenceCase.BaseConfig, options.Select(o => new KeyValuePair<string, object?>(o.Key, o.Value)));
    }

    /// <summary>The η to pass to <see cref="IEtaScheduler.Step"/>.</summary>
    public static float Eta(string variant) => All[variant].Eta;

    /// <summary>One step as the pipeline takes it: η goes only to a scheduler whose step takes it.</summary>
    public static SchedulerOutput Step(IScheduler s, Tensor<float> modelOutput, float t, Tensor<float> sample, TorchGenerator? generator, float eta) =>
        s is IEtaScheduler withEta ? withEta.Step(modelOutput, t, sample, eta, generator) : s.Step(modelOutput, t, sample, generator);
}
