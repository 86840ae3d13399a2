namespace Spright.Diffusion.OnnxRuntime.Building;

/// <summary>The precision of a built graph (diffusers' <c>torch_dtype</c>).</summary>
internal enum GraphDtype
{
    /// <summary>float32 weights, activations and I/O.</summary>
    Float32,

    /// <summary>float16 weights, activations and I/O, with float32 islands where diffusers / torch keep them (timestep
    /// embedding, upcast attention, normalisation statistics; the VAE stays float32 when its config sets
    /// <c>force_upcast</c>).</summary>
    Float16,
}

/// <summary>The execution provider a graph is built for (it picks the operator set).</summary>
internal enum GraphTarget
{
    /// <summary>Standard ONNX operators plus the contrib operators ONNX Runtime's CPU provider implements.</summary>
    Cpu,

    /// <summary>The fused operators of ONNX Runtime's CUDA provider (GroupNorm, BiasSplitGelu, BiasAdd, packed
    /// MultiHeadAttention), as its Stable Diffusion optimizer emits them.</summary>
    Cuda,
}

/// <summary>Operator choices of the builders; each one keeps the graph numerically equivalent (component tolerance).</summary>
[Flags]
internal enum GraphOptimizations
{
    /// <summary>Standard ONNX operators only.</summary>
    None = 0,

    /// <summary>Attention as one com.microsoft <c>MultiHeadAttention</c> node.</summary>
    FusedAttention = 1,

    /// <summary>Residual add + LayerNorm as com.microsoft <c>SkipLayerNormalization</c>.</summary>
    SkipLayerNorm = 2,

    /// <summary>Exact GELU as com.microsoft <c>Gelu</c>, SiLU as com.microsoft <c>QuickGelu</c> (alpha 1).</summary>
    ContribActivations = 4,

    /// <summary>Self-attention Q/K/V projections as one MatMul (weights concatenated), cross-attention K/V as one.</summary>
    PackedProjections = 8,

    /// <summary>ONNX Runtime's CUDA-only fused operators, as its Stable Diffusion optimizer emits them: com.microsoft
    /// GroupNorm (with the SiLU fused), BiasSplitGelu, BiasAdd, NhwcConv (with <see cref="ChannelsLast"/>) and
    /// MultiHeadAttention on packed QKV / KV projections. These have no CPU kernels.</summary>
    CudaFusions = 16,

    /// <summary>The UNet and VAE run channels-last (NHWC) inside (the graph's inputs and outputs stay NCHW): what
    /// <see cref="CudaFusions"/>' GroupNorm and NhwcConv work in, and transformer blocks need no transposes.</summary>
    ChannelsLast = 32,

    /// <summary>For tests: every CUDA-only operator of <see cref="CudaFusions"/> is replaced by an equivalent of CPU
    /// operators, so the CUDA graph's layout, weight permutations and head interleaving run (and are checked) on a CPU.</summary>
    EmulateCudaOperators = 64,

    /// <summary>The VAE decoder's nearest ×2 upsampling + 3×3 convolution computed as four 2×2 convolutions on the
    /// low-resolution input (one per output phase, with the taps the repeated pixels share summed into the kernels)
    /// interleaved by <c>DepthToSpace</c>: the same sums in 16 instead of 36 multiply-adds per output pixel and channel
    /// pair, and no upsampled copy before the convolution. NCHW only; upsamplers narrower than
    /// <see cref="NetBuilder.SubPixelMinChannels"/> keep the plain form (their extra nodes would cost more than the
    /// multiply-adds save) unless <see cref="SubPixelAtAnyWidth"/> is set. The phase kernels are written into the graph
    /// (16/9 of the upsampler weights).</summary>
    SubPixelUpsampling = 128,

    /// <summary>For tests: <see cref="SubPixelUpsampling"/> on upsamplers of any width (the tiny models' are narrow).</summary>
    SubPixelAtAnyWidth = 256,

    /// <summary>With <see cref="SubPixelUpsampling"/>: the UNet's upsamplers too, whose output is cropped to the skip's
    /// size (odd sizes corrected exactly). Not a default: on the
    /// full-size UNet it saved ~5 % of a 512² step but added 3–4 s to session creation and ~0.7 GB to the load peak
    /// (226 MB of phase kernels pass through ONNX Runtime's initializer handling), see
    /// <c>docs/benchmarks/fullsize-2026-12-07.md</c> §9.</summary>
    SubPixelUpsamplingInUNet = 512,

    /// <summary>What the CPU target uses by default.</summary>
    CpuDefault = FusedAttention | SkipLayerNorm | ContribActivations | PackedProjections | SubPixelUpsampling,

    /// <summary>What the CUDA target uses by default.</summary>
    CudaDefault = FusedAttention | SkipLayerNorm | ContribActivations | PackedProjections | CudaFusions | ChannelsLast,
}

/// <summary>How <see cref="DiffusersGraphs.GetOrBuild"/> builds a component's graph.</summary>
internal sealed record GraphBuildOptions
{
    /// <summary>The environment variable that moves the graph cache (see <see cref="ResolveCacheDirectory"/>).</summary>
    public const string CacheEnvironmentVariable = "SPRIGHT_GRAPH_CACHE";

    /// <summary>The precision (default float32).</summary>
    public GraphDtype Dtype { get; init; } = GraphDtype.Float32;

    /// <summary>The weight variant: null for <c>{prefix}.safetensors</c>, e.g. <c>"fp16"</c> for
    /// <c>{prefix}.fp16.safetensors</c> (an error when that file is absent).</summary>
    public string? Variant { get; init; }

    /// <summary>The execution provider the graph is for.</summary>
    public GraphTarget Target { get; init; } = GraphTarget.Cpu;

    /// <summary>The operator choices; null = the target's default.</summary>
    public GraphOptimizations? Optimizations { get; init; }

    /// <summary>The graph cache folder; null = <see cref="CacheEnvironmentVariable"/>, else the user's cache folder.</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>Whether a built text encoder takes transformers' <c>attention_mask</c> (int64 [batch, sequence], 1 =
    /// attend) beside <c>input_ids</c>: the pipelines' graphs do (compel's down-weighting masks tokens; plain prompts pass
    /// ones), an optimum-layout export does not (optimum feeds input_ids only).</summary>
    public bool TextEncoderAttentionMask { get; init; }

    /// <summary>The operator choices in effect.</summary>
    public GraphOptimizations EffectiveOptimizations =>
        Optimizations ?? (Target == GraphTarget.Cuda ? GraphOptimizations.CudaDefault : GraphOptimizations.CpuDefault);

    /// <summary>
    /// The cache folder in effect: <see cref="CacheDirectory"/> when set; else the <c>SPRIGHT_GRAPH_CACHE</c> environment
    /// variable; else <c>%LOCALAPPDATA%\spright\graphs</c> on Windows, <c>$XDG_CACHE_HOME/spright/graphs</c> or
    /// <c>~/.cache/spright/graphs</c> elsewhere.
    /// </summary>
    public string ResolveCacheDirectory()
    {
        if (!string.IsNullOrWhiteSpace(CacheDirectory))
        {
            return Path.GetFullPath(CacheDirectory);
        }
        string? fromEnvironment = Environment.GetEnvironmentVariable(CacheEnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            return Path.GetFullPath(fromEnvironment);
        }
        if (OperatingSystem.IsWindows())
        {
            return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "spright", "graphs");
        }
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        string baseDir = !string.IsNullOrWhiteSpace(xdg) && Path.IsPathRooted(xdg)
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(baseDir, "spright", "graphs");
    }

    /// <summary>Checks the options (the variant must be a plain file-name part).</summary>
    /// <exception cref="ArgumentException">A value is out of range.</exception>
    public void Validate()
    {
        if (!Enum.IsDefined(Dtype))
        {
            throw new ArgumentOutOfRangeException(nameof(Dtype), Dtype, "Dtype must be Float32 or Float16.");
        }
        if (!Enum.IsDefined(Target))
        {
            throw new ArgumentOutOfRangeException(nameof(Target), Target, "Target must be Cpu or Cuda.");
        }
        if (Variant is not null && (Variant.Length == 0 || Variant.Length > 64 || !Variant.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-')))
        {
            throw new ArgumentException($"Variant '{Variant}' must be 1 to 64 letters, digits, '_' or '-' (e.g. \"fp16\"), or null.", nameof(Variant));
        }
    }
}
