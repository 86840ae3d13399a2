using Microsoft.ML.OnnxRuntime;

namespace Spright.Diffusion;

/// <summary>
/// How ONNX Runtime sessions are created for the model components. The defaults favour steady-state speed on
/// CPU and keep the memory of a 768² SPRIGHT generation within an ordinary machine.
/// </summary>
public class OnnxSessionSettings
{
    /// <summary>The execution provider (default <see cref="ExecutionProvider.Cpu"/>).</summary>
    public ExecutionProvider ExecutionProvider { get; init; } = ExecutionProvider.Cpu;

    /// <summary>The GPU index for CUDA / DirectML (default 0).</summary>
    public int DeviceId { get; init; }

    /// <summary>Graph optimization level (default <see cref="GraphOptimizationLevel.ORT_ENABLE_ALL"/>: the fastest
    /// UNet step; combine with <see cref="OptimizedModelCacheDirectory"/> to avoid paying the optimization at every load).</summary>
    public GraphOptimizationLevel GraphOptimizationLevel { get; init; } = GraphOptimizationLevel.ORT_ENABLE_ALL;

    /// <summary>Threads inside one operator. 0 (the default) lets the library choose: on the CPU, one thread for the
    /// text encoder and UNet of small graphs (under 64 MiB with their weights, such as the tiny test models, where
    /// handing work to other threads costs more than it saves; the UNet then evaluates the items of a batch side by
    /// side instead, see <see cref="EvaluateBatchItemsConcurrently"/>), ONNX Runtime's default (one per physical core)
    /// for the VAE and for large graphs.</summary>
    public int IntraOpNumThreads { get; init; }

    /// <summary>Threads across operators; 0 lets ONNX Runtime choose.</summary>
    public int InterOpNumThreads { get; init; }

    /// <summary>ONNX Runtime's memory-pattern planner. <see langword="null"/> (the default) lets the library choose: on
    /// for small graphs (under 64 MiB with their weights: a few percent faster steps, negligible memory), off for large
    /// ones (at 768² it pre-plans more memory than a 24 GB machine has; off costs no measurable speed there).</summary>
    public bool? EnableMemoryPattern { get; init; }

    /// <summary>ONNX Runtime's CPU memory arena (default on). The arena keeps a session's working memory between runs
    /// (fast steps); for graphs of 64 MiB or more the pipeline hands it back at the end of each stage (after the text
    /// encoder, the last UNet step and each VAE run), so stages do not add their peaks up.</summary>
    public bool EnableCpuMemArena { get; init; } = true;

    /// <summary>UNet batches whose latent has at least this many pixels (latent height × width) are evaluated one batch
    /// item at a time — the negative and positive halves of a guided batch in turn — through bindings over the same
    /// buffers: the same numbers, half the attention memory. Default 9216 (96 × 96 latents = 768² images, where one
    /// SD 2.x self-attention matrix per item is 9216² × heads floats); 0 = never split.</summary>
    public int SplitUNetBatchFromLatentPixels { get; init; } = 96 * 96;

    /// <summary>Whether a UNet session that runs its operators on one CPU thread (small graphs by default, or
    /// <see cref="IntraOpNumThreads"/> = 1) evaluates the items of a batch — the negative and positive halves of a
    /// guided batch — side by side, one share per core, through bindings over slices of the same buffers: the same
    /// numbers, in about half the time on two cores. Default on; batches split for memory
    /// (<see cref="SplitUNetBatchFromLatentPixels"/>) still run one item at a time.</summary>
    public bool EvaluateBatchItemsConcurrently { get; init; } = true;

    /// <summary>A folder where optimized graphs are cached (keyed by model file hash, ONNX Runtime version, provider
    /// and settings), or <see langword="null"/> for no cache.</summary>
    public string? OptimizedModelCacheDirectory { get; init; }

    /// <summary>A hook to customise every session's options after the library has set them; receives the component
    /// name (<c>text_encoder</c>, <c>unet</c>, <c>vae_decoder</c>, <c>vae_encoder</c>) and the options.</summary>
    public Action<string, SessionOptions>? ConfigureSessionOptions { get; init; }
}
