using System.Globalization;

namespace Spright.Diffusion.OnnxRuntime.Building;

/// <summary>
/// The layers shared by the component builders (Linear, Conv2d, GroupNorm, LayerNorm, activations, attention) on top of
/// <see cref="OnnxGraph"/>: every weight is checked for presence and shape against what the config implies (one-line
/// <see cref="ModelLoadException"/> naming the weight file and the tensor), and the operator form follows the
/// <see cref="GraphOptimizations"/> in effect.
/// </summary>
internal sealed class NetBuilder
{
    /// <summary>The com.microsoft contrib operator domain.</summary>
    public const string Contrib = "com.microsoft";

    private readonly HashSet<string> _used = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _shapes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _weights = new(StringComparer.Ordinal);

    /// <summary>Creates a builder writing into <paramref name="graph"/>.</summary>
    public NetBuilder(OnnxGraph graph, WeightFiles weights, WeightStore store, OnnxElementType type, GraphOptimizations optimizations)
    {
        G = graph;
        Weights = weights;
        Store = store;
        T = type;
        Optimizations = optimizations;
        if ((optimizations & (GraphOptimizations.FusedAttention | GraphOptimizations.SkipLayerNorm | GraphOptimizations.ContribActivations | GraphOptimizations.CudaFusions)) != 0)
        {
            graph.UseDomain(Contrib, 1);
        }
    }

    /// <summary>The graph.</summary>
    public OnnxGraph G { get; }

    /// <summary>The weights.</summary>
    public WeightFiles Weights { get; }

    /// <summary>How weights become initializers.</summary>
    public WeightStore Store { get; }

    /// <summary>The compute element type (float32 or float16).</summary>
    public OnnxElementType T { get; set; }

    /// <summary>The operator choices.</summary>
    public GraphOptimizations Optimizations { get; }

    /// <summary>Whether <paramref name="flag"/> is on.</summary>
    public bool Uses(GraphOptimizations flag) => (Optimizations & flag) == flag;

    /// <summary>Whether 4-D activations are NHWC inside the graph.</summary>
    public bool ChannelsLast => Uses(GraphOptimizations.ChannelsLast);

    /// <summary>Whether CUDA's fused operators are used (for real, or emulated with CPU operators).</summary>
    public bool CudaOps => Uses(GraphOptimizations.CudaFusions);

    /// <summary>Whether CUDA-only operators are replaced by CPU equivalents (tests).</summary>
    public bool Emulated => Uses(GraphOptimizations.EmulateCudaOperators);

    /// <summary>The channel axis of 4-D activations.</summary>
    public int ChannelAxis => ChannelsLast ? 3 : 1;

    /// <summary>The path named in errors about the weights (the single file or the shard index).</summary>
    public string WeightsPath => Weights.Files.Count == 1 ? Weights.Files[0].Path : Path.Combine(Weights.Folder, Weights.Description);

    // ---------------------------------------------------------------- weights

    /// <summary>Whether the weights have <paramref name="name"/>.</summary>
    public bool Has(string name) => Weights.Find(name) is not null;

    /// <summary>The tensor <paramref name="name"/>, checked to have <paramref name="shape"/>.</summary>
    public WeightRef Require(string name, params long[] shape)
    {
        WeightRef weight = Weights.Find(name) ?? throw new ModelLoadException(WeightsPath,
            $"tensor '{name}' is missing (the config implies one of shape {Safetensors.SafetensorsTensor.FormatShape(shape)})");
        if (!weight.Tensor.Shape.SequenceEqual(shape))
        {
            throw new ModelLoadException(weight.File.Path,
                $"tensor '{name}' has shape {weight.Tensor.ShapeText}; the config implies {Safetensors.SafetensorsTensor.FormatShape(shape)}");
        }
        _ = WeightStore.StorageType(weight);
        _used.Add(name);
        return weight;
    }

    /// <summary>Tensors of the weights no layer used (after the build), except those <paramref name="ignore"/> accepts.</summary>
    public void RejectUnused(Func<string, bool> ignore)
    {
        string? unused = Weights.Names.Where(n => !_used.Contains(n) && !ignore(n)).Order(StringComparer.Ordinal).FirstOrDefault();
        if (unused is not null)
        {
            int count = Weights.Names.Count(n => !_used.Contains(n) && !ignore(n));
            WeightRef w = Weights.Find(unused)!;
            throw new ModelLoadException(w.File.Path,
                $"tensor '{unused}' {w.Tensor.ShapeText} is not used by the architecture config.json describes{(count > 1 ? $" ({count - 1} more unused)" : "")}; the config and the weights disagree");
        }
    }

    /// <summary>A weight as an initializer of type <paramref name="type"/> (default: the compute type) viewed with
    /// <paramref name="dims"/> (same element count as <paramref name="shape"/>), optionally transposed (2-D) or permuted.</summary>
    public string Weight(string name, long[] shape, long[]? dims = null, OnnxElementType? type = null, bool transpose = false, int[]? perm = null)
    {
        OnnxElementType target = type ?? T;
        dims ??= shape;
        perm ??= transpose ? [1, 0] : null;
        string key = $"{name}|{string.Join(",", dims)}|{(int)target}|{(perm is null ? "" : string.Join(",", perm))}";
        if (_weights.TryGetValue(key, out string? value))
        {
            return value;
        }
        WeightRef w = Require(name, shape);
        value = Store.Add(G, name, [w], [dims], 0, null, perm, target);
        _weights[key] = value;
        return value;
    }

    /// <summary>Several weights concatenated along <paramref name="axis"/> (each with its shape), optionally transposed.</summary>
    public string Concatenated(IReadOnlyList<(string Name, long[] Shape)> parts, int axis, bool transpose, OnnxElementType? type = null)
    {
        var refs = parts.Select(p => Require(p.Name, p.Shape)).ToArray();
        return Store.Add(G, parts[0].Name, refs, parts.Select(p => p.Shape).ToArray(), axis, null, transpose ? [1, 0] : null, type ?? T);
    }

    /// <summary>Linear weights <c>[heads·dh, in]</c> interleaved per head (<c>[heads, n, dh, in]</c>, as ONNX Runtime's
    /// packed QKV / KV attention formats <c>(B, S, heads, n, dh)</c> need), transposed for MatMul: <c>[in, n·heads·dh]</c>.</summary>
    public string InterleavedPerHead(IReadOnlyList<string> names, int heads, long headDim, long inFeatures)
    {
        var refs = names.Select(n => Require(n, [heads * headDim, inFeatures])).ToArray();
        long[] partView = [heads, 1, headDim, inFeatures];
        return Store.Add(G, names[0], refs, refs.Select(_ => partView).ToArray(), 1, [names.Count * heads * headDim, inFeatures], [1, 0], T);
    }

    // ---------------------------------------------------------------- layers

    /// <summary><c>x·Wᵀ (+ b)</c> for a torch Linear <c>{prefix}.weight [out, in]</c>.</summary>
    public string Linear(string x, string prefix, long inFeatures, long outFeatures, bool bias = true)
    {
        string y = G.Node("MatMul", [x, Weight(prefix + ".weight", [outFeatures, inFeatures], transpose: true)]);
        return bias ? G.Node("Add", [y, Weight(prefix + ".bias", [outFeatures])]) : y;
    }

    /// <summary>The bias <c>{prefix}.bias</c> of a Linear.</summary>
    public string Bias(string prefix, long outFeatures, OnnxElementType? type = null) => Weight(prefix + ".bias", [outFeatures], type: type);

    /// <summary>A torch Conv2d <c>{prefix}.weight [out, in, k, k]</c> (+ bias).</summary>
    public string Conv(string x, string prefix, long inChannels, long outChannels, int kernel, int stride = 1, long[]? pads = null, bool bias = true)
    {
        long p = (kernel - 1) / 2;
        OnnxAttribute[] attributes = ConvAttributes(kernel, kernel, stride, pads ?? [p, p, p, p]);
        long[] shape = [outChannels, inChannels, kernel, kernel];
        string? b = bias ? Weight(prefix + ".bias", [outChannels]) : null;
        if (ChannelsLast && CudaOps && !Emulated)
        {
            // com.microsoft NhwcConv: NHWC activations, OHWI weights (ORT's fusion_nhwc_conv permutes them the same way).
            string wNhwc = Weight(prefix + ".weight", shape, perm: [0, 2, 3, 1]);
            return G.NodeIn(Contrib, "NhwcConv", b is null ? [x, wNhwc] : [x, wNhwc, b], attributes);
        }
        string w = Weight(prefix + ".weight", shape);
        if (ChannelsLast)
        {
            string nchw = ToNchw(x);
            return ToNhwc(G.Node("Conv", b is null ? [nchw, w] : [nchw, w, b], attributes));
        }
        return G.Node("Conv", b is null ? [x, w] : [x, w, b], attributes);
    }

    /// <summary>The attributes of a 2-D convolution (no dilation, one group); <paramref name="pads"/> are
    /// <c>[top, left, bottom, right]</c>.</summary>
    private static OnnxAttribute[] ConvAttributes(long kernelHeight, long kernelWidth, long stride, long[] pads) =>
    [
        OnnxAttribute.Ints("kernel_shape", kernelHeight, kernelWidth),
        OnnxAttribute.Ints("strides", stride, stride),
        OnnxAttribute.Ints("pads", pads),
        OnnxAttribute.Ints("dilations", 1, 1),
        OnnxAttribute.Int("group", 1),
    ];

    /// <summary>An NCHW Conv of <paramref name="x"/> with the weight value <paramref name="w"/> (+ <paramref name="bias"/>).</summary>
    private string SpatialConv(string x, string w, string? bias, long kernelHeight, long kernelWidth, long[] pads) =>
        G.Node("Conv", bias is null ? [x, w] : [x, w, bias], ConvAttributes(kernelHeight, kernelWidth, 1, pads));

    /// <summary>NHWC → NCHW.</summary>
    public string ToNchw(string x) => G.Node("Transpose", [x], OnnxAttribute.Ints("perm", 0, 3, 1, 2));

    /// <summary>NCHW → NHWC.</summary>
    public string ToNhwc(string x) => G.Node("Transpose", [x], OnnxAttribute.Ints("perm", 0, 2, 3, 1));

    /// <summary>A graph input (NCHW) in the internal layout.</summary>
    public string FromGraphLayout(string x) => ChannelsLast ? ToNhwc(x) : x;

    /// <summary>An internal 4-D value as a graph output (NCHW).</summary>
    public string ToGraphLayout(string x) => ChannelsLast ? ToNchw(x) : x;

    /// <summary>A 4-D activation as tokens <c>[B, H·W, C]</c>.</summary>
    public string ToTokens(string x, long channels) => ChannelsLast
        ? G.Node("Reshape", [x, G.Int64s(0, -1, channels)])
        : G.Node("Transpose", [G.Node("Reshape", [x, G.Int64s(0, channels, -1)])], OnnxAttribute.Ints("perm", 0, 2, 1));

    /// <summary>Tokens <c>[B, H·W, C]</c> back to a 4-D activation of <paramref name="spatial"/>.</summary>
    public string FromTokens(string tokens, long channels, string spatial) => ChannelsLast
        ? G.Node("Reshape", [tokens, Shape4(spatial, channels)])
        : G.Node("Reshape", [G.Node("Transpose", [tokens], OnnxAttribute.Ints("perm", 0, 2, 1)), Shape4(spatial, channels)]);

    /// <summary>A per-sample channel vector <c>[B, C]</c> shaped to broadcast over a 4-D activation.</summary>
    public string ChannelVector(string x) => G.Node("Unsqueeze", [x, ChannelsLast ? G.Int64s(1, 2) : G.Int64s(2, 3)]);

    /// <summary>Nearest-neighbour resize of a 4-D activation to the spatial size <paramref name="spatial"/> (torch's floor rule).</summary>
    public string ResizeTo(string x, string spatial)
    {
        string sizes = ChannelsLast
            ? G.Node("Concat", [G.Node("Shape", [x], OnnxAttribute.Int("start", 0), OnnxAttribute.Int("end", 1)), spatial,
                G.Node("Shape", [x], OnnxAttribute.Int("start", 3), OnnxAttribute.Int("end", 4))], OnnxAttribute.Int("axis", 0))
            : G.Node("Concat", [G.Node("Shape", [x], OnnxAttribute.Int("start", 0), OnnxAttribute.Int("end", 2)), spatial], OnnxAttribute.Int("axis", 0));
        return G.Node("Resize", [x, "", "", sizes], NearestFloor);
    }

    /// <summary>Nearest-neighbour ×2 upsampling of a 4-D activation.</summary>
    public string Upsample2x(string x) => UpsampleBy(x, ChannelsLast ? [1f, 2f, 2f, 1f] : [1f, 1f, 2f, 2f]);

    // Nearest-neighbour resize with torch's index rule (floor of the asymmetric source coordinate).
    private static readonly OnnxAttribute[] NearestFloor =
    [
        OnnxAttribute.String("mode", "nearest"),
        OnnxAttribute.String("coordinate_transformation_mode", "asymmetric"),
        OnnxAttribute.String("nearest_mode", "floor"),
    ];

    private string UpsampleBy(string x, float[] scales) => G.Node("Resize", [x, "", G.Floats(scales, OnnxElementType.Float, 4)], NearestFloor);

    /// <summary>The narrowest upsampler (channels) <see cref="GraphOptimizations.SubPixelUpsampling"/> applies to.</summary>
    public const long SubPixelMinChannels = 128;

    /// <summary>An upsampler: nearest ×2, then the 3×3 Conv2d <c>{prefix}.weight [channels, channels, 3, 3]</c> (+ bias), the
    /// result cropped to <paramref name="cropTo"/> (<c>[H, W]</c>, each <c>2·in</c> or <c>2·in − 1</c>, as a stride-2
    /// downsampler's input was) when given (the UNet's upsamplers). With <see cref="GraphOptimizations.SubPixelUpsampling"/>
    /// (NCHW; cropped ones only with <see cref="GraphOptimizations.SubPixelUpsamplingInUNet"/>) it is computed on the
    /// low-resolution input, see <see cref="SubPixelUpsampleConv"/> and <see cref="CropSubPixel"/>.</summary>
    public string UpsampleConv(string x, string prefix, long channels, string? cropTo)
    {
        bool subPixel = Uses(GraphOptimizations.SubPixelUpsampling) && !ChannelsLast
            && (cropTo is null || Uses(GraphOptimizations.SubPixelUpsamplingInUNet))
            && (channels >= SubPixelMinChannels || Uses(GraphOptimizations.SubPixelAtAnyWidth));
        if (!subPixel)
        {
            return Conv(cropTo is null ? Upsample2x(x) : ResizeTo(x, cropTo), prefix, channels, channels, 3);
        }
        string y = SubPixelUpsampleConv(x, prefix, channels);
        return cropTo is null ? y : CropSubPixel(x, y, prefix, channels, cropTo);
    }

    /// <summary>
    /// Crops the sub-pixel result <paramref name="y"/> (<c>2H × 2W</c>) of <paramref name="x"/> (<c>H × W</c>) to
    /// <paramref name="cropTo"/>. Where a side is odd (<c>2H − 1</c>), the convolution of the cropped image sees zero
    /// padding where <paramref name="y"/> saw the repeated last row (column), so that row's (column's) contribution
    /// through the kernel's last tap row (column) is subtracted from the last kept output row (column): a 1×3 (3×1)
    /// convolution of the upsampled last input row (column), times 0 or 1 computed from the shapes, so one graph serves
    /// even and odd sizes. The column term reads the upsampled column already cropped to the kept rows, so the corner
    /// tap is subtracted once.
    /// </summary>
    private string CropSubPixel(string x, string y, string prefix, long channels, string cropTo)
    {
        string cropped = G.Node("Slice", [y, G.Int64s(0, 0), cropTo, G.Int64s(2, 3)]);
        string odd = G.Node("Cast", [G.Node("Sub", [G.Node("Mul", [Spatial(x), G.Int64s(2)]), cropTo])], OnnxAttribute.Int("to", (int)T));
        string w = Weight(prefix + ".weight", [channels, channels, 3, 3]);
        string keptRows = G.Node("Slice", [cropTo, G.Int64s(0), G.Int64s(1)]);
        string keptCols = G.Node("Slice", [cropTo, G.Int64s(1), G.Int64s(2)]);
        string one = G.Int64s(1);

        // Last kept row: the last input row, upsampled along the width, through the kernel's third row.
        string lastRow = G.Node("Slice", [x, G.Int64s(-1), G.Int64s(long.MaxValue), G.Int64s(2)]);
        string rowTerm = SpatialConv(UpsampleBy(lastRow, [1f, 1f, 1f, 2f]), G.Node("Slice", [w, G.Int64s(2), G.Int64s(3), G.Int64s(2)]), null, 1, 3, [0, 1, 0, 1]);
        rowTerm = G.Node("Mul", [G.Node("Slice", [rowTerm, G.Int64s(0), keptCols, G.Int64s(3)]), G.Node("Slice", [odd, G.Int64s(0), one])]);
        string rowPads = G.Node("Concat", [G.Int64s(0, 0), G.Node("Sub", [keptRows, one]), G.Int64s(0, 0, 0, 0, 0)], OnnxAttribute.Int("axis", 0));

        // Last kept column: the last input column, upsampled along the height and cropped to the kept rows, through the
        // kernel's third column.
        string lastCol = G.Node("Slice", [x, G.Int64s(-1), G.Int64s(long.MaxValue), G.Int64s(3)]);
        string colInput = G.Node("Slice", [UpsampleBy(lastCol, [1f, 1f, 2f, 1f]), G.Int64s(0), keptRows, G.Int64s(2)]);
        string colTerm = SpatialConv(colInput, G.Node("Slice", [w, G.Int64s(2), G.Int64s(3), G.Int64s(3)]), null, 3, 1, [1, 0, 1, 0]);
        colTerm = G.Node("Mul", [colTerm, G.Node("Slice", [odd, one, G.Int64s(2)])]);
        string colPads = G.Node("Concat", [G.Int64s(0, 0, 0), G.Node("Sub", [keptCols, one]), G.Int64s(0, 0, 0, 0)], OnnxAttribute.Int("axis", 0));

        return G.Node("Sub", [G.Node("Sub", [cropped, G.Node("Pad", [rowTerm, rowPads])]), G.Node("Pad", [colTerm, colPads])]);
    }

    /// <summary>
    /// <c>conv3x3(upsample2x(x))</c> as four 2×2 convolutions of <c>x</c>, one per output phase <c>(py, px)</c>, then
    /// <c>DepthToSpace</c> (DCR). Output row <c>2i + py</c> reads upsampled rows <c>2i + py - 1 … 2i + py + 1</c>, i.e. input
    /// rows <c>i - 1, i</c> (py = 0: kernel rows <c>w0</c>, <c>w1 + w2</c>) or <c>i, i + 1</c> (py = 1: <c>w0 + w1</c>,
    /// <c>w2</c>); columns alike. Each phase kernel tap is the float32 sum of the 3×3 taps it stands for. The same
    /// arithmetic in 16 instead of 36 multiply-adds per output pixel and channel pair.
    /// </summary>
    private string SubPixelUpsampleConv(string x, string prefix, long channels)
    {
        // The phase kernels are computed here and written inline into the graph (16/9 of the 3×3 weight's size): folding
        // them from the in-place weight at session creation cost seconds per full-size UNet.
        float[] w = WeightStore.ReadFloats(Require(prefix + ".weight", [channels, channels, 3, 3]));
        string b = Weight(prefix + ".bias", [channels]);
        int[][][] taps = [[[0], [1, 2]], [[0, 1], [2]]];
        long pairs = channels * channels;
        var phases = new string[4];
        for (int py = 0; py < 2; py++)
        {
            for (int px = 0; px < 2; px++)
            {
                var kernel = new float[pairs * 4];
                for (long pair = 0; pair < pairs; pair++)
                {
                    for (int a = 0; a < 2; a++)
                    {
                        for (int c = 0; c < 2; c++)
                        {
                            float sum = 0;
                            foreach (int dy in taps[py][a])
                            {
                                foreach (int dx in taps[px][c])
                                {
                                    sum += w[(pair * 9) + (dy * 3) + dx];
                                }
                            }
                            kernel[(pair * 4) + (a * 2) + c] = sum;
                        }
                    }
                }
                phases[2 * py + px] = SpatialConv(x, G.Floats(kernel, T, channels, channels, 2, 2), b, 2, 2, [1 - py, 1 - px, py, px]);
            }
        }
        return G.Node("DepthToSpace", [G.Node("Concat", phases, OnnxAttribute.Int("axis", 1))],
            OnnxAttribute.Int("blocksize", 2), OnnxAttribute.String("mode", "DCR"));
    }

    /// <summary><c>x + bias + skip</c> on tokens (com.microsoft BiasAdd with the CUDA operators).</summary>
    public string BiasAdd(string x, string bias, string skip) => CudaOps && !Emulated
        ? G.NodeIn(Contrib, "BiasAdd", [x, bias, skip])
        : G.Node("Add", [G.Node("Add", [x, bias]), skip]);

    /// <summary>GEGLU after a projection without its bias: <c>a · gelu(g)</c> for <c>a, g = split(x + bias)</c>
    /// (com.microsoft BiasSplitGelu with the CUDA operators).</summary>
    public string BiasSplitGelu(string x, string bias, long half)
    {
        if (CudaOps && !Emulated)
        {
            return G.NodeIn(Contrib, "BiasSplitGelu", [x, bias]);
        }
        string[] parts = G.NodeIn("", "Split", [G.Node("Add", [x, bias]), G.Int64s(half, half)], 2, OnnxAttribute.Int("axis", -1));
        return G.Node("Mul", [parts[0], Activation(parts[1], "gelu")]);
    }

    /// <summary>A 1×1 Conv2d <c>[out, in, 1, 1]</c> applied as a Linear over the last axis of a token tensor.</summary>
    public string PointwiseAsLinear(string x, string prefix, long inFeatures, long outFeatures, bool bias = true)
    {
        string y = G.Node("MatMul", [x, Weight(prefix + ".weight", [outFeatures, inFeatures, 1, 1], [outFeatures, inFeatures], transpose: true)]);
        return bias ? G.Node("Add", [y, Weight(prefix + ".bias", [outFeatures])]) : y;
    }

    /// <summary>The <c>[H, W]</c> of a 4-D activation.</summary>
    public string Spatial(string x4) => ChannelsLast
        ? G.Node("Shape", [x4], OnnxAttribute.Int("start", 1), OnnxAttribute.Int("end", 3))
        : G.Node("Shape", [x4], OnnxAttribute.Int("start", 2), OnnxAttribute.Int("end", 4));

    /// <summary>The 4-D shape <c>[0, channels, H, W]</c> (NHWC: <c>[0, H, W, channels]</c>; 0 = keep the batch) for a
    /// Reshape back to 4-D, cached per spatial value.</summary>
    public string Shape4(string spatial, long channels)
    {
        string key = spatial + "|" + channels.ToString(CultureInfo.InvariantCulture);
        if (!_shapes.TryGetValue(key, out string? shape))
        {
            shape = ChannelsLast
                ? G.Node("Concat", [G.Int64s(0), spatial, G.Int64s(channels)], OnnxAttribute.Int("axis", 0))
                : G.Node("Concat", [G.Int64s(0, channels), spatial], OnnxAttribute.Int("axis", 0));
            _shapes[key] = shape;
        }
        return shape;
    }

    /// <summary>torch GroupNorm (affine) over a 4-D activation, followed by <paramref name="activation"/> when given.
    /// CPU form: InstanceNormalization on <c>[N, groups, -1]</c> (what ONNX Runtime's fusions recognise), then per-channel
    /// γ, β; in a float16 graph the statistics and the affine step run in float32 (as torch's kernels accumulate). With the
    /// CUDA operators: com.microsoft GroupNorm (NHWC, float32 γ/β, SiLU fused).</summary>
    public string GroupNorm(string x, string prefix, int groups, long channels, double eps, string spatial, string? activation = null)
    {
        if (CudaOps && ChannelsLast && !Emulated && activation is null or "silu" or "swish")
        {
            string g32 = Weight(prefix + ".weight", [channels], type: OnnxElementType.Float);
            string b32 = Weight(prefix + ".bias", [channels], type: OnnxElementType.Float);
            return G.NodeIn(Contrib, "GroupNorm", [x, g32, b32],
                OnnxAttribute.Float("epsilon", (float)eps),
                OnnxAttribute.Int("groups", groups),
                OnnxAttribute.Int("activation", activation is null ? 0 : 1),
                OnnxAttribute.Int("channels_last", 1));
        }
        string y = ChannelsLast
            ? ToNhwc(GroupNormNchw(ToNchw(x), prefix, groups, channels, eps, null))
            : GroupNormNchw(x, prefix, groups, channels, eps, spatial);
        return activation is null ? y : Activation(y, activation);
    }

    private string GroupNormNchw(string x, string prefix, int groups, long channels, double eps, string? spatial)
    {
        bool upcast = T == OnnxElementType.Float16;
        OnnxElementType stats = upcast ? OnnxElementType.Float : T;
        string gamma = Weight(prefix + ".weight", [channels], [channels, 1, 1], stats);
        string beta = Weight(prefix + ".bias", [channels], [channels, 1, 1], stats);
        string grouped = G.Node("Reshape", [x, G.Int64s(0, groups, -1)]);
        if (upcast)
        {
            grouped = Cast(grouped, OnnxElementType.Float);
        }
        string normed = G.Node("InstanceNormalization", [grouped, G.Scalar(1f, stats, groups), G.Scalar(0f, stats, groups)],
            OnnxAttribute.Float("epsilon", (float)eps));
        // Back to [N, C, H, W]: the spatial size of the level, or (in the NHWC emulation) the input's own shape.
        string shape = spatial is null ? G.Node("Shape", [x]) : Shape4(spatial, channels);
        string back = G.Node("Reshape", [normed, shape]);
        string y = G.Node("Add", [G.Node("Mul", [back, gamma]), beta]);
        return stats == T ? y : Cast(y, T);
    }

    /// <summary>LayerNorm over the last axis (<c>{prefix}.weight/.bias [channels]</c>).</summary>
    public string LayerNorm(string x, string prefix, long channels, double eps) =>
        G.Node("LayerNormalization", [x, Weight(prefix + ".weight", [channels]), Weight(prefix + ".bias", [channels])],
            OnnxAttribute.Int("axis", -1), OnnxAttribute.Float("epsilon", (float)eps));

    /// <summary>
    /// <c>residual + x</c> followed by a LayerNorm of the sum: returns (sum, normed). With
    /// <see cref="GraphOptimizations.SkipLayerNorm"/> one com.microsoft SkipLayerNormalization node does both (and adds
    /// <paramref name="bias"/>, the preceding Linear's bias, when given).
    /// </summary>
    public (string Sum, string Normed) AddAndLayerNorm(string residual, string x, string? bias, string prefix, long channels, double eps)
    {
        if (Uses(GraphOptimizations.SkipLayerNorm))
        {
            var inputs = new List<string> { x, residual, Weight(prefix + ".weight", [channels]), Weight(prefix + ".bias", [channels]) };
            if (bias is not null)
            {
                inputs.Add(bias);
            }
            string[] outs = G.NodeIn(Contrib, "SkipLayerNormalization", inputs, 4, OnnxAttribute.Float("epsilon", (float)eps));
            return (outs[3], outs[0]);
        }
        string biased = bias is null ? x : G.Node("Add", [x, bias]);
        string sum = G.Node("Add", [residual, biased]);
        return (sum, LayerNorm(sum, prefix, channels, eps));
    }

    /// <summary>A Cast node.</summary>
    public string Cast(string x, OnnxElementType to) => G.Node("Cast", [x], OnnxAttribute.Int("to", (int)to));

    /// <summary>The activation called <paramref name="name"/> in diffusers / transformers (silu/swish, gelu, quick_gelu,
    /// gelu_new / gelu_pytorch_tanh, relu, mish).</summary>
    public string Activation(string x, string name, OnnxElementType? type = null)
    {
        OnnxElementType t = type ?? T;
        // ONNX Runtime's CPU kernels of Gelu / QuickGelu are float32 only; its CUDA kernels also take float16.
        bool contrib = Uses(GraphOptimizations.ContribActivations) && (t == OnnxElementType.Float || (CudaOps && !Emulated));
        switch (name)
        {
            case "silu" or "swish":
                return contrib
                    ? G.NodeIn(Contrib, "QuickGelu", [x], OnnxAttribute.Float("alpha", 1f))
                    : G.Node("Mul", [x, G.Node("Sigmoid", [x])]);
            case "quick_gelu":
                return contrib
                    ? G.NodeIn(Contrib, "QuickGelu", [x], OnnxAttribute.Float("alpha", 1.702f))
                    : G.Node("Mul", [x, G.Node("Sigmoid", [G.Node("Mul", [x, G.Scalar(1.702f, t)])])]);
            case "gelu":
                if (contrib)
                {
                    return G.NodeIn(Contrib, "Gelu", [x]);
                }
                // 0.5·x·(1 + erf(x/√2))
                string erf = G.Node("Erf", [G.Node("Div", [x, G.Scalar(1.4142135f, t)])]);
                return G.Node("Mul", [G.Node("Mul", [x, G.Node("Add", [erf, G.Scalar(1f, t)])]), G.Scalar(0.5f, t)]);
            case "gelu_new" or "gelu_pytorch_tanh" or "gelu_fast":
                {
                    // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
                    string cube = G.Node("Mul", [G.Node("Mul", [x, x]), x]);
                    string inner = G.Node("Mul", [G.Node("Add", [x, G.Node("Mul", [cube, G.Scalar(0.044715f, t)])]), G.Scalar(0.7978846f, t)]);
                    string tanh = G.Node("Tanh", [inner]);
                    return G.Node("Mul", [G.Node("Mul", [x, G.Node("Add", [tanh, G.Scalar(1f, t)])]), G.Scalar(0.5f, t)]);
                }
            case "relu":
                return G.Node("Relu", [x]);
            case "mish":
                return G.Node("Mul", [x, G.Node("Tanh", [G.Node("Softplus", [x])])]);
            default:
                throw new InvalidOperationException($"Activation '{name}' was not validated.");
        }
    }

    /// <summary>Whether <see cref="Activation"/> implements <paramref name="name"/>.</summary>
    public static bool IsActivation(string name) =>
        name is "silu" or "swish" or "gelu" or "quick_gelu" or "gelu_new" or "gelu_pytorch_tanh" or "gelu_fast" or "relu" or "mish";

    /// <summary>
    /// Scaled dot-product attention of projected <paramref name="q"/> <c>[B, S, heads·dh]</c> against <paramref name="k"/>,
    /// <paramref name="v"/> <c>[B, L, heads·dh]</c>: heads split the last axis contiguously, <c>softmax(q·kᵀ·scale)·v</c>,
    /// heads merged. <paramref name="bias"/> (q, k, v biases concatenated) is added to the projections first.
    /// <paramref name="causal"/> masks keys after the query (CLIP). <paramref name="upcast"/> computes the scores and
    /// softmax in float32 in a float16 graph (diffusers' upcast_attention / upcast_softmax).
    /// For the fused form, <paramref name="keyPaddingMask"/> is an int32 <c>[B, L]</c> mask of the keys (0 = masked); the
    /// unfused form takes the padding inside <paramref name="causalMask"/>.
    /// </summary>
    public string Attention(string q, string k, string v, int heads, long headDim, bool causal, bool upcast, string? bias = null, string? causalMask = null,
        string? keyPaddingMask = null)
    {
        float scale = (float)(1.0 / Math.Sqrt(headDim));
        if (Uses(GraphOptimizations.FusedAttention))
        {
            var inputs = new List<string> { q, k, v };
            if (bias is not null || keyPaddingMask is not null)
            {
                inputs.Add(bias ?? "");
            }
            if (keyPaddingMask is not null)
            {
                inputs.Add(keyPaddingMask);
            }
            var attributes = new List<OnnxAttribute> { OnnxAttribute.Int("num_heads", heads), OnnxAttribute.Float("scale", scale) };
            if (causal)
            {
                attributes.Add(OnnxAttribute.Int("unidirectional", 1));
            }
            return G.NodeIn(Contrib, "MultiHeadAttention", inputs, [.. attributes]);
        }
        if (bias is not null)
        {
            throw new InvalidOperationException("Attention biases are only fused by MultiHeadAttention.");
        }
        OnnxElementType scoreType = upcast ? OnnxElementType.Float : T;
        string qh = G.Node("Transpose", [G.Node("Reshape", [q, G.Int64s(0, 0, heads, headDim)])], OnnxAttribute.Ints("perm", 0, 2, 1, 3));
        string kh = G.Node("Transpose", [G.Node("Reshape", [k, G.Int64s(0, 0, heads, headDim)])], OnnxAttribute.Ints("perm", 0, 2, 3, 1));
        string vh = G.Node("Transpose", [G.Node("Reshape", [v, G.Int64s(0, 0, heads, headDim)])], OnnxAttribute.Ints("perm", 0, 2, 1, 3));
        if (scoreType != T)
        {
            qh = Cast(qh, scoreType);
            kh = Cast(kh, scoreType);
        }
        string scores = G.Node("Mul", [G.Node("MatMul", [qh, kh]), G.Scalar(scale, scoreType)]);
        if (causal)
        {
            scores = G.Node("Add", [scores, causalMask ?? throw new InvalidOperationException("A causal attention needs its mask.")]);
        }
        string probs = G.Node("Softmax", [scores], OnnxAttribute.Int("axis", -1));
        if (scoreType != T)
        {
            probs = Cast(probs, T);
        }
        string merged = G.Node("Transpose", [G.Node("MatMul", [probs, vh])], OnnxAttribute.Ints("perm", 0, 2, 1, 3));
        return G.Node("Reshape", [merged, G.Int64s(0, 0, heads * headDim)]);
    }
}
