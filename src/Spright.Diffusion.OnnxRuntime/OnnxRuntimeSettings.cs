using Microsoft.ML.OnnxRuntime;

namespace Spright.Diffusion.OnnxRuntime;

/// <summary>
/// How the ONNX Runtime backend creates its sessions. The defaults suit real models (SPRIGHT's 3.5 GB UNet) on the CPU:
/// ONNX Runtime's own thread pool, all graph optimizations, the CPU arena handed back between stages, and the halves of
/// a guided batch evaluated one after the other from 768² up, where that halves the attention memory.
/// </summary>
public sealed record OnnxRuntimeSettings
{
    /// <summary>The execution provider (default <see cref="ExecutionProvider.Cpu"/>).</summary>
    public ExecutionProvider ExecutionProvider { get; init; } = ExecutionProvider.Cpu;

    /// <summary>The GPU index for CUDA / DirectML (default 0).</summary>
    public int DeviceId { get; init; }

    /// <summary>Graph optimization level (default <see cref="GraphOptimizationLevel.ORT_ENABLE_ALL"/>: the fastest step;
    /// combine with <see cref="OptimizedModelCacheDirectory"/> to avoid paying the optimization at every load).</summary>
    public GraphOptimizationLevel GraphOptimizationLevel { get; init; } = GraphOptimizationLevel.ORT_ENABLE_ALL;

    /// <summary>Threads inside one operator; 0 (the default) lets ONNX Runtime choose (one per physical core).</summary>
    public int IntraOpNumThreads { get; init; }

    /// <summary>Threads across operators; 0 lets ONNX Runtime choose.</summary>
    public int InterOpNumThreads { get; init; }

    /// <summary>ONNX Runtime's memory-pattern planner (default off: at 768² it pre-plans more memory than a 24 GB machine
    /// has, and costs no measurable speed when off).</summary>
    public bool EnableMemoryPattern { get; init; }

    /// <summary>ONNX Runtime's CPU memory arena (default on). The arena keeps a session's working memory between runs; the
    /// backend hands it back at the end of each stage (after the text encoder, the last UNet step and each VAE run), so
    /// stages do not add their peaks up.</summary>
    public bool EnableCpuMemArena { get; init; } = true;

    /// <summary>UNet batches whose latent has at least this many pixels (latent height × width) are evaluated one batch item
    /// at a time (the negative and positive halves of a guided batch in turn) through bindings over the same buffers: the
    /// same numbers, half the attention memory. Default 9216 (96 × 96 latents = 768² images); 0 = never split.</summary>
    public int SplitUNetBatchFromLatentPixels { get; init; } = 96 * 96;

    /// <summary>Tuning that only pays for tiny graphs (under 64 MiB with their weights, such as the test models), off by
    /// default: one intra-op thread for the text encoder and UNet with the batch halves evaluated side by side on the
    /// cores, the memory pattern, no spinning for the VAE, no arena release between stages, and sessions specialised per
    /// input shape (ONNX Runtime folds the shape arithmetic away). Large graphs are unaffected.</summary>
    public bool SmallGraphTuning { get; init; }

    /// <summary>A folder where optimized graphs are cached (keyed by graph, ONNX Runtime version, provider, settings and
    /// CPU), or <see langword="null"/> for no cache.</summary>
    public string? OptimizedModelCacheDirectory { get; init; }

    /// <summary>Where graphs built from diffusers folders (config.json + safetensors) are cached; null (the default) uses
    /// the <c>SPRIGHT_GRAPH_CACHE</c> environment variable, else <c>spright/graphs</c> under the user's cache folder
    /// (<c>$XDG_CACHE_HOME</c>, <c>~/.cache</c>, or LocalApplicationData on Windows).</summary>
    public string? GraphCacheDirectory { get; init; }

    /// <summary>Whether graphs built for the CUDA provider use ONNX Runtime's CUDA-only fused operators (GroupNorm, NhwcConv,
    /// BiasSplitGelu, BiasAdd, packed-QKV MultiHeadAttention over a channels-last layout), as its Stable Diffusion
    /// optimizer emits them (default true). Not yet run on a GPU by this project (numerics checked on a CPU emulation);
    /// false builds the CPU operator set, whose contrib operators the CUDA provider also runs.</summary>
    public bool CudaFusedOperators { get; init; } = true;

    /// <summary>A hook to customise every session's options after the backend has set them; receives the component name
    /// (<c>text_encoder</c>, <c>unet</c>, <c>vae_decoder</c>, <c>vae_encoder</c>) and the options.</summary>
    public Action<string, SessionOptions>? ConfigureSessionOptions { get; init; }
}
