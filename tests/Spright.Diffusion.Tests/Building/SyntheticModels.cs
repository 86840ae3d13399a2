using System.Text.Json.Nodes;

namespace Spright.Diffusion.Tests.Building;

/// <summary>
/// Writes diffusers-layout components with random weights for configurations no fixture has. The parameter lists are
/// written here from diffusers' / transformers' module structure (independently of the builders), so a builder that
/// misreads a config meets a missing or mis-shaped tensor.
/// </summary>
internal static class SyntheticModels
{
    /// <summary>An unseen UNet mix: DownBlock2D first, per-level layers (palindromic, as diffusers needs), transformer
    /// layers 2, num_attention_heads given, 1×1-conv projections, no upcast, flip_sin_to_cos false, freq_shift 1.</summary>
    public static JsonObject UNetConfig() => new()
    {
        ["_class_name"] = "UNet2DConditionModel",
        ["act_fn"] = "silu",
        ["attention_head_dim"] = 8,
        ["num_attention_heads"] = new JsonArray(1, 2, 4),
        ["block_out_channels"] = new JsonArray(16, 32, 48),
        ["down_block_types"] = new JsonArray("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        ["up_block_types"] = new JsonArray("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        ["mid_block_type"] = "UNetMidBlock2DCrossAttn",
        ["layers_per_block"] = new JsonArray(1, 2, 1),
        ["transformer_layers_per_block"] = 2,
        ["cross_attention_dim"] = 24,
        ["in_channels"] = 4,
        ["out_channels"] = 4,
        ["norm_num_groups"] = 8,
        ["norm_eps"] = 1e-5,
        ["flip_sin_to_cos"] = false,
        ["freq_shift"] = 1,
        ["use_linear_projection"] = false,
        ["upcast_attention"] = false,
        ["only_cross_attention"] = false,
        ["resnet_time_scale_shift"] = "default",
        ["center_input_sample"] = false,
        ["downsample_padding"] = 1,
        ["mid_block_scale_factor"] = 1,
        ["sample_size"] = 8,
    };

    /// <summary>A three-level VAE with 3 latent channels and one resnet per block.</summary>
    public static JsonObject VaeConfig() => new()
    {
        ["_class_name"] = "AutoencoderKL",
        ["act_fn"] = "silu",
        ["block_out_channels"] = new JsonArray(8, 16, 16),
        ["down_block_types"] = new JsonArray("DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"),
        ["up_block_types"] = new JsonArray("UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"),
        ["in_channels"] = 3,
        ["out_channels"] = 3,
        ["latent_channels"] = 3,
        ["layers_per_block"] = 1,
        ["norm_num_groups"] = 4,
        ["sample_size"] = 32,
        ["scaling_factor"] = 0.13025,
        ["force_upcast"] = false,
    };

    /// <summary>A quick_gelu CLIP with eos_token_id 7 (the non-legacy pooling rule), 20 positions, 3 heads.</summary>
    public static JsonObject ClipConfig() => new()
    {
        ["architectures"] = new JsonArray("CLIPTextModel"),
        ["model_type"] = "clip_text_model",
        ["hidden_act"] = "quick_gelu",
        ["hidden_size"] = 24,
        ["intermediate_size"] = 40,
        ["num_attention_heads"] = 3,
        ["num_hidden_layers"] = 2,
        ["max_position_embeddings"] = 20,
        ["vocab_size"] = 100,
        ["layer_norm_eps"] = 1e-5,
        ["eos_token_id"] = 7,
        ["bos_token_id"] = 1,
        ["pad_token_id"] = 0,
    };

    /// <summary>Writes <c>config.json</c> and a safetensors file of random weights for <paramref name="parameters"/>.</summary>
    public static void Write(string folder, string weightFile, JsonObject config, IReadOnlyList<(string Name, long[] Shape)> parameters, int seed,
        string dtype = "F32", IEnumerable<SafetensorsWriter.Entry>? extra = null)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "config.json"), config.ToJsonString());
        var entries = new List<SafetensorsWriter.Entry>();
        int i = 0;
        foreach ((string name, long[] shape) in parameters)
        {
            entries.Add(SafetensorsWriter.Floats(name, shape, Values(name, shape, seed + i++), dtype));
        }
        if (extra is not null)
        {
            entries.AddRange(extra);
        }
        SafetensorsWriter.Write(Path.Combine(folder, weightFile), entries);
    }

    /// <summary>Random values shaped like a trained layer's: norms near 1, biases small, weights ~ U(±1/√fan_in).</summary>
    private static float[] Values(string name, long[] shape, int seed)
    {
        long count = shape.Aggregate(1L, (a, b) => a * b);
        bool norm = name.Contains("norm", StringComparison.Ordinal) && name.EndsWith(".weight", StringComparison.Ordinal) && shape.Length == 1;
        if (norm)
        {
            return BuildingTestData.RandomFloats((int)count, seed, 0.1f).Select(v => 1 + v).ToArray();
        }
        if (name.EndsWith(".bias", StringComparison.Ordinal))
        {
            return BuildingTestData.RandomFloats((int)count, seed, 0.05f);
        }
        long fanIn = shape.Length > 1 ? shape.Skip(1).Aggregate(1L, (a, b) => a * b) : shape[0];
        if (name.Contains("embedding.weight", StringComparison.Ordinal))
        {
            fanIn = 1;
        }
        return BuildingTestData.RandomFloats((int)count, seed, (float)(1 / Math.Sqrt(fanIn)));
    }

    /// <summary>The UNet2DConditionModel state dict for <paramref name="c"/> (unet_2d_condition.py / unet_2d_blocks.py).</summary>
    public static List<(string, long[])> UNetParameters(JsonObject c)
    {
        var p = new List<(string, long[])>();
        long[] ch = c["block_out_channels"]!.AsArray().Select(n => (long)n!.GetValue<int>()).ToArray();
        int levels = ch.Length;
        long[] lpb = PerLevel(c["layers_per_block"]!, levels);
        long[] heads = PerLevel(c["num_attention_heads"] ?? c["attention_head_dim"]!, levels);
        long[] tlpb = PerLevel(c["transformer_layers_per_block"] ?? 1, levels);
        long cross = c["cross_attention_dim"]!.GetValue<int>();
        bool linear = c["use_linear_projection"]!.GetValue<bool>();
        string[] down = c["down_block_types"]!.AsArray().Select(n => n!.GetValue<string>()).ToArray();
        string[] up = c["up_block_types"]!.AsArray().Select(n => n!.GetValue<string>()).ToArray();
        long inCh = c["in_channels"]!.GetValue<int>();
        long outCh = c["out_channels"]!.GetValue<int>();
        long temb = c["time_embedding_dim"] is JsonValue t ? t.GetValue<int>() : ch[0] * 4;
        long projected = c["resnet_time_scale_shift"]?.GetValue<string>() == "scale_shift" ? 2 : 1;
        long kernelIn = c["conv_in_kernel"] is JsonValue ki ? ki.GetValue<int>() : 3;
        long kernelOut = c["conv_out_kernel"] is JsonValue ko ? ko.GetValue<int>() : 3;
        string? mid = c.ContainsKey("mid_block_type") ? c["mid_block_type"]?.GetValue<string>() : "UNetMidBlock2DCrossAttn";
        void Resnet(List<(string, long[])> list, string prefix, long inChannels, long outChannels, long t) =>
            ResnetBlock(list, prefix, inChannels, outChannels, t, projected);

        Conv(p, "conv_in", inCh, ch[0], kernelIn);
        Linear(p, "time_embedding.linear_1", ch[0], temb);
        Linear(p, "time_embedding.linear_2", temb, temb);
        long output = ch[0];
        for (int i = 0; i < levels; i++)
        {
            long input = output;
            output = ch[i];
            for (int j = 0; j < lpb[i]; j++)
            {
                Resnet(p, $"down_blocks.{i}.resnets.{j}", j == 0 ? input : output, output, temb);
                if (down[i] == "CrossAttnDownBlock2D")
                {
                    Transformer(p, $"down_blocks.{i}.attentions.{j}", output, heads[i], tlpb[i], cross, linear);
                }
            }
            if (i < levels - 1)
            {
                Conv(p, $"down_blocks.{i}.downsamplers.0.conv", output, output, 3);
            }
        }
        if (mid is not null)
        {
            Resnet(p, "mid_block.resnets.0", ch[^1], ch[^1], temb);
        }
        if (mid == "UNetMidBlock2DCrossAttn")
        {
            Transformer(p, "mid_block.attentions.0", ch[^1], heads[^1], tlpb[^1], cross, linear);
            Resnet(p, "mid_block.resnets.1", ch[^1], ch[^1], temb);
        }
        long[] rev = ch.Reverse().ToArray();
        long[] revHeads = heads.Reverse().ToArray();
        long[] revLpb = lpb.Reverse().ToArray();
        long[] revT = tlpb.Reverse().ToArray();
        output = rev[0];
        for (int i = 0; i < levels; i++)
        {
            long prev = output;
            output = rev[i];
            long input = rev[Math.Min(i + 1, levels - 1)];
            long layers = revLpb[i] + 1;
            for (int j = 0; j < layers; j++)
            {
                long skip = j == layers - 1 ? input : output;
                long resIn = j == 0 ? prev : output;
                Resnet(p, $"up_blocks.{i}.resnets.{j}", resIn + skip, output, temb);
                if (up[i] == "CrossAttnUpBlock2D")
                {
                    Transformer(p, $"up_blocks.{i}.attentions.{j}", output, revHeads[i], revT[i], cross, linear);
                }
            }
            if (i < levels - 1)
            {
                Conv(p, $"up_blocks.{i}.upsamplers.0.conv", output, output, 3);
            }
        }
        Norm(p, "conv_norm_out", ch[0]);
        Conv(p, "conv_out", ch[0], outCh, kernelOut);
        return p;
    }

    /// <summary>The AutoencoderKL state dict (vae.py Encoder / Decoder), with the mid attention under the old names when asked.</summary>
    public static List<(string, long[])> VaeParameters(JsonObject c, bool oldAttentionNames)
    {
        var p = new List<(string, long[])>();
        long[] ch = c["block_out_channels"]!.AsArray().Select(n => (long)n!.GetValue<int>()).ToArray();
        int levels = ch.Length;
        long lpb = c["layers_per_block"]!.GetValue<int>();
        long latent = c["latent_channels"]!.GetValue<int>();
        Conv(p, "encoder.conv_in", c["in_channels"]!.GetValue<int>(), ch[0], 3);
        long output = ch[0];
        for (int i = 0; i < levels; i++)
        {
            long input = output;
            output = ch[i];
            for (int j = 0; j < lpb; j++)
            {
                Resnet(p, $"encoder.down_blocks.{i}.resnets.{j}", j == 0 ? input : output, output, null);
            }
            if (i < levels - 1)
            {
                Conv(p, $"encoder.down_blocks.{i}.downsamplers.0.conv", output, output, 3);
            }
        }
        VaeMid(p, "encoder.mid_block", ch[^1], oldAttentionNames);
        Norm(p, "encoder.conv_norm_out", ch[^1]);
        Conv(p, "encoder.conv_out", ch[^1], 2 * latent, 3);
        Conv(p, "quant_conv", 2 * latent, 2 * latent, 1);
        Conv(p, "post_quant_conv", latent, latent, 1);
        Conv(p, "decoder.conv_in", latent, ch[^1], 3);
        VaeMid(p, "decoder.mid_block", ch[^1], oldAttentionNames);
        long[] rev = ch.Reverse().ToArray();
        output = rev[0];
        for (int i = 0; i < levels; i++)
        {
            long prev = output;
            output = rev[i];
            for (int j = 0; j < lpb + 1; j++)
            {
                Resnet(p, $"decoder.up_blocks.{i}.resnets.{j}", j == 0 ? prev : output, output, null);
            }
            if (i < levels - 1)
            {
                Conv(p, $"decoder.up_blocks.{i}.upsamplers.0.conv", output, output, 3);
            }
        }
        Norm(p, "decoder.conv_norm_out", ch[0]);
        Conv(p, "decoder.conv_out", ch[0], c["out_channels"]!.GetValue<int>(), 3);
        return p;
    }

    /// <summary>The CLIPTextModel state dict (modeling_clip.py).</summary>
    public static List<(string, long[])> ClipParameters(JsonObject c)
    {
        var p = new List<(string, long[])>();
        long d = c["hidden_size"]!.GetValue<int>();
        long inner = c["intermediate_size"]!.GetValue<int>();
        p.Add(("text_model.embeddings.token_embedding.weight", [c["vocab_size"]!.GetValue<int>(), d]));
        p.Add(("text_model.embeddings.position_embedding.weight", [c["max_position_embeddings"]!.GetValue<int>(), d]));
        for (int l = 0; l < c["num_hidden_layers"]!.GetValue<int>(); l++)
        {
            string lp = $"text_model.encoder.layers.{l}";
            foreach (string proj in new[] { "q_proj", "k_proj", "v_proj", "out_proj" })
            {
                Linear(p, $"{lp}.self_attn.{proj}", d, d);
            }
            Norm(p, $"{lp}.layer_norm1", d);
            Linear(p, $"{lp}.mlp.fc1", d, inner);
            Linear(p, $"{lp}.mlp.fc2", inner, d);
            Norm(p, $"{lp}.layer_norm2", d);
        }
        Norm(p, "text_model.final_layer_norm", d);
        return p;
    }

    private static long[] PerLevel(JsonNode node, int levels) =>
        node is JsonArray a ? a.Select(n => (long)n!.GetValue<int>()).ToArray() : Enumerable.Repeat((long)node.GetValue<int>(), levels).ToArray();

    private static void Linear(List<(string, long[])> p, string prefix, long inFeatures, long outFeatures, bool bias = true)
    {
        p.Add(($"{prefix}.weight", [outFeatures, inFeatures]));
        if (bias)
        {
            p.Add(($"{prefix}.bias", [outFeatures]));
        }
    }

    private static void Conv(List<(string, long[])> p, string prefix, long inChannels, long outChannels, long kernel)
    {
        p.Add(($"{prefix}.weight", [outChannels, inChannels, kernel, kernel]));
        p.Add(($"{prefix}.bias", [outChannels]));
    }

    private static void Norm(List<(string, long[])> p, string prefix, long channels)
    {
        p.Add(($"{prefix}.weight", [channels]));
        p.Add(($"{prefix}.bias", [channels]));
    }

    private static void Resnet(List<(string, long[])> p, string prefix, long inChannels, long outChannels, long? temb) =>
        ResnetBlock(p, prefix, inChannels, outChannels, temb, 1);

    private static void ResnetBlock(List<(string, long[])> p, string prefix, long inChannels, long outChannels, long? temb, long projected)
    {
        Norm(p, $"{prefix}.norm1", inChannels);
        Conv(p, $"{prefix}.conv1", inChannels, outChannels, 3);
        if (temb is long t)
        {
            Linear(p, $"{prefix}.time_emb_proj", t, projected * outChannels);
        }
        Norm(p, $"{prefix}.norm2", outChannels);
        Conv(p, $"{prefix}.conv2", outChannels, outChannels, 3);
        if (inChannels != outChannels)
        {
            Conv(p, $"{prefix}.conv_shortcut", inChannels, outChannels, 1);
        }
    }

    private static void Transformer(List<(string, long[])> p, string prefix, long channels, long heads, long layers, long cross, bool linear)
    {
        long inner = heads * (channels / heads);
        Norm(p, $"{prefix}.norm", channels);
        if (linear)
        {
            Linear(p, $"{prefix}.proj_in", channels, inner);
        }
        else
        {
            Conv(p, $"{prefix}.proj_in", channels, inner, 1);
        }
        for (int b = 0; b < layers; b++)
        {
            string bp = $"{prefix}.transformer_blocks.{b}";
            Norm(p, $"{bp}.norm1", inner);
            Norm(p, $"{bp}.norm2", inner);
            Norm(p, $"{bp}.norm3", inner);
            Linear(p, $"{bp}.attn1.to_q", inner, inner, bias: false);
            Linear(p, $"{bp}.attn1.to_k", inner, inner, bias: false);
            Linear(p, $"{bp}.attn1.to_v", inner, inner, bias: false);
            Linear(p, $"{bp}.attn1.to_out.0", inner, inner);
            Linear(p, $"{bp}.attn2.to_q", inner, inner, bias: false);
            Linear(p, $"{bp}.attn2.to_k", cross, inner, bias: false);
            Linear(p, $"{bp}.attn2.to_v", cross, inner, bias: false);
            Linear(p, $"{bp}.attn2.to_out.0", inner, inner);
            Linear(p, $"{bp}.ff.net.0.proj", inner, inner * 8);
            Linear(p, $"{bp}.ff.net.2", inner * 4, inner);
        }
        if (linear)
        {
            Linear(p, $"{prefix}.proj_out", inner, channels);
        }
        else
        {
            Conv(p, $"{prefix}.proj_out", inner, channels, 1);
        }
    }

    private static void VaeMid(List<(string, long[])> p, string prefix, long channels, bool old)
    {
        Resnet(p, $"{prefix}.resnets.0", channels, channels, null);
        Norm(p, $"{prefix}.attentions.0.group_norm", channels);
        foreach ((string now, string before) in new[] { ("to_q", "query"), ("to_k", "key"), ("to_v", "value"), ("to_out.0", "proj_attn") })
        {
            Linear(p, $"{prefix}.attentions.0.{(old ? before : now)}", channels, channels);
        }
        Resnet(p, $"{prefix}.resnets.1", channels, channels, null);
    }
}
