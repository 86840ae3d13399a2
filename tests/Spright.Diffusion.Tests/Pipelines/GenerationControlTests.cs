using System.Diagnostics;
using System.Numerics.Tensors;
using Spright.Diffusion.Components;
using Spright.Diffusion.IO;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Tests.Infrastructure;

namespace Spright.Diffusion.Tests.Pipelines;

/// <summary>Progress, cancellation, the step-end callback and latent output (issue 5, "control").</summary>
public sealed class GenerationControlTests
{
    private static GenerationOptions Case01Options()
    {
        PipelineReferenceCase c = PipelineReferenceCase.Load("01_default_ddim");
        return c.Options();
    }

    [Fact]
    public void ProgressIsReportedOncePerStepInOrder()
    {
        using var pipe = DiffusionPipeline.FromPretrained(TestPaths.TinyModel);
        var reports = new List<GenerationProgress>();
        GenerationOptions options = Case01Options() with
        {
            OutputType = OutputType.Latent,
            Progress = new SynchronousProgress<GenerationProgress>(reports.Add),
        };
        StableDiffusionPipelineOutput output = pipe.Generate(options);
        Assert.Equal(Enumerable.Range(1, 10), reports.Select(r => r.Step));
        Assert.All(reports, r => Assert.Equal(10, r.TotalSteps));
        Assert.Equal(output.Timesteps, reports.Select(r => r.Timestep));
        Assert.True(reports.Zip(reports.Skip(1)).All(p => p.First.Elapsed <= p.Second.Elapsed));
    }

    [Fact]
    public void CallbackCanStopEarlyAndTheCurrentLatentsAreReturned()
    {
        PipelineReferenceCase c = PipelineReferenceCase.Load("01_default_ddim");
        using var pipe = DiffusionPipeline.FromPretrained(TestPaths.TinyModel);
        GenerationOptions options = c.Options() with
        {
            CallbackOnStepEnd = ctx =>
            {
                if (ctx.Step == 3)
                {
                    ctx.Stop();
                }
            },
        };
        StableDiffusionPipelineOutput output = pipe.Generate(options);
        Assert.Equal(4, output.Timesteps.Count);
        // After 4 of 10 steps the latents are diffusers' latents after step 4.
        AssertClose.All(c.Npy("latents_steps.npy").Row(3), output.Latents.AsSpan(), 1e-4, 0, "latents after stopping at step 4");
        Assert.Single(output.Images);
    }

    [Fact]
    public void CallbackCanReplaceTheLatentsAndTheNextStepsUseThem()
    {
        // DDIM (eta 0) carries no state besides the latents: swapping in another seed's latents after step 5 must
        // give that seed's final latents exactly.
        using var pipe = DiffusionPipeline.FromPretrained(TestPaths.TinyModel);
        GenerationOptions Options(ulong seed) => Case01Options() with { Seed = seed, OutputType = OutputType.Latent };
        var otherSteps = new List<float[]>();
        GenerationOptions other = Options(2) with { CallbackOnStepEnd = ctx => otherSteps.Add(ctx.Latents.AsSpan().ToArray()) };
        StableDiffusionPipelineOutput expected = pipe.Generate(other);

        GenerationOptions swapped = Options(1) with
        {
            CallbackOnStepEnd = ctx =>
            {
                if (ctx.Step == 5)
                {
                    otherSteps[5].CopyTo(ctx.Latents.AsSpan());
                }
            },
        };
        StableDiffusionPipelineOutput actual = pipe.Generate(swapped);
        AssertClose.Exact(expected.Latents.AsSpan(), actual.Latents.AsSpan(), "final latents after the swap");

        StableDiffusionPipelineOutput untouched = pipe.Generate(Options(1));
        Assert.NotEqual(untouched.Latents.AsSpan().ToArray(), actual.Latents.AsSpan().ToArray());
    }

    [Fact]
    public void LatentOutputDecodedLaterEqualsTheImageOutput()
    {
        using var pipe = (StableDiffusionPipelineBase)DiffusionPipeline.FromPretrained(TestPaths.TinyModel);
        GenerationOptions options = Case01Options();
        StableDiffusionPipelineOutput full = pipe.Generate(options);
        StableDiffusionPipelineOutput latentOnly = pipe.Generate(options with { OutputType = OutputType.Latent });
        Assert.Empty(latentOnly.Images);
        Assert.Null(latentOnly.ImageArray);
        StableDiffusionPipelineOutput decoded = pipe.DecodeLatents(latentOnly.Latents);
        AssertClose.Exact(full.ImageArray!.AsSpan(), decoded.ImageArray!.AsSpan(), "decoded later");
        PipelineParityTests.AssertImagesWithin(full.Images[0], decoded.Images[0], 0, "decoded later PNG");
    }

    [Fact]
    public void CancellationStopsInsideAUNetEvaluationAndThePipelineStaysUsable()
    {
        PipelineReferenceCase c = PipelineReferenceCase.Load("01_default_ddim");
        using var pipe = (StableDiffusionPipelineBase)DiffusionPipeline.FromPretrained(TestPaths.TinyModel);
        IUNet inner = pipe.Unet;
        using var signal = new SignalingUNet(inner);
        pipe.Unet = signal;

        // A large image makes one UNet evaluation long enough to interrupt (≈ 0.5–2 s on 2 cores).
        GenerationOptions big = c.Options() with { Width = 512, Height = 512, NumInferenceSteps = 2, OutputType = OutputType.Latent };
        var timer = Stopwatch.StartNew();
        pipe.Generate(big);
        double fullRun = signal.LastRunSeconds;
        Assert.True(fullRun > 0.05, $"one UNet evaluation took only {fullRun:0.000} s; too short to test interruption");

        using var cts = new CancellationTokenSource();
        signal.Reset();
        Task<StableDiffusionPipelineOutput> running = Task.Run(() => pipe.Generate(big, cts.Token));
        Assert.True(signal.RunStarted.Wait(TimeSpan.FromSeconds(60)), "the UNet never started");
        Thread.Sleep(TimeSpan.FromSeconds(fullRun * 0.1));
        timer.Restart();
        cts.Cancel();
        var error = Assert.ThrowsAny<OperationCanceledException>(() => running.GetAwaiter().GetResult());
        double stopped = timer.Elapsed.TotalSeconds;
        Assert.Equal(cts.Token, error.CancellationToken);
        Assert.Equal(1, signal.Runs); // cancelled during the first evaluation, not after it
        Assert.True(stopped < fullRun * 0.75, $"cancellation took {stopped:0.000} s; one full UNet evaluation takes {fullRun:0.000} s");

        // The next call works and still matches diffusers.
        pipe.Unet = inner;
        StableDiffusionPipelineOutput after = pipe.Generate(c.Options());
        AssertClose.All(c.Npy("final_latents.npy").AsFloat32(), after.Latents.AsSpan(), 5e-4, 0, "final latents after a cancelled call");
        AssertClose.All(c.Npy("image.npy").AsFloat32(), after.ImageArray!.AsSpan(), 5e-4, 0, "image after a cancelled call");
    }

    [Fact]
    public void AnAlreadyCancelledTokenRunsNothing()
    {
        using var pipe = DiffusionPipeline.FromPretrained(TestPaths.TinyModel);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => pipe.Generate(Case01Options() with { Prompt = ["a cat"] }, cts.Token));
    }

    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }

    /// <summary>Wraps a UNet to signal when an evaluation starts and time it.</summary>
    private sealed class SignalingUNet(IUNet inner) : IUNet
    {
        public ManualResetEventSlim RunStarted { get; private set; } = new(false);

        public double LastRunSeconds { get; set; }

        public int Runs { get; set; }

        public UNetInfo Info => inner.Info;

        public IDisposable? Acquire() => inner.Acquire();

        public void Reset()
        {
            RunStarted = new ManualResetEventSlim(false);
            Runs = 0;
        }

        public IUNetRunner RentRunner(UNetShape shape) => new Runner(this, inner.RentRunner(shape));

        public void Dispose() => RunStarted.Dispose();

        private sealed class Runner(SignalingUNet owner, IUNetRunner runner) : IUNetRunner
        {
            public UNetShape Shape => runner.Shape;

            public Span<float> Sample => runner.Sample;

            public Span<float> EncoderHiddenStates => runner.EncoderHiddenStates;

            public ReadOnlySpan<float> Output => runner.Output;

            public void Run(float timestep, UNetRunHints hints, CancellationToken cancellationToken)
            {
                owner.Runs++;
                owner.RunStarted.Set();
                var sw = Stopwatch.StartNew();
                runner.Run(timestep, hints, cancellationToken);
                owner.LastRunSeconds = sw.Elapsed.TotalSeconds;
            }

            public void Dispose() => runner.Dispose();
        }
    }
}
