using System.Globalization;

namespace Spright.Diffusion.OnnxRuntime.Building;

/// <summary>
/// Builds diffusers' UNet2DConditionModel (unets/unet_2d_condition.py, unets/unet_2d_blocks.py, resnet.py,
/// transformers/transformer_2d.py, attention.py) from its config: positional timestep embedding, down blocks
/// (CrossAttnDownBlock2D / DownBlock2D in any order), mid block, up blocks with the skip stack, and the output head.
/// Upsamplers resize to the spatial size of the skip they meet (diffusers' forward_upsample_size path, which equals the
/// ×2 path whenever the sides are multiples of 2^(levels−1)), so every latent size diffusers takes works.
/// I/O as optimum's unet export: <c>sample</c> [batch_size, in, height, width], <c>timestep</c> float32 rank-0,
/// <c>encoder_hidden_states</c> [batch_size, sequence_length, cross] → <c>out_sample</c>.
/// </summary>
internal static class UNetGraphBuilder
{
    private const double TransformerNormEps = 1e-6;
    private const double BlockLayerNormEps = 1e-5;

    /// <summary>Builds the graph into <paramref name="net"/>.</summary>
    public static void Build(NetBuilder net, UNetConfig config)
    {
        OnnxGraph g = net.G;
        int levels = config.Levels;
        int[] ch = config.BlockOutChannels;
        int groups = config.NormNumGroups;
        int cross = config.CrossAttentionDim[0];

        string sample = g.Input("sample", net.T, "batch_size", config.InChannels, "height", "width");
        string timestep = g.Input("timestep", OnnxElementType.Float);
        string ehs = g.Input("encoder_hidden_states", net.T, "batch_size", "sequence_length", cross);

        string emb;
        using (g.Scope("time_embedding"))
        {
            emb = TimeEmbedding(net, config, timestep);
        }
        // Every resnet applies the activation to the embedding before its projection: compute it once.
        string embAct = net.Activation(emb, config.ActFn);

        var ctx = new UNetContext(net, config, embAct, ehs);
        string h = config.CenterInputSample ? g.Node("Sub", [g.Node("Mul", [sample, g.Scalar(2f, net.T)]), g.Scalar(1f, net.T)]) : sample;
        h = net.Conv(net.FromGraphLayout(h), "conv_in", config.InChannels, ch[0], config.ConvInKernel);
        var spatial = new List<string> { net.Spatial(h) };
        var skips = new Stack<(string Value, int Channels, int Level)>();
        skips.Push((h, ch[0], 0));

        int channels = ch[0];
        for (int i = 0; i < levels; i++)
        {
            string prefix = $"down_blocks.{i}";
            using (g.Scope(prefix))
            {
                int outChannels = ch[i];
                for (int j = 0; j < config.LayersPerBlock[i]; j++)
                {
                    h = ctx.Resnet(h, $"{prefix}.resnets.{j}", channels, outChannels, spatial[i], 1.0);
                    channels = outChannels;
                    if (config.DownCrossAttention[i])
                    {
                        h = ctx.Transformer(h, $"{prefix}.attentions.{j}", channels, config.Heads[i], config.DownTransformerLayers[i][j], spatial[i]);
                    }
                    skips.Push((h, channels, i));
                }
                if (i < levels - 1)
                {
                    long p = config.DownsamplePadding;
                    long[] pads = p == 0 ? [0, 0, 1, 1] : [p, p, p, p];
                    h = net.Conv(h, $"{prefix}.downsamplers.0.conv", channels, channels, 3, stride: 2, pads: pads);
                    spatial.Add(net.Spatial(h));
                    skips.Push((h, channels, i + 1));
                }
            }
        }

        if (config.MidBlockType is not null)
        {
            using (g.Scope("mid_block"))
            {
                int c = ch[^1];
                if (channels != c)
                {
                    throw new ModelLoadException(config.Path, $"the mid block takes {c} channels but the down path ends with {channels}");
                }
                h = ctx.Resnet(h, "mid_block.resnets.0", c, c, spatial[^1], config.MidBlockScaleFactor);
                if (config.MidBlockType == "UNetMidBlock2DCrossAttn")
                {
                    h = ctx.Transformer(h, "mid_block.attentions.0", c, config.Heads[^1], config.MidTransformerLayers, spatial[^1]);
                    h = ctx.Resnet(h, "mid_block.resnets.1", c, c, spatial[^1], config.MidBlockScaleFactor);
                }
            }
        }

        int[] reversed = ch.Reverse().ToArray();
        int[] reversedHeads = config.Heads.Reverse().ToArray();
        int[] reversedLayers = config.LayersPerBlock.Reverse().ToArray();
        int level = levels - 1;
        int prevOutput = reversed[0];
        for (int i = 0; i < levels; i++)
        {
            string prefix = $"up_blocks.{i}";
            using (g.Scope(prefix))
            {
                int outChannels = reversed[i];
                int inChannels = reversed[Math.Min(i + 1, levels - 1)];
                int numLayers = reversedLayers[i] + 1;
                for (int j = 0; j < numLayers; j++)
                {
                    if (skips.Count == 0)
                    {
                        throw new ModelLoadException(config.Path, $"{prefix} needs more skip connections than the down blocks make (layers_per_block does not fit)");
                    }
                    (string skip, int skipChannels, int skipLevel) = skips.Pop();
                    // diffusers sizes the resnet from the config; the skip stack must supply exactly that.
                    int resSkip = j == numLayers - 1 ? inChannels : outChannels;
                    int resIn = j == 0 ? prevOutput : outChannels;
                    if (skipChannels != resSkip || channels != resIn || skipLevel != level)
                    {
                        throw new ModelLoadException(config.Path,
                            $"{prefix}.resnets.{j} is configured for {resIn}+{resSkip} input channels but the UNet's skip stack gives {channels}+{skipChannels}; block_out_channels / layers_per_block describe a UNet diffusers cannot run");
                    }
                    h = g.Node("Concat", [h, skip], OnnxAttribute.Int("axis", net.ChannelAxis));
                    h = ctx.Resnet(h, $"{prefix}.resnets.{j}", channels + skipChannels, outChannels, spatial[level], 1.0);
                    channels = outChannels;
                    if (config.UpCrossAttention[i])
                    {
                        h = ctx.Transformer(h, $"{prefix}.attentions.{j}", channels, reversedHeads[i], config.UpTransformerLayers[i][j], spatial[level]);
                    }
                }
                if (i < levels - 1)
                {
                    // Upsample to the spatial size of the skip the next block meets (nearest, torch's floor rule).
                    int target = skips.Count > 0 ? skips.Peek().Level : level - 1;
                    h = net.UpsampleConv(h, $"{prefix}.upsamplers.0.conv", channels, spatial[target]);
                    level = target;
                }
                prevOutput = outChannels;
            }
        }
        if (skips.Count != 0)
        {
            throw new ModelLoadException(config.Path, $"{skips.Count} skip connections are left unused (layers_per_block does not fit)");
        }

        using (g.Scope("conv_out"))
        {
            h = net.GroupNorm(h, "conv_norm_out", groups, ch[0], config.NormEps, spatial[0], config.ActFn);
            h = net.ToGraphLayout(net.Conv(h, "conv_out", ch[0], config.OutChannels, config.ConvOutKernel));
        }
        g.Output(h, "out_sample", net.T, "batch_size", config.OutChannels, "height", "width");
        net.RejectUnused(_ => false);
    }

    /// <summary>diffusers' get_timestep_embedding (float32) then TimestepEmbedding (linear_1, act, linear_2).</summary>
    private static string TimeEmbedding(NetBuilder net, UNetConfig config, string timestep)
    {
        OnnxGraph g = net.G;
        int dim = config.BlockOutChannels[0];
        int half = dim / 2;
        var frequencies = new float[half];
        float logMax = (float)-Math.Log(10000);
        float divisor = (float)(half - config.FreqShift);
        for (int i = 0; i < half; i++)
        {
            // torch: exp((float32(-ln 10000) · i) / (half − shift)) in float32.
            float exponent = logMax * i / divisor;
            frequencies[i] = (float)Math.Exp(exponent);
        }
        string t = g.Node("Reshape", [timestep, g.Int64s(1, 1)]);
        string angles = g.Node("Mul", [t, g.Floats(frequencies, OnnxElementType.Float, 1, half)]);
        string sin = g.Node("Sin", [angles]);
        string cos = g.Node("Cos", [angles]);
        var parts = config.FlipSinToCos ? new List<string> { cos, sin } : [sin, cos];
        if (dim % 2 == 1)
        {
            parts.Add(g.Scalar(0f, OnnxElementType.Float, 1, 1));
        }
        string tEmb = g.Node("Concat", parts, OnnxAttribute.Int("axis", 1));
        if (net.T != OnnxElementType.Float)
        {
            tEmb = net.Cast(tEmb, net.T);
        }
        int embedDim = config.TimeEmbedDim;
        string emb = net.Linear(tEmb, "time_embedding.linear_1", dim, embedDim);
        emb = net.Activation(emb, config.ActFn);
        emb = net.Linear(emb, "time_embedding.linear_2", embedDim, embedDim);
        if (config.TimestepPostAct is not null)
        {
            emb = net.Activation(emb, config.TimestepPostAct);
        }
        if (config.TimeEmbeddingActFn is not null)
        {
            emb = net.Activation(emb, config.TimeEmbeddingActFn);
        }
        return emb;
    }

    private sealed class UNetContext(NetBuilder net, UNetConfig config, string embAct, string ehs)
    {
        private readonly OnnxGraph _g = net.G;

        /// <summary>ResnetBlock2D with a time embedding (resnet.py), output divided by <paramref name="outputScale"/>.</summary>
        public string Resnet(string x, string prefix, int inChannels, int outChannels, string spatial, double outputScale)
        {
            using (_g.Scope(prefix.Split('.')[^2] + "." + prefix.Split('.')[^1]))
            {
                int groups = config.NormNumGroups;
                if (inChannels % groups != 0)
                {
                    throw new ModelLoadException(config.Path, $"{prefix} has {inChannels} input channels, not divisible by norm_num_groups {groups}");
                }
                string h = net.GroupNorm(x, prefix + ".norm1", groups, inChannels, config.NormEps, spatial, config.ActFn);
                h = net.Conv(h, prefix + ".conv1", inChannels, outChannels, 3);
                int projected = config.ScaleShift ? 2 * outChannels : outChannels;
                string temb = net.ChannelVector(net.Linear(embAct, prefix + ".time_emb_proj", config.TimeEmbedDim, projected));
                if (config.ScaleShift)
                {
                    h = net.GroupNorm(h, prefix + ".norm2", groups, outChannels, config.NormEps, spatial);
                    string[] parts = _g.NodeIn("", "Split", [temb, _g.Int64s(outChannels, outChannels)], 2, OnnxAttribute.Int("axis", net.ChannelAxis));
                    h = _g.Node("Add", [_g.Node("Mul", [h, _g.Node("Add", [parts[0], _g.Scalar(1f, net.T)])]), parts[1]]);
                    h = net.Activation(h, config.ActFn);
                }
                else
                {
                    h = _g.Node("Add", [h, temb]);
                    h = net.GroupNorm(h, prefix + ".norm2", groups, outChannels, config.NormEps, spatial, config.ActFn);
                }
                h = net.Conv(h, prefix + ".conv2", outChannels, outChannels, 3);
                string shortcut = x;
                if (inChannels != outChannels)
                {
                    shortcut = net.Conv(x, prefix + ".conv_shortcut", inChannels, outChannels, 1);
                }
                else if (net.Has(prefix + ".conv_shortcut.weight"))
                {
                    // An in == out resnet has no shortcut conv in diffusers; RejectUnused reports the stray tensor.
                }
                string y = _g.Node("Add", [shortcut, h]);
                return outputScale == 1.0 ? y : _g.Node("Div", [y, _g.Scalar((float)outputScale, net.T)]);
            }
        }

        /// <summary>Transformer2DModel (continuous input) with <paramref name="layers"/> BasicTransformerBlocks.</summary>
        public string Transformer(string x, string prefix, int channels, int heads, int layers, string spatial)
        {
            using (_g.Scope(prefix.Split('.')[^2] + "." + prefix.Split('.')[^1]))
            {
                if (heads <= 0 || channels / heads == 0)
                {
                    throw new ModelLoadException(config.Path, $"{prefix}: {heads} attention heads for {channels} channels");
                }
                long headDim = channels / heads;
                long inner = heads * headDim;
                string h = net.ToTokens(net.GroupNorm(x, prefix + ".norm", config.NormNumGroups, channels, TransformerNormEps, spatial), channels);
                h = config.UseLinearProjection
                    ? net.Linear(h, prefix + ".proj_in", channels, inner)
                    : net.PointwiseAsLinear(h, prefix + ".proj_in", channels, inner);
                string? pendingNorm = null;
                for (int b = 0; b < layers; b++)
                {
                    (h, pendingNorm) = Block(h, pendingNorm, $"{prefix}.transformer_blocks.{b}", inner, heads, headDim,
                        b + 1 < layers ? $"{prefix}.transformer_blocks.{b + 1}.norm1" : null);
                }
                if (net.ChannelsLast)
                {
                    // The residual is a free view in token form: proj_out, its bias and the residual in one BiasAdd.
                    string wOut = config.UseLinearProjection
                        ? net.Weight(prefix + ".proj_out.weight", [channels, inner], transpose: true)
                        : net.Weight(prefix + ".proj_out.weight", [channels, inner, 1, 1], [channels, inner], transpose: true);
                    string y = net.BiasAdd(_g.Node("MatMul", [h, wOut]), net.Bias(prefix + ".proj_out", channels), net.ToTokens(x, channels));
                    return net.FromTokens(y, channels, spatial);
                }
                h = config.UseLinearProjection
                    ? net.Linear(h, prefix + ".proj_out", inner, channels)
                    : net.PointwiseAsLinear(h, prefix + ".proj_out", inner, channels);
                return _g.Node("Add", [net.FromTokens(h, channels, spatial), x]);
            }
        }

        /// <summary>BasicTransformerBlock (layer_norm type): self-attention, cross-attention, GEGLU feed-forward, each
        /// pre-normed and residual. <paramref name="normed"/> is norm1 of the input when the previous block already
        /// computed it (SkipLayerNormalization chaining); returns the block output and, when <paramref name="nextNorm"/>
        /// is given and the chaining is on, the next block's norm1 of it.</summary>
        private (string Output, string? NextNormed) Block(string h, string? normed, string prefix, long inner, int heads, long headDim, string? nextNorm)
        {
            int cross = config.CrossAttentionDim[0];
            bool upcast = config.UpcastAttention;
            string n1 = normed ?? net.LayerNorm(h, prefix + ".norm1", inner, BlockLayerNormEps);
            string a1 = SelfAttention(n1, prefix + ".attn1", inner, heads, headDim, upcast);
            (h, string n2) = net.AddAndLayerNorm(h, a1, net.Bias(prefix + ".attn1.to_out.0", inner), prefix + ".norm2", inner, BlockLayerNormEps);
            string a2 = CrossAttention(n2, prefix + ".attn2", inner, cross, heads, headDim, upcast);
            (h, string n3) = net.AddAndLayerNorm(h, a2, net.Bias(prefix + ".attn2.to_out.0", inner), prefix + ".norm3", inner, BlockLayerNormEps);
            string ff = FeedForward(n3, prefix + ".ff", inner);
            string ffBias = net.Bias(prefix + ".ff.net.2", inner);
            if (nextNorm is not null && net.Uses(GraphOptimizations.SkipLayerNorm))
            {
                (string sum, string next) = net.AddAndLayerNorm(h, ff, ffBias, nextNorm, inner, BlockLayerNormEps);
                return (sum, next);
            }
            return (_g.Node("Add", [h, _g.Node("Add", [ff, ffBias])]), null);
        }

        private string SelfAttention(string x, string prefix, long inner, int heads, long headDim, bool upcast)
        {
            string q, k, v;
            if (net.CudaOps && net.Uses(GraphOptimizations.FusedAttention))
            {
                // ORT's packed QKV format (B, S, heads, 3, dh): weights interleaved per head.
                string w = net.InterleavedPerHead([prefix + ".to_q.weight", prefix + ".to_k.weight", prefix + ".to_v.weight"], heads, headDim, inner);
                string packed = _g.Node("Reshape", [_g.Node("MatMul", [x, w]), _g.Int64s(0, 0, heads, 3, headDim)]);
                string fused = net.Emulated
                    ? net.Attention(Unpack(packed, 0, inner), Unpack(packed, 1, inner), Unpack(packed, 2, inner), heads, headDim, false, false)
                    : _g.NodeIn(NetBuilder.Contrib, "MultiHeadAttention", [packed], OnnxAttribute.Int("num_heads", heads), OnnxAttribute.Float("scale", (float)(1.0 / Math.Sqrt(headDim))));
                return _g.Node("MatMul", [fused, net.Weight(prefix + ".to_out.0.weight", [inner, inner], transpose: true)]);
            }
            if (net.Uses(GraphOptimizations.PackedProjections))
            {
                string w = net.Concatenated([(prefix + ".to_q.weight", [inner, inner]), (prefix + ".to_k.weight", [inner, inner]), (prefix + ".to_v.weight", [inner, inner])], 0, transpose: true);
                string[] parts = _g.NodeIn("", "Split", [_g.Node("MatMul", [x, w]), _g.Int64s(inner, inner, inner)], 3, OnnxAttribute.Int("axis", -1));
                (q, k, v) = (parts[0], parts[1], parts[2]);
            }
            else
            {
                q = net.Linear(x, prefix + ".to_q", inner, inner, bias: false);
                k = net.Linear(x, prefix + ".to_k", inner, inner, bias: false);
                v = net.Linear(x, prefix + ".to_v", inner, inner, bias: false);
            }
            string a = net.Attention(q, k, v, heads, headDim, causal: false, upcast: upcast && net.T == OnnxElementType.Float16);
            return _g.Node("MatMul", [a, net.Weight(prefix + ".to_out.0.weight", [inner, inner], transpose: true)]);
        }

        private string CrossAttention(string x, string prefix, long inner, long cross, int heads, long headDim, bool upcast)
        {
            string q = net.Linear(x, prefix + ".to_q", inner, inner, bias: false);
            string k, v;
            if (net.CudaOps && net.Uses(GraphOptimizations.FusedAttention))
            {
                // ORT's packed KV format (B, L, heads, 2, dh).
                string w = net.InterleavedPerHead([prefix + ".to_k.weight", prefix + ".to_v.weight"], heads, headDim, cross);
                string packed = _g.Node("Reshape", [_g.Node("MatMul", [ehs, w]), _g.Int64s(0, 0, heads, 2, headDim)]);
                string fused = net.Emulated
                    ? net.Attention(q, Unpack(packed, 0, inner), Unpack(packed, 1, inner), heads, headDim, false, false)
                    : _g.NodeIn(NetBuilder.Contrib, "MultiHeadAttention", [q, packed], OnnxAttribute.Int("num_heads", heads), OnnxAttribute.Float("scale", (float)(1.0 / Math.Sqrt(headDim))));
                return _g.Node("MatMul", [fused, net.Weight(prefix + ".to_out.0.weight", [inner, inner], transpose: true)]);
            }
            if (net.Uses(GraphOptimizations.PackedProjections))
            {
                string w = net.Concatenated([(prefix + ".to_k.weight", [inner, cross]), (prefix + ".to_v.weight", [inner, cross])], 0, transpose: true);
                string[] parts = _g.NodeIn("", "Split", [_g.Node("MatMul", [ehs, w]), _g.Int64s(inner, inner)], 2, OnnxAttribute.Int("axis", -1));
                (k, v) = (parts[0], parts[1]);
            }
            else
            {
                k = net.Linear(ehs, prefix + ".to_k", cross, inner, bias: false);
                v = net.Linear(ehs, prefix + ".to_v", cross, inner, bias: false);
            }
            string a = net.Attention(q, k, v, heads, headDim, causal: false, upcast: upcast && net.T == OnnxElementType.Float16);
            return _g.Node("MatMul", [a, net.Weight(prefix + ".to_out.0.weight", [inner, inner], transpose: true)]);
        }

        /// <summary>Emulation of a packed projection (B, S, heads, n, dh): part <paramref name="index"/> as <c>[B, S, heads·dh]</c>.</summary>
        private string Unpack(string packed, int index, long inner)
        {
            string part = _g.Node("Slice", [packed, _g.Int64s(index), _g.Int64s(index + 1), _g.Int64s(3)]);
            return _g.Node("Reshape", [part, _g.Int64s(0, 0, inner)]);
        }

        /// <summary>FeedForward with GEGLU: <c>a, g = split(proj(x)); net.2(a · gelu(g))</c>; returns net.2's product
        /// without its bias (the caller adds it, possibly fused).</summary>
        private string FeedForward(string x, string prefix, long inner)
        {
            long hidden = inner * 4;
            string gated;
            if (net.CudaOps)
            {
                string projected = _g.Node("MatMul", [x, net.Weight(prefix + ".net.0.proj.weight", [hidden * 2, inner], transpose: true)]);
                gated = net.BiasSplitGelu(projected, net.Bias(prefix + ".net.0.proj", hidden * 2), hidden);
            }
            else
            {
                string p = net.Linear(x, prefix + ".net.0.proj", inner, hidden * 2);
                string[] parts = _g.NodeIn("", "Split", [p, _g.Int64s(hidden, hidden)], 2, OnnxAttribute.Int("axis", -1));
                gated = _g.Node("Mul", [parts[0], net.Activation(parts[1], "gelu")]);
            }
            return _g.Node("MatMul", [gated, net.Weight(prefix + ".net.2.weight", [inner, hidden], transpose: true)]);
        }
    }
}
