using System.Text.Json.Nodes;

namespace Spright.Diffusion.OnnxRuntime.Building;

/// <summary>
/// The UNet2DConditionModel configuration as diffusers v0.31.0 interprets it (defaults from its <c>__init__</c>, the
/// <c>attention_head_dim</c> naming quirk, per-level lists), restricted to what the builder implements: anything else is
/// a <see cref="ModelLoadException"/> naming the file, the key and the value.
/// </summary>
internal sealed record UNetConfig
{
    /// <summary>The config file.</summary>
    public required string Path { get; init; }

    /// <summary><c>in_channels</c>.</summary>
    public required int InChannels { get; init; }

    /// <summary><c>out_channels</c>.</summary>
    public required int OutChannels { get; init; }

    /// <summary><c>center_input_sample</c>.</summary>
    public required bool CenterInputSample { get; init; }

    /// <summary><c>flip_sin_to_cos</c>.</summary>
    public required bool FlipSinToCos { get; init; }

    /// <summary><c>freq_shift</c>.</summary>
    public required double FreqShift { get; init; }

    /// <summary>Down block kinds (true = CrossAttnDownBlock2D), per level.</summary>
    public required bool[] DownCrossAttention { get; init; }

    /// <summary>Up block kinds (true = CrossAttnUpBlock2D), per up block (deepest first).</summary>
    public required bool[] UpCrossAttention { get; init; }

    /// <summary>The mid block: <c>UNetMidBlock2DCrossAttn</c>, <c>UNetMidBlock2D</c> or null.</summary>
    public required string? MidBlockType { get; init; }

    /// <summary><c>block_out_channels</c>.</summary>
    public required int[] BlockOutChannels { get; init; }

    /// <summary><c>layers_per_block</c> per level.</summary>
    public required int[] LayersPerBlock { get; init; }

    /// <summary><c>downsample_padding</c>.</summary>
    public required int DownsamplePadding { get; init; }

    /// <summary><c>mid_block_scale_factor</c>.</summary>
    public required double MidBlockScaleFactor { get; init; }

    /// <summary><c>act_fn</c>.</summary>
    public required string ActFn { get; init; }

    /// <summary><c>norm_num_groups</c>.</summary>
    public required int NormNumGroups { get; init; }

    /// <summary><c>norm_eps</c>.</summary>
    public required double NormEps { get; init; }

    /// <summary><c>cross_attention_dim</c> per level.</summary>
    public required int[] CrossAttentionDim { get; init; }

    /// <summary>Transformer layers of each down block's attentions: [level][layer].</summary>
    public required int[][] DownTransformerLayers { get; init; }

    /// <summary>Transformer layers of each up block's attentions: [up block][layer].</summary>
    public required int[][] UpTransformerLayers { get; init; }

    /// <summary>Transformer layers of the mid block's attention.</summary>
    public required int MidTransformerLayers { get; init; }

    /// <summary>Attention heads per level (<c>num_attention_heads</c>, else diffusers' <c>attention_head_dim</c>).</summary>
    public required int[] Heads { get; init; }

    /// <summary><c>use_linear_projection</c>.</summary>
    public required bool UseLinearProjection { get; init; }

    /// <summary><c>upcast_attention</c>.</summary>
    public required bool UpcastAttention { get; init; }

    /// <summary><c>resnet_time_scale_shift</c> is <c>scale_shift</c> (else <c>default</c>).</summary>
    public required bool ScaleShift { get; init; }

    /// <summary>The time embedding width (<c>time_embedding_dim</c>, default 4 × block_out_channels[0]).</summary>
    public required int TimeEmbedDim { get; init; }

    /// <summary><c>time_embedding_act_fn</c>.</summary>
    public required string? TimeEmbeddingActFn { get; init; }

    /// <summary><c>timestep_post_act</c>.</summary>
    public required string? TimestepPostAct { get; init; }

    /// <summary><c>conv_in_kernel</c>.</summary>
    public required int ConvInKernel { get; init; }

    /// <summary><c>conv_out_kernel</c>.</summary>
    public required int ConvOutKernel { get; init; }

    /// <summary>The number of levels.</summary>
    public int Levels => BlockOutChannels.Length;

    /// <summary>Reads and checks <c>config.json</c>.</summary>
    public static UNetConfig Read(ConfigJson c)
    {
        if (c.String("_class_name") is { } cls && cls != "UNet2DConditionModel")
        {
            throw c.Unsupported("_class_name", "only UNet2DConditionModel is built");
        }
        RequireNull(c, "class_embed_type", "class embeddings");
        RequireNull(c, "num_class_embeds", "class embeddings");
        RequireNull(c, "addition_embed_type", "SDXL-style added embeddings");
        RequireNull(c, "time_cond_proj_dim", "LCM guidance embeddings");
        RequireNull(c, "encoder_hid_dim", "an encoder hidden-state projection");
        RequireNull(c, "encoder_hid_dim_type", "an encoder hidden-state projection");
        if (c.Bool("dual_cross_attention", false))
        {
            throw c.Unsupported("dual_cross_attention", "dual cross-attention");
        }
        if (c.String("attention_type", "default") != "default")
        {
            throw c.Unsupported("attention_type", "only 'default' attention (no GLIGEN)");
        }
        if (c.String("time_embedding_type", "positional") != "positional")
        {
            throw c.Unsupported("time_embedding_type", "only 'positional' timestep embeddings");
        }
        string shift = c.String("resnet_time_scale_shift", "default")!;
        if (shift is not ("default" or "scale_shift"))
        {
            throw c.Unsupported("resnet_time_scale_shift", "'default' and 'scale_shift' are built");
        }

        string[] downTypes = c.StringArray("down_block_types") ?? ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"];
        string[] upTypes = c.StringArray("up_block_types") ?? ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"];
        int[] blocks = c.IntArray("block_out_channels", 1, 1 << 16) ?? [320, 640, 1280, 1280];
        int levels = blocks.Length;
        if (levels == 0 || levels > 16)
        {
            throw c.Invalid("block_out_channels", "expected 1 to 16 levels");
        }
        if (downTypes.Length != levels)
        {
            throw c.Invalid("down_block_types", $"{downTypes.Length} entries but block_out_channels has {levels}");
        }
        if (upTypes.Length != levels)
        {
            throw c.Invalid("up_block_types", $"{upTypes.Length} entries but down_block_types has {levels}");
        }
        bool[] downCross = downTypes.Select(t => StripRes(t) switch
        {
            "CrossAttnDownBlock2D" => true,
            "DownBlock2D" => false,
            _ => throw c.Unsupported("down_block_types", $"block '{t}' is not CrossAttnDownBlock2D or DownBlock2D"),
        }).ToArray();
        bool[] upCross = upTypes.Select(t => StripRes(t) switch
        {
            "CrossAttnUpBlock2D" => true,
            "UpBlock2D" => false,
            _ => throw c.Unsupported("up_block_types", $"block '{t}' is not CrossAttnUpBlock2D or UpBlock2D"),
        }).ToArray();

        string? mid = c.Has("mid_block_type") ? c.String("mid_block_type") : (c.Root.ContainsKey("mid_block_type") ? null : "UNetMidBlock2DCrossAttn");
        if (mid is not (null or "UNetMidBlock2DCrossAttn" or "UNetMidBlock2D"))
        {
            throw c.Unsupported("mid_block_type", "UNetMidBlock2DCrossAttn, UNetMidBlock2D and null are built");
        }

        JsonNode? onlyCross = c.Get("only_cross_attention");
        if (onlyCross is JsonArray onlyList ? onlyList.Any(v => v is JsonValue b && b.GetValueKind() == System.Text.Json.JsonValueKind.True)
            : c.Bool("only_cross_attention", false))
        {
            throw c.Unsupported("only_cross_attention", "only self + cross attention blocks (only_cross_attention false)");
        }

        int[] layers = c.IntPerLevel("layers_per_block", levels, 2, 1, 1024)!;
        int[] cross = c.IntPerLevel("cross_attention_dim", levels, 1280, 1, 1 << 16)!;
        bool anyCross = downCross.Any(x => x) || upCross.Any(x => x) || mid == "UNetMidBlock2DCrossAttn";
        if (anyCross && cross.Distinct().Count() > 1)
        {
            throw c.Unsupported("cross_attention_dim", "one encoder_hidden_states width for every level");
        }
        int[]? heads = c.IntPerLevel("num_attention_heads", levels, null, 1, 1 << 12)
            ?? c.IntPerLevel("attention_head_dim", levels, 8, 1, 1 << 12)!;

        int groups = c.IntOrNull("norm_num_groups", 1, 1 << 16)
            ?? throw c.Unsupported("norm_num_groups", "resnet GroupNorms need a group count");
        foreach (int channels in blocks)
        {
            if (channels % groups != 0)
            {
                throw c.Invalid("norm_num_groups", $"block_out_channels {channels} is not divisible by it");
            }
        }

        (int[][] down, int[][] up, int midLayers) = TransformerLayers(c, levels, layers);

        string act = c.String("act_fn", "silu")!;
        CheckActivation(c, "act_fn", act);
        string? timeAct = c.String("time_embedding_act_fn");
        if (timeAct is not null)
        {
            CheckActivation(c, "time_embedding_act_fn", timeAct);
        }
        string? postAct = c.String("timestep_post_act");
        if (postAct is not null)
        {
            CheckActivation(c, "timestep_post_act", postAct);
        }
        int convIn = c.Int("conv_in_kernel", 3, 1, 15);
        int convOut = c.Int("conv_out_kernel", 3, 1, 15);
        if (convIn % 2 == 0)
        {
            throw c.Unsupported("conv_in_kernel", "odd kernel sizes");
        }
        if (convOut % 2 == 0)
        {
            throw c.Unsupported("conv_out_kernel", "odd kernel sizes");
        }
        int timeDim = c.IntOrNull("time_embedding_dim", 1, 1 << 20) ?? blocks[0] * 4;
        return new UNetConfig
        {
            Path = c.Path,
            InChannels = c.Int("in_channels", 4, 1, 4096),
            OutChannels = c.Int("out_channels", 4, 1, 4096),
            CenterInputSample = c.Bool("center_input_sample", false),
            FlipSinToCos = c.Bool("flip_sin_to_cos", true),
            FreqShift = c.Double("freq_shift", 0, -1e6, 1e6),
            DownCrossAttention = downCross,
            UpCrossAttention = upCross,
            MidBlockType = mid,
            BlockOutChannels = blocks,
            LayersPerBlock = layers,
            DownsamplePadding = c.Int("downsample_padding", 1, 0, 16),
            MidBlockScaleFactor = c.Double("mid_block_scale_factor", 1, 1e-12, 1e12),
            ActFn = act,
            NormNumGroups = groups,
            NormEps = c.Double("norm_eps", 1e-5, 0, 1),
            CrossAttentionDim = cross,
            DownTransformerLayers = down,
            UpTransformerLayers = up,
            MidTransformerLayers = midLayers,
            Heads = heads,
            UseLinearProjection = c.Bool("use_linear_projection", false),
            UpcastAttention = c.Bool("upcast_attention", false),
            ScaleShift = shift == "scale_shift",
            TimeEmbedDim = timeDim,
            TimeEmbeddingActFn = timeAct,
            TimestepPostAct = postAct,
            ConvInKernel = convIn,
            ConvOutKernel = convOut,
        };
    }

    private static string StripRes(string type) => type.StartsWith("UNetRes", StringComparison.Ordinal) ? type[7..] : type;

    private static void RequireNull(ConfigJson c, string key, string what)
    {
        if (c.Has(key))
        {
            throw c.Unsupported(key, what);
        }
    }

    private static void CheckActivation(ConfigJson c, string key, string name)
    {
        if (name is not ("silu" or "swish" or "gelu" or "relu" or "mish"))
        {
            throw c.Unsupported(key, "silu/swish, gelu, relu and mish are built");
        }
    }

    /// <summary>diffusers' transformer_layers_per_block resolution: an int, a per-level list (of ints, or of per-layer
    /// lists together with reverse_transformer_layers_per_block for the up blocks).</summary>
    private static (int[][] Down, int[][] Up, int Mid) TransformerLayers(ConfigJson c, int levels, int[] layers)
    {
        const string Key = "transformer_layers_per_block";
        const string ReverseKey = "reverse_transformer_layers_per_block";
        JsonNode? node = c.Get(Key);
        var perLevel = new JsonNode?[levels];
        if (node is null)
        {
            Array.Fill(perLevel, JsonValue.Create(1));
        }
        else if (node is JsonArray array)
        {
            if (array.Count != levels)
            {
                throw c.Invalid(Key, $"{array.Count} entries, expected {levels} (one per level)");
            }
            for (int i = 0; i < levels; i++)
            {
                perLevel[i] = array[i];
            }
        }
        else
        {
            Array.Fill(perLevel, node);
        }
        bool nested = perLevel.Any(n => n is JsonArray);
        JsonNode? reverse = c.Get(ReverseKey);
        if (nested && reverse is null)
        {
            throw c.Invalid(Key, $"per-layer lists need '{ReverseKey}' (diffusers refuses this config without it)");
        }
        var down = new int[levels][];
        for (int i = 0; i < levels; i++)
        {
            down[i] = Expand(c, Key, perLevel[i], layers[i]);
        }
        var up = new int[levels][];
        for (int i = 0; i < levels; i++)
        {
            int upLayers = layers[levels - 1 - i] + 1;
            if (reverse is not null)
            {
                if (reverse is not JsonArray reverseArray || reverseArray.Count != levels)
                {
                    throw c.Invalid(ReverseKey, $"expected a list of {levels} entries");
                }
                up[i] = Expand(c, ReverseKey, reverseArray[i], upLayers);
            }
            else
            {
                up[i] = Expand(c, Key, perLevel[levels - 1 - i], upLayers);
            }
        }
        int mid = Expand(c, Key, perLevel[levels - 1], 1)[0];
        return (down, up, mid);
    }

    private static int[] Expand(ConfigJson c, string key, JsonNode? node, int count)
    {
        if (node is JsonArray list)
        {
            if (list.Count < count)
            {
                throw c.Invalid(key, $"a per-layer list has {list.Count} entries, fewer than the block's {count} layers");
            }
            return list.Take(count).Select(n => n is null ? throw c.Invalid(key, "null entry") : c.ToInt(key, n, 0, 1024)).ToArray();
        }
        if (node is null)
        {
            throw c.Invalid(key, "null entry");
        }
        return Enumerable.Repeat(c.ToInt(key, node, 0, 1024), count).ToArray();
    }
}
