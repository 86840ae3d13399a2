using System.Text.Json;

namespace Spright.Diffusion.Tools.FullSize;

/// <summary>How a tensor is initialised.</summary>
internal enum TensorInit
{
    /// <summary>N(0, σ²).</summary>
    Normal,

    /// <summary>All ones (norm weights).</summary>
    Ones,

    /// <summary>All zeros (norm biases).</summary>
    Zeros,
}

/// <summary>One tensor of a checkpoint: its diffusers / transformers key, torch shape and initialisation.</summary>
internal sealed record TensorSpec(string Name, long[] Shape, TensorInit Init)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>
/// Derives a component's checkpoint keys and shapes from its config.json with the module naming of diffusers'
/// UNet2DConditionModel / AutoencoderKL and transformers' CLIPTextModel (the names the library's graph builders read:
/// src/Spright.Diffusion.OnnxRuntime/Building/*GraphBuilder.cs). Only the configuration space SD 1.x/2.x checkpoints use
/// is covered; anything else is refused rather than guessed.
/// </summary>
internal static class WeightLayout
{
    public static List<TensorSpec> UNet(JsonElement c)
    {
        var t = new Specs();
        Refuse(c, "class_embed_type", "addition_embed_type", "encoder_hid_dim", "num_class_embeds", "time_cond_proj_dim");
        int[] ch = Ints(c, "block_out_channels");
        int levels = ch.Length;
        int[] layers = PerLevel(c, "layers_per_block", levels, 2);
        string[] down = Strings(c, "down_block_types");
        string[] up = Strings(c, "up_block_types");
        int cross = c.TryGetProperty("cross_attention_dim", out JsonElement ca) && ca.ValueKind == JsonValueKind.Number ? ca.GetInt32() : 1280;
        bool linearProjection = c.TryGetProperty("use_linear_projection", out JsonElement lp) && lp.GetBoolean();
        int inCh = Int(c, "in_channels", 4);
        int outCh = Int(c, "out_channels", 4);
        int kIn = Int(c, "conv_in_kernel", 3);
        int kOut = Int(c, "conv_out_kernel", 3);
        int temb = c.TryGetProperty("time_embedding_dim", out JsonElement te) && te.ValueKind == JsonValueKind.Number ? te.GetInt32() : 4 * ch[0];
        int[] tLayers = PerLevel(c, "transformer_layers_per_block", levels, 1);
        string midType = c.TryGetProperty("mid_block_type", out JsonElement mt) && mt.ValueKind == JsonValueKind.String ? mt.GetString()! : "UNetMidBlock2DCrossAttn";
        if (down.Length != levels || up.Length != levels)
        {
            throw new InvalidDataException("down_block_types / up_block_types must have one entry per block_out_channels entry");
        }

        t.Conv("conv_in", inCh, ch[0], kIn);
        t.Linear("time_embedding.linear_1", ch[0], temb);
        t.Linear("time_embedding.linear_2", temb, temb);

        // Down path, recording the channel count of every skip connection (diffusers' down_block_res_samples).
        var skips = new Stack<int>();
        skips.Push(ch[0]);
        int channels = ch[0];
        for (int i = 0; i < levels; i++)
        {
            string p = $"down_blocks.{i}";
            bool attention = BlockType(down[i], "CrossAttnDownBlock2D", "DownBlock2D");
            for (int j = 0; j < layers[i]; j++)
            {
                UNetResnet(t, $"{p}.resnets.{j}", channels, ch[i], temb);
                channels = ch[i];
                if (attention)
                {
                    Transformer(t, $"{p}.attentions.{j}", channels, cross, tLayers[i], linearProjection);
                }
                skips.Push(channels);
            }
            if (i < levels - 1)
            {
                t.Conv($"{p}.downsamplers.0.conv", channels, channels, 3);
                skips.Push(channels);
            }
        }

        if (midType == "UNetMidBlock2DCrossAttn")
        {
            UNetResnet(t, "mid_block.resnets.0", ch[^1], ch[^1], temb);
            Transformer(t, "mid_block.attentions.0", ch[^1], cross, tLayers[^1], linearProjection);
            UNetResnet(t, "mid_block.resnets.1", ch[^1], ch[^1], temb);
        }
        else if (midType == "UNetMidBlock2D")
        {
            UNetResnet(t, "mid_block.resnets.0", ch[^1], ch[^1], temb);
        }
        else
        {
            throw new InvalidDataException($"mid_block_type {midType} is not written by this tool");
        }

        int[] reversed = ch.Reverse().ToArray();
        int[] reversedLayers = layers.Reverse().ToArray();
        int[] reversedTLayers = tLayers.Reverse().ToArray();
        for (int i = 0; i < levels; i++)
        {
            string p = $"up_blocks.{i}";
            bool attention = BlockType(up[i], "CrossAttnUpBlock2D", "UpBlock2D");
            for (int j = 0; j < reversedLayers[i] + 1; j++)
            {
                int skip = skips.Pop();
                UNetResnet(t, $"{p}.resnets.{j}", channels + skip, reversed[i], temb);
                channels = reversed[i];
                if (attention)
                {
                    Transformer(t, $"{p}.attentions.{j}", channels, cross, reversedTLayers[i], linearProjection);
                }
            }
            if (i < levels - 1)
            {
                t.Conv($"{p}.upsamplers.0.conv", channels, channels, 3);
            }
        }
        if (skips.Count != 0)
        {
            throw new InvalidDataException("layers_per_block leaves skip connections unused");
        }
        t.Norm("conv_norm_out", ch[0]);
        t.Conv("conv_out", ch[0], outCh, kOut);
        return t.List;
    }

    public static List<TensorSpec> Vae(JsonElement c)
    {
        var t = new Specs();
        int[] ch = Ints(c, "block_out_channels");
        int levels = ch.Length;
        int layers = Int(c, "layers_per_block", 1);
        int latent = Int(c, "latent_channels", 4);
        bool midAttention = !c.TryGetProperty("mid_block_add_attention", out JsonElement ma) || ma.GetBoolean();

        t.Conv("encoder.conv_in", Int(c, "in_channels", 3), ch[0], 3);
        int channels = ch[0];
        for (int i = 0; i < levels; i++)
        {
            for (int j = 0; j < layers; j++)
            {
                VaeResnet(t, $"encoder.down_blocks.{i}.resnets.{j}", channels, ch[i]);
                channels = ch[i];
            }
            if (i < levels - 1)
            {
                t.Conv($"encoder.down_blocks.{i}.downsamplers.0.conv", channels, channels, 3);
            }
        }
        VaeMid(t, "encoder.mid_block", channels, midAttention);
        t.Norm("encoder.conv_norm_out", channels);
        t.Conv("encoder.conv_out", channels, 2 * latent, 3);
        t.Conv("quant_conv", 2 * latent, 2 * latent, 1);

        t.Conv("post_quant_conv", latent, latent, 1);
        channels = ch[^1];
        t.Conv("decoder.conv_in", latent, channels, 3);
        VaeMid(t, "decoder.mid_block", channels, midAttention);
        int[] reversed = ch.Reverse().ToArray();
        for (int i = 0; i < levels; i++)
        {
            for (int j = 0; j < layers + 1; j++)
            {
                VaeResnet(t, $"decoder.up_blocks.{i}.resnets.{j}", channels, reversed[i]);
                channels = reversed[i];
            }
            if (i < levels - 1)
            {
                t.Conv($"decoder.up_blocks.{i}.upsamplers.0.conv", channels, channels, 3);
            }
        }
        t.Norm("decoder.conv_norm_out", channels);
        t.Conv("decoder.conv_out", channels, Int(c, "out_channels", 3), 3);
        return t.List;
    }

    public static List<TensorSpec> ClipText(JsonElement c)
    {
        var t = new Specs();
        int d = Int(c, "hidden_size", 512);
        int inner = Int(c, "intermediate_size", 2048);
        int layers = Int(c, "num_hidden_layers", 12);
        const string p = "text_model.";
        t.Add(p + "embeddings.token_embedding.weight", [Int(c, "vocab_size", 49408), d], TensorInit.Normal);
        t.Add(p + "embeddings.position_embedding.weight", [Int(c, "max_position_embeddings", 77), d], TensorInit.Normal);
        for (int i = 0; i < layers; i++)
        {
            string lp = $"{p}encoder.layers.{i}";
            t.Norm(lp + ".layer_norm1", d);
            foreach (string proj in new[] { "q_proj", "k_proj", "v_proj", "out_proj" })
            {
                t.Linear($"{lp}.self_attn.{proj}", d, d);
            }
            t.Norm(lp + ".layer_norm2", d);
            t.Linear(lp + ".mlp.fc1", d, inner);
            t.Linear(lp + ".mlp.fc2", inner, d);
        }
        t.Norm(p + "final_layer_norm", d);
        return t.List;
    }

    /// <summary>diffusers' ResnetBlock2D with a time embedding projection.</summary>
    private static void UNetResnet(Specs t, string p, int inCh, int outCh, int temb)
    {
        t.Norm(p + ".norm1", inCh);
        t.Conv(p + ".conv1", inCh, outCh, 3);
        t.Linear(p + ".time_emb_proj", temb, outCh);
        t.Norm(p + ".norm2", outCh);
        t.Conv(p + ".conv2", outCh, outCh, 3);
        if (inCh != outCh)
        {
            t.Conv(p + ".conv_shortcut", inCh, outCh, 1);
        }
    }

    /// <summary>Transformer2DModel with BasicTransformerBlocks (self-attention, cross-attention, GEGLU feed-forward).</summary>
    private static void Transformer(Specs t, string p, int channels, int cross, int blocks, bool linearProjection)
    {
        t.Norm(p + ".norm", channels);
        Projection(t, p + ".proj_in", channels, linearProjection);
        for (int b = 0; b < blocks; b++)
        {
            string bp = $"{p}.transformer_blocks.{b}";
            t.Norm(bp + ".norm1", channels);
            t.Linear(bp + ".attn1.to_q", channels, channels, bias: false);
            t.Linear(bp + ".attn1.to_k", channels, channels, bias: false);
            t.Linear(bp + ".attn1.to_v", channels, channels, bias: false);
            t.Linear(bp + ".attn1.to_out.0", channels, channels);
            t.Norm(bp + ".norm2", channels);
            t.Linear(bp + ".attn2.to_q", channels, channels, bias: false);
            t.Linear(bp + ".attn2.to_k", cross, channels, bias: false);
            t.Linear(bp + ".attn2.to_v", cross, channels, bias: false);
            t.Linear(bp + ".attn2.to_out.0", channels, channels);
            t.Norm(bp + ".norm3", channels);
            t.Linear(bp + ".ff.net.0.proj", channels, 8 * channels);
            t.Linear(bp + ".ff.net.2", 4 * channels, channels);
        }
        Projection(t, p + ".proj_out", channels, linearProjection);
    }

    private static void Projection(Specs t, string p, int channels, bool linear)
    {
        if (linear)
        {
            t.Linear(p, channels, channels);
        }
        else
        {
            t.Conv(p, channels, channels, 1);
        }
    }

    private static void VaeResnet(Specs t, string p, int inCh, int outCh)
    {
        t.Norm(p + ".norm1", inCh);
        t.Conv(p + ".conv1", inCh, outCh, 3);
        t.Norm(p + ".norm2", outCh);
        t.Conv(p + ".conv2", outCh, outCh, 3);
        if (inCh != outCh)
        {
            t.Conv(p + ".conv_shortcut", inCh, outCh, 1);
        }
    }

    private static void VaeMid(Specs t, string p, int channels, bool attention)
    {
        VaeResnet(t, p + ".resnets.0", channels, channels);
        if (attention)
        {
            string a = p + ".attentions.0";
            t.Norm(a + ".group_norm", channels);
            t.Linear(a + ".to_q", channels, channels);
            t.Linear(a + ".to_k", channels, channels);
            t.Linear(a + ".to_v", channels, channels);
            t.Linear(a + ".to_out.0", channels, channels);
        }
        VaeResnet(t, p + ".resnets.1", channels, channels);
    }

    private static bool BlockType(string type, string withAttention, string plain) =>
        type == withAttention || (type == plain ? false : throw new InvalidDataException($"block type {type} is not written by this tool"));

    private static void Refuse(JsonElement c, params string[] keys)
    {
        foreach (string key in keys)
        {
            if (c.TryGetProperty(key, out JsonElement v) && v.ValueKind != JsonValueKind.Null)
            {
                throw new InvalidDataException($"config key {key} is set; this tool writes only SD 1.x/2.x-style UNets");
            }
        }
    }

    private static int Int(JsonElement c, string key, int fallback) =>
        c.TryGetProperty(key, out JsonElement v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : fallback;

    private static int[] Ints(JsonElement c, string key) => c.GetProperty(key).EnumerateArray().Select(e => e.GetInt32()).ToArray();

    private static string[] Strings(JsonElement c, string key) => c.GetProperty(key).EnumerateArray().Select(e => e.GetString()!).ToArray();

    private static int[] PerLevel(JsonElement c, string key, int levels, int fallback)
    {
        if (!c.TryGetProperty(key, out JsonElement v) || v.ValueKind == JsonValueKind.Null)
        {
            return Enumerable.Repeat(fallback, levels).ToArray();
        }
        return v.ValueKind == JsonValueKind.Array ? v.EnumerateArray().Select(e => e.GetInt32()).ToArray() : Enumerable.Repeat(v.GetInt32(), levels).ToArray();
    }

    private sealed class Specs
    {
        public List<TensorSpec> List { get; } = [];

        public void Add(string name, long[] shape, TensorInit init) => List.Add(new TensorSpec(name, shape, init));

        public void Linear(string p, long inF, long outF, bool bias = true)
        {
            Add(p + ".weight", [outF, inF], TensorInit.Normal);
            if (bias)
            {
                Add(p + ".bias", [outF], TensorInit.Normal);
            }
        }

        public void Conv(string p, long inCh, long outCh, long k)
        {
            Add(p + ".weight", [outCh, inCh, k, k], TensorInit.Normal);
            Add(p + ".bias", [outCh], TensorInit.Normal);
        }

        public void Norm(string p, long channels)
        {
            Add(p + ".weight", [channels], TensorInit.Ones);
            Add(p + ".bias", [channels], TensorInit.Zeros);
        }
    }
}
