using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using Spright.Diffusion.OnnxRuntime;
using Spright.Diffusion.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Spright.Diffusion.Tests.Reliability;

/// <summary>Process-wide measurements (live session counts, working set) need the process to themselves: this
/// collection runs after, not beside, the others.</summary>
[CollectionDefinition(nameof(MemoryCollection), DisableParallelization = true)]
public sealed class MemoryCollection;

/// <summary>
/// Native resources are owned and released: every ONNX session and UNet runner a pipeline creates is disposed with
/// it, a load that fails after some sessions exist disposes them, and many load → generate → dispose cycles keep the
/// process's memory bounded.
/// </summary>
[Collection(nameof(MemoryCollection))]
public sealed class MemoryTests(ITestOutputHelper output)
{
    private static readonly DiffusionPipelineOptions Fast = TestModels.Options(new OnnxRuntimeSettings { IntraOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC });

    [Theory]
    [InlineData("text encoder graph of another width than the UNet")] // fails after 3 sessions
    [InlineData("vae decoder folder holds the encoder graph")]         // fails inside the 3rd
    [InlineData("unet external weights truncated")]                    // fails creating the 2nd
    [InlineData("unet in_channels disagrees with the graph")]          // fails after the 2nd was created
    public void A_load_that_fails_midway_disposes_the_sessions_it_created(string brokenName)
    {
        using var model = new TempModelFolder(TestPaths.TinyModel);
        BrokenModels.Get(brokenName).Break(model);
        int sessions = OnnxMetrics.Sessions;

        Assert.Throws<ModelLoadException>(() => StableDiffusionImg2ImgPipeline.FromPretrained(model.Path, Fast));

        Assert.Equal(sessions, OnnxMetrics.Sessions);
    }

    /// <summary>
    /// Load → generate at two sizes → dispose, many times. The live session and runner counts must come back
    /// exactly after every cycle, and the working set must stay bounded: a leaked tiny pipeline holds about 12 MB of
    /// native memory (weights, graphs, arenas, pinned buffers), so twelve leaking cycles would add some 150 MB. The
    /// working set of a test process is noisy (glibc keeps freed pages, other tests' garbage is collected at random
    /// times), so each side of the comparison is the lowest of four measurements: the first four cycles after the
    /// warm-up against the last four. Growth must stay under 64 MB, far below a leak and far above the noise.
    /// </summary>
    [Fact]
    public void Load_generate_dispose_cycles_release_every_session_and_keep_memory_bounded()
    {
        const int warmUp = 3, cycles = 12, window = 4;
        const long allowedGrowth = 64L << 20;
        int sessions = OnnxMetrics.Sessions, runners = OnnxMetrics.Runners;
        for (int i = 0; i < warmUp; i++)
        {
            Cycle(sessions, runners);
        }
        var workingSets = new List<long>();
        var managed = new List<long>();
        var stopwatch = Stopwatch.StartNew();
        for (int i = 0; i < cycles; i++)
        {
            Cycle(sessions, runners);
            (long w, long m) = Measure();
            workingSets.Add(w);
            managed.Add(m);
        }

        long before = workingSets.Take(window).Min(), after = workingSets.TakeLast(window).Min();
        long managedBefore = managed.Take(window).Min(), managedAfter = managed.TakeLast(window).Min();
        output.WriteLine($"{cycles} cycles in {stopwatch.ElapsedMilliseconds} ms; working set (MB) {string.Join(' ', workingSets.Select(w => w >> 20))}; managed {managedBefore >> 20} → {managedAfter >> 20} MB");
        Assert.Equal(sessions, OnnxMetrics.Sessions);
        Assert.Equal(runners, OnnxMetrics.Runners);
        Assert.True(after - before < allowedGrowth, $"working set grew by {(after - before) >> 20} MB over {cycles - window} cycles");
        Assert.True(managedAfter - managedBefore < allowedGrowth / 4, $"managed heap grew by {(managedAfter - managedBefore) >> 20} MB");
    }

    private static void Cycle(int sessions, int runners)
    {
        using (var pipe = StableDiffusionPipeline.FromPretrained(TestPaths.TinyModel, Fast))
        {
            Assert.Equal(sessions + 3, OnnxMetrics.Sessions); // the counter sees this pipeline's sessions
            foreach (int size in new[] { 32, 48 })
            {
                StableDiffusionPipelineOutput result = pipe.Generate(new TextToImageOptions
                {
                    Prompt = ["a cube"],
                    Width = size,
                    Height = 32,
                    NumInferenceSteps = 2,
                    Seed = 1,
                });
                Assert.Single(result.Images);
            }
            Assert.Equal(runners + 2, OnnxMetrics.Runners); // pooled by the UNet for reuse until the pipeline goes
        }
        Assert.Equal(sessions, OnnxMetrics.Sessions);
        Assert.Equal(runners, OnnxMetrics.Runners);
    }

    private static (long WorkingSet, long Managed) Measure()
    {
        for (int i = 0; i < 3; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        long managed = GC.GetTotalMemory(forceFullCollection: true);
        using Process self = Process.GetCurrentProcess();
        return (self.WorkingSet64, managed);
    }
}
