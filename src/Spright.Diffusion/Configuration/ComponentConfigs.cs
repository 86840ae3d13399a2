using Spright.Diffusion.Configuration;

namespace Spright.Diffusion.Configuration;

/// <summary>What the pipeline reads from a UNet's <c>config.json</c> (all null when the folder has none, as in the legacy layout).</summary>
/// <param name="Path">The file read, or null.</param>
/// <param name="InChannels"><c>in_channels</c>.</param>
/// <param name="SampleSize"><c>sample_size</c>.</param>
/// <param name="CrossAttentionDim"><c>cross_attention_dim</c>.</param>
/// <param name="TimeCondProjDim"><c>time_cond_proj_dim</c> (LCM-distilled UNets).</param>
/// <param name="DownsamplingFactor">2^(len(block_out_channels)−1).</param>
internal sealed record UNetConfigInfo(string? Path, int? InChannels, int? SampleSize, int? CrossAttentionDim, int? TimeCondProjDim, int? DownsamplingFactor)
{
    /// <summary>Reads and validates <c>config.json</c> in <paramref name="componentFolder"/>.</summary>
    /// <exception cref="ModelLoadException">The file is too large, not JSON, or a key has the wrong type or range.</exception>
    public static UNetConfigInfo Read(string componentFolder)
    {
        JsonConfigFile? config = JsonConfigFile.LoadOptional(System.IO.Path.Combine(componentFolder, "config.json"));
        if (config is null)
        {
            return new UNetConfigInfo(null, null, null, null, null, null);
        }
        int[]? blocks = config.GetIntArray("block_out_channels", 1, 1 << 16);
        if (blocks is { Length: 0 or > 8 })
        {
            throw new ModelLoadException(config.Path, $"key 'block_out_channels' has {blocks.Length} entries; expected 1 to 8 (one per UNet level)");
        }
        return new UNetConfigInfo(
            config.Path,
            config.GetInt("in_channels", 1, 1024),
            config.GetInt("sample_size", 1, 1 << 14),
            config.GetInt("cross_attention_dim", 1, 1 << 16),
            config.GetInt("time_cond_proj_dim", 1, 1 << 16),
            blocks is null ? null : 1 << (blocks.Length - 1));
    }
}

/// <summary>What the pipeline reads from a CLIP text encoder's <c>config.json</c> (all null when absent).</summary>
/// <param name="Path">The file read, or null.</param>
/// <param name="HiddenSize"><c>hidden_size</c>.</param>
/// <param name="MaxPositionEmbeddings"><c>max_position_embeddings</c>: the longest token sequence the encoder takes.</param>
/// <param name="VocabSize"><c>vocab_size</c>: the rows of the token embedding (ids must stay below it).</param>
internal sealed record TextEncoderConfigInfo(string? Path, int? HiddenSize, int? MaxPositionEmbeddings, int? VocabSize)
{
    /// <summary>Reads and validates <c>config.json</c> in <paramref name="componentFolder"/>.</summary>
    /// <exception cref="ModelLoadException">The file is too large, not JSON, or a key has the wrong type or range.</exception>
    public static TextEncoderConfigInfo Read(string componentFolder)
    {
        JsonConfigFile? config = JsonConfigFile.LoadOptional(System.IO.Path.Combine(componentFolder, "config.json"));
        if (config is null)
        {
            return new TextEncoderConfigInfo(null, null, null, null);
        }
        return new TextEncoderConfigInfo(config.Path, config.GetInt("hidden_size", 1, 1 << 16), config.GetInt("max_position_embeddings", 2, 1 << 16),
            config.GetInt("vocab_size", 1, 1 << 24));
    }
}
