namespace Spright.Diffusion.OnnxRuntime.Building;

/// <summary>The CLIPTextModel configuration (transformers' <c>CLIPTextConfig</c>, defaults as transformers 4.40 has them).</summary>
internal sealed record ClipTextConfig
{
    /// <summary>The config file.</summary>
    public required string Path { get; init; }

    /// <summary><c>hidden_size</c>.</summary>
    public required int HiddenSize { get; init; }

    /// <summary><c>intermediate_size</c>.</summary>
    public required int IntermediateSize { get; init; }

    /// <summary><c>num_attention_heads</c>.</summary>
    public required int Heads { get; init; }

    /// <summary><c>num_hidden_layers</c>.</summary>
    public required int Layers { get; init; }

    /// <summary><c>max_position_embeddings</c>.</summary>
    public required int MaxPositions { get; init; }

    /// <summary><c>vocab_size</c>.</summary>
    public required int VocabSize { get; init; }

    /// <summary><c>layer_norm_eps</c>.</summary>
    public required double LayerNormEps { get; init; }

    /// <summary><c>hidden_act</c>.</summary>
    public required string HiddenAct { get; init; }

    /// <summary><c>eos_token_id</c> (2 = the legacy argmax pooling rule).</summary>
    public required int EosTokenId { get; init; }

    /// <summary>Reads and checks <c>config.json</c>.</summary>
    public static ClipTextConfig Read(ConfigJson c)
    {
        if (c.String("model_type") is { } modelType && modelType != "clip_text_model")
        {
            throw c.Unsupported("model_type", "only a CLIPTextModel config (clip_text_model) is built");
        }
        if (c.StringArray("architectures") is { } architectures && !architectures.Contains("CLIPTextModel"))
        {
            throw c.Unsupported("architectures", "only CLIPTextModel is built");
        }
        int hidden = c.Int("hidden_size", 512, 1, 1 << 16);
        int heads = c.Int("num_attention_heads", 8, 1, 1 << 12);
        if (hidden % heads != 0)
        {
            throw c.Invalid("num_attention_heads", $"hidden_size {hidden} is not divisible by it");
        }
        string act = c.String("hidden_act", "quick_gelu")!;
        if (act is not ("gelu" or "quick_gelu" or "gelu_new" or "gelu_pytorch_tanh" or "gelu_fast" or "relu" or "silu" or "swish"))
        {
            throw c.Unsupported("hidden_act", "gelu, quick_gelu, gelu_new, gelu_pytorch_tanh, relu and silu are built");
        }
        return new ClipTextConfig
        {
            Path = c.Path,
            HiddenSize = hidden,
            IntermediateSize = c.Int("intermediate_size", 2048, 1, 1 << 20),
            Heads = heads,
            Layers = c.Int("num_hidden_layers", 12, 0, 1024),
            MaxPositions = c.Int("max_position_embeddings", 77, 1, 1 << 20),
            VocabSize = c.Int("vocab_size", 49408, 1, 1 << 24),
            LayerNormEps = c.Double("layer_norm_eps", 1e-5, 0, 1),
            HiddenAct = act,
            EosTokenId = c.Int("eos_token_id", 2, int.MinValue, int.MaxValue),
        };
    }
}
