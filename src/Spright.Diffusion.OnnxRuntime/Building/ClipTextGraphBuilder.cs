namespace Spright.Diffusion.OnnxRuntime.Building;

/// <summary>
/// Builds transformers' CLIPTextModel (modeling_clip.py): token + position embeddings, pre-LN encoder layers with causal
/// self-attention, final LayerNorm, and the pooled row (<c>eos_token_id == 2</c>: argmax of the ids, the legacy rule;
/// otherwise the first position holding <c>eos_token_id</c>). I/O as optimum's clip-text export: <c>input_ids</c> int64
/// [batch_size, sequence_length] → <c>last_hidden_state</c> [batch_size, sequence_length, hidden], <c>pooler_output</c>
/// [batch_size, hidden]; with <c>attentionMask</c> also <c>attention_mask</c> int64 [batch_size, sequence_length]
/// (transformers' padding mask: 0 hides a key from every query, added to the causal mask).
/// </summary>
internal static class ClipTextGraphBuilder
{
    /// <summary>Builds the graph into <paramref name="net"/>.</summary>
    public static void Build(NetBuilder net, ClipTextConfig config, bool attentionMask = false)
    {
        OnnxGraph g = net.G;
        long d = config.HiddenSize;
        int heads = config.Heads;
        long dh = d / heads;
        string p = net.Has("text_model.embeddings.token_embedding.weight") ? "text_model." : "";

        string ids = g.Input("input_ids", OnnxElementType.Int64, "batch_size", "sequence_length");
        string? maskInput = attentionMask ? g.Input("attention_mask", OnnxElementType.Int64, "batch_size", "sequence_length") : null;
        string h;
        string? causalMask = null;
        string? keyPaddingMask = null;
        using (g.Scope("embeddings"))
        {
            string tokens = g.Node("Gather", [net.Weight(p + "embeddings.token_embedding.weight", [config.VocabSize, d]), ids], OnnxAttribute.Int("axis", 0));
            string length = g.Node("Shape", [ids], OnnxAttribute.Int("start", 1), OnnxAttribute.Int("end", 2));
            string positions = g.Node("Slice", [net.Weight(p + "embeddings.position_embedding.weight", [config.MaxPositions, d]), g.Int64s(0), length, g.Int64s(0)]);
            h = g.Node("Add", [tokens, positions]);
            if (net.Uses(GraphOptimizations.FusedAttention))
            {
                if (maskInput is not null)
                {
                    keyPaddingMask = net.Cast(maskInput, OnnxElementType.Int32);
                }
            }
            else
            {
                // [S, S]: 0 on and below the diagonal, the dtype's lowest value above (transformers' causal mask).
                int n = config.MaxPositions;
                float lowest = net.T == OnnxElementType.Float16 ? -65504f : float.MinValue;
                var mask = new float[(long)n * n];
                for (int i = 0; i < n; i++)
                {
                    for (int j = i + 1; j < n; j++)
                    {
                        mask[(long)i * n + j] = lowest;
                    }
                }
                string full = g.Floats(mask, net.T, n, n);
                causalMask = g.Node("Slice", [full, g.Int64s(0, 0), g.Node("Concat", [length, length], OnnxAttribute.Int("axis", 0)), g.Int64s(0, 1)]);
                if (maskInput is not null)
                {
                    // [B, 1, 1, S]: the lowest value where a key is masked, added to the causal mask as transformers does.
                    string hidden = g.Node("Sub", [g.Scalar(1f, net.T), net.Cast(maskInput, net.T)]);
                    string padding = g.Node("Mul", [hidden, g.Scalar(lowest, net.T)]);
                    causalMask = g.Node("Add", [causalMask, g.Node("Unsqueeze", [padding, g.Int64s(1, 2)])]);
                }
            }
        }

        string normed = net.LayerNorm(h, $"{p}encoder.layers.0.layer_norm1", d, config.LayerNormEps);
        if (config.Layers == 0)
        {
            normed = net.LayerNorm(h, $"{p}final_layer_norm", d, config.LayerNormEps);
        }
        for (int layer = 0; layer < config.Layers; layer++)
        {
            string lp = $"{p}encoder.layers.{layer}";
            using (g.Scope($"layers.{layer}"))
            {
                string attention = SelfAttention(net, normed, $"{lp}.self_attn", d, heads, dh, causalMask, keyPaddingMask);
                (h, normed) = net.AddAndLayerNorm(h, attention, net.Bias($"{lp}.self_attn.out_proj", d), $"{lp}.layer_norm2", d, config.LayerNormEps);
                string fc1 = net.Linear(normed, $"{lp}.mlp.fc1", d, config.IntermediateSize);
                string act = net.Activation(fc1, config.HiddenAct);
                string fc2 = g.Node("MatMul", [act, net.Weight($"{lp}.mlp.fc2.weight", [d, config.IntermediateSize], transpose: true)]);
                string next = layer + 1 < config.Layers ? $"{p}encoder.layers.{layer + 1}.layer_norm1" : $"{p}final_layer_norm";
                (h, normed) = net.AddAndLayerNorm(h, fc2, net.Bias($"{lp}.mlp.fc2", d), next, d, config.LayerNormEps);
            }
        }
        string last = normed;

        string index;
        using (g.Scope("pooler"))
        {
            string source = config.EosTokenId == 2
                ? net.Cast(ids, OnnxElementType.Int32)
                : net.Cast(g.Node("Equal", [ids, g.Int64Scalar(config.EosTokenId)]), OnnxElementType.Int32);
            index = g.Node("ArgMax", [source], OnnxAttribute.Int("axis", -1), OnnxAttribute.Int("keepdims", 1), OnnxAttribute.Int("select_last_index", 0));
        }
        string pooled = g.Node("GatherND", [last, index], OnnxAttribute.Int("batch_dims", 1));
        g.Output(last, "last_hidden_state", net.T, "batch_size", "sequence_length", d);
        g.Output(pooled, "pooler_output", net.T, "batch_size", d);
        net.RejectUnused(name => name.EndsWith("position_ids", StringComparison.Ordinal));
    }

    private static string SelfAttention(NetBuilder net, string x, string prefix, long d, int heads, long dh, string? causalMask, string? keyPaddingMask)
    {
        OnnxGraph g = net.G;
        string q, k, v;
        string? bias = null;
        bool fused = net.Uses(GraphOptimizations.FusedAttention);
        if (net.Uses(GraphOptimizations.PackedProjections))
        {
            string w = net.Concatenated([($"{prefix}.q_proj.weight", [d, d]), ($"{prefix}.k_proj.weight", [d, d]), ($"{prefix}.v_proj.weight", [d, d])], 0, transpose: true);
            string qkv = g.Node("MatMul", [x, w]);
            string b = net.Concatenated([($"{prefix}.q_proj.bias", [d]), ($"{prefix}.k_proj.bias", [d]), ($"{prefix}.v_proj.bias", [d])], 0, transpose: false);
            if (fused)
            {
                bias = b;
            }
            else
            {
                qkv = g.Node("Add", [qkv, b]);
            }
            string[] parts = g.NodeIn("", "Split", [qkv, g.Int64s(d, d, d)], 3, OnnxAttribute.Int("axis", -1));
            (q, k, v) = (parts[0], parts[1], parts[2]);
        }
        else
        {
            q = net.Linear(x, $"{prefix}.q_proj", d, d, bias: !fused);
            k = net.Linear(x, $"{prefix}.k_proj", d, d, bias: !fused);
            v = net.Linear(x, $"{prefix}.v_proj", d, d, bias: !fused);
            if (fused)
            {
                bias = net.Concatenated([($"{prefix}.q_proj.bias", [d]), ($"{prefix}.k_proj.bias", [d]), ($"{prefix}.v_proj.bias", [d])], 0, transpose: false);
            }
        }
        string attention = net.Attention(q, k, v, heads, dh, causal: true, upcast: false, bias, causalMask, keyPaddingMask);
        return g.Node("MatMul", [attention, net.Weight($"{prefix}.out_proj.weight", [d, d], transpose: true)]);
    }
}
