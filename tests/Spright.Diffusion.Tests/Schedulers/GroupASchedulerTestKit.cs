using System.Numerics.Tensors;
using Spright.Diffusion.Random;
using Spright.Diffusion.Schedulers;
using Spright.Diffusion.IO;
using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Tests.Schedulers;

/// <summary>Small helpers for the hand-derived scheduler tests.</summary>
internal static class GroupASchedulerTestKit
{
    /// <summary>The eight diffusers classes of this group.</summary>
    public static readonly string[] ClassNames =
    [
        "DDPMScheduler", "PNDMScheduler", "LMSDiscreteScheduler", "EulerDiscreteScheduler",
        "EulerAncestralDiscreteScheduler", "HeunDiscreteScheduler", "KDPM2DiscreteScheduler", "KDPM2AncestralDiscreteScheduler",
    ];

    /// <summary>The classes working on σ (k-diffusion style).</summary>
    public static readonly string[] SigmaClassNames =
    [
        "LMSDiscreteScheduler", "EulerDiscreteScheduler", "EulerAncestralDiscreteScheduler",
        "HeunDiscreteScheduler", "KDPM2DiscreteScheduler", "KDPM2AncestralDiscreteScheduler",
    ];

    /// <summary>The classes with <c>use_karras_sigmas</c> / <c>use_exponential_sigmas</c> / <c>use_beta_sigmas</c>.</summary>
    public static readonly string[] RespacingClassNames =
    [
        "LMSDiscreteScheduler", "EulerDiscreteScheduler", "HeunDiscreteScheduler", "KDPM2DiscreteScheduler", "KDPM2AncestralDiscreteScheduler",
    ];

    public static TheoryData<string> All() => new(ClassNames);

    public static TheoryData<string> Sigma() => new(SigmaClassNames);

    public static TheoryData<string> Respacing() => new(RespacingClassNames);

    /// <summary>A scheduler from diffusers' defaults plus explicit options.</summary>
    public static IScheduler Make(string className, params (string Key, object? Value)[] options) =>
        SchedulerRegistry.Create(className, SchedulerConfig.Empty, options.Select(o => new KeyValuePair<string, object?>(o.Key, o.Value)));

    /// <summary>A typed scheduler from diffusers' defaults plus explicit options.</summary>
    public static T Make<T>(params (string Key, object? Value)[] options)
        where T : IScheduler => (T)Make(typeof(T).Name, options);

    /// <summary>A string option from the scheduler's resolved configuration.</summary>
    public static string Text(IScheduler s, string key) => s.Config[key]!.GetValue<string>();

    /// <summary>A number option from the scheduler's resolved configuration.</summary>
    public static double Number(IScheduler s, string key) => s.Config[key]!.GetValue<double>();

    /// <summary>A [1, 1, 1, n] tensor over a copy of <paramref name="values"/>.</summary>
    public static Tensor<float> Vec(params float[] values) => TensorShapes.Wrap((float[])values.Clone(), 1, 1, 1, values.Length);

    /// <summary>A sample with a little of everything (signs, magnitudes).</summary>
    public static float[] Sample => [0.5f, -1.25f, 2.0f, 0.1f];

    /// <summary>A model output.</summary>
    public static float[] Output => [0.3f, -0.2f, 1.1f, -0.7f];

    /// <summary>A second model output (for second-order steps).</summary>
    public static float[] Output2 => [-0.15f, 0.45f, 0.9f, 0.05f];

    /// <summary>The normal noise <paramref name="generator"/> would give next for <paramref name="n"/> elements (without advancing it).</summary>
    public static float[] PeekNoise(TorchGenerator generator, int n)
    {
        var noise = new float[n];
        generator.Clone().Randn(noise);
        return noise;
    }

    /// <summary>Whether two generators are at the same position of their streams.</summary>
    public static bool SameState(TorchGenerator a, TorchGenerator b)
    {
        TorchGenerator x = a.Clone(), y = b.Clone();
        for (int i = 0; i < 4; i++)
        {
            if (x.NextUInt32() != y.NextUInt32())
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>float32 √(σ² + 1) as torch computes it.</summary>
    public static float InputScale(float sigma)
    {
        float squared = sigma * sigma;
        return MathF.Sqrt(squared + 1f);
    }
}
