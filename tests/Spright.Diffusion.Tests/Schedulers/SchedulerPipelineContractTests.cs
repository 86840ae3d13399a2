using System.Numerics.Tensors;
using Spright.Diffusion.Random;
using Spright.Diffusion.Schedulers;
using Spright.Diffusion.IO;
using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Tests.Schedulers;

/// <summary>
/// What the pipelines rely on, for every registered scheduler and its main configurations: allocation-free steady-state
/// steps at real latent sizes, <c>ScaleModelInput</c> / <c>AddNoise</c> with aliased buffers, and <c>Clone()</c> giving a
/// scheduler that runs exactly like a fresh one.
/// </summary>
public sealed class SchedulerPipelineContractTests
{
    private const int Steps = 10;

    public static TheoryData<string> Variants() => SchedulerVariants.Data();

    public static TheoryData<string, string> VariantsAndShapes()
    {
        var data = new TheoryData<string, string>();
        foreach (string variant in SchedulerVariants.Names)
        {
            data.Add(variant, "1x4x96x96");
            data.Add(variant, "2x4x64x64");
        }
        return data;
    }

    [Fact]
    public void VariantsCoverEveryRegisteredScheduler()
    {
        var covered = SchedulerVariants.Names.Select(v => SchedulerVariants.Create(v).ClassName).ToHashSet();
        Assert.Equal(SchedulerRegistry.Names.Order(StringComparer.Ordinal), covered.Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(VariantsAndShapes))]
    public void StepAndScaleModelInputAllocateNothingAfterWarmUp(string variant, string shape)
    {
        // Three generations, each on a fresh clone as the pipeline does. An allocation the scheduler makes shows up at the
        // same step of every generation; the runtime's own occasional bookkeeping on this thread does not, so the
        // per-step minimum over the generations is what the scheduler allocates.
        int[] dims = shape.Split('x').Select(int.Parse).ToArray();
        IScheduler prototype = SchedulerVariants.Create(variant);
        long[]? minimum = null;
        for (int run = 0; run < 3; run++)
        {
            long[] allocated = RunMeasured(prototype.Clone(), variant, dims);
            minimum = minimum is null ? allocated : minimum.Zip(allocated, Math.Min).ToArray();
        }
        long steady = minimum!.Skip(3).Sum();
        Assert.True(steady == 0, $"{variant} {shape}: bytes allocated per loop step (minimum of 3 generations): [{string.Join(", ", minimum!)}]");
    }

    private static long[] RunMeasured(IScheduler s, string variant, int[] dims)
    {
        s.SetTimesteps(Steps);
        int n = dims.Aggregate(1, (a, b) => a * b);
        var latents = new float[n];
        var modelInput = new float[n];
        var modelOutput = new float[n];
        var generator = new TorchGenerator(7);
        generator.Randn(latents);
        TensorPrimitives.Multiply(latents, s.InitNoiseSigma, latents);
        Tensor<float> sample = TensorShapes.Wrap(latents, dims);
        Tensor<float> output = TensorShapes.Wrap(modelOutput, dims);
        float eta = SchedulerVariants.Eta(variant);
        float[] timesteps = s.Timesteps.ToArray();
        var allocated = new long[timesteps.Length];
        for (int i = 0; i < timesteps.Length; i++)
        {
            float t = timesteps[i];
            long before = GC.GetAllocatedBytesForCurrentThread();
            s.ScaleModelInput(latents, t, modelInput);
            SchedulerReferenceCase.Model(modelInput, t, modelOutput);
            SchedulerVariants.Step(s, output, t, sample, generator, eta);
            allocated[i] = GC.GetAllocatedBytesForCurrentThread() - before;
        }
        Assert.All(latents, v => Assert.True(float.IsFinite(v)));
        return allocated;
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void ScaleModelInputGivesTheSameInPlaceAndIntoAnotherBuffer(string variant)
    {
        // Two schedulers in lockstep: one scales into a separate buffer (the pipeline's UNet input), one in place.
        IScheduler separate = SchedulerVariants.Create(variant);
        IScheduler inPlace = SchedulerVariants.Create(variant);
        separate.SetTimesteps(Steps);
        inPlace.SetTimesteps(Steps);
        float[] a = InitialLatents(separate, 64);
        float[] b = (float[])a.Clone();
        var scaled = new float[a.Length];
        var outA = new float[a.Length];
        var outB = new float[a.Length];
        var gA = new TorchGenerator(3);
        var gB = new TorchGenerator(3);
        float eta = SchedulerVariants.Eta(variant);
        foreach (float t in separate.Timesteps.ToArray())
        {
            float[] before = (float[])a.Clone();
            separate.ScaleModelInput(a, t, scaled);
            Assert.Equal(before, a); // the source is left alone
            inPlace.ScaleModelInput(b, t, b);
            Assert.Equal(scaled, b);

            // Continue both from the same latents so the next step is compared too.
            before.CopyTo(b);
            SchedulerReferenceCase.Model(scaled, t, outA);
            SchedulerReferenceCase.Model(scaled, t, outB);
            SchedulerVariants.Step(separate, TensorShapes.Wrap(outA, 1, 1, 8, 8), t, TensorShapes.Wrap(a, 1, 1, 8, 8), gA, eta);
            SchedulerVariants.Step(inPlace, TensorShapes.Wrap(outB, 1, 1, 8, 8), t, TensorShapes.Wrap(b, 1, 1, 8, 8), gB, eta);
            Assert.Equal(a, b);
        }
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void AddNoiseMayWriteOverItsInputs(string variant)
    {
        // Image-to-image: set_begin_index, then add_noise at the first timestep, with the destination aliasing x₀ (the
        // pipeline's call), aliasing the noise, or separate; and the same before set_begin_index (timestep lookup).
        foreach (bool beginIndex in new[] { true, false })
        {
            IScheduler s = SchedulerVariants.Create(variant);
            s.SetTimesteps(Steps);
            int start = 4 * s.Order;
            if (beginIndex)
            {
                s.SetBeginIndex(start);
            }
            float t = s.Timesteps[start];
            float[] x0 = Pattern(64, 1);
            float[] noise = Pattern(64, 2);

            var expected = new float[x0.Length];
            s.AddNoise(x0, noise, t, expected);
            Assert.Equal(Pattern(64, 1), x0);
            Assert.Equal(Pattern(64, 2), noise);

            float[] overX0 = (float[])x0.Clone();
            s.AddNoise(overX0, noise, t, overX0);
            Assert.Equal(expected, overX0);

            float[] overNoise = (float[])noise.Clone();
            s.AddNoise(x0, overNoise, t, overNoise);
            Assert.Equal(expected, overNoise);
        }
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void CloneRunsLikeAFreshSchedulerAndLeavesTheOriginalAlone(string variant)
    {
        // The original is mid-run (as a pipeline's scheduler may be), then cloned.
        IScheduler original = SchedulerVariants.Create(variant);
        original.SetTimesteps(Steps);
        float[] latents = InitialLatents(original, 64);
        var generator = new TorchGenerator(11);
        float[] timesteps = original.Timesteps.ToArray();
        RunSteps(original, variant, timesteps.AsSpan(0, 3), latents, generator);

        IScheduler clone = original.Clone();
        Assert.NotSame(original, clone);
        Assert.Equal(original.ClassName, clone.ClassName);
        Assert.Equal(original.Config.ToJson(), clone.Config.ToJson());
        Assert.Null(clone.StepIndex);
        Assert.Null(clone.BeginIndex);

        // The clone's whole trajectory equals a fresh scheduler's, bit for bit.
        IScheduler fresh = SchedulerVariants.Create(variant);
        float[] fromClone = Trajectory(clone, variant);
        float[] fromFresh = Trajectory(fresh, variant);
        Assert.Equal(fromFresh, fromClone);

        // The original finishes as if no clone had run, like an uninterrupted run.
        RunSteps(original, variant, timesteps.AsSpan(3), latents, generator);
        IScheduler uninterrupted = SchedulerVariants.Create(variant);
        uninterrupted.SetTimesteps(Steps);
        float[] reference = InitialLatents(uninterrupted, 64);
        RunSteps(uninterrupted, variant, timesteps, reference, new TorchGenerator(11));
        Assert.Equal(reference, latents);
    }

    private static float[] Trajectory(IScheduler s, string variant)
    {
        s.SetTimesteps(Steps);
        float[] latents = InitialLatents(s, 64);
        RunSteps(s, variant, s.Timesteps.ToArray(), latents, new TorchGenerator(5));
        return latents;
    }

    private static void RunSteps(IScheduler s, string variant, ReadOnlySpan<float> timesteps, float[] latents, TorchGenerator generator)
    {
        Tensor<float> sample = TensorShapes.Wrap(latents, 1, 1, 8, 8);
        var input = new float[latents.Length];
        var output = new float[latents.Length];
        Tensor<float> outputTensor = TensorShapes.Wrap(output, 1, 1, 8, 8);
        foreach (float t in timesteps)
        {
            s.ScaleModelInput(latents, t, input);
            SchedulerReferenceCase.Model(input, t, output);
            SchedulerVariants.Step(s, outputTensor, t, sample, generator, SchedulerVariants.Eta(variant));
        }
    }

    private static float[] InitialLatents(IScheduler s, int n)
    {
        var latents = new float[n];
        new TorchGenerator(1).Randn(latents);
        TensorPrimitives.Multiply(latents, s.InitNoiseSigma, latents);
        return latents;
    }

    private static float[] Pattern(int n, int seed)
    {
        var values = new float[n];
        for (int i = 0; i < n; i++)
        {
            values[i] = MathF.Sin(0.37f * i + seed) * (seed + 0.5f);
        }
        return values;
    }
}
