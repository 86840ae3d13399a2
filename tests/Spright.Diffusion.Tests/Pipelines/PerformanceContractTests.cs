using System.Numerics.Tensors;
using Spright.Diffusion.Models;
using Spright.Diffusion.Models.Onnx;
using Spright.Diffusion.Random;
using Spright.Diffusion.Tensors;
using Spright.Diffusion.Tests.Infrastructure;

namespace Spright.Diffusion.Tests.Pipelines;

/// <summary>
/// The performance contract of the denoising loop and the memory options: no managed allocation per step, per-call
/// allocations that do not grow with the step count, and options (item-by-item UNet batches, low-memory mode, arena
/// settings, optimized-graph cache) that change memory and time but not a single number.
/// </summary>
public sealed class PerformanceContractTests
{
    private static GenerationOptions Options(int steps, OutputType output = OutputType.Latent) => new()
    {
        Prompt = ["a red cube on top of a blue sphere"],
        NumInferenceSteps = steps,
        GuidanceScale = 7.5,
        Seed = 42,
        OutputType = output,
    };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SteadyStateStepsAllocateNothing(bool withObserver)
    {
        using var pipe = StableDiffusionPipeline.FromPretrained(TestPaths.TinyModel);
        var recorder = new CountingObserver();
        long atStep3 = 0, atLastButOne = 0;
        const int Steps = 14;
        GenerationOptions options = Options(Steps);
        options.Observer = withObserver ? recorder : null;
        options.CallbackOnStepEnd = ctx =>
        {
            if (ctx.Step == 3)
            {
                atStep3 = GC.GetAllocatedBytesForCurrentThread();
            }
            else if (ctx.Step == Steps - 2)
            {
                atLastButOne = GC.GetAllocatedBytesForCurrentThread();
            }
        };
        pipe.Generate(options).Dispose(); // first call: JIT, buffers
        pipe.Generate(options).Dispose();

        Assert.Equal(0, atLastButOne - atStep3); // 10 whole steps: UNet, guidance, scheduler, callback
        if (withObserver)
        {
            Assert.Equal(2 * Steps, recorder.Count(GenerationStage.UNet));
        }
    }

    [Fact]
    public void PerCallAllocationsDoNotGrowWithTheStepCount()
    {
        using var pipe = StableDiffusionPipeline.FromPretrained(TestPaths.TinyModel);
        long Measure(int steps)
        {
            GenerationOptions options = Options(steps);
            pipe.Generate(options).Dispose();
            long before = GC.GetAllocatedBytesForCurrentThread();
            pipe.Generate(options).Dispose();
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }
        long ten = Measure(10);
        long fifty = Measure(50);
        // Only the schedule itself (timestep/sigma arrays, a few bytes per step) may grow; the loop allocates nothing.
        Assert.InRange(fifty - ten, 0, 16 * 40);
    }

    [Fact]
    public void PromptsAndNegativePromptsEncodedInOneCallMatchSeparateCalls()
    {
        using var pipe = StableDiffusionPipeline.FromPretrained(TestPaths.TinyModel);
        string[] prompts = ["a red cube on top of a blue sphere", "a cat"];
        string[] negatives = ["blurry", ""];
        var stages = new CountingObserver();
        pipe.Generate(new GenerationOptions
        {
            Prompt = prompts,
            NegativePrompt = negatives,
            NumInferenceSteps = 1,
            GuidanceScale = 7.5,
            OutputType = OutputType.Latent,
            Observer = stages,
        }).Dispose();
        Assert.Equal(1, stages.Count(GenerationStage.TextEncoder));
        Tensor<float> together = pipe.EncodePrompt(prompts, 2, true, negatives);
        float[] expected =
        [
            .. pipe.EncodePrompt([negatives[0]], 2, false).AsSpan().ToArray(),
            .. pipe.EncodePrompt([negatives[1]], 2, false).AsSpan().ToArray(),
            .. pipe.EncodePrompt([prompts[0]], 2, false).AsSpan().ToArray(),
            .. pipe.EncodePrompt([prompts[1]], 2, false).AsSpan().ToArray(),
        ];
        Assert.Equal([8, 77, 32], together.Shape());
        Assert.Equal(expected, together.AsSpan().ToArray());
    }

    [Fact]
    public void ItemByItemAndConcurrentUNetBatchesGiveTheSameNumbers()
    {
        string path = Path.Combine(TestPaths.TinyModel, "unet", "model.onnx");
        using var whole = new OnnxUNet(path, new OnnxSessionSettings { SplitUNetBatchFromLatentPixels = 0, EvaluateBatchItemsConcurrently = false });
        using var split = new OnnxUNet(path, new OnnxSessionSettings { SplitUNetBatchFromLatentPixels = 1 });
        using var concurrent = new OnnxUNet(path, new OnnxSessionSettings { SplitUNetBatchFromLatentPixels = 0 });
        var shape = new UNetShape(2, 4, 16, 16, 77, 32);
        using IUNetRunner a = whole.CreateRunner(shape);
        using IUNetRunner b = split.CreateRunner(shape);
        using IUNetRunner c = concurrent.CreateRunner(shape);
        Assert.Equal(1, ((OnnxUNetRunner)a).CallsPerEvaluation);
        Assert.Equal(2, ((OnnxUNetRunner)b).CallsPerEvaluation);
        Assert.False(((OnnxUNetRunner)b).RunsCallsConcurrently);
        Assert.True(concurrent.EvaluatesBatchItemsConcurrently); // a small graph on the CPU runs on one intra-op thread
        Assert.Equal(Environment.ProcessorCount > 1, ((OnnxUNetRunner)c).RunsCallsConcurrently);
        var g = new TorchGenerator(5);
        var sample = new float[shape.SampleLength];
        var hidden = new float[shape.HiddenStatesLength];
        g.Randn(sample);
        g.Randn(hidden);
        foreach (IUNetRunner r in new[] { a, b, c })
        {
            sample.CopyTo(r.Sample);
            hidden.CopyTo(r.EncoderHiddenStates);
            for (int step = 0; step < 3; step++)
            {
                r.Run(801f - step, releaseMemory: step == 2, default);
            }
        }
        Assert.Equal(a.Output.ToArray(), b.Output.ToArray());
        Assert.Equal(a.Output.ToArray(), c.Output.ToArray());
    }

    [Fact]
    public void ConcurrentBatchesOfThreeItemsSplitUnevenlyAndMatchOneCall()
    {
        string path = Path.Combine(TestPaths.TinyModel, "unet", "model.onnx");
        using var whole = new OnnxUNet(path, new OnnxSessionSettings { EvaluateBatchItemsConcurrently = false });
        using var concurrent = new OnnxUNet(path);
        var shape = new UNetShape(3, 4, 8, 16, 77, 32);
        using IUNetRunner a = whole.CreateRunner(shape);
        using IUNetRunner c = concurrent.CreateRunner(shape);
        Assert.Equal(Math.Min(3, Environment.ProcessorCount), ((OnnxUNetRunner)c).CallsPerEvaluation);
        var g = new TorchGenerator(9);
        var sample = new float[shape.SampleLength];
        var hidden = new float[shape.HiddenStatesLength];
        g.Randn(sample);
        g.Randn(hidden);
        foreach (IUNetRunner r in new[] { a, c })
        {
            sample.CopyTo(r.Sample);
            hidden.CopyTo(r.EncoderHiddenStates);
            r.Run(500f, releaseMemory: true, default);
        }
        Assert.Equal(a.Output.ToArray(), c.Output.ToArray());
    }

    [Fact]
    public void GenerationWithSplitBatchesArenaOffAndMemoryPatternMatchesTheDefault()
    {
        Tensor<float> reference;
        using (var pipe = StableDiffusionPipeline.FromPretrained(TestPaths.TinyModel))
        using (StableDiffusionPipelineOutput output = pipe.Generate(Options(4, OutputType.Array)))
        {
            reference = output.ImageArray!;
        }
        var variants = new[]
        {
            new DiffusionPipelineOptions { SplitUNetBatchFromLatentPixels = 1 },
            new DiffusionPipelineOptions { EnableCpuMemArena = false },
            new DiffusionPipelineOptions { EnableMemoryPattern = true, IntraOpNumThreads = 2 },
        };
        foreach (DiffusionPipelineOptions variant in variants)
        {
            using var pipe = StableDiffusionPipeline.FromPretrained(TestPaths.TinyModel, variant);
            using StableDiffusionPipelineOutput output = pipe.Generate(Options(4, OutputType.Array));
            Assert.Equal(reference.AsSpan().ToArray(), output.ImageArray!.AsSpan().ToArray());
        }
    }

    [Fact]
    public void LowMemoryModeLoadsEachComponentForItsStageAndGivesTheSameImage()
    {
        Tensor<float> reference;
        using (var pipe = StableDiffusionPipeline.FromPretrained(TestPaths.TinyModel))
        using (StableDiffusionPipelineOutput output = pipe.Generate(Options(3, OutputType.Array)))
        {
            reference = output.ImageArray!;
        }

        using var low = StableDiffusionPipeline.FromPretrained(TestPaths.TinyModel, new DiffusionPipelineOptions { LowMemory = true });
        for (int call = 0; call < 2; call++)
        {
            var recorder = new CountingObserver();
            GenerationOptions options = Options(3, OutputType.Array);
            options.Observer = recorder;
            using StableDiffusionPipelineOutput output = low.Generate(options);
            Assert.Equal(reference.AsSpan().ToArray(), output.ImageArray!.AsSpan().ToArray());
            // The first call finds the text encoder still loaded from validation; every later call loads all three.
            Assert.Equal(call == 0 ? 2 : 3, recorder.Count(GenerationStage.Load));
            Assert.False(new OnDemandProbe(low).AnyLoaded, "every component is released after its stage");
        }
    }

    [Fact]
    public void ObserverHearsEveryStage()
    {
        using var pipe = StableDiffusionPipeline.FromPretrained(TestPaths.TinyModel);
        var recorder = new CountingObserver();
        GenerationOptions options = Options(5, OutputType.Image);
        options.Observer = recorder;
        using StableDiffusionPipelineOutput output = pipe.Generate(options);
        // The prompt and the empty negative prompt are tokenized and encoded together: one stage each.
        Assert.Equal(1, recorder.Count(GenerationStage.Tokenize));
        Assert.Equal(1, recorder.Count(GenerationStage.TextEncoder));
        Assert.Equal(1, recorder.Count(GenerationStage.Prepare));
        Assert.Equal(5, recorder.Count(GenerationStage.UNet));
        Assert.Equal(5, recorder.Count(GenerationStage.Guidance));
        Assert.Equal(5, recorder.Count(GenerationStage.Scheduler));
        Assert.Equal(1, recorder.Count(GenerationStage.VaeDecoder));
        Assert.Equal(1, recorder.Count(GenerationStage.Postprocess));
        Assert.Equal(0, recorder.Count(GenerationStage.Load));
        Assert.Equal([0, 1, 2, 3, 4], recorder.UNetSteps);
    }

    [Fact]
    public void OptimizedGraphCacheGivesTheSameImageAndIsReused()
    {
        string cache = Path.Combine(Path.GetTempPath(), "spright-cache-test-" + Guid.NewGuid().ToString("N"));
        try
        {
            var options = new DiffusionPipelineOptions { OptimizedModelCacheDirectory = cache };
            Tensor<float> cold, fromCache, plain;
            using (var pipe = StableDiffusionPipeline.FromPretrained(TestPaths.TinyModel, options))
            using (StableDiffusionPipelineOutput o = pipe.Generate(Options(3, OutputType.Array)))
            {
                cold = o.ImageArray!;
            }
            string[] written = Directory.GetDirectories(cache);
            Assert.Equal(3, written.Length); // text_encoder, unet, vae_decoder
            Assert.All(written, d => Assert.True(File.Exists(Path.Combine(d, "model.onnx"))));
            using (var pipe = StableDiffusionPipeline.FromPretrained(TestPaths.TinyModel, options))
            using (StableDiffusionPipelineOutput o = pipe.Generate(Options(3, OutputType.Array)))
            {
                fromCache = o.ImageArray!;
            }
            Assert.Equal(written, Directory.GetDirectories(cache));
            using (var pipe = StableDiffusionPipeline.FromPretrained(TestPaths.TinyModel))
            using (StableDiffusionPipelineOutput o = pipe.Generate(Options(3, OutputType.Array)))
            {
                plain = o.ImageArray!;
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
            pipe.TextEncoder is not Spright.Diffusion.Pipelines.OnDemandTextEncoder te ? throw new InvalidOperationException("not on demand") :
            te.IsLoaded || ((Spright.Diffusion.Pipelines.OnDemandUNet)pipe.Unet).IsLoaded || ((Spright.Diffusion.Pipelines.OnDemandVaeDecoder)pipe.VaeDecoder).IsLoaded;
    }

    private sealed class CountingObserver : IGenerationObserver
    {
        private readonly int[] _counts = new int[16];

        public List<int> UNetSteps { get; } = new(64);

        public void OnStage(GenerationStage stage, int step, long elapsedTicks)
        {
            _counts[(int)stage]++;
            Assert.True(elapsedTicks >= 0);
            if (stage == GenerationStage.UNet && UNetSteps.Count < UNetSteps.Capacity)
            {
                UNetSteps.Add(step);
            }
        }

        public int Count(GenerationStage stage) => _counts[(int)stage];
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
        int before = OnnxComponent.LiveSessions;
        using (var unet = new OnnxUNet(path, new OnnxSessionSettings { EvaluateBatchItemsConcurrently = false }))
        {
            Assert.True(unet.SpecializesShapes);
            var first = new UNetShape(2, 4, 16, 16, 77, 32);
            using (IUNetRunner r1 = unet.CreateRunner(first))
            using (IUNetRunner r2 = unet.CreateRunner(first))
            {
                Assert.Equal(1, unet.SpecializedSessionCount); // one session per shape, shared by its runners
            }
            for (int size = 1; size <= 6; size++)
            {
                using IUNetRunner r = unet.CreateRunner(new UNetShape(1, 4, 8, 8 * size, 77, 32));
            }
            Assert.InRange(unet.SpecializedSessionCount, 1, 4); // idle sessions beyond four are released
            Assert.Equal(before + 1 + unet.SpecializedSessionCount, OnnxComponent.LiveSessions);
        }
        Assert.Equal(before, OnnxComponent.LiveSessions);
    }

    [Fact]
    public void TheVaeDecoderKeepsOneSpecialisedSessionPerSizeAndReleasesItWithTheDecoder()
    {
        string path = Path.Combine(TestPaths.TinyModel, "vae_decoder", "model.onnx");
        int before = OnnxComponent.LiveSessions;
        using (var vae = new OnnxVaeDecoder(path))
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
            Assert.Equal(before + 3, OnnxComponent.LiveSessions);
        }
        Assert.Equal(before, OnnxComponent.LiveSessions);
    }
}
