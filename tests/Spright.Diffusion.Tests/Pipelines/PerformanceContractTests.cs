using System.Numerics.Tensors;
using Spright.Diffusion.Components;
using Spright.Diffusion.Diagnostics;
using Spright.Diffusion.OnnxRuntime;
using Spright.Diffusion.OnnxRuntime.Components;
using Spright.Diffusion.OnnxRuntime.LowMemory;
using Spright.Diffusion.Random;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Tests.Infrastructure;

namespace Spright.Diffusion.Tests.Pipelines;

/// <summary>
/// The performance contract of the denoising loop and the memory options: no managed allocation per step, per-call
/// allocations that do not grow with the step count, and options (item-by-item UNet batches, low-memory mode, arena
/// settings, optimized-graph cache) that change memory and time but not a single number.
/// </summary>
public sealed class PerformanceContractTests
{
    private static TextToImageOptions Options(int steps, OutputType output = OutputType.Latent) => new()
    {
        Prompt = ["a red cube on top of a blue sphere"],
        NumInferenceSteps = steps,
        GuidanceScale = 7.5,
        Seed = 42,
        OutputType = output,
    };

    [Theory]
    [InlineData(false, "optimum")]
    [InlineData(true, "optimum")]
    [InlineData(false, "diffusers")]
    [InlineData(true, "diffusers")]
    public void SteadyStateStepsAllocateNothing(bool smallGraphTuning, string layout)
    {
        string model = layout == "diffusers" ? TestPaths.TinySd2Diffusers : TestPaths.TinyModel;
        using var pipe = StableDiffusionPipeline.FromPretrained(model, TestModels.Options(new OnnxRuntimeSettings { SmallGraphTuning = smallGraphTuning }));
        long atStep3 = 0, atLastButOne = 0;
        const int Steps = 14;
        TextToImageOptions options = Options(Steps) with
        {
            CallbackOnStepEnd = ctx =>
            {
                if (ctx.Step == 3)
                {
                    atStep3 = GC.GetAllocatedBytesForCurrentThread();
                }
                else if (ctx.Step == Steps - 2)
                {
                    atLastButOne = GC.GetAllocatedBytesForCurrentThread();
                }
            },
        };
        pipe.Generate(options); // first call: JIT, buffers
        pipe.Generate(options);
        long second = atLastButOne - atStep3;
        pipe.Generate(options);
        long third = atLastButOne - atStep3;

        // 10 whole steps (UNet, guidance, scheduler, callback) allocate nothing. A per-step allocation shows in both
        // calls; a one-off allocation during one of them does not (seen once in CI under load: 4,080 B in one call,
        // not reproduced alone; its source is not known).
        Assert.Equal(0, Math.Min(second, third));
    }

    [Fact]
    public void PerCallAllocationsDoNotGrowWithTheStepCount()
    {
        using var pipe = StableDiffusionPipeline.FromPretrained(TestPaths.TinyModel);
        long Measure(int steps)
        {
            // The first calls allocate a few hundred bytes more while the JIT tiers up (dynamic PGO changes which paths
            // allocate), so each count is the least of three identical calls after four warm-up calls.
            TextToImageOptions options = Options(steps);
            for (int i = 0; i < 4; i++)
            {
                pipe.Generate(options);
            }
            long least = long.MaxValue;
            for (int i = 0; i < 3; i++)
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                pipe.Generate(options);
                least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
            }
            return least;
        }
        long ten = Measure(10);
        long fifty = Measure(50);
        // Only the schedule itself (timestep/sigma arrays, a few bytes per step) may grow; the loop allocates nothing.
        // (The lower bound leaves room for the JIT's tier-up, which can still trim a few hundred bytes from a later call.)
        Assert.InRange(fifty - ten, -1024, 16 * 40);
    }

    [Fact]
    public void PromptsAndNegativePromptsEncodedInOneCallMatchSeparateCalls()
    {
        using var pipe = StableDiffusionPipeline.FromPretrained(TestPaths.TinyModel);
        string[] prompts = ["a red cube on top of a blue sphere", "a cat"];
        string[] negatives = ["blurry", ""];
        using (var stages = new StageRecorder())
        {
            pipe.Generate(new TextToImageOptions
            {
                Prompt = prompts,
                NegativePrompt = negatives,
                NumInferenceSteps = 1,
                GuidanceScale = 7.5,
                OutputType = OutputType.Latent,
            });
            Assert.Equal(1, stages.Count(DiffusionDiagnostics.Activities.TextEncoder));
        }
        PromptEmbeddings together = pipe.EncodePrompt(prompts, 2, true, negatives);
        float[] expected =
        [
            .. pipe.EncodePrompt([negatives[0]], 2, false).PromptEmbeds.AsSpan().ToArray(),
            .. pipe.EncodePrompt([negatives[1]], 2, false).PromptEmbeds.AsSpan().ToArray(),
            .. pipe.EncodePrompt([prompts[0]], 2, false).PromptEmbeds.AsSpan().ToArray(),
            .. pipe.EncodePrompt([prompts[1]], 2, false).PromptEmbeds.AsSpan().ToArray(),
        ];
        Assert.Equal([4, 77, 32], together.PromptEmbeds.Shape());
        Assert.Equal(expected, PipelineParityTests.Concat(together));
    }

    [Fact]
    public void ItemByItemAndConcurrentUNetBatchesGiveTheSameNumbers()
    {
        string path = Path.Combine(TestPaths.TinyModel, "unet", "model.onnx");
        // All three on shape-specialised sessions (the small-graph tuning), which round differently from the general
        // session in the last bits: the property under test is that splitting the batch changes nothing.
        using var whole = new OnnxUNet(path, new OnnxRuntimeSettings { SplitUNetBatchFromLatentPixels = 0, SmallGraphTuning = true, IntraOpNumThreads = 2 });
        using var split = new OnnxUNet(path, new OnnxRuntimeSettings { SplitUNetBatchFromLatentPixels = 1, SmallGraphTuning = true });
        using var concurrent = new OnnxUNet(path, new OnnxRuntimeSettings { SplitUNetBatchFromLatentPixels = 0, SmallGraphTuning = true });
        var shape = new UNetShape(2, 4, 16, 16, 77, 32);
        using OnnxUNetRunner a = whole.CreateRunner(shape);
        using OnnxUNetRunner b = split.CreateRunner(shape);
        using OnnxUNetRunner c = concurrent.CreateRunner(shape);
        Assert.Equal(1, a.CallsPerEvaluation);
        Assert.Equal(2, b.CallsPerEvaluation);
        Assert.False(b.RunsCallsConcurrently);
        Assert.True(concurrent.EvaluatesBatchItemsConcurrently); // a small graph with the tuning runs on one intra-op thread
        Assert.Equal(Environment.ProcessorCount > 1, c.RunsCallsConcurrently);
        var g = new TorchGenerator(5);
        var sample = new float[shape.SampleLength];
        var hidden = new float[shape.HiddenStatesLength];
        g.Randn(sample);
        g.Randn(hidden);
        foreach (OnnxUNetRunner r in new[] { a, b, c })
        {
            sample.CopyTo(r.Sample);
            hidden.CopyTo(r.EncoderHiddenStates);
            for (int step = 0; step < 3; step++)
            {
                r.Run(801f - step, step == 2 ? UNetRunHints.LastOfLoop : UNetRunHints.None, default);
            }
        }
        Assert.Equal(a.Output.ToArray(), b.Output.ToArray());
        Assert.Equal(a.Output.ToArray(), c.Output.ToArray());
    }

    [Fact]
    public void ConcurrentBatchesOfThreeItemsSplitUnevenlyAndMatchOneCall()
    {
        string path = Path.Combine(TestPaths.TinyModel, "unet", "model.onnx");
        using var whole = new OnnxUNet(path, new OnnxRuntimeSettings { SmallGraphTuning = true, IntraOpNumThreads = 2 });
        using var concurrent = new OnnxUNet(path, new OnnxRuntimeSettings { SmallGraphTuning = true });
        var shape = new UNetShape(3, 4, 8, 16, 77, 32);
        using OnnxUNetRunner a = whole.CreateRunner(shape);
        using OnnxUNetRunner c = concurrent.CreateRunner(shape);
        Assert.Equal(Math.Min(3, Environment.ProcessorCount), c.CallsPerEvaluation);
        var g = new TorchGenerator(9);
        var sample = new float[shape.SampleLength];
        var hidden = new float[shape.HiddenStatesLength];
        g.Randn(sample);
        g.Randn(hidden);
        foreach (OnnxUNetRunner r in new[] { a, c })
        {
            sample.CopyTo(r.Sample);
            hidden.CopyTo(r.EncoderHiddenStates);
            r.Run(500f, UNetRunHints.LastOfLoop, default);
        }
        Assert.Equal(a.Output.ToArray(), c.Output.ToArray());
    }

    [Fact]
    public void GenerationWithSplitBatchesArenaOffAndMemoryPatternMatchesTheDefault()
    {
        Tensor<float> reference;
        using (var pipe = StableDiffusionPipeline.FromPretrained(TestPaths.TinyModel))
        {
            reference = pipe.Generate(Options(4, OutputType.Array)).ImageArray!;
        }
        var variants = new[]
        {
            new OnnxRuntimeSettings { SplitUNetBatchFromLatentPixels = 1 },
            new OnnxRuntimeSettings { EnableCpuMemArena = false },
            new OnnxRuntimeSettings { EnableMemoryPattern = true, IntraOpNumThreads = 2 },
        };
        foreach (OnnxRuntimeSettings variant in variants)
        {
            using var pipe = StableDiffusionPipeline.FromPretrained(TestPaths.TinyModel, TestModels.Options(variant));
            StableDiffusionPipelineOutput output = pipe.Generate(Options(4, OutputType.Array));
            Assert.Equal(reference.AsSpan().ToArray(), output.ImageArray!.AsSpan().ToArray());
        }
        // Shape-specialised sessions let ONNX Runtime fold the graph differently: the same image to float32 rounding.
        using (var tuned = StableDiffusionPipeline.FromPretrained(TestPaths.TinyModel, TestModels.Options(new OnnxRuntimeSettings { SmallGraphTuning = true })))
        {
            AssertClose.All(reference.AsSpan(), tuned.Generate(Options(4, OutputType.Array)).ImageArray!.AsSpan(), 1e-5, 0, "small-graph tuning");
        }
    }

    [Theory]
    [InlineData("optimum")]
    [InlineData("diffusers")]
    public void LowMemoryModeLoadsEachComponentForItsStageAndGivesTheSameImage(string layout)
    {
        string model = layout == "diffusers" ? TestPaths.TinySd2Diffusers : TestPaths.TinyModel;
        Tensor<float> reference;
        using (var pipe = StableDiffusionPipeline.FromPretrained(model))
        {
            reference = pipe.Generate(Options(3, OutputType.Array)).ImageArray!;
        }

        using var low = StableDiffusionPipeline.FromPretrained(model, new DiffusionPipelineOptions { LowMemory = true });
        for (int call = 0; call < 2; call++)
        {
            using var recorder = new StageRecorder();
            StableDiffusionPipelineOutput output = low.Generate(Options(3, OutputType.Array));
            Assert.Equal(reference.AsSpan().ToArray(), output.ImageArray!.AsSpan().ToArray());
            // The first call finds the text encoder still loaded from validation; every later call loads all three.
            Assert.Equal(call == 0 ? 2 : 3, recorder.Count(DiffusionDiagnostics.Activities.Load));
            Assert.False(new OnDemandProbe(low).AnyLoaded, "every component is released after its stage");
        }
    }

    [Fact]
    public void ObserverHearsEveryStage()
    {
        using var pipe = StableDiffusionPipeline.FromPretrained(TestPaths.TinyModel);
        using var recorder = new StageRecorder();
        pipe.Generate(Options(5, OutputType.Image));
        // The prompt and the empty negative prompt are tokenized and encoded together: one stage each.
        Assert.Equal(1, recorder.Count(DiffusionDiagnostics.Activities.Generate));
        Assert.Equal(1, recorder.Count(DiffusionDiagnostics.Activities.Tokenize));
        Assert.Equal(1, recorder.Count(DiffusionDiagnostics.Activities.TextEncoder));
        Assert.Equal(1, recorder.Count(DiffusionDiagnostics.Activities.Prepare));
        Assert.Equal(5, recorder.Count(DiffusionDiagnostics.Activities.UNet));
        Assert.Equal(5, recorder.Count(DiffusionDiagnostics.Activities.Guidance));
        Assert.Equal(10, recorder.Count(DiffusionDiagnostics.Activities.Scheduler)); // scale_model_input and step
        Assert.Equal(1, recorder.Count(DiffusionDiagnostics.Activities.VaeDecoder));
        Assert.Equal(1, recorder.Count(DiffusionDiagnostics.Activities.Postprocess));
        Assert.Equal(0, recorder.Count(DiffusionDiagnostics.Activities.Load));
        Assert.Equal([0, 1, 2, 3, 4], recorder.UNetSteps);
    }

    [Fact]
    public void OptimizedGraphCacheGivesTheSameImageAndIsReused()
    {
        string cache = Path.Combine(Path.GetTempPath(), "spright-cache-test-" + Guid.NewGuid().ToString("N"));
        try
        {
            DiffusionPipelineOptions options = TestModels.Options(new OnnxRuntimeSettings { OptimizedModelCacheDirectory = cache });
            Tensor<float> cold, fromCache, plain;
            using (var pipe = StableDiffusionPipeline.FromPretrained(TestPaths.TinyModel, options))
            {
                cold = pipe.Generate(Options(3, OutputType.Array)).ImageArray!;
            }
            string[] written = Directory.GetDirectories(cache);
            Assert.Equal(3, written.Length); // text_encoder, unet, vae_decoder
            Assert.All(written, d => Assert.True(File.Exists(Path.Combine(d, "model.onnx"))));
            using (var pipe = StableDiffusionPipeline.FromPretrained(TestPaths.TinyModel, options))
            {
                fromCache = pipe.Generate(Options(3, OutputType.Array)).ImageArray!;
            }
            Assert.Equal(written, Directory.GetDirectories(cache));
            using (var pipe = StableDiffusionPipeline.FromPretrained(TestPaths.TinyModel))
            {
                plain = pipe.Generate(Options(3, OutputType.Array)).ImageArray!;
            }
            Assert.Equal(plain.AsSpan().ToArray(), cold.AsSpan().ToArray());
            Assert.Equal(plain.AsSpan().ToArray(), fromCache.AsSpan().ToArray());
        }
        finally
        {
            if (Directory.Exists(cache))
            {
                Directory.Delete(cache, recursive: true);
            }
        }
    }

    private sealed class OnDemandProbe(StableDiffusionPipelineBase pipe)
    {
        public bool AnyLoaded =>
            pipe.TextEncoder is not OnDemandTextEncoder te ? throw new InvalidOperationException("not on demand") :
            te.IsLoaded || ((OnDemandUNet)pipe.Unet).IsLoaded || ((OnDemandVaeDecoder)pipe.VaeDecoder).IsLoaded;
    }
}

/// <summary>Counts process-wide sessions, so it runs alone (see <see cref="Spright.Diffusion.Tests.Reliability.MemoryCollection"/>).</summary>
[Collection(nameof(Spright.Diffusion.Tests.Reliability.MemoryCollection))]
public sealed class ShapeSpecialisedSessionTests
{
    [Fact]
    public void ShapeSpecialisedSessionsAreSharedBoundedAndReleasedWithTheUNet()
    {
        string path = Path.Combine(TestPaths.TinyModel, "unet", "model.onnx");
        int before = OnnxMetrics.Sessions;
        using (var unet = new OnnxUNet(path, new OnnxRuntimeSettings { SmallGraphTuning = true, IntraOpNumThreads = 2 }))
        {
            Assert.True(unet.SpecializesShapes);
            var first = new UNetShape(2, 4, 16, 16, 77, 32);
            using (OnnxUNetRunner r1 = unet.CreateRunner(first))
            using (OnnxUNetRunner r2 = unet.CreateRunner(first))
            {
                Assert.Equal(1, unet.SpecializedSessionCount); // one session per shape, shared by its runners
            }
            for (int size = 1; size <= 6; size++)
            {
                using OnnxUNetRunner r = unet.CreateRunner(new UNetShape(1, 4, 8, 8 * size, 77, 32));
            }
            Assert.InRange(unet.SpecializedSessionCount, 1, 4); // idle sessions beyond four are released
            Assert.Equal(before + 1 + unet.SpecializedSessionCount, OnnxMetrics.Sessions);
        }
        Assert.Equal(before, OnnxMetrics.Sessions);
    }

    [Fact]
    public void TheVaeDecoderKeepsOneSpecialisedSessionPerSizeAndReleasesItWithTheDecoder()
    {
        string path = Path.Combine(TestPaths.TinyModel, "vae_decoder", "model.onnx");
        int before = OnnxMetrics.Sessions;
        using (var vae = new OnnxVaeDecoder(path, new OnnxRuntimeSettings { SmallGraphTuning = true }))
        {
            Assert.True(vae.SpecializesShapes);
            var latents = Tensor.Create<float>(new float[2 * 4 * 8 * 8], [2, 4, 8, 8]);
            Tensor<float> first = vae.Decode(latents);
            Tensor<float> second = vae.Decode(latents);
            Assert.Equal([2, 3, 64, 64], first.Shape());
            Assert.Equal(first.AsSpan().ToArray(), second.AsSpan().ToArray());
            Assert.Equal(1, vae.SpecializedSessionCount);
            vae.Decode(Tensor.Create<float>(new float[4 * 8 * 16], [1, 4, 8, 16])).Shape();
            Assert.Equal(2, vae.SpecializedSessionCount);
            Assert.Equal(before + 3, OnnxMetrics.Sessions);
        }
        Assert.Equal(before, OnnxMetrics.Sessions);
    }
}
