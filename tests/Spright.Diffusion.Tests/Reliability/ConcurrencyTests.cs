using Spright.Diffusion.Schedulers;
using Spright.Diffusion.IO;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Tests.Infrastructure;

namespace Spright.Diffusion.Tests.Reliability;

/// <summary>
/// The documented thread-safety contract: one pipeline serves concurrent <c>Generate</c> calls, each giving bit for bit
/// what it gives alone. The calls mix sizes (so UNet runners of several shapes are pooled and reused), guidance on
/// and off, and a multistep scheduler whose history would leak between calls if the per-call scheduler copy were shared.
/// </summary>
public sealed class ConcurrencyTests
{
    private const int Threads = 4;
    private const int CallsPerThread = 3;

    [Fact]
    public void Four_threads_on_one_pipeline_give_the_sequential_results_bit_for_bit()
    {
        using var pipe = StableDiffusionPipeline.FromPretrained(TestPaths.TinyModel);
        pipe.Scheduler = SchedulerRegistry.Create("DPMSolverMultistepScheduler", pipe.Scheduler.Config);
        TextToImageOptions[] calls = Enumerable.Range(0, Threads * CallsPerThread).Select(Call).ToArray();

        float[][] sequential = calls.Select(c => Run(pipe, c)).ToArray();

        var concurrent = new float[calls.Length][];
        using var start = new Barrier(Threads);
        Thread[] threads = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            start.SignalAndWait();
            for (int k = 0; k < CallsPerThread; k++)
            {
                int i = (k * Threads) + t; // interleaved: neighbouring calls run at the same time
                concurrent[i] = Run(pipe, calls[i]);
            }
        })).ToArray();
        foreach (Thread thread in threads)
        {
            thread.Start();
        }
        foreach (Thread thread in threads)
        {
            thread.Join();
        }

        for (int i = 0; i < calls.Length; i++)
        {
            Assert.True(sequential[i].AsSpan().SequenceEqual(concurrent[i]), $"call {i} differs when run concurrently");
        }
        // The calls really differ from each other, so equality above is not trivially true.
        Assert.Equal(calls.Length, sequential.Select(r => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(r.AsSpan())))).Distinct().Count());
    }

    private static TextToImageOptions Call(int i) => new()
    {
        Prompt = [$"a cube number {i}"],
        Seed = (ulong)(100 + i),
        NumInferenceSteps = 4,
        Width = i % 3 == 0 ? 48 : 32,
        Height = 32,
        GuidanceScale = i % 4 == 1 ? 1.0 : 7.5,
        OutputType = OutputType.Array,
    };

    private static float[] Run(StableDiffusionPipeline pipe, TextToImageOptions options)
    {
        StableDiffusionPipelineOutput output = pipe.Generate(options);
        return [.. output.Latents.AsSpan(), .. output.ImageArray!.AsSpan()];
    }
}
