namespace Spright.Diffusion.OnnxRuntime.Building;

/// <summary>The AutoencoderKL configuration as diffusers v0.31.0 reads it (defaults from its <c>__init__</c>).</summary>
internal sealed record VaeConfig
{
    /// <summary>The config file.</summary>
    public required string Path { get; init; }

    /// <summary><c>in_channels</c>.</summary>
    public required int InChannels { get; init; }

    /// <summary><c>out_channels</c>.</summary>
    public required int OutChannels { get; init; }

    /// <summary><c>block_out_channels</c>.</summary>
    public required int[] BlockOutChannels { get; init; }

    /// <summary><c>layers_per_block</c>.</summary>
    public required int LayersPerBlock { get; init; }

    /// <summary><c>act_fn</c>.</summary>
    public required string ActFn { get; init; }

    /// <summary><c>latent_channels</c>.</summary>
    public required int LatentChannels { get; init; }

    /// <summary><c>norm_num_groups</c>.</summary>
    public required int NormNumGroups { get; init; }

    /// <summary><c>force_upcast</c>: diffusers runs the VAE in float32 even in a float16 pipeline.</summary>
    public required bool ForceUpcast { get; init; }

    /// <summary><c>use_quant_conv</c>.</summary>
    public required bool UseQuantConv { get; init; }

    /// <summary><c>use_post_quant_conv</c>.</summary>
    public required bool UsePostQuantConv { get; init; }

    /// <summary><c>mid_block_add_attention</c>.</summary>
    public required bool MidBlockAttention { get; init; }

    /// <summary>Reads and checks <c>config.json</c>.</summary>
    public static VaeConfig Read(ConfigJson c)
    {
        if (c.String("_class_name") is { } cls && cls != "AutoencoderKL")
        {
            throw c.Unsupported("_class_name", "only AutoencoderKL is built");
        }
        int[] blocks = c.IntArray("block_out_channels", 1, 1 << 16) ?? [64];
        if (blocks.Length is 0 or > 16)
        {
            throw c.Invalid("block_out_channels", "expected 1 to 16 levels");
        }
        string[] down = c.StringArray("down_block_types") ?? ["DownEncoderBlock2D"];
        string[] up = c.StringArray("up_block_types") ?? ["UpDecoderBlock2D"];
        if (down.Length != blocks.Length)
        {
            throw c.Invalid("down_block_types", $"{down.Length} entries but block_out_channels has {blocks.Length}");
        }
        if (up.Length != blocks.Length)
        {
            throw c.Invalid("up_block_types", $"{up.Length} entries but block_out_channels has {blocks.Length}");
        }
        if (down.Any(t => t != "DownEncoderBlock2D"))
        {
            throw c.Unsupported("down_block_types", "only DownEncoderBlock2D is built");
        }
        if (up.Any(t => t != "UpDecoderBlock2D"))
        {
            throw c.Unsupported("up_block_types", "only UpDecoderBlock2D is built");
        }
        string act = c.String("act_fn", "silu")!;
        if (act is not ("silu" or "swish" or "gelu" or "relu" or "mish"))
        {
            throw c.Unsupported("act_fn", "silu/swish, gelu, relu and mish are built");
        }
        if (c.String("norm_type") is { } norm && norm != "group")
        {
            throw c.Unsupported("norm_type", "only group normalisation is built");
        }
        int groups = c.Int("norm_num_groups", 32, 1, 1 << 16);
        foreach (int channels in blocks)
        {
            if (channels % groups != 0)
            {
                throw c.Invalid("norm_num_groups", $"block_out_channels {channels} is not divisible by it");
            }
        }
        return new VaeConfig
        {
            Path = c.Path,
            InChannels = c.Int("in_channels", 3, 1, 4096),
            OutChannels = c.Int("out_channels", 3, 1, 4096),
            BlockOutChannels = blocks,
            LayersPerBlock = c.Int("layers_per_block", 1, 1, 1024),
            ActFn = act,
            LatentChannels = c.Int("latent_channels", 4, 1, 4096),
            NormNumGroups = groups,
            ForceUpcast = c.Bool("force_upcast", true),
            UseQuantConv = c.Bool("use_quant_conv", true),
            UsePostQuantConv = c.Bool("use_post_quant_conv", true),
            MidBlockAttention = c.Bool("mid_block_add_attention", true),
        };
    }
}
