using Spright.Diffusion.Components;
using Spright.Diffusion.IO;
using Spright.Diffusion.Numerics;
using Spright.Diffusion.Tests.Infrastructure;

namespace Spright.Diffusion.Tests.Reliability;

/// <summary>
/// Disposal, use after disposal, disposal during a running call, shared components and cancellation. Tests that must
/// see sessions released load their own pipeline; the others borrow the fixture's components through FromPipe.
/// </summary>
public sealed class LifetimeTests(TinyPipelines shared) : IClassFixture<TinyPipelines>
{
    private static TextToImageOptions Small(int steps = 3) => new() { Prompt = ["a cube"], NumInferenceSteps = steps, Width = 32, Height = 32, Seed = 7 };

    [Fact]
    public void Disposing_twice_is_safe_and_every_entry_point_then_throws_ObjectDisposedException()
    {
        var pipe = StableDiffusionPipeline.FromPretrained(TestPaths.TinyModel);
        IUNet unet = pipe.Unet;
        pipe.Dispose();
        pipe.Dispose();

        Assert.True(pipe.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => pipe.Generate(Small()));
        Assert.Throws<ObjectDisposedException>(() => pipe.Generate("a cube"));
        Assert.Throws<ObjectDisposedException>(() => pipe.EncodePrompt(["a"], 1, true));
        Assert.Throws<ObjectDisposedException>(() => pipe.DecodeLatents(TensorShapes.Wrap(new float[4 * 4 * 4], 1, 4, 4, 4)));
        Assert.Throws<ObjectDisposedException>(() => StableDiffusionPipeline.FromPipe(pipe));
        Assert.Throws<ObjectDisposedException>(() => StableDiffusionImg2ImgPipeline.FromPipe(pipe));
        Assert.Throws<ObjectDisposedException>(() => pipe.Scheduler = new Spright.Diffusion.Schedulers.DDIMScheduler());
        // The sessions it loaded are released.
        Assert.Throws<ObjectDisposedException>(() => unet.RentRunner(new UNetShape(2, 4, 4, 4, 77, 32)));
        unet.Dispose(); // and disposing a component twice is safe too
    }

    [Fact]
    public void Dispose_during_a_call_lets_it_finish_and_releases_the_sessions_afterwards()
    {
        var pipe = StableDiffusionPipeline.FromPretrained(TestPaths.TinyModel);
        IUNet unet = pipe.Unet;
        StableDiffusionPipelineOutput expected = shared.Text2Img.Generate(Small(6));

        bool disposedMidway = false;
        GenerationOptions options = Small(6) with
        {
            CallbackOnStepEnd = step =>
            {
                if (step.Step == 1)
                {
                    pipe.Dispose(); // from inside the call: the pipeline is disposed while the call runs
                    disposedMidway = pipe.IsDisposed;
                    Assert.Throws<ObjectDisposedException>(() => pipe.Generate(Small()));
                }
            },
        };
        StableDiffusionPipelineOutput output = pipe.Generate(options);

        Assert.True(disposedMidway);
        Assert.Equal(expected.ImageArray!.AsSpan().ToArray(), output.ImageArray!.AsSpan().ToArray());
        Assert.Throws<ObjectDisposedException>(() => unet.RentRunner(new UNetShape(2, 4, 4, 4, 77, 32)));
    }

    [Fact]
    public void Dispose_before_the_prompt_is_encoded_still_lets_the_call_finish()
    {
        var pipe = StableDiffusionPipeline.FromPipe(shared.Img2Img);
        StableDiffusionPipelineOutput expected = shared.Text2Img.Generate(Small());
        var encoder = new DisposingTextEncoder(pipe.TextEncoder, pipe);
        pipe.TextEncoder = encoder;

        StableDiffusionPipelineOutput output = pipe.Generate(Small());

        Assert.True(encoder.Disposed);
        Assert.Equal(expected.ImageArray!.AsSpan().ToArray(), output.ImageArray!.AsSpan().ToArray());
        Assert.Throws<ObjectDisposedException>(() => pipe.Generate(Small()));
    }

    [Fact]
    public void Dispose_from_another_thread_while_calls_run_never_crashes_them()
    {
        var pipe = StableDiffusionPipeline.FromPipe(shared.Img2Img);
        using var started = new CountdownEvent(3);
        Task<string>[] calls = Enumerable.Range(0, 3).Select(i => Task.Run(() =>
        {
            GenerationOptions options = Small(40) with
            {
                CallbackOnStepEnd = s =>
                {
                    if (s.Step == 0)
                    {
                        started.Signal();
                    }
                },
            };
            try
            {
                StableDiffusionPipelineOutput output = pipe.Generate(options);
                return "completed";
            }
            catch (ObjectDisposedException)
            {
                return "refused";
            }
        })).ToArray();
        Assert.True(started.Wait(TimeSpan.FromSeconds(60)));
        pipe.Dispose();
        Assert.All(calls, c => Assert.Equal("completed", c.Result));
        Assert.Throws<ObjectDisposedException>(() => pipe.Generate(Small()));
    }

    [Fact]
    public void Pipelines_sharing_components_release_them_with_the_last_one()
    {
        var img2img = StableDiffusionImg2ImgPipeline.FromPretrained(TestPaths.TinyModel);
        var text2img = StableDiffusionPipeline.FromPipe(img2img);
        IUNet unet = img2img.Unet;
        img2img.Dispose();
        Assert.Single(text2img.Generate(Small(1)).Images);
        text2img.Dispose();
        Assert.Throws<ObjectDisposedException>(() => unet.RentRunner(new UNetShape(2, 4, 4, 4, 77, 32)));
    }

    [Fact]
    public void Cancelling_stops_within_a_step_and_the_pipeline_stays_usable()
    {
        using var pipe = StableDiffusionPipeline.FromPipe(shared.Img2Img);
        StableDiffusionPipelineOutput expected = pipe.Generate(Small(5));

        using var cts = new CancellationTokenSource();
        int lastStep = -1;
        GenerationOptions options = Small(50) with
        {
            CallbackOnStepEnd = s =>
            {
                lastStep = s.Step;
                if (s.Step == 2)
                {
                    cts.Cancel();
                }
            },
        };
        Assert.ThrowsAny<OperationCanceledException>(() => pipe.Generate(options, cts.Token));
        Assert.Equal(2, lastStep);

        Assert.ThrowsAny<OperationCanceledException>(() => pipe.Generate(Small(), cts.Token)); // already cancelled: nothing runs
        StableDiffusionPipelineOutput again = pipe.Generate(Small(5));
        Assert.Equal(expected.ImageArray!.AsSpan().ToArray(), again.ImageArray!.AsSpan().ToArray());
    }

    /// <summary>Disposes the pipeline the first time the prompt is encoded, i.e. early inside a running call.</summary>
    private sealed class DisposingTextEncoder(ITextEncoder inner, DiffusionPipeline pipeline) : ITextEncoder
    {
        public bool Disposed { get; private set; }

        public int? HiddenSize => inner.HiddenSize;

        public int? MaxSequenceLength => inner.MaxSequenceLength;

        public IDisposable? Acquire() => inner.Acquire();

        public System.Numerics.Tensors.Tensor<float> Encode(ReadOnlySpan<int> inputIds, int batchSize, CancellationToken cancellationToken = default)
        {
            if (!Disposed)
            {
                pipeline.Dispose();
                Disposed = pipeline.IsDisposed;
            }
            return inner.Encode(inputIds, batchSize, cancellationToken);
        }

        public void Dispose() => inner.Dispose();
    }
}
